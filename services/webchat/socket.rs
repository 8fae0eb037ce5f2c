//! `/v1/chat/ws`: one WebSocket, one in-process `ChatService/Chat` call.
//!
//! The wire: every text frame from the client is one `ChatRequest` in proto3 JSON
//! (`{"join":{"name":"ada"}}`, `{"say":{"text":"hi"}}`, `{"list_members":{}}`, `{"quit":{}}`),
//! every text frame from the server one `ChatEvent` in proto3 JSON, exactly as REST writes it.
//! The call's end is the close frame: `1000` when it ended OK, `1001` when the server is
//! draining, `4000 + the gRPC code` when it failed (`4006` a taken name, `4016` no or a wrong
//! token, `4014` unavailable…), with the status message as the reason.
//!
//! A frame that is not a `ChatRequest` is this door's own wire error: it gets an `error` event
//! (code 3) and the session goes on, as a telnet member's unknown command does; a stream of
//! frames can always be resynchronised. Everything else is `ChatService`'s.
//!
//! Reading and writing are independent: the client's frames are read into the call's request
//! stream while events are written out, so a client that sends a lot while its events queue up
//! cannot deadlock the two. A client that stops reading blocks only its own writes — the room
//! publishes into a ring and this member is told later what it missed — and is closed when a
//! write cannot finish for [`WRITE_STALL_LIMIT`]. A client that answers no ping for
//! [`SILENT_HEARTBEATS`] heartbeats is closed too.

use std::{net::SocketAddr, time::Duration, time::SystemTime};

use axum::{
    extract::{
        FromRequestParts, Request, State,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use bytes::Bytes;
use futures_util::{
    FutureExt as _, SinkExt as _, StreamExt as _,
    stream::{SplitSink, SplitStream},
};
use hyper::body::Frame;
use prometheus::IntGauge;
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor};
use tokio::{
    sync::{OwnedSemaphorePermit, mpsc},
    time::Instant,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    Code, Status,
    codegen::http::{HeaderMap, HeaderValue, header},
};
use tracing::Instrument as _;

use super::WebChat;
use crate::{
    in_process::{self, Responses},
    middleware::request_id::REQUEST_ID_HEADER,
    pb::{self, chat_event::Event},
    rest::{errors, transcode},
};

/// The rpc every socket is.
const CHAT_METHOD: &str = "/switchboard.v1.ChatService/Chat";
/// The subprotocol the server selects when a client offers it (browsers that send a token as a
/// subprotocol must also offer one the server will select).
const SUBPROTOCOL: &str = "switchboard.chat.v1";
/// A subprotocol `bearer.<token>` carries the bearer token from a browser, which cannot set
/// `Authorization` on a WebSocket.
const BEARER_SUBPROTOCOL_PREFIX: &str = "bearer.";
/// The query parameter that may carry the bearer token instead (RFC 6750 §2.3).
const ACCESS_TOKEN_PARAMETER: &str = "access_token";

/// Largest frame (and message) a client may send, unless `--max-message-bytes` is lower.
/// `ChatService` takes at most 4096 bytes of text; its JSON, even with every byte escaped as
/// `\uXXXX`, stays well under this. A larger frame closes the socket with 1009.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Read buffer of a socket. Requests are small; a larger frame grows it as it arrives.
/// (tungstenite's default, 128 KiB allocated up front per socket, made 1,000 idle members cost
/// 225 MiB.)
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes of frames gathered before they are written to the socket: a batch of events
/// ([`WRITE_BATCH`] at a time) goes out in one or a few writes; it also bounds what waits here
/// while the client is not reading.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// Requests read ahead of the service; a client sending faster waits (TCP backpressure).
const REQUEST_QUEUE: usize = 8;
/// Edge errors (frames that are not requests) waiting to be written.
const EDGE_QUEUE: usize = 4;
/// Events written with one flush at most: a burst goes out in few system calls.
const WRITE_BATCH: usize = 64;
/// A client that does not take a write for this long is not reading: closed.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(60);
/// Heartbeats without any frame from the client (browsers answer every ping) before it is
/// taken for gone.
const SILENT_HEARTBEATS: u32 = 3;
/// After the client's close frame, how long its call may take to end (`ChatService` delivers
/// up to the member's own leave notice, at most 2 s) before it is cut.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// After our close frame, how long to wait for the client's before closing the socket.
const CLOSE_HANDSHAKE_WAIT: Duration = Duration::from_secs(2);
/// A close frame's reason is at most 123 bytes.
const MAX_CLOSE_REASON: usize = 123;

/// `GET /v1/chat/ws`: the checks only this door can make, then the upgrade.
pub(super) async fn upgrade(State(chat): State<WebChat>, request: Request) -> Response {
    let inner = &chat.inner;
    let (mut parts, _body) = request.into_parts();
    if !inner.origins.allows(&parts.headers) {
        let status = Status::permission_denied(
            "pages of this origin may not open a chat socket (same origin or --cors-allow-origins only)",
        );
        return errors::error_response(&status);
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let status = Status::failed_precondition(format!(
                "/v1/chat/ws takes WebSocket connections only: {}",
                rejection.body_text()
            ));
            let mut response = errors::error_response(&status);
            *response.status_mut() = rejection.status();
            return response;
        }
    };
    let metadata = match metadata(&parts.headers, parts.uri.query(), &upgrade) {
        Ok(metadata) => metadata,
        Err(status) => return errors::error_response(&status),
    };
    if inner.shutdown.is_draining() {
        return errors::error_response(&Status::unavailable("the server is shutting down; reconnect"));
    }
    let Ok(permit) = inner.sockets.clone().try_acquire_owned() else {
        let status = Status::unavailable(format!(
            "too many chat sockets are open (the limit is {}); try again later",
            inner.settings.max_connections
        ));
        return errors::error_response(&status);
    };
    let (local, peer) = in_process::client_addresses(&parts.extensions);
    let limit = max_frame_bytes(inner.settings.max_message_bytes);
    let session = Session { chat: chat.clone(), metadata, local, peer, _permit: permit };
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| async move {
            // Tracked, so the drain waits for the goodbye to be written.
            let shutdown = session.chat.inner.shutdown.clone();
            shutdown.spawn(session.run(socket));
        })
}

