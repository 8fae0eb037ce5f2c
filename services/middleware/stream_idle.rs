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

use super::{is_health, methods::Method};

pub struct StreamIdle {
    /// Zero: never.
    idle: Duration,
}

impl StreamIdle {
    pub fn new(idle: Duration) -> Self {
        Self { idle }
    }

    /// For a streaming call that idleness may end: its request, with the body touching the
    /// call's activity clock, and the timer its response body runs down. Other calls pass as
    /// they are.
    pub fn watch(&self, method: &Method, request: http::Request<Body>) -> (http::Request<Body>, Option<IdleTimer>) {
        if self.idle.is_zero() || !method.is_streaming() || is_health(request.uri().path()) {
            return (request, None);
        }
        let clock = Arc::new(ActivityClock::new());
        let request_clock = Arc::clone(&clock);
        let request = request.map(|body| Body::new(Tracked { inner: body, clock: request_clock }));
        let timer = IdleTimer { sleep: Box::pin(tokio::time::sleep(self.idle)), clock, idle: self.idle };
        (request, Some(timer))
    }
}

/// The idle timer of one streaming call, run down by its response body.
pub struct IdleTimer {
    sleep: Pin<Box<Sleep>>,
    clock: Arc<ActivityClock>,
    idle: Duration,
}

impl IdleTimer {
    /// The response side sent (or ended) something.
    pub fn touch(&self) {
        self.clock.touch();
    }

    /// Ready with the trailers that end the call once neither side has sent anything for the
    /// idle time.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<http::HeaderMap> {
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
            tracing::debug!(idle = ?self.idle, "streaming call idle; ending it");
            let mut trailers = http::HeaderMap::new();
            let status = Status::deadline_exceeded(format!(
                "stream idle for {:?}: no message in either direction (--stream-idle-timeout)",
                self.idle
            ));
            // A fixed ASCII message always makes valid headers.
            let _ = status.add_header(&mut trailers);
            return Poll::Ready(trailers);
        }
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
