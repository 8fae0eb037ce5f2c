//! Corrects the status codes tonic's own framing layer gives, so clients see the codes the
//! gRPC spec and every other gRPC implementation use:
//!
//! * a request message above the size limit is `RESOURCE_EXHAUSTED` (tonic says
//!   `OUT_OF_RANGE`, which means "past the end of a range" and confuses retry logic).
//!
//! Such errors arise before any handler runs, and tonic reports them in the response's
//! trailers (or its headers, for a trailers-only response): that is where the call stack
//! ([`super::CallStack`]) looks.
//! Streaming handlers meet the same error on their inbound stream and end their call with it
//! as it came; it reaches the trailers, and this correction, like any other. Services never
//! correct codes themselves.

use tonic::{Code, Status, codegen::http::HeaderMap};

const TOO_LARGE_PREFIX: &str = "Error, decoded message length too large";

/// `status` with tonic's framing codes corrected.
fn corrected(status: Status) -> Status {
    if status.code() == Code::OutOfRange && status.message().starts_with(TOO_LARGE_PREFIX) {
        Status::resource_exhausted(too_large_message(status.message()))
    } else {
        status
    }
}

/// "found N bytes, the limit is: M bytes" → a sentence for users.
fn too_large_message(original: &str) -> String {
    let detail = original.strip_prefix(TOO_LARGE_PREFIX).unwrap_or(original).trim_start_matches(':').trim();
    format!("request message too large: {detail}")
}

/// Corrects the status in a response's headers or trailers, in place, and says which code the
/// call ended with (`None`: these headers carry no status).
pub fn fix_status(headers: &mut HeaderMap) -> Option<Code> {
    let code = super::grpc_status(headers)?;
    if code != Code::OutOfRange {
        return Some(code);
    }
    let fixed = Status::from_header_map(headers).map_or(code, |status| {
        let fixed = corrected(status);
        if fixed.code() != Code::OutOfRange {
            // Only fails for a message that cannot be a header, which `corrected` never writes.
            let _ = fixed.add_header(headers);
        }
        fixed.code()
    });
    Some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_size_error_is_rewritten() {
        let mut headers = HeaderMap::new();
        let original = "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes";
        Status::out_of_range(original).add_header(&mut headers).unwrap();
        fix_status(&mut headers);
        let fixed = Status::from_header_map(&headers).unwrap();
        assert_eq!(fixed.code(), Code::ResourceExhausted);
        assert_eq!(fixed.message(), "request message too large: found 5 bytes, the limit is: 4 bytes");

        let mut other = HeaderMap::new();
        Status::out_of_range("page past the end").add_header(&mut other).unwrap();
        fix_status(&mut other);
        assert_eq!(Status::from_header_map(&other).unwrap().code(), Code::OutOfRange);
    }
}