/// The frame limit in force.
fn max_frame_bytes(max_message_bytes: usize) -> usize {
    max_message_bytes.min(MAX_FRAME_BYTES)
}

/// The call's metadata: the bearer token from `Authorization`, else `?access_token=`, else a
/// `bearer.<token>` subprotocol; and the client's `X-Request-Id`. The auth layer judges the
/// token like any other.
fn metadata(headers: &HeaderMap, query: Option<&str>, upgrade: &WebSocketUpgrade) -> Result<HeaderMap, Status> {
    let mut token = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name != ACCESS_TOKEN_PARAMETER {
            return Err(Status::invalid_argument(format!(
                "unknown query parameter {name:?}; /v1/chat/ws takes only {ACCESS_TOKEN_PARAMETER:?}"
            )));
        }
        token = Some(value.into_owned());
    }
    if token.is_none() {
        token = upgrade
            .requested_protocols()
            .filter_map(|protocol| protocol.to_str().ok()?.strip_prefix(BEARER_SUBPROTOCOL_PREFIX).map(str::to_owned))
            .next();
    }
    let mut metadata = HeaderMap::with_capacity(2);
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        metadata.insert(header::AUTHORIZATION, value.clone());
    } else if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Status::unauthenticated("the access token is not a valid header value"))?;
        value.set_sensitive(true);
        metadata.insert(header::AUTHORIZATION, value);
    }
    if let Some(id) = headers.get(REQUEST_ID_HEADER) {
        metadata.insert(REQUEST_ID_HEADER, id.clone());
    }
    Ok(metadata)
}

/// One upgraded socket and what its call needs.
struct Session {
    chat: WebChat,
    metadata: HeaderMap,
    local: SocketAddr,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

/// How a session ends.
#[derive(Debug)]
enum Ending {
    /// The call ended with this status.
    Call(Status),
    /// The reader gave up on the client.
    Reader(ReaderEnd),
    /// The client is gone or does not take writes: nothing more can be said to it.
    ClientGone,
}

#[derive(Debug)]
enum ReaderEnd {
    /// A close frame, or the end of the stream.
    Closed,
    /// A message above the limit.
    TooBig,
    /// No frame for [`SILENT_HEARTBEATS`] heartbeats.
    Silent,
    /// Not WebSocket: a protocol error or a broken socket.
    Failed(String),
}

impl Session {
    async fn run(self, socket: WebSocket) {
        let inner = &self.chat.inner;
        let _open = OpenSocket::new(inner.open.clone());
        let (mut sink, stream) = socket.split();
        let (requests, request_frames) = mpsc::channel::<Result<Frame<Bytes>, Status>>(REQUEST_QUEUE);
        let body = tonic::body::Body::new(http_body_util::StreamBody::new(ReceiverStream::new(request_frames)));
        let responses =
            in_process::start(&inner.grpc, CHAT_METHOD, self.metadata.clone(), body, self.local, self.peer).await;
        let responses = match responses {
            Ok(responses) => responses,
            Err(status) => {
                // Refused before it started (auth, rate limit, load shedding): say why.
                let _ = close(&mut sink, close_frame(&Ending::Call(status), false, 0)).await;
                return;
            }
        };
        let request_id =
            responses.headers().get(REQUEST_ID_HEADER).and_then(|id| id.to_str().ok()).unwrap_or("-").to_owned();
        let span = tracing::debug_span!("websocket", request_id, peer = %self.peer);
        self.bridge(sink, stream, requests, responses).instrument(span).await;
    }

