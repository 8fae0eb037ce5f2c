//! The one tower layer around every gRPC call, whichever door it came in by (the gRPC port,
//! gRPC-Web, REST, the guide's endpoints, the web chat, binary call frames). Each feature is a
//! policy in its own module, asked in turn here; the layer scaffolding — one `Layer`, one
//! `Service`, one future, one response body — is written once, in this file.
//!
//! # What a call passes, in order
//!
//! 1. **request id** — first, so every later log line of the call has it.
//! 2. **access log + metrics** — the record starts before anything can refuse the call, so
//!    refusals are logged and counted with their codes too.
//! 3. **rate limit** — cheap, and before anything that holds resources; an abusive client is
//!    told to slow down (`RESOURCE_EXHAUSTED`) rather than "try again" (`UNAVAILABLE`).
//!    Before authentication, so guessing tokens is rate limited too.
//! 4. **authentication** — no unauthenticated call takes a concurrency slot.
//! 5. **load shedding** — the global concurrency limit, held while the handler runs.
//! 6. **deadline** — unary calls; the timer starts now, and the slot is freed when it passes.
//! 7. **stream idle timeout** — streaming calls silent in both directions are ended.
//! 8. **panic isolation** — around the handler and its response body: a panic becomes
//!    `INTERNAL` before anything else sees it.
//!
//! On the way out, tonic's framing codes are corrected ([`status_codes`]) before the access
//! line records the final code, from the response headers (a trailers-only answer) or from the
//! trailers at the end of the body.
//!
//! # Why one layer
//!
//! As nine tower layers, a unary call paid nine boxed futures, up to three boxed bodies, a
//! `tracing` span and a label lookup per metric. Folded, it pays one future (stored inline in
//! tonic's), at most one body wrapper, one method lookup (whose metric series are resolved
//! once), and no span for unary calls (see [`request_id`]).
//!
//! [`status_codes`]: super::status_codes
//! [`request_id`]: super::request_id

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http_body::Frame;
use pin_project_lite::pin_project;
use tokio::{sync::OwnedSemaphorePermit, time::Sleep};
use tonic::{Code, Status, body::Body, codegen::http};
use tower::{Layer, Service};

use super::{
    access_log::{AccessLog, CallRecord},
    auth::Auth,
    catch_panic::panicked,
    deadline::{self, Whose},
    load_shed::LoadShed,
    methods::{Method, Methods},
    peer_addr,
    rate_limit::RateLimit,
    request_id::{self, REQUEST_ID_HEADER_NAME, RequestId},
    status_codes::fix_status,
    stream_idle::{IdleTimer, StreamIdle},
};
use crate::metrics::Metrics;

/// What the call stack is built from.
pub struct Settings {
    pub methods: Arc<Methods>,
    pub metrics: Arc<Metrics>,
    /// `None`: no rate limit.
    pub rate_limit: Option<RateLimit>,
    pub auth: Auth,
    /// Calls handled at once, server-wide.
    pub max_concurrent_calls: usize,
    /// The longest a unary call may run; `None`: as long as its caller allows.
    pub max_call: Option<Duration>,
    /// Zero: streams are never ended for idleness.
    pub stream_idle: Duration,
}

/// The layer: wrap the routes in it once, and every front door's calls pass it.
#[derive(Clone)]
pub struct CallStack {
    policies: Arc<Policies>,
}

struct Policies {
    methods: Arc<Methods>,
    access_log: Arc<AccessLog>,
    rate_limit: Option<RateLimit>,
    auth: Auth,
    load_shed: LoadShed,
    deadline: deadline::Deadline,
    stream_idle: StreamIdle,
}

impl CallStack {
    pub fn new(settings: Settings) -> Self {
        let Settings { methods, metrics, rate_limit, auth, max_concurrent_calls, max_call, stream_idle } = settings;
        let policies = Policies {
            methods,
            load_shed: LoadShed::new(max_concurrent_calls, Arc::clone(&metrics)),
            access_log: Arc::new(AccessLog::new(metrics)),
            rate_limit,
            auth,
            deadline: deadline::Deadline::new(max_call),
            stream_idle: StreamIdle::new(stream_idle),
        };
        Self { policies: Arc::new(policies) }
    }
}

