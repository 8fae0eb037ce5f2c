//! Load shedding: at most `limit` calls are being handled at once, server-wide. A call that
//! finds them all busy is refused at once with `UNAVAILABLE` rather than queued: a queue
//! without bound turns overload into latency for everyone and memory for us.
//!
//! Why `UNAVAILABLE` and not `RESOURCE_EXHAUSTED`: the call was not started, so it is safe to
//! retry, and `UNAVAILABLE` is the code gRPC retry policies, transparent retries and proxies
//! (Envoy, grpc-go's default service configs) treat as "try again, perhaps elsewhere".
//! `RESOURCE_EXHAUSTED` means the *caller* used up a quota — that is the rate limiter's
//! answer — and clients typically do not retry it.
//!
//! A slot is held while the handler runs: for a unary call until its response is ready, for a
//! streaming call until its stream starts (long-lived streams are bounded by HTTP/2 stream
//! limits and their own rules, not by this). Health checks are exempt: a probe that fails
//! under load gets a busy pod restarted, which makes the overload worse. This is tower's
//! `LoadShed` around `ConcurrencyLimit`, without the readiness handshake (whose error would
//! then need translating back into a gRPC status).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::sync::Semaphore;
use tonic::{Status, body::Body, codegen::http};
use tower::{Layer, Service};

use super::{is_health, status_response};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct LoadShedLayer {
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl LoadShedLayer {
    pub fn new(limit: usize, metrics: Arc<Metrics>) -> Self {
        Self { slots: Arc::new(Semaphore::new(limit)), metrics }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed { inner, shared: self.clone() }
    }
}

#[derive(Clone)]
pub struct LoadShed<S> {
    inner: S,
    shared: LoadShedLayer,
}

impl<S, B> Service<http::Request<B>> for LoadShed<S>
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
        if is_health(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        let Ok(slot) = Arc::clone(&self.shared.slots).try_acquire_owned() else {
            self.shared.metrics.load_shed.inc();
            return Box::pin(async {
                Ok(status_response(Status::unavailable("server overloaded: too many calls in progress, retry shortly")))
            });
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(slot);
            response
        })
    }
}
