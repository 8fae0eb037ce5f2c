//! The server panel's feed: every health name's status from the health registry and the number
//! of chat members, as one JSON object — `GET /v1/health` once (200 while the server is
//! SERVING, else 503, so it doubles as an HTTP readiness probe), `GET /v1/health:watch` as
//! Server-Sent Events pushed whenever it changes.
//!
//! Like gRPC health checks, it needs no credentials: it tells statuses and a count, never a
//! name. It reads the registry and a count the assembly hands over; it is no rpc, so it writes
//! no access line (a panel left open would otherwise log one per update).

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::State,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use hyper::body::Frame;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::codegen::http::{HeaderName, HeaderValue, StatusCode, header};

use super::WebChat;
use crate::health::{HealthRegistry, Serving};

/// How often a watched panel looks for changes. Reading the registry and a count costs next to
/// nothing; a second of delay is what a person watching the panel would notice.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// What the panel shows, and where it reads it.
#[derive(Clone)]
pub struct ServerStatus {
    pub health: HealthRegistry,
    /// Health names in the order shown; `""` is the whole server.
    pub names: Vec<String>,
    /// Members in the chat room now.
    pub chat_members: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl ServerStatus {
    /// The panel's JSON, and whether the whole server is SERVING.
    fn snapshot(&self) -> (bool, Vec<u8>) {
        let status_of = |name: &str| self.health.get(name).unwrap_or(Serving::Unknown);
        let overall = status_of("");
        let services: Vec<serde_json::Value> = self
            .names
            .iter()
            .filter(|name| !name.is_empty())
            .map(|name| serde_json::json!({ "name": name, "status": status_of(name).as_str_name() }))
            .collect();
        let body = serde_json::json!({
            "status": overall.as_str_name(),
            "services": services,
            "chat_members": (self.chat_members)(),
        });
        (overall == Serving::Serving, serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// `GET /v1/health`.
pub(super) async fn snapshot(State(chat): State<WebChat>) -> Response {
    let (serving, body) = chat.inner.status.snapshot();
    let code = if serving { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// `GET /v1/health:watch`: the snapshot now and after every change, a comment line when quiet,
/// and a last snapshot when the drain begins (health is NOT_SERVING by then), then the end, so
/// an open panel never holds the drain up.
pub(super) async fn watch(State(chat): State<WebChat>) -> Response {
    struct Feed {
        chat: WebChat,
        last: Vec<u8>,
        samples: tokio::time::Interval,
        quiet_until: Instant,
        ended: bool,
    }
    let heartbeat = chat.inner.settings.heartbeat;
    let mut samples = tokio::time::interval(SAMPLE_EVERY);
    samples.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let feed = Feed { chat, last: Vec::new(), samples, quiet_until: Instant::now() + heartbeat, ended: false };
    let events = futures_util::stream::unfold(feed, move |mut feed| async move {
        if feed.ended {
            return None;
        }
        loop {
            let draining = tokio::select! {
                _ = feed.samples.tick() => false,
                () = tokio::time::sleep_until(feed.quiet_until) => {
                    feed.quiet_until = Instant::now() + heartbeat;
                    return Some((Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": keep-alive\n\n"))), feed));
                }
                () = feed.chat.inner.shutdown.draining() => true,
            };
            feed.ended = draining;
            let (_, now) = feed.chat.inner.status.snapshot();
            if now != feed.last || draining {
                let mut event = Vec::with_capacity(now.len() + 8);
                event.extend_from_slice(b"data: ");
                event.extend_from_slice(&now);
                event.extend_from_slice(b"\n\n");
                feed.last = now;
                feed.quiet_until = Instant::now() + heartbeat;
                return Some((Ok(Frame::data(Bytes::from(event))), feed));
            }
        }
    });
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
    ];
    (headers, Body::new(http_body_util::StreamBody::new(events))).into_response()
}