    async fn bridge(
        &self,
        mut sink: SplitSink<WebSocket, Message>,
        stream: SplitStream<WebSocket>,
        requests: mpsc::Sender<Result<Frame<Bytes>, Status>>,
        mut responses: Responses,
    ) {
        let inner = &self.chat.inner;
        let heartbeat = inner.settings.heartbeat;
        let max = inner.settings.max_message_bytes;
        let (edge, mut edge_errors) = mpsc::channel::<Status>(EDGE_QUEUE);
        let reader = read_requests(stream, requests, edge, inner.chat_request.clone(), heartbeat * SILENT_HEARTBEATS);
        let mut reader = std::pin::pin!(reader);
        let mut reader_done = false;
        // Set once the client has closed its side: nothing more is written, the call winds down.
        let mut closed_by_client: Option<Instant> = None;
        let mut pings = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        let ending = loop {
            tokio::select! {
                end = &mut reader, if !reader_done => {
                    reader_done = true;
                    match end {
                        // The request stream has ended: ChatService sees the member close its
                        // side, leaves the room for it, and ends the call.
                        ReaderEnd::Closed => closed_by_client = Some(Instant::now() + CLOSE_WAIT),
                        other => break Ending::Reader(other),
                    }
                }
                Some(status) = edge_errors.recv(), if closed_by_client.is_none() => {
                    let event = edge_error(&status);
                    if let Err(ending) = self.write(&mut sink, vec![event]).await {
                        break ending;
                    }
                }
                next = responses.next(max) => match next {
                    Ok(Some(message)) if closed_by_client.is_none() => {
                        let (batch, end) = batch(message, &mut responses, max);
                        if let Err(ending) = self.write(&mut sink, batch).await {
                            break ending;
                        }
                        if let Some(end) = end {
                            break end;
                        }
                    }
                    // The client is not listening any more: the call's last events are dropped.
                    Ok(Some(_)) => {}
                    Ok(None) => break Ending::Call(Status::ok("")),
                    Err(status) => break Ending::Call(status),
                },
                _ = pings.tick(), if closed_by_client.is_none() => {
                    if let Err(ending) = send_timed(&mut sink, Message::Ping(Bytes::new())).await {
                        break ending;
                    }
                }
                () = sleep_until_some(closed_by_client) => break Ending::ClientGone,
            }
        };
        tracing::debug!(?ending, "chat socket ends");
        drop(edge_errors);
        if closed_by_client.is_some() {
            // The close handshake is the client's; flush the reply tungstenite queued.
            let _ = tokio::time::timeout(CLOSE_HANDSHAKE_WAIT, sink.close()).await;
            return;
        }
        if !matches!(ending, Ending::ClientGone) {
            let frame = close_frame(&ending, inner.shutdown.is_draining(), max_frame_bytes(max));
            // Then give the client a moment to answer with its own close frame.
            if close(&mut sink, frame).await.is_ok() && !reader_done {
                let _ = tokio::time::timeout(CLOSE_HANDSHAKE_WAIT, &mut reader).await;
            }
        }
    }

