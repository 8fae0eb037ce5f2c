//! When a failed call may be sent again, and how long to wait first.
//!
//! Only calls that cannot do harm twice are retried on a failure whose outcome is unknown
//! (`UNAVAILABLE`, a connection lost mid-call): reads, `KvService/Set` (same end state), and
//! payment writes, which carry the same `idempotency-key` on every attempt so the server
//! answers a repeat with the original result. A `RESOURCE_EXHAUSTED` that carries the server's
//! `RetryInfo` means the call was refused before it ran, so any call waits the time the server
//! asked for and tries again. Everything else is returned at once.

use std::time::Duration;

use rand::Rng;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles each time, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `RetryInfo` delay worth waiting for; a longer one is returned to the caller
    /// as [`crate::Error::RateLimited`].
    pub max_retry_info_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_info_wait: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// "Full jitter" backoff before retry number `retry` (1 for the first retry): a random
    /// time up to `initial * 2^(retry-1)`, capped. Randomness keeps many clients that failed
    /// together from retrying together.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(16);
        let ceiling = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Whether sending a call twice can change what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Reads, and writes that carry an idempotency key or have the same effect twice.
    Idempotent,
    /// Everything else: retried only when the server says it did not run the call.
    NotIdempotent,
}

/// What to do after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Retry { after: Duration },
    GiveUp,
}

pub(crate) fn verdict(policy: &RetryPolicy, safety: Safety, status: &Status, attempt: u32) -> Verdict {
    if attempt >= policy.max_attempts {
        return Verdict::GiveUp;
    }
    if status.code() == Code::ResourceExhausted {
        return match status.get_details_retry_info().and_then(|info| info.retry_delay) {
            Some(delay) if delay <= policy.max_retry_info_wait => Verdict::Retry { after: delay },
            _ => Verdict::GiveUp,
        };
    }
    if safety == Safety::Idempotent && outcome_unknown(status) {
        return Verdict::Retry { after: policy.backoff(attempt) };
    }
    Verdict::GiveUp
}

/// The call may or may not have run: the server said UNAVAILABLE, or the connection failed
/// under it (tonic reports those with the transport error as the status's source; a status the
/// server sent has none).
fn outcome_unknown(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown | Code::Internal | Code::Cancelled => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..20 {
            let ceiling = (policy.initial_backoff * 2u32.pow((retry - 1).min(16))).min(policy.max_backoff);
            for _ in 0..20 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn only_safe_calls_retry_unavailable() {
        let policy = RetryPolicy::default();
        let status = Status::unavailable("down");
        assert!(matches!(verdict(&policy, Safety::Idempotent, &status, 1), Verdict::Retry { .. }));
        assert_eq!(verdict(&policy, Safety::NotIdempotent, &status, 1), Verdict::GiveUp);
        assert_eq!(verdict(&policy, Safety::Idempotent, &status, policy.max_attempts), Verdict::GiveUp);
        assert_eq!(verdict(&policy, Safety::Idempotent, &Status::not_found("x"), 1), Verdict::GiveUp);
        // A server-sent INTERNAL is an answer, not a lost connection.
        assert_eq!(verdict(&policy, Safety::Idempotent, &Status::internal("bug"), 1), Verdict::GiveUp);
    }

    #[test]
    fn retry_info_is_honoured_for_every_call() {
        let policy = RetryPolicy::default();
        let status = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(250))),
        );
        assert_eq!(
            verdict(&policy, Safety::NotIdempotent, &status, 1),
            Verdict::Retry { after: Duration::from_millis(250) }
        );
        // Too large a message: no RetryInfo, nothing to wait for.
        assert_eq!(verdict(&policy, Safety::Idempotent, &Status::resource_exhausted("too big"), 1), Verdict::GiveUp);
        let long = Status::with_error_details(
            Code::ResourceExhausted,
            "come back tomorrow",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(86_400))),
        );
        assert_eq!(verdict(&policy, Safety::Idempotent, &long, 1), Verdict::GiveUp);
    }
}
