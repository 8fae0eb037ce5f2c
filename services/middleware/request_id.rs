//! Request ids: every call carries one. An incoming `x-request-id` that looks like an id
//! (1 to 128 visible ASCII characters) is kept, so a caller can follow its own id through our
//! logs; anything else is replaced by a fresh one. The id is returned in the response headers,
//! available to handlers in the request metadata (`x-request-id`, set to the id in use), and
//! every log line of the call carries it:
//!
//! * while a unary call's handler runs, its id is the thread's [current](current) one, and the
//!   log format ([`crate::logging`]) adds it to every line written then. That costs nothing
//!   per call: no `tracing` span is built, entered or closed for calls that log nothing but
//!   their access line (which carries the id as a field of its own);
//! * a streaming call runs inside a `call` span with a `request_id` field instead, because its
//!   work outlives one poll: tasks it spawns take the span along (`.in_current_span()`), and
//!   its span is paid once per stream, not once per message.

use std::cell::Cell;

use tonic::codegen::http::{HeaderName, HeaderValue};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The same, parsed once: a `&str` key is parsed again on every header map access.
pub const REQUEST_ID_HEADER_NAME: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The id of the call being served: a header value, so that handing it to the request, the
/// response, the access line and the log format copies no bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Visible ASCII by construction, so never the fallback.
        self.0.to_str().unwrap_or("-")
    }

    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }

    /// 32 hex digits, like a UUID: a random prefix drawn once per process (so replicas do not
    /// collide) and a counter (so calls of one process never do). No system call and no lock:
    /// a fresh UUID per call cost a `getrandom` call on every request.
    fn new_random() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut text = [0u8; 32];
        for (i, byte) in prefix.to_be_bytes().into_iter().chain(n.to_be_bytes()).enumerate() {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        // Hex digits always make a header value.
        Self(HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("-")))
    }

    /// The caller's id if it is usable, else a new one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value {
            Some(value)
                if !value.is_empty()
                    && value.len() <= MAX_REQUEST_ID_BYTES
                    && value.as_bytes().iter().all(u8::is_ascii_graphic) =>
            {
                Self(value.clone())
            }
            _ => Self::new_random(),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

thread_local! {
    static CURRENT: Cell<Option<RequestId>> = const { Cell::new(None) };
}

/// The id of the unary call whose handler this thread is running, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.with(|current| {
        let id = current.take();
        current.set(id.clone());
        id
    })
}

/// Runs `f` with `id` as the thread's current request id (restored after, panic or not).
pub fn in_scope<T>(id: &RequestId, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<RequestId>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0.take()));
        }
    }
    let _restore = Restore(CURRENT.with(|current| current.replace(Some(id.clone()))));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_sane_id_and_replaces_others() {
        let kept = RequestId::from_header(Some(&HeaderValue::from_static("abc-123")));
        assert_eq!(kept.as_str(), "abc-123");
        for bad in [HeaderValue::from_static(""), HeaderValue::from_static("has space")] {
            let replaced = RequestId::from_header(Some(&bad));
            assert_eq!(replaced.as_str().len(), 32, "{bad:?}");
            assert!(replaced.as_str().bytes().all(|b| b.is_ascii_hexdigit()), "{replaced}");
        }
        let long = "x".repeat(129);
        assert_eq!(RequestId::from_header(Some(&HeaderValue::from_str(&long).unwrap())).as_str().len(), 32);
        assert_ne!(RequestId::from_header(None), RequestId::from_header(None));
    }

    #[test]
    fn the_current_id_is_scoped_and_restored_after_a_panic() {
        let outer = RequestId::from_header(Some(&HeaderValue::from_static("outer")));
        let inner = RequestId::from_header(Some(&HeaderValue::from_static("inner")));
        assert_eq!(current(), None);
        in_scope(&outer, || {
            assert_eq!(current().as_ref().map(RequestId::as_str), Some("outer"));
            let panicked = std::panic::catch_unwind(|| in_scope(&inner, || panic!("boom")));
            assert!(panicked.is_err());
            assert_eq!(current().as_ref().map(RequestId::as_str), Some("outer"));
        });
        assert_eq!(current(), None);
    }
}