impl Policies {
    /// The call's concurrency slot, or the status that refuses it.
    fn admit(&self, request: &http::Request<Body>) -> Result<Option<OwnedSemaphorePermit>, Status> {
        if let Some(rate_limit) = &self.rate_limit {
            rate_limit.admit(request)?;
        }
        let path = request.uri().path();
        self.auth.check(path, request.headers())?;
        self.load_shed.admit(path)
    }
}

impl<S> Layer<S> for CallStack {
    type Service = Calls<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Calls { inner, policies: Arc::clone(&self.policies) }
    }
}

/// The routes (or any gRPC service) behind the call stack.
#[derive(Clone)]
pub struct Calls<S> {
    inner: S,
    policies: Arc<Policies>,
}

impl<S> Service<http::Request<Body>> for Calls<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let start = Instant::now();
        let policies = &*self.policies;
        let method = Arc::clone(policies.methods.get(request.uri().path()));
        let id = RequestId::from_header(request.headers().get(&REQUEST_ID_HEADER_NAME));
        request.headers_mut().insert(REQUEST_ID_HEADER_NAME, id.header());
        let record = policies.access_log.start(start, Arc::clone(&method), id.clone(), peer_addr(&request));

        let slot = match policies.admit(&request) {
            Ok(slot) => slot,
            Err(status) => {
                tracing::debug!(request_id = id.as_str(), code = ?status.code(), "call refused: {}", status.message());
                return CallFuture::answered(status, record, id);
            }
        };
        let limit = policies.deadline.limit(&method, request.headers());
        let (request, idle) = policies.stream_idle.watch(&method, request);
        let scope = Scope::of(&method, &id);
        let inner = scope.run(|| std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))));
        let inner = match inner {
            Ok(inner) => inner,
            Err(panic) => return CallFuture::answered(panicked(&*panic, "handler", &id), record, id),
        };
        CallFuture {
            inner: Some(inner),
            // The deadline is fixed now, before the handler runs; its timer is made only if
            // the handler does not answer on its first poll (most do not need one).
            deadline: limit.map(|(limit, whose)| Deadline { at: tokio::time::Instant::now() + limit, limit, whose }),
            sleep: None,
            answer: None,
            call: Some(Call { record, id, scope, slot, idle }),
        }
    }
}

/// Where a call's log lines get their request id while its handler runs.
enum Scope {
    /// Unary: the thread's current request id, set for each poll.
    Unary(RequestId),
    /// Streaming: a `call` span, which the tasks it spawns take along.
    Streaming(tracing::Span),
    /// Answered before any handler ran.
    Answered,
}

impl Scope {
    fn of(method: &Method, id: &RequestId) -> Self {
        if method.is_streaming() {
            Self::Streaming(tracing::info_span!("call", request_id = id.as_str(), method = method.label()))
        } else {
            Self::Unary(id.clone())
        }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        match self {
            Self::Unary(id) => request_id::in_scope(id, f),
            Self::Streaming(span) => span.in_scope(f),
            Self::Answered => f(),
        }
    }
}

/// A call in progress, until its response head is out.
struct Call {
    record: CallRecord,
    id: RequestId,
    scope: Scope,
    /// The load-shedding slot, freed with the response head.
    slot: Option<OwnedSemaphorePermit>,
    idle: Option<IdleTimer>,
}

/// When a unary call's time is up, and whose limit that is.
#[derive(Clone, Copy)]
struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
    whose: Whose,
}

pin_project! {
    /// The response head of one call: the handler's, or the status that refused or ended it.
    pub struct CallFuture<F> {
        #[pin]
        inner: Option<F>,
        deadline: Option<Deadline>,
        // The deadline's timer, once the handler has had to wait.
        sleep: Option<Pin<Box<Sleep>>>,
        // A status decided before the handler ran (a refusal, a panic in `call`).
        answer: Option<Status>,
        call: Option<Call>,
    }

    impl<F> PinnedDrop for CallFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // A handler dropped unfinished (its caller left) may log as it unwinds its work:
            // in its call's scope, like every other line of the call.
            let mut this = this.project();
            if let Some(call) = this.call.as_ref() {
                call.scope.run(|| this.inner.set(None));
            }
        }
    }
}

