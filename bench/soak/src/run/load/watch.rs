//! KV watchers on `soak/`: a gRPC `Watch` stream (through the client library) and the REST
//! Server-Sent Events stream. Each records every event with the time it arrived; a stream
//! that ends (a restart, a drain, ABORTED for falling behind) is recorded and opened again.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use switchboard_client::pb::watch_event::Kind;
use switchboard_soak::history::{Door, WatchSeen, WatchSession};
use tokio_stream::StreamExt;

use super::{grpc, rest};
use crate::run::{OP_TIMEOUT, SharedCtx, WATCH_PREFIX};

pub async fn grpc_watcher(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = grpc::client(&ctx, false);
    while !ctx.stopped() {
        let stream = match tokio::time::timeout(OP_TIMEOUT, client.kv_watch(WATCH_PREFIX)).await {
            Ok(Ok(stream)) => stream,
            _ => {
                ctx.pause(200..500).await;
                continue;
            }
        };
        // The server subscribes before it answers: from here on every change is reported.
        let established = ctx.now();
        let mut stream = std::pin::pin!(stream);
        let mut events = Vec::new();
        let end = loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = ctx.stopping() => break "stopped".to_owned(),
            };
            match next {
                Some(Ok(event)) => {
                    let value = (event.kind() == Kind::Set).then(|| event.value.clone());
                    events.push(WatchSeen { at: ctx.now(), key: event.key, value });
                }
                Some(Err(error)) => break format!("{:?}: {error}", error.code()),
                None => break "ended".to_owned(),
            }
        };
        let ended = ctx.now();
        ctx.record().watches.push(WatchSession { door: Door::Grpc, client: id, established, ended, events, end });
        ctx.pause(100..300).await;
    }
}

pub async fn sse_watcher(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = rest::http_client();
    let uri = format!("http://{}/v1/kv:watch?prefix={WATCH_PREFIX}", ctx.doors.http);
    while !ctx.stopped() {
        let Ok(request) = Request::builder().method(Method::GET).uri(&uri).body(Full::new(Bytes::new())) else {
            return;
        };
        let response = match tokio::time::timeout(OP_TIMEOUT, client.request(request)).await {
            Ok(Ok(response)) if response.status() == StatusCode::OK => response,
            _ => {
                ctx.pause(200..500).await;
                continue;
            }
        };
        let established = ctx.now();
        let mut body = response.into_body();
        let mut buffer = String::new();
        let mut events = Vec::new();
        let mut ending: Option<String> = None;
        let end = loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                () = ctx.stopping() => break "stopped".to_owned(),
                // Keep-alive comments come every 15 s; nothing for a minute is a dead stream.
                () = tokio::time::sleep(Duration::from_secs(60)) => break "silent for 60 s".to_owned(),
            };
            let data = match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                Some(Err(error)) => break format!("connection lost: {error}"),
                None => break ending.take().unwrap_or_else(|| "ended without an end event".to_owned()),
            };
            buffer.push_str(&String::from_utf8_lossy(&data));
            // One event per blank-line-terminated block: `event:` (optional) and `data:`.
            while let Some(split) = buffer.find("\n\n") {
                let block: String = buffer.drain(..split + 2).collect();
                let is_end = block.lines().any(|line| line == "event: end");
                let Some(data) = block.lines().find_map(|line| line.strip_prefix("data: ")) else { continue };
                let Ok(json) = serde_json::from_str::<serde_json::Value>(data) else { continue };
                if is_end {
                    ending = Some(format!("end event: {json}"));
                    continue;
                }
                let key = json.get("key").and_then(|k| k.as_str()).unwrap_or_default().to_owned();
                let kind = json.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
                let value =
                    (kind == "SET").then(|| json.get("value").and_then(|v| v.as_str()).unwrap_or_default().to_owned());
                events.push(WatchSeen { at: ctx.now(), key, value });
            }
        };
        let ended = ctx.now();
        ctx.record().watches.push(WatchSession { door: Door::Rest, client: id, established, ended, events, end });
        ctx.pause(100..300).await;
    }
}
