//! Deadlines for unary calls: the caller's `grpc-timeout` and the server's own maximum
//! (`--max-call-duration`), whichever is shorter. When it passes, the handler's future is
//! dropped — which cancels its work at the next `.await` — and the caller gets
//! `DEADLINE_EXCEEDED`.
//!
//! tonic applies `grpc-timeout` too, in a layer outside ours, but answers `CANCELLED`, which
//! tells a client the call was abandoned by someone rather than that it ran out of time. Ours
//! starts its clock first (it is created while tonic's layer is still setting up) and tonic
//! polls the inner future before its own timer, so ours always answers first.
//!
//! Streaming calls are not cut here: a chat session or a watch is meant to outlive any fixed
//! call length. Their caller's deadline still holds — a client whose deadline passes resets
//! the stream, which drops the handler's stream — and shutdown bounds them.

use std::time::Duration;

use tonic::codegen::http::HeaderMap;

use super::methods::Method;

const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

pub struct Deadline {
    max_call: Option<Duration>,
}

impl Deadline {
    /// `max_call`: the longest any unary call may run, whatever its caller asks; `None` for no
    /// server-side limit.
    pub fn new(max_call: Option<Duration>) -> Self {
        Self { max_call }
    }

    /// How long a call to `method` may run, and whose limit that is; `None` for no limit.
    pub fn limit(&self, method: &Method, headers: &HeaderMap) -> Option<(Duration, Whose)> {
        if method.is_streaming() {
            return None;
        }
        match (parse_grpc_timeout(headers), self.max_call) {
            (Some(client), Some(max)) if max < client => Some((max, Whose::Server)),
            (Some(client), _) => Some((client, Whose::Client)),
            (None, Some(max)) => Some((max, Whose::Server)),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Whose {
    Client,
    Server,
}

impl Whose {
    pub fn message(self, limit: Duration) -> String {
        match self {
            Whose::Client => format!("deadline exceeded: the call's grpc-timeout of {limit:?} passed"),
            Whose::Server => format!("deadline exceeded: calls may run at most {limit:?} on this server"),
        }
    }
}

/// `grpc-timeout`: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`). A malformed
/// value is ignored, as the spec's reference implementations do.
pub fn parse_grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(GRPC_TIMEOUT_HEADER)?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &'static str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_TIMEOUT_HEADER, tonic::codegen::http::HeaderValue::from_static(value));
        parse_grpc_timeout(&headers)
    }

    #[test]
    fn parses_every_unit_and_refuses_nonsense() {
        assert_eq!(parse("50m"), Some(Duration::from_millis(50)));
        assert_eq!(parse("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "m", "100", "123456789S", "-1S", "1x", "1.5S"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
