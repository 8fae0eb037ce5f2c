//! Streaming rpcs over plain HTTP: server streams as Server-Sent Events, and the two rules
//! whose body is a `bytes` field (`body: "chunk"`, `response_body: "chunk"`) as raw bytes —
//! a file goes up as a request body and comes down as a response body, streamed both ways,
//! never held whole.

use axum::{
    body::Body as AxumBody,
    response::{IntoResponse, Response},
};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http_body_util::StreamBody;
use hyper::body::Frame;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, ReflectMessage as _, Value};
use tonic::{
    Status,
    codegen::http::{HeaderMap, HeaderValue, StatusCode, header},
};

use super::{Exchange, Failure, copy_request_id, routes::BodyRule, transcode};
use crate::in_process;

/// A server-streaming rpc as `text/event-stream`: one `data:` line of proto3 JSON per message,
/// a comment line as heartbeat, and a last `end` event with the final `google.rpc.Status`
/// (code 0 when the stream ended normally), so a client can tell a drain from a failure.
pub(super) async fn events(exchange: Exchange<'_>) -> Result<Response, Failure> {
    let request = exchange.request_bytes(b"")?;
    let mut responses = exchange.start(in_process::one_message(&request)).await?;
    let output = exchange.route.method.output();
    let max = exchange.max_bytes();
    let heartbeat = exchange.rest.inner.settings.heartbeat;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let headers = responses.headers().clone();
    // Tracked, so the drain waits for the last event to be written; the stream itself ends
    // when the service ends it at the drain.
    exchange.rest.inner.shutdown.spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        loop {
            let next = tokio::select! {
                next = responses.next(max) => next,
                _ = ticks.tick() => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
                () = tx.closed() => return,
            };
            let event = match next {
                Ok(Some(message)) => match DynamicMessage::decode(output.clone(), message) {
                    Ok(dynamic) => {
                        let mut line = BytesMut::from(&b"data: "[..]);
                        let mut json = Vec::with_capacity(128);
                        if transcode::write_json(&dynamic, &mut json).is_err() {
                            end_event(&Status::internal("an event cannot be written as JSON"))
                        } else {
                            line.extend_from_slice(&json);
                            line.extend_from_slice(b"\n\n");
                            line.freeze()
                        }
                    }
                    Err(_) => end_event(&Status::internal("the service answered an undecodable event")),
                },
                Ok(None) => end_event(&Status::ok("")),
                Err(status) => end_event(&status),
            };
            let last = event.starts_with(b"event: end");
            if tx.send(event).await.is_err() || last {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|bytes| Ok::<_, std::convert::Infallible>(Frame::data(bytes)));
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
        ],
        AxumBody::new(StreamBody::new(stream)),
    )
        .into_response();
    copy_request_id(&headers, response.headers_mut());
    Ok(response)
}

fn end_event(status: &Status) -> Bytes {
    let mut event = BytesMut::from(&b"event: end\ndata: "[..]);
    event.extend_from_slice(&super::errors::status_json(status));
    event.extend_from_slice(b"\n\n");
    event.freeze()
}

