//! Prometheus metrics: one registry per server (so servers in one test process do not mix
//! their numbers), and a minimal HTTP/1.1 endpoint that serves it at `GET /metrics` on the
//! admin port (`--metrics-listen`, off unless given).
//!
//! Label values are bounded: `method` is a known gRPC method or `unknown` (a client cannot
//! create series by calling made-up paths), `code` is one of the 17 gRPC codes.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A request head larger than this is refused: `/metrics` needs a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A scraper that has not sent its request line by then is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

type Sampler = Box<dyn Fn(&Metrics) + Send + Sync>;

pub struct Metrics {
    registry: Registry,
    /// Finished gRPC calls by method and status code.
    pub requests: IntCounterVec,
    /// gRPC call latency, from request headers to the final status, by method.
    pub latency: HistogramVec,
    /// Open connections by protocol (`grpc`; the legacy ports add theirs).
    pub open_connections: IntGaugeVec,
    /// Open streaming calls by protocol.
    pub open_streams: IntGaugeVec,
    /// Members in the chat room, over every front door.
    pub chat_members: IntGauge,
    /// Calls refused by the per-client rate limit, by what identified the client.
    pub rate_limited: IntCounterVec,
    /// Calls shed because the global concurrency limit was full.
    pub load_shed: IntCounter,
    /// Latency of storage writes (commits), by store.
    pub storage_commit: HistogramVec,
    /// Debug `Sleep` calls whose caller gave up before the sleep ended (test-only service).
    pub debug_sleeps_cancelled: IntCounter,
    samplers: Mutex<Vec<Sampler>>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new("switchboard_grpc_requests_total", "Finished gRPC calls by method and status code."),
                &["method", "code"],
            )
            .expect("valid metric"),
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "switchboard_grpc_request_duration_seconds",
                    "gRPC call latency, from request headers to the final status.",
                )
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["method"],
            )
            .expect("valid metric"),
            open_connections: IntGaugeVec::new(
                Opts::new("switchboard_open_connections", "Open client connections by protocol."),
                &["protocol"],
            )
            .expect("valid metric"),
            open_streams: IntGaugeVec::new(
                Opts::new("switchboard_open_streams", "Open streaming calls by protocol."),
                &["protocol"],
            )
            .expect("valid metric"),
            chat_members: IntGauge::new("switchboard_chat_members", "Members in the chat room.").expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "switchboard_rate_limited_total",
                    "Calls refused by the per-client rate limit, by what identified the client.",
                ),
                &["client"],
            )
            .expect("valid metric"),
            load_shed: IntCounter::new(
                "switchboard_load_shed_total",
                "Calls refused at once because the global concurrency limit was full.",
            )
            .expect("valid metric"),
            storage_commit: HistogramVec::new(
                HistogramOpts::new("switchboard_storage_commit_duration_seconds", "Latency of storage writes.")
                    .buckets(vec![0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
                &["store"],
            )
            .expect("valid metric"),
            debug_sleeps_cancelled: IntCounter::new(
                "switchboard_debug_sleeps_cancelled_total",
                "Debug Sleep calls cancelled because the caller gave up (test-only service).",
            )
            .expect("valid metric"),
            samplers: Mutex::new(Vec::new()),
            registry,
        };
        // Registering fresh collectors with distinct names into a fresh registry cannot fail.
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.latency.clone()),
            Box::new(metrics.open_connections.clone()),
            Box::new(metrics.open_streams.clone()),
            Box::new(metrics.chat_members.clone()),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.load_shed.clone()),
            Box::new(metrics.storage_commit.clone()),
            Box::new(metrics.debug_sleeps_cancelled.clone()),
        ] {
            metrics.registry.register(collector).expect("distinct metric names");
        }
        // Series that exist from the start, so dashboards see zeros rather than gaps.
        metrics.open_connections.with_label_values(&["grpc"]);
        metrics.open_streams.with_label_values(&["grpc"]);
        Arc::new(metrics)
    }

    /// Adds a function run before every scrape, for values cheaper to read than to track
    /// (the chat room's member count).
    pub fn add_sampler(&self, sampler: impl Fn(&Metrics) + Send + Sync + 'static) {
        crate::sync::lock(&self.samplers).push(Box::new(sampler));
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        for sampler in crate::sync::lock(&self.samplers).iter() {
            sampler(self);
        }
        let mut out = Vec::new();
        // Encoding into a Vec fails only on invalid metric families, which we never build.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Serves `GET /metrics` on `listener` until the task is aborted (at the very end of
/// shutdown, so the drain itself can be watched).
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "metrics listener cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            if let Err(error) = tokio::time::timeout(REQUEST_TIMEOUT, answer(socket, &metrics)).await {
                tracing::debug!(%peer, %error, "metrics scrape timed out");
            }
        });
    }
}

/// One request, one response, close: scrapers open a connection per scrape anyway.
async fn answer(mut socket: TcpStream, metrics: &Metrics) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_REQUEST_HEAD {
            let _ = socket.write_all(&response("431 Request Header Fields Too Large", "text/plain", "")).await;
            return;
        }
    }
    let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let reply = match (method, path) {
        (b"GET", b"/metrics") => response("200 OK", "text/plain; version=0.0.4; charset=utf-8", &metrics.render()),
        (b"GET", _) => response("404 Not Found", "text/plain", "not found: try /metrics\n"),
        _ => response("405 Method Not Allowed", "text/plain", "only GET\n"),
    };
    let _ = socket.write_all(&reply).await;
    let _ = socket.shutdown().await;
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Binds the admin listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_with_the_samplers_applied() {
        let metrics = Metrics::new();
        metrics.add_sampler(|m| m.chat_members.set(3));
        metrics.requests.with_label_values(&["/a.B/C", "OK"]).inc();
        let text = metrics.render();
        assert!(text.contains("switchboard_chat_members 3"), "{text}");
        assert!(text.contains(r#"switchboard_grpc_requests_total{code="OK",method="/a.B/C"} 1"#), "{text}");
    }
}