impl<F> CallFuture<F> {
    fn answered(status: Status, record: CallRecord, id: RequestId) -> Self {
        Self {
            inner: None,
            deadline: None,
            sleep: None,
            answer: Some(status),
            call: Some(Call { record, id, scope: Scope::Answered, slot: None, idle: None }),
        }
    }
}

impl<F, E> Future for CallFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(call) = this.call.as_ref() else {
            panic!("CallFuture polled after it completed");
        };
        let response = if let Some(status) = this.answer.take() {
            status.into_http()
        } else if let Some(inner) = this.inner.as_mut().as_pin_mut() {
            let polled = call.scope.run(|| std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))));
            match polled {
                Ok(Poll::Ready(Ok(response))) => response,
                Ok(Poll::Ready(Err(error))) => {
                    this.inner.set(None);
                    // The record, dropped with the call, logs it CANCELLED.
                    this.call.take();
                    return Poll::Ready(Err(error));
                }
                Ok(Poll::Pending) => {
                    let Some(deadline) = *this.deadline else {
                        return Poll::Pending;
                    };
                    let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.at)));
                    match sleep.as_mut().poll(cx) {
                        Poll::Ready(()) => deadline_passed(deadline, &call.id),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(panic) => panicked(&*panic, "handler", &call.id).into_http(),
            }
        } else {
            panic!("CallFuture polled after it completed");
        };
        // Dropping the handler's future cancels its work, if the deadline cut it short; what
        // it logs then is a line of the call.
        call.scope.run(|| this.inner.set(None));
        let Some(call) = this.call.take() else {
            panic!("CallFuture polled after it completed");
        };
        Poll::Ready(Ok(call.respond(response)))
    }
}

fn deadline_passed(deadline: Deadline, id: &RequestId) -> http::Response<Body> {
    let Deadline { limit, whose, .. } = deadline;
    tracing::debug!(request_id = id.as_str(), ?limit, "deadline exceeded; handler cancelled");
    Status::deadline_exceeded(whose.message(limit)).into_http()
}

impl Call {
    /// The response head as it goes out, with the body that ends the call.
    fn respond(self, response: http::Response<Body>) -> http::Response<Body> {
        let Call { mut record, id, scope: _, slot, idle } = self;
        drop(slot);
        let (mut parts, body) = response.into_parts();
        let code = fix_status(&mut parts.headers);
        // Never indexed by HPACK: a value that never repeats would only churn both sides'
        // header tables (h2 writes "sensitive" values as never-indexed literals).
        let mut header = id.header();
        header.set_sensitive(true);
        parts.headers.insert(REQUEST_ID_HEADER_NAME, header);
        if let Some(code) = code {
            // A trailers-only answer: the call is over.
            record.finish(code);
            return http::Response::from_parts(parts, body);
        }
        http::Response::from_parts(parts, Body::new(CallBody { inner: Some(body), record, idle }))
    }
}

/// A call's response body: corrects the status in its trailers, logs the call when they come,
/// ends the call with `INTERNAL` if the body panics and with `DEADLINE_EXCEEDED` if a stream
/// idles.
struct CallBody {
    /// `None` once ended here (a panic, idleness): dropping it drops the handler's stream.
    inner: Option<Body>,
    record: CallRecord,
    idle: Option<IdleTimer>,
}

impl CallBody {
    /// Ends the call with `trailers` (a status of ours, not the handler's).
    fn end(&mut self, trailers: http::HeaderMap, code: Code) -> Poll<Option<Result<Frame<bytes::Bytes>, Status>>> {
        self.inner = None;
        self.record.finish(code);
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }
}

fn trailers_of(status: &Status) -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    // Our statuses carry fixed ASCII messages, which always make valid headers.
    let _ = status.add_header(&mut trailers);
    trailers
}

