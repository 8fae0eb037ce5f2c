//! One log line per call — request id, method, peer, final status code, latency — and the
//! per-call metrics (requests by code, latency histogram, open streams).
//!
//! A call's final status is known only when it ends: in the response headers for a
//! trailers-only answer, else in the trailers at the end of the body. A body dropped before
//! its trailers means the client went away (or the connection was cut): logged `CANCELLED`.
//!
//! The line is one `tracing` event with borrowed fields (nothing is formatted or allocated
//! here); the log format writes it into its reused per-thread buffer, and the log thread
//! writes lines out in batches.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use prometheus::IntGauge;
use tonic::Code;

use super::{code_name, methods::Method, request_id::RequestId};
use crate::metrics::Metrics;

/// The metrics every call reports to, resolved once.
pub struct AccessLog {
    metrics: Arc<Metrics>,
    open_streams: IntGauge,
}

impl AccessLog {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let open_streams = metrics.open_streams.with_label_values(&["grpc"]);
        Self { metrics, open_streams }
    }

    /// Starts the record of a call that began at `start`.
    pub fn start(
        self: &Arc<Self>,
        start: Instant,
        method: Arc<Method>,
        request_id: RequestId,
        peer: Option<SocketAddr>,
    ) -> CallRecord {
        if method.is_streaming() {
            self.open_streams.inc();
        }
        CallRecord { start, method, request_id, peer, log: Arc::clone(self), done: false }
    }
}

/// What is known about a call until its final status is. Dropped unfinished, it logs the call
/// `CANCELLED`.
pub struct CallRecord {
    start: Instant,
    method: Arc<Method>,
    request_id: RequestId,
    peer: Option<SocketAddr>,
    log: Arc<AccessLog>,
    done: bool,
}

impl CallRecord {
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// Logs and counts the call with `code`; later calls do nothing.
    pub fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let latency = self.start.elapsed().as_secs_f64();
        self.method.record(&self.log.metrics, code, latency);
        if self.method.is_streaming() {
            self.log.open_streams.dec();
        }
        tracing::info!(
            target: "switchboard::access",
            request_id = self.request_id.as_str(),
            method = %self.method.label(),
            peer = %OrDash(self.peer),
            code = code_name(code),
            latency_ms = latency * 1000.0,
            "call finished"
        );
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // No status seen: the client left, or the connection was cut, before the end.
        self.finish(Code::Cancelled);
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
