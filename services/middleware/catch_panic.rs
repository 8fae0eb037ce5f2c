//! Panic isolation: a handler that panics fails its own call with `INTERNAL` and nothing
//! else — the connection, the other calls on it and the process live on. Without this, a
//! panic unwinds through hyper's connection task and resets every call on that connection.
//!
//! Covers the handler's future and the response body (a streaming handler's items are
//! produced as the body is polled). Panics inside tasks a handler spawns are the tokio
//! runtime's business: they end that task, which the handler sees as a closed channel.

use std::{
    any::Any,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::FutureExt as _;
use http_body::Frame;
use tonic::{Status, body::Body, codegen::http};
use tower::{Layer, Service};

use super::status_response;

const MESSAGE: &str = "internal error: the handler failed; the failure was logged";

#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for CatchPanic<S>
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

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(response) => response,
            Err(panic) => return Box::pin(async move { Ok(panicked(&*panic)) }),
        };
        Box::pin(async move {
            match AssertUnwindSafe(response).catch_unwind().await {
                Ok(response) => Ok(response?.map(|body| Body::new(PanicSafeBody { inner: Some(body) }))),
                Err(panic) => Ok(panicked(&*panic)),
            }
        })
    }
}

fn panicked(panic: &(dyn Any + Send)) -> http::Response<Body> {
    tracing::error!(panic = panic_message(panic), "handler panicked; answering INTERNAL");
    status_response(Status::internal(MESSAGE))
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("?")
}

/// A body whose panic ends the stream with `INTERNAL` trailers.
struct PanicSafeBody {
    /// `None` once it panicked: a panicked body is never polled again.
    inner: Option<Body>,
}

impl http_body::Body for PanicSafeBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll_frame(cx))) {
            Ok(polled) => polled,
            Err(panic) => {
                self.inner = None;
                tracing::error!(panic = panic_message(&*panic), "response stream panicked; ending it with INTERNAL");
                let mut trailers = http::HeaderMap::new();
                // A fixed ASCII message always makes valid headers.
                let _ = Status::internal(MESSAGE).add_header(&mut trailers);
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(http_body::Body::size_hint).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_internal() {
        let service = CatchPanicLayer.layer(tower::service_fn(|_request: http::Request<()>| async {
            if true {
                panic!("boom");
            }
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        }));
        let response = service.oneshot(http::Request::new(())).await.unwrap();
        assert_eq!(super::super::grpc_status(response.headers()), Some(tonic::Code::Internal));
    }
}