impl http_body::Body for CallBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll_frame(cx)));
        match polled {
            Ok(Poll::Ready(Some(Ok(frame)))) => {
                if let Some(idle) = &this.idle {
                    idle.touch();
                }
                match frame.into_trailers() {
                    Ok(mut trailers) => {
                        if let Some(code) = fix_status(&mut trailers) {
                            this.record.finish(code);
                        }
                        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                    }
                    // Data frames leave the call open.
                    Err(data) => Poll::Ready(Some(Ok(data))),
                }
            }
            Ok(Poll::Ready(Some(Err(error)))) => {
                this.record.finish(Code::Internal);
                Poll::Ready(Some(Err(error)))
            }
            Ok(Poll::Ready(None)) => Poll::Ready(None),
            Ok(Poll::Pending) => match this.idle.as_mut().map(|idle| idle.poll_expired(cx)) {
                Some(Poll::Ready(trailers)) => this.end(trailers, Code::DeadlineExceeded),
                Some(Poll::Pending) | None => Poll::Pending,
            },
            Err(panic) => {
                let status = panicked(&*panic, "response stream", this.record.request_id());
                this.end(trailers_of(&status), Code::Internal)
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

    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;
    use crate::{credentials::ApiKeys, middleware::grpc_status};

    fn stack(metrics: &Arc<Metrics>, token: Option<&str>) -> CallStack {
        CallStack::new(Settings {
            methods: Arc::new(Methods::from_descriptor_sets(&[crate::pb::FILE_DESCRIPTOR_SET]).unwrap()),
            metrics: Arc::clone(metrics),
            rate_limit: None,
            auth: Auth::new(token, ApiKeys::new([]), &[]),
            max_concurrent_calls: 8,
            max_call: Some(Duration::from_millis(50)),
            stream_idle: Duration::ZERO,
        })
    }

    fn echo_call() -> http::Request<Body> {
        let mut request = http::Request::new(Body::empty());
        *request.uri_mut() = "/switchboard.v1.EchoService/Echo".parse().unwrap();
        request
    }

    /// `handler` behind the call stack (with `token` required if given), called once.
    async fn answer<F, Fut>(token: Option<&str>, handler: F) -> (http::Response<Body>, Arc<Metrics>)
    where
        F: FnMut(http::Request<Body>) -> Fut,
        Fut: Future<Output = Result<http::Response<Body>, Infallible>>,
    {
        let metrics = Metrics::new();
        let service = stack(&metrics, token).layer(tower::service_fn(handler));
        (service.oneshot(echo_call()).await.unwrap(), metrics)
    }

    fn requests(metrics: &Metrics, code: &str) -> u64 {
        metrics.requests.with_label_values(&["/switchboard.v1.EchoService/Echo", code]).get()
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_internal_and_is_counted() {
        let (response, metrics) = answer(None, |_request: http::Request<Body>| async {
            if true {
                panic!("boom");
            }
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        })
        .await;
        assert_eq!(grpc_status(response.headers()), Some(Code::Internal));
        assert!(response.headers().contains_key(REQUEST_ID_HEADER_NAME));
        assert_eq!(requests(&metrics, "INTERNAL"), 1);
    }

    #[tokio::test]
    async fn a_refused_call_never_reaches_the_handler() {
        let (response, metrics) = answer(Some("s3cret"), |_request| async {
            unreachable!("an unauthenticated call reached the handler");
            #[allow(unreachable_code)]
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        })
        .await;
        assert_eq!(grpc_status(response.headers()), Some(Code::Unauthenticated));
        assert_eq!(requests(&metrics, "UNAUTHENTICATED"), 1);
    }

    #[tokio::test]
    async fn slow_work_is_cut_at_the_deadline() {
        let (response, metrics) = answer(None, |_request| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        })
        .await;
        assert_eq!(grpc_status(response.headers()), Some(Code::DeadlineExceeded));
        assert_eq!(requests(&metrics, "DEADLINE_EXCEEDED"), 1);
    }

    #[tokio::test]
    async fn the_trailers_are_corrected_and_end_the_call() {
        let (response, metrics) = answer(None, |_request| async {
            let mut trailers = http::HeaderMap::new();
            Status::out_of_range("Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes")
                .add_header(&mut trailers)
                .unwrap();
            let body = http_body_util::StreamBody::new(futures_util::stream::iter([Ok::<_, Status>(Frame::trailers(
                trailers,
            ))]));
            Ok::<_, Infallible>(http::Response::new(Body::new(body)))
        })
        .await;
        assert_eq!(requests(&metrics, "RESOURCE_EXHAUSTED"), 0, "not before the trailers came");
        let trailers = response.into_body().collect().await.unwrap().trailers().cloned().unwrap();
        let status = Status::from_header_map(&trailers).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "request message too large: found 9 bytes, the limit is: 4 bytes");
        assert_eq!(requests(&metrics, "RESOURCE_EXHAUSTED"), 1);
    }
}
