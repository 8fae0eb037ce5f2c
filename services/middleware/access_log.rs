//! One log line per call — request id, method, peer, final status code, latency — and the
//! per-call metrics (requests by code, latency histogram, open streams).
//!
//! A call's final status is known only when it ends: in the response headers for a
//! trailers-only answer, else in the trailers at the end of the body. A body dropped before
//! its trailers means the client went away (or the connection was cut): logged `CANCELLED`.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http_body::Frame;
use tonic::{Code, body::Body, codegen::http};
use tower::{Layer, Service};

use super::{code_name, grpc_status, methods::Methods, peer_addr, request_id::RequestId};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AccessLogLayer {
    metrics: Arc<Metrics>,
    methods: Arc<Methods>,
}

impl AccessLogLayer {
    pub fn new(metrics: Arc<Metrics>, methods: Arc<Methods>) -> Self {
        Self { metrics, methods }
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner, shared: self.clone() }
    }
}

#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
    shared: AccessLogLayer,
}

impl<S, B> Service<http::Request<B>> for AccessLog<S>
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
        let path = request.uri().path();
        let streaming = self.shared.methods.is_streaming(path);
        let record = CallRecord {
            start: Instant::now(),
            label: self.shared.methods.label(path),
            request_id: request.extensions().get::<RequestId>().cloned(),
            peer: peer_addr(&request),
            streaming,
            metrics: Arc::clone(&self.shared.metrics),
            done: false,
        };
        if streaming {
            record.metrics.open_streams.with_label_values(&["grpc"]).inc();
        }
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut record = record;
            let response = response.await?;
            if let Some(code) = grpc_status(response.headers()) {
                record.finish(code);
            }
            Ok(response.map(|body| Body::new(LoggedBody { inner: body, record: Some(record) })))
        })
    }
}

/// What is known about a call until its final status is.
struct CallRecord {
    start: Instant,
    label: Arc<str>,
    request_id: Option<RequestId>,
    peer: Option<SocketAddr>,
    streaming: bool,
    metrics: Arc<Metrics>,
    done: bool,
}

impl CallRecord {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let latency = self.start.elapsed();
        let code = code_name(code);
        self.metrics.requests.with_label_values(&[&*self.label, code]).inc();
        self.metrics.latency.with_label_values(&[&*self.label]).observe(latency.as_secs_f64());
        if self.streaming {
            self.metrics.open_streams.with_label_values(&["grpc"]).dec();
        }
        let request_id = self.request_id.as_ref().map_or("-", RequestId::as_str);
        tracing::info!(
            target: "switchboard::access",
            request_id,
            method = %self.label,
            peer = %OrDash(self.peer),
            code,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "call finished"
        );
    }
}

/// An optional value as a log field: the value, or `-` (without allocating either).
struct OrDash<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrDash<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("-"),
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // No status seen: the client left, or the connection was cut, before the end.
        self.finish(Code::Cancelled);
    }
}

struct LoggedBody {
    inner: Body,
    record: Option<CallRecord>,
}

impl http_body::Body for LoggedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                // Only the trailers end the call; data frames leave the record in place.
                if let Some(code) = frame.trailers_ref().and_then(grpc_status)
                    && let Some(mut record) = self.record.take()
                {
                    record.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut record) = self.record.take() {
                    record.finish(Code::Internal);
                }
            }
            Poll::Ready(None) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