    /// Writes `events` (encoded `ChatEvent`s) as text frames with one flush.
    async fn write(&self, sink: &mut SplitSink<WebSocket, Message>, events: Vec<Bytes>) -> Result<(), Ending> {
        let descriptor = &self.chat.inner.chat_event;
        let mut frames = Vec::with_capacity(events.len());
        for event in events {
            frames.push(Message::Text(event_json(descriptor, event).map_err(Ending::Call)?));
        }
        let written = tokio::time::timeout(WRITE_STALL_LIMIT, async {
            for frame in frames {
                sink.feed(frame).await?;
            }
            sink.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Ending::ClientGone),
        }
    }
}

/// The first message and whatever else is ready now (up to [`WRITE_BATCH`]), and the call's end
/// if it came with them.
fn batch(first: Bytes, responses: &mut Responses, max: usize) -> (Vec<Bytes>, Option<Ending>) {
    let mut batch = vec![first];
    while batch.len() < WRITE_BATCH {
        // `next` is cancel-safe: a message not complete yet stays buffered for the next call.
        match responses.next(max).now_or_never() {
            Some(Ok(Some(message))) => batch.push(message),
            Some(Ok(None)) => return (batch, Some(Ending::Call(Status::ok("")))),
            Some(Err(status)) => return (batch, Some(Ending::Call(status))),
            None => break,
        }
    }
    (batch, None)
}

/// Reads the client's frames into the call's request stream until the client closes, fails
/// or falls silent. Returning drops `requests`: the call's request stream ends.
async fn read_requests(
    mut stream: SplitStream<WebSocket>,
    requests: mpsc::Sender<Result<Frame<Bytes>, Status>>,
    edge: mpsc::Sender<Status>,
    descriptor: MessageDescriptor,
    silence: Duration,
) -> ReaderEnd {
    loop {
        let message = match tokio::time::timeout(silence, stream.next()).await {
            Err(_elapsed) => return ReaderEnd::Silent,
            Ok(None) => return ReaderEnd::Closed,
            Ok(Some(Err(error))) => {
                return if is_too_big(&error) { ReaderEnd::TooBig } else { ReaderEnd::Failed(error.to_string()) };
            }
            Ok(Some(Ok(message))) => message,
        };
        let refused = match message {
            Message::Text(text) => match request_bytes(&descriptor, text.as_str()) {
                Ok(request) => {
                    // A failed send means the call has ended; the writer reports how.
                    let _ = requests.send(Ok(Frame::data(in_process::frame(&request)))).await;
                    None
                }
                Err(status) => Some(status),
            },
            Message::Binary(_) => Some(Status::invalid_argument(
                "binary frames are not read: send each ChatRequest as proto3 JSON in a text frame",
            )),
            Message::Ping(_) | Message::Pong(_) => None,
            Message::Close(_) => return ReaderEnd::Closed,
        };
        if let Some(status) = refused
            && edge.send(status).await.is_err()
        {
            return ReaderEnd::Closed;
        }
    }
}

/// A text frame as an encoded `ChatRequest`: proto3 JSON, either field spelling, unknown fields
/// refused by name.
fn request_bytes(descriptor: &MessageDescriptor, text: &str) -> Result<Vec<u8>, Status> {
    let invalid = |error: serde_json::Error| {
        Status::invalid_argument(format!("a frame must be one ChatRequest in proto3 JSON: {error}"))
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let request =
        DynamicMessage::deserialize_with_options(descriptor.clone(), &mut deserializer, &DeserializeOptions::new())
            .map_err(invalid)?;
    deserializer.end().map_err(invalid)?;
    Ok(request.encode_to_vec())
}

/// An encoded `ChatEvent` as proto3 JSON text, as REST writes messages.
fn event_json(descriptor: &MessageDescriptor, event: Bytes) -> Result<Utf8Bytes, Status> {
    let dynamic = DynamicMessage::decode(descriptor.clone(), event)
        .map_err(|e| Status::internal(format!("the service answered an undecodable event: {e}")))?;
    let mut json = Vec::with_capacity(160);
    transcode::write_json(&dynamic, &mut json)
        .map_err(|e| Status::internal(format!("an event cannot be written as JSON: {e}")))?;
    String::from_utf8(json).map(Utf8Bytes::from).map_err(|_| Status::internal("an event's JSON is not UTF-8"))
}

/// This door's answer to a frame that is not a request: an `error` event for this member alone,
/// the shape `ChatService` uses for a refused request.
fn edge_error(status: &Status) -> Bytes {
    let event = pb::ChatEvent {
        sequence: 0,
        time: Some(SystemTime::now().into()),
        event: Some(Event::Error(pb::ChatError { code: status.code() as i32, message: status.message().to_owned() })),
    };
    Bytes::from(event.encode_to_vec())
}

fn is_too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|error| matches!(error, tungstenite::Error::Capacity(_)))
}

