//! Idle timeout for streaming calls: a stream on which neither side has sent a message for
//! `idle` is ended with `DEADLINE_EXCEEDED`, freeing its HTTP/2 stream, task and queue. Dead
//! peers are found sooner by HTTP/2 keepalive; this bounds the live-but-silent ones (a chat
//! client left open in a forgotten tab). Health `Watch` is exempt: silence is its normal
//! state — it speaks only when a status changes.
//!
//! Activity is any data frame, in either direction: the request body and the response body
//! share one "last activity" clock, and the response side ends the call when it runs out.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use http_body::Frame;
use tokio::time::{Instant, Sleep};
use tonic::{Status, body::Body, codegen::http};
use tower::{Layer, Service};

use super::{is_health, methods::Methods};

#[derive(Clone)]
pub struct StreamIdleLayer {
    methods: Arc<Methods>,
    idle: Duration,
}

impl StreamIdleLayer {
    pub fn new(methods: Arc<Methods>, idle: Duration) -> Self {
        Self { methods, idle }
    }
}

impl<S> Layer<S> for StreamIdleLayer {
    type Service = StreamIdle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StreamIdle { inner, shared: self.clone() }
    }
}

#[derive(Clone)]
pub struct StreamIdle<S> {
    inner: S,
    shared: StreamIdleLayer,
}

impl<S> Service<http::Request<Body>> for StreamIdle<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path();
        if self.shared.idle.is_zero() || !self.shared.methods.is_streaming(path) || is_health(path) {
            return Box::pin(self.inner.call(request));
        }
        let clock = Arc::new(ActivityClock::new());
        let request_clock = Arc::clone(&clock);
        let request = request.map(|body| Body::new(Tracked { inner: body, clock: request_clock }));
        let idle = self.shared.idle;
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(IdleBody { inner: Some(body), sleep: Box::pin(tokio::time::sleep(idle)), clock, idle })
            }))
        })
    }
}

/// When either side last sent something, as milliseconds since the clock's start.
struct ActivityClock {
    start: Instant,
    last_millis: AtomicU64,
}

impl ActivityClock {
    fn new() -> Self {
        Self { start: Instant::now(), last_millis: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.fetch_max(millis, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_millis.load(Ordering::Relaxed))
    }
}

/// The request body, touching the clock on every frame.
struct Tracked {
    inner: Body,
    clock: Arc<ActivityClock>,
}

impl http_body::Body for Tracked {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            self.clock.touch();
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

/// The response body, ended with `DEADLINE_EXCEEDED` trailers once the call has been idle.
struct IdleBody {
    /// `None` once ended for idleness: dropping it drops the handler's stream.
    inner: Option<Body>,
    sleep: Pin<Box<Sleep>>,
    clock: Arc<ActivityClock>,
    idle: Duration,
}

impl http_body::Body for IdleBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) {
            self.clock.touch();
            return Poll::Ready(frame);
        }
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer ran out, but the other direction may have been active since.
            let deadline = self.clock.last() + self.idle;
            if deadline > Instant::now() {
                self.sleep.as_mut().reset(deadline);
                continue;
            }
            self.inner = None;
            tracing::debug!(idle = ?self.idle, "streaming call idle; ending it");
            let mut trailers = http::HeaderMap::new();
            let status = Status::deadline_exceeded(format!(
                "stream idle for {:?}: no message in either direction (--stream-idle-timeout)",
                self.idle
            ));
            // A fixed ASCII message always makes valid headers.
            let _ = status.add_header(&mut trailers);
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(http_body::Body::size_hint).unwrap_or_default()
    }
}
