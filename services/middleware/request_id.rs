//! Request ids: every call carries one. An incoming `x-request-id` that looks like an id
//! (1 to 128 visible ASCII characters) is kept, so a caller can follow its own id through our
//! logs; anything else is replaced by a fresh UUID. The id is returned in the response
//! headers, available to handlers as the [`RequestId`] request extension and in the request
//! metadata, and every log line of the call carries it: the handler runs inside a `call` span
//! with a `request_id` field (tasks a handler spawns should `.in_current_span()`).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tonic::{
    body::Body,
    codegen::http::{self, HeaderValue},
};
use tower::{Layer, Service};
use tracing::Instrument as _;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The id of the call being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 32 hex digits, like a UUID: a random prefix drawn once per process (so replicas do not
    /// collide) and a counter (so calls of one process never do). A fresh UUID per call cost a
    /// `getrandom` system call on every request, about 1 % of the server's CPU under load.
    fn new_random() -> Self {
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(format!("{prefix:016x}{n:016x}").into())
    }

    /// The caller's id if it is usable, else a new one.
    fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.map(HeaderValue::as_bytes) {
            Some(bytes)
                if !bytes.is_empty()
                    && bytes.len() <= MAX_REQUEST_ID_BYTES
                    && bytes.iter().all(u8::is_ascii_graphic) =>
            {
                // All ASCII, so this cannot fail.
                Self(String::from_utf8_lossy(bytes).into())
            }
            _ => Self::new_random(),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for RequestIdService<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let id = RequestId::from_header(request.headers().get(REQUEST_ID_HEADER));
        // Valid by construction (visible ASCII), so the header always exists downstream.
        let header = HeaderValue::from_str(id.as_str()).ok();
        if let Some(header) = &header {
            request.headers_mut().insert(REQUEST_ID_HEADER, header.clone());
        }
        let span = tracing::info_span!("call", request_id = %id, method = %request.uri().path());
        request.extensions_mut().insert(id);
        let response = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let mut response = response.await?;
                if let Some(header) = header {
                    response.headers_mut().insert(REQUEST_ID_HEADER, header);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
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
        }
        let long = "x".repeat(129);
        assert_eq!(RequestId::from_header(Some(&HeaderValue::from_str(&long).unwrap())).as_str().len(), 32);
        assert_ne!(RequestId::from_header(None), RequestId::from_header(None));
    }
}