/// The close frame for how the session ended (`None`: none can be sent).
fn close_frame(ending: &Ending, draining: bool, limit: usize) -> Option<CloseFrame> {
    let (code, reason) = match ending {
        Ending::Call(status) if status.code() == Code::Ok && draining => (1001, "the server is shutting down".into()),
        Ending::Call(status) if status.code() == Code::Ok => (1000, "goodbye".into()),
        Ending::Call(status) => (close_code(status.code()), status.message().to_owned()),
        Ending::Reader(ReaderEnd::TooBig) => (1009, format!("a message is larger than the limit of {limit} bytes")),
        Ending::Reader(ReaderEnd::Silent) => {
            (close_code(Code::DeadlineExceeded), "no frame and no answer to pings; closing".into())
        }
        Ending::Reader(ReaderEnd::Failed(error)) => (1002, error.clone()),
        Ending::Reader(ReaderEnd::Closed) | Ending::ClientGone => return None,
    };
    Some(CloseFrame { code, reason: Utf8Bytes::from(truncate(&reason, MAX_CLOSE_REASON)) })
}

/// A failed call's close code: 4000 + its gRPC code, in the range RFC 6455 leaves to
/// applications.
fn close_code(code: Code) -> u16 {
    4000 + u16::try_from(code as i32).unwrap_or(2)
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

async fn close(sink: &mut SplitSink<WebSocket, Message>, frame: Option<CloseFrame>) -> Result<(), Ending> {
    let Some(frame) = frame else { return Ok(()) };
    send_timed(sink, Message::Close(Some(frame))).await
}

async fn send_timed(sink: &mut SplitSink<WebSocket, Message>, message: Message) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_STALL_LIMIT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(Ending::ClientGone),
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Counts an open socket in `switchboard_open_connections{protocol="websocket"}`.
struct OpenSocket(IntGauge);

impl OpenSocket {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptors() -> (MessageDescriptor, MessageDescriptor) {
        let pool = prost_reflect::DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
        (
            pool.get_message_by_name("switchboard.v1.ChatRequest").unwrap(),
            pool.get_message_by_name("switchboard.v1.ChatEvent").unwrap(),
        )
    }

    #[test]
    fn frames_are_chat_requests_in_proto3_json() {
        let (request, _) = descriptors();
        let join = pb::ChatRequest::decode(&*request_bytes(&request, r#"{"join":{"name":"ada"}}"#).unwrap()).unwrap();
        assert_eq!(join.action, Some(pb::chat_request::Action::Join(pb::Join { name: "ada".into() })));
        let list = pb::ChatRequest::decode(&*request_bytes(&request, r#"{"listMembers":{}}"#).unwrap()).unwrap();
        assert!(matches!(list.action, Some(pb::chat_request::Action::ListMembers(_))));
        for bad in [r#"{"join":{"nick":"ada"}}"#, "{", r#"{"say":{"text":"a"}} {}"#, "[1]"] {
            let status = request_bytes(&request, bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        }
        assert!(request_bytes(&request, r#"{"join":{"nick":"ada"}}"#).unwrap_err().message().contains("nick"));
    }

    #[test]
    fn events_are_written_as_rest_writes_them() {
        let (_, event) = descriptors();
        let message = pb::ChatEvent {
            sequence: 7,
            time: None,
            event: Some(Event::Message(pb::ChatMessage { from: "ada".into(), text: "<b>hi</b>".into() })),
        };
        let json = event_json(&event, Bytes::from(message.encode_to_vec())).unwrap();
        assert_eq!(json.as_str(), r#"{"sequence":"7","message":{"from":"ada","text":"<b>hi</b>"}}"#);
    }

    #[test]
    fn a_call_ends_in_a_close_code_that_names_its_status() {
        let frame = |ending, draining| close_frame(&ending, draining, 100).unwrap();
        assert_eq!(frame(Ending::Call(Status::ok("")), false).code, 1000);
        assert_eq!(frame(Ending::Call(Status::ok("")), true).code, 1001);
        let taken = frame(Ending::Call(Status::already_exists("the name \"ada\" is already taken")), false);
        assert_eq!((taken.code, taken.reason.as_str()), (4006, "the name \"ada\" is already taken"));
        assert_eq!(frame(Ending::Call(Status::unauthenticated("no token")), false).code, 4016);
        assert_eq!(frame(Ending::Reader(ReaderEnd::TooBig), false).code, 1009);
        let long = frame(Ending::Call(Status::invalid_argument("é".repeat(100))), false);
        assert!(long.reason.as_str().len() <= MAX_CLOSE_REASON && long.reason.as_str().ends_with('…'));
        assert!(close_frame(&Ending::ClientGone, false, 100).is_none());
    }
}