/// A server stream whose rule sends one `bytes` field of its messages (`response_body`) as
/// the body. The first message may describe the content (`info` with `content_type` and
/// `size`, as FileService's Download does): its type and length become the headers.
pub(super) async fn download(exchange: Exchange<'_>) -> Result<Response, Failure> {
    let field = exchange.route.response_body.clone().unwrap_or_default();
    let request = exchange.request_bytes(b"")?;
    let mut responses = exchange.start(in_process::one_message(&request)).await?;
    let output = exchange.route.method.output();
    let max = exchange.max_bytes();
    let decode = move |message: Bytes| {
        DynamicMessage::decode(output.clone(), message)
            .map_err(|e| Status::internal(format!("the service answered an undecodable message: {e}")))
    };
    // Messages until the first that carries content: describe the content, or carry it.
    let mut content_type = None;
    let mut length = None;
    let mut first_chunk = None;
    while first_chunk.is_none() {
        let Some(message) = responses.next(max).await? else { break };
        let message = decode(message)?;
        match message.get_field_by_name(&field).filter(|_| message.has_field_by_name(&field)) {
            Some(chunk) => first_chunk = chunk.as_bytes().cloned(),
            None => describe(&message, &mut content_type, &mut length),
        }
    }
    let headers = responses.headers().clone();
    let rest = futures_util::stream::try_unfold(
        (responses, decode, field, max),
        |(mut responses, decode, field, max)| async move {
            loop {
                let Some(message) = responses.next(max).await? else { return Ok(None) };
                let message = decode(message)?;
                if let Some(Value::Bytes(chunk)) = message.get_field_by_name(&field).map(|v| v.into_owned()) {
                    return Ok(Some((chunk, (responses, decode, field, max))));
                }
            }
        },
    );
    let body = futures_util::stream::iter(first_chunk.map(Ok::<_, Status>))
        .chain(rest)
        .map_ok(Frame::data)
        .map_err(|status: Status| Box::new(status) as Box<dyn std::error::Error + Send + Sync>);
    let mut response = AxumBody::new(StreamBody::new(body)).into_response();
    let response_headers = response.headers_mut();
    let content_type =
        content_type.filter(|t: &String| !t.is_empty()).unwrap_or_else(|| "application/octet-stream".into());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response_headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(length) = length {
        response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    copy_request_id(&headers, response_headers);
    Ok(response)
}

/// Reads `content_type` and `size` from a describing message (directly or one level down).
fn describe(message: &DynamicMessage, content_type: &mut Option<String>, length: &mut Option<u64>) {
    for field in message.fields() {
        match field.1 {
            Value::Message(inner) => describe(inner, content_type, length),
            Value::String(text) if field.0.name() == "content_type" => *content_type = Some(text.clone()),
            Value::I64(size) if field.0.name() == "size" => *length = u64::try_from(*size).ok(),
            _ => {}
        }
    }
}

/// A client-streaming rpc whose rule takes one `bytes` field as the body: the first message
/// carries the fields from the path and query (and, where the message has them next to the
/// path's variable, `content_type` and `size` from the request's headers); every later one a
/// piece of the body.
pub(super) async fn upload(exchange: Exchange<'_>, headers: &HeaderMap, body: AxumBody) -> Result<Response, Failure> {
    let BodyRule::Field(field) = exchange.route.body.clone() else {
        return Err(Status::unimplemented("this streaming rpc has no raw-body rule").into());
    };
    let input = exchange.route.method.input();
    let mut first = exchange.request_message(b"")?;
    describe_upload(&mut first, &exchange.bound, headers);
    let chunk_field = input
        .get_field_by_name(&field)
        .filter(|f| matches!(f.kind(), Kind::Bytes))
        .ok_or_else(|| Status::unimplemented("the body field of this rule is not bytes"))?;
    let first = in_process::frame(&first.encode_to_vec());
    let most = super::upload_piece_bytes(exchange.max_bytes());
    let pieces = body.into_data_stream().flat_map(move |piece| {
        let frames: Vec<Result<Frame<Bytes>, Status>> = match piece {
            Ok(mut data) => {
                let mut frames = Vec::new();
                while !data.is_empty() {
                    let part = data.split_to(data.len().min(most));
                    let mut message = DynamicMessage::new(chunk_field.parent_message().clone());
                    message.set_field(&chunk_field, Value::Bytes(part));
                    frames.push(Ok(Frame::data(in_process::frame(&message.encode_to_vec()))));
                }
                frames
            }
            Err(error) => vec![Err(Status::cancelled(format!("the request body could not be read: {error}")))],
        };
        futures_util::stream::iter(frames)
    });
    let frames = futures_util::stream::once(async move { Ok(Frame::data(first)) }).chain(pieces);
    let mut responses = exchange.start(tonic::body::Body::new(StreamBody::new(frames))).await?;
    let message = responses.only_message(exchange.max_bytes()).await?;
    let mut response = exchange.json_response(&message, responses.headers())?;
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// Fills `content_type` and `size` beside the path's variable (`info.name` → `info.content_type`,
/// `info.size`) from the request's `Content-Type` and `Content-Length`, unless the query set them.
fn describe_upload(message: &mut DynamicMessage, bound: &[(String, String)], headers: &HeaderMap) {
    let Some((variable, _)) = bound.first() else { return };
    let Some((parent, _)) = variable.rsplit_once('.') else { return };
    let Some(Value::Message(mut inner)) = message.get_field_by_name(parent).map(|v| v.into_owned()) else { return };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if let (Some(content_type), Some(field)) = (content_type, inner.descriptor().get_field_by_name("content_type"))
        && !inner.has_field(&field)
    {
        inner.set_field(&field, Value::String(content_type.to_owned()));
    }
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    if let (Some(length), Some(field)) = (length, inner.descriptor().get_field_by_name("size"))
        && !inner.has_field(&field)
    {
        inner.set_field(&field, Value::I64(length));
    }
    message.set_field_by_name(parent, Value::Message(inner));
}
