//! The web chat's WebSocket (`/v1/chat/ws`), its page and the server panel's feed, seen by a
//! WebSocket client and an HTTP client on loopback: the JSON wire, `ChatService`'s own rules and
//! errors as close codes, the checks made before the upgrade (origin, cap), the layers (auth,
//! rate limit, request id, access log), the drain, a slow reader's missed counts. What a real
//! browser shows is in `webchat_browser.rs`.

mod common;

use std::{net::SocketAddr, time::Duration};

use common::{TestServer, child::ChildServer, child::json_field, raw::Raw, test_config};
use futures::{SinkExt as _, StreamExt as _};
use http_body_util::BodyExt as _;
use serde_json::{Value as Json, json};
use switchboard::{
    legacy::Protocol,
    pb::{ChatEvent, ChatRequest, Join, ListMembersRequest, Say, chat_event::Event, chat_request::Action},
};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        self, Message,
        client::IntoClientRequest as _,
        http::{HeaderName, HeaderValue},
        protocol::CloseFrame,
    },
};
use tonic::Streaming;

const PATIENCE: Duration = Duration::from_secs(20);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Handshake = tungstenite::handshake::client::Response;

fn http_addr(server: &TestServer) -> SocketAddr {
    server.server.http_addr().expect("the HTTP listener is on")
}

/// Opens `/v1/chat/ws{query}` with `headers`; a refused handshake is the `Err`.
async fn open(addr: SocketAddr, query: &str, headers: &[(&str, &str)]) -> Result<(Ws, Handshake), tungstenite::Error> {
    let mut request = format!("ws://{addr}/v1/chat/ws{query}").into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request)).await.expect("handshake in time")
}

/// A socket opened as the page would, from the server's own origin.
async fn open_same_origin(addr: SocketAddr) -> Ws {
    open(addr, "", &[("origin", &format!("http://{addr}"))]).await.expect("the upgrade").0
}

async fn send(ws: &mut Ws, request: Json) {
    ws.send(Message::text(request.to_string())).await.expect("send a frame");
}

/// What the server sends next: an event, or how it closed.
#[derive(Debug)]
enum Received {
    Event(Json),
    Closed(u16, String),
}

async fn receive(ws: &mut Ws) -> Received {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from the server within {PATIENCE:?}"));
        match message {
            Some(Ok(Message::Text(text))) => return Received::Event(serde_json::from_str(&text).expect("JSON")),
            Some(Ok(Message::Close(frame))) => {
                let frame = frame.unwrap_or(CloseFrame { code: 1005.into(), reason: "".into() });
                return Received::Closed(frame.code.into(), frame.reason.to_string());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn event(ws: &mut Ws) -> Json {
    match receive(ws).await {
        Received::Event(event) => event,
        Received::Closed(code, reason) => panic!("closed with {code} {reason:?} instead of an event"),
    }
}

async fn closed(ws: &mut Ws) -> (u16, String) {
    loop {
        match receive(ws).await {
            Received::Closed(code, reason) => return (code, reason),
            Received::Event(_) => continue,
        }
    }
}

/// The next event of `kind`, skipping others.
async fn event_of(ws: &mut Ws, kind: &str) -> Json {
    loop {
        let event = event(ws).await;
        if let Some(inner) = event.get(kind) {
            return inner.clone();
        }
    }
}

/// A member that joined as `name` and read its welcome and its own join notice.
async fn member(addr: SocketAddr, name: &str) -> (Ws, Json) {
    let mut ws = open_same_origin(addr).await;
    send(&mut ws, json!({ "join": { "name": name } })).await;
    let welcome = event(&mut ws).await;
    assert_eq!(welcome["welcome"]["name"], name, "{welcome}");
    assert_eq!(event_of(&mut ws, "member_joined").await["name"], name);
    (ws, welcome)
}

/// A gRPC member: its request sender and event stream, past its welcome.
async fn grpc_member(server: &TestServer, name: &str) -> (mpsc::Sender<ChatRequest>, Streaming<ChatEvent>) {
    let (tx, rx) = mpsc::channel(16);
    tx.send(ChatRequest { action: Some(Action::Join(Join { name: name.into() })) }).await.unwrap();
    let mut events = server.chat().chat(ReceiverStream::new(rx)).await.expect("the call starts").into_inner();
    let first = grpc_event(&mut events).await;
    assert!(matches!(first, Event::Welcome(_)), "{first:?}");
    (tx, events)
}

async fn grpc_event(events: &mut Streaming<ChatEvent>) -> Event {
    let event = tokio::time::timeout(PATIENCE, events.message()).await.expect("an event in time");
    event.expect("the stream goes on").expect("an event").event.expect("a set event")
}

fn say(text: &str) -> ChatRequest {
    ChatRequest { action: Some(Action::Say(Say { text: text.into() })) }
}

/// A plain HTTP/1.1 GET: status, headers, the whole body.
async fn get(addr: SocketAddr, path: &str) -> (u16, tonic::codegen::http::HeaderMap, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = tokio::time::timeout(PATIENCE, client.get(format!("http://{addr}{path}").parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(PATIENCE, body.collect()).await.unwrap().unwrap().to_bytes().to_vec();
    (parts.status.as_u16(), parts.headers, body)
}

async fn members(server: &TestServer) -> Vec<String> {
    server.chat().list_members(ListMembersRequest {}).await.unwrap().into_inner().names
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_websocket_member_talks_with_grpc_and_telnet_members_in_proto3_json() {
    let server = TestServer::start().await;
    let addr = http_addr(&server);
    let mut telnet = Raw::chat(server.legacy(Protocol::Chat), "telly").await;
    let (mut ada, welcome) = member(addr, "ada").await;
    // The event exactly as REST would write it: proto field names, 64-bit integers as strings.
    assert_eq!(welcome["sequence"], "0");
    assert!(welcome["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{welcome}");
    assert_eq!(welcome["welcome"]["members"], json!(["ada", "telly"]));
    telnet.expect(b"*** ada joined the chat ***\n").await;

    let (grace, mut grace_events) = grpc_member(&server, "grace").await;
    assert_eq!(event_of(&mut ada, "member_joined").await["name"], "grace");
    telnet.expect(b"*** grace joined the chat ***\n").await;

    // Either spelling of a field, as proto3 JSON allows; HTML is just text.
    send(&mut ada, json!({ "say": { "text": "hi <b>all</b>" } })).await;
    let said = event(&mut ada).await;
    assert_eq!(said["message"], json!({ "from": "ada", "text": "hi <b>all</b>" }));
    assert!(said["sequence"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    telnet.expect(b"[ada] hi <b>all</b>\n").await;
    loop {
        if let Event::Message(m) = grpc_event(&mut grace_events).await {
            assert_eq!((m.from.as_str(), m.text.as_str()), ("ada", "hi <b>all</b>"));
            break;
        }
    }

    grace.send(say("hello from gRPC")).await.unwrap();
    assert_eq!(event_of(&mut ada, "message").await, json!({ "from": "grace", "text": "hello from gRPC" }));
    telnet.send(b"hello from telnet\n").await;
    assert_eq!(event_of(&mut ada, "message").await, json!({ "from": "telly", "text": "hello from telnet" }));

    send(&mut ada, json!({ "listMembers": {} })).await;
    assert_eq!(event_of(&mut ada, "members").await["names"], json!(["ada", "grace", "telly"]));

    send(&mut ada, json!({ "quit": {} })).await;
    let left = event_of(&mut ada, "member_left").await;
    assert_eq!(left, json!({ "name": "ada", "reason": "QUIT" }));
    assert_eq!(event_of(&mut ada, "goodbye").await["reason"], "you left the room");
    assert_eq!(closed(&mut ada).await, (1000, "goodbye".to_owned()));
    telnet.expect(b"[grace] hello from gRPC\n[telly] hello from telnet\n*** ada left the chat ***\n").await;
    assert_eq!(members(&server).await, ["grace", "telly"]);
}

#[tokio::test]
async fn chat_services_name_rules_and_errors_end_the_socket_with_their_codes() {
    let server = TestServer::start().await;
    let addr = http_addr(&server);
    let _held = Raw::chat(server.legacy(Protocol::Chat), "taken").await;

    let mut blank = open_same_origin(addr).await;
    send(&mut blank, json!({ "join": { "name": " " } })).await;
    let (code, reason) = closed(&mut blank).await;
    assert_eq!(code, 4003, "INVALID_ARGUMENT: {reason}");
    assert!(reason.contains("join.name"), "{reason}");

    let mut taken = open_same_origin(addr).await;
    send(&mut taken, json!({ "join": { "name": "taken" } })).await;
    assert_eq!(closed(&mut taken).await, (4006, "the name \"taken\" is already taken in this room".to_owned()));

    let mut rude = open_same_origin(addr).await;
    send(&mut rude, json!({ "say": { "text": "hello?" } })).await;
    assert_eq!(closed(&mut rude).await.0, 4009, "FAILED_PRECONDITION: the first request must be a join");

    assert_eq!(members(&server).await, ["taken"]);
}

#[tokio::test]
async fn frames_that_are_not_requests_get_an_error_event_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let (mut ada, _) = member(http_addr(&server), "ada").await;
    for (frame, names) in [
        (Message::text("{not json"), "proto3 JSON"),
        (Message::text(r#"{"say":{"txt":"typo"}}"#), "txt"),
        (Message::binary(vec![1, 2, 3]), "text frame"),
    ] {
        ada.send(frame).await.unwrap();
        let error = event_of(&mut ada, "error").await;
        assert_eq!(error["code"], 3, "{error}");
        assert!(error["message"].as_str().unwrap().contains(names), "{error}");
    }
    // ChatService's own refusals arrive the same way: too long for a chat message, but within a
    // frame.
    send(&mut ada, json!({ "say": { "text": "x".repeat(5000) } })).await;
    let error = event_of(&mut ada, "error").await;
    assert!(error["message"].as_str().unwrap().contains("say.text"), "{error}");
    send(&mut ada, json!({ "say": { "text": "still here" } })).await;
    assert_eq!(event_of(&mut ada, "message").await["text"], "still here");

    // A frame above the socket's limit (64 KiB) cannot be a chat request: the socket closes.
    send(&mut ada, json!({ "say": { "text": "x".repeat(70_000) } })).await;
    let (code, reason) = closed(&mut ada).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("65536"), "{reason}");
    // And the member is gone from the room.
    let started = std::time::Instant::now();
    while !members(&server).await.is_empty() {
        assert!(started.elapsed() < PATIENCE, "ada is still in the room");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade() {
    let mut config = test_config();
    config.cors_allow_origins = vec!["https://app.example.com".to_owned()];
    let server = TestServer::start_with(config).await;
    let addr = http_addr(&server);

    for origin in ["http://evil.example", "null", &format!("http://localhost:{}", addr.port())] {
        match open(addr, "", &[("origin", origin)]).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin}");
                let body: Json = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
                assert_eq!(body["code"], 7, "PERMISSION_DENIED: {body}");
            }
            other => panic!("{origin}: expected a 403, got {other:?}"),
        }
    }
    // The page's own origin, a listed one, and programs that send none.
    for headers in
        [vec![("origin", format!("http://{addr}"))], vec![("origin", "https://app.example.com".to_owned())], vec![]]
    {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (mut ws, _) = open(addr, "", &headers).await.expect("allowed");
        send(&mut ws, json!({ "join": { "name": "ok" } })).await;
        assert_eq!(event(&mut ws).await["welcome"]["name"], "ok", "{headers:?}");
        send(&mut ws, json!({ "quit": {} })).await;
        assert_eq!(closed(&mut ws).await.0, 1000);
    }
    assert!(members(&server).await.is_empty());
}

#[tokio::test]
async fn the_bearer_token_comes_from_the_header_the_query_or_a_subprotocol() {
    let mut config = test_config();
    config.auth_token = Some("s3cret".to_owned());
    let server = TestServer::start_with(config).await;
    let addr = http_addr(&server);

    for (query, headers) in [("", vec![]), ("?access_token=wrong", vec![])] {
        let (mut ws, _) = open(addr, query, &headers).await.expect("the upgrade; the call decides");
        let (code, reason) = closed(&mut ws).await;
        assert_eq!(code, 4016, "UNAUTHENTICATED for {query:?}: {reason}");
    }
    let accepted: [(&str, Vec<(&str, &str)>); 3] = [
        ("?access_token=s3cret", vec![]),
        ("", vec![("sec-websocket-protocol", "switchboard.chat.v1, bearer.s3cret")]),
        ("", vec![("authorization", "Bearer s3cret")]),
    ];
    for (i, (query, headers)) in accepted.into_iter().enumerate() {
        let (mut ws, handshake) = open(addr, query, &headers).await.expect("the upgrade");
        if !headers.is_empty() && headers[0].0 == "sec-websocket-protocol" {
            assert_eq!(handshake.headers()["sec-websocket-protocol"], "switchboard.chat.v1");
        }
        let name = format!("member{i}");
        send(&mut ws, json!({ "join": { "name": name } })).await;
        assert_eq!(event(&mut ws).await["welcome"]["name"], name.as_str(), "{query:?} {headers:?}");
    }
    // Anything else in the query is a mistake worth naming.
    match open(addr, "?token=s3cret", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn every_socket_is_a_call_through_the_rate_limit() {
    let mut config = test_config();
    config.rate_limit_per_second = 1;
    config.rate_limit_burst = 1;
    let server = TestServer::start_with(config).await;
    let addr = http_addr(&server);
    let (_first, _) = member(addr, "first").await;
    let mut second = open_same_origin(addr).await;
    let (code, reason) = closed(&mut second).await;
    assert_eq!(code, 4008, "RESOURCE_EXHAUSTED: {reason}");
}

#[tokio::test]
async fn sockets_above_the_cap_are_refused_with_503() {
    let mut config = test_config();
    config.websocket_max_connections = 1;
    let server = TestServer::start_with(config).await;
    let addr = http_addr(&server);
    let (mut first, _) = member(addr, "first").await;
    match open(addr, "", &[]).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()["retry-after"], "1");
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    send(&mut first, json!({ "quit": {} })).await;
    closed(&mut first).await;
    // The slot is free again once the socket is done.
    let started = std::time::Instant::now();
    loop {
        match open(addr, "", &[]).await {
            Ok(_) => break,
            Err(error) => assert!(started.elapsed() < PATIENCE, "still refused: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_drain_tells_the_member_and_closes_with_1001() {
    let server = TestServer::start().await;
    let addr = http_addr(&server);
    let (mut ada, _) = member(addr, "ada").await;
    let stopping = tokio::spawn(server.server.shutdown());
    let left = event_of(&mut ada, "member_left").await;
    assert_eq!(left, json!({ "name": "ada", "reason": "SERVER_SHUTDOWN" }));
    assert_eq!(event_of(&mut ada, "goodbye").await["reason"], "the server is shutting down");
    assert_eq!(closed(&mut ada).await, (1001, "the server is shutting down".to_owned()));
    tokio::time::timeout(PATIENCE, stopping).await.expect("the drain ends in time").unwrap();
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_told_how_many_messages_it_missed() {
    let mut config = test_config();
    config.chat_member_queue = 16;
    let server = TestServer::start_with(config).await;
    let (mut slow, _) = member(http_addr(&server), "slow").await;
    let (talker, mut talker_events) = grpc_member(&server, "talker").await;
    assert_eq!(event_of(&mut slow, "member_joined").await["name"], "talker");
    // The talker reads its own stream; only the WebSocket member falls behind.
    tokio::spawn(async move { while let Ok(Some(_)) = talker_events.message().await {} });

    // Far more than the socket buffers hold, while the WebSocket member reads nothing.
    const SAID: u64 = 4000;
    let text = "x".repeat(4000);
    for _ in 0..SAID {
        talker.send(say(&text)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (mut delivered, mut missed, mut last_sequence, mut pending_missed) = (0u64, 0u64, None::<u64>, 0u64);
    loop {
        let next = match tokio::time::timeout(Duration::from_secs(3), slow.next()).await {
            Err(_quiet) => break,
            Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Json>(&text).unwrap(),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("the socket ended: {other:?}"),
        };
        if let Some(count) = next["missed"]["count"].as_str() {
            let count: u64 = count.parse().unwrap();
            missed += count;
            pending_missed += count;
        } else if next.get("message").is_some() {
            delivered += 1;
            // No silent gap: what is skipped between two messages is what `missed` said.
            let sequence: u64 = next["sequence"].as_str().unwrap().parse().unwrap();
            if let Some(last) = last_sequence {
                assert_eq!(sequence - last - 1, pending_missed, "between sequences {last} and {sequence}");
            }
            last_sequence = Some(sequence);
            pending_missed = 0;
        }
    }
    assert!(missed > 0, "the reader never fell behind ({delivered} delivered)");
    assert_eq!(delivered + missed, SAID, "every message is delivered or counted as missed");
}

#[tokio::test]
async fn the_panel_feed_tells_every_services_health_and_the_member_count() {
    let server = TestServer::start().await;
    let addr = http_addr(&server);
    let (status, headers, body) = get(addr, "/v1/health").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let health: Json = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["status"], "SERVING");
    assert_eq!(health["chat_members"], 0);
    let services: Vec<(&str, &str)> = health["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(services.len(), 6, "{health}");
    assert!(services.contains(&("switchboard.v1.ChatService", "SERVING")), "{health}");

    // Live: the snapshot now, then after each change.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(format!("http://{addr}/v1/health:watch").parse().unwrap()).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut feed = response.into_body();
    let mut next_snapshot = async move || -> Option<Json> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, feed.frame()).await.expect("an update in time")?.unwrap();
            let Ok(data) = frame.into_data() else { continue };
            let text = String::from_utf8(data.to_vec()).unwrap();
            if let Some(json) = text.strip_prefix("data: ") {
                return Some(serde_json::from_str(json.trim_end()).unwrap());
            }
        }
    };
    assert_eq!(next_snapshot().await.unwrap()["chat_members"], 0);
    let (_ada, _) = member(addr, "ada").await;
    assert_eq!(next_snapshot().await.unwrap()["chat_members"], 1);
    let _telly = Raw::chat(server.legacy(Protocol::Chat), "telly").await;
    assert_eq!(next_snapshot().await.unwrap()["chat_members"], 2);

    // At the drain: a last snapshot, NOT_SERVING, and the feed ends so it does not hold the drain.
    let stopping = tokio::spawn(server.server.shutdown());
    let last = loop {
        let snapshot = next_snapshot().await.expect("a last snapshot");
        if snapshot["status"] == "NOT_SERVING" {
            break snapshot;
        }
    };
    assert!(last["services"].as_array().unwrap().iter().all(|s| s["status"] == "NOT_SERVING"), "{last}");
    assert!(next_snapshot().await.is_none(), "the feed ends at the drain");
    tokio::time::timeout(PATIENCE, stopping).await.unwrap().unwrap();
}

#[tokio::test]
async fn the_page_is_embedded_and_served_under_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    let addr = http_addr(&server);
    let (status, headers, body) = get(addr, "/chat").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = String::from_utf8(body).unwrap();
    // Every script is a file of this origin: an inline one would be blocked by the policy.
    assert_eq!(html.matches("<script").count(), html.matches("<script type=\"module\" src=\"/chat/").count());

    let (status, headers, script) = get(addr, "/chat/chat.js").await;
    assert_eq!((status, &headers["content-type"]), (200, &HeaderValue::from_static("text/javascript; charset=utf-8")));
    let script = String::from_utf8(script).unwrap();
    // Names and texts become text nodes: nothing in the script parses a string as HTML.
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
        assert!(!script.contains(sink), "chat.js uses {sink}");
    }
    assert_eq!(get(addr, "/chat/chat.css").await.0, 200);
    // Not a WebSocket: told so, as JSON.
    let (status, _, body) = get(addr, "/v1/chat/ws").await;
    assert!(status == 400 || status == 426, "{status}");
    assert!(String::from_utf8_lossy(&body).contains("WebSocket"));
}

#[tokio::test]
async fn a_socket_logs_one_access_line_with_its_request_id_like_any_call() {
    let server = ChildServer::start(&["--storage", "memory"]).await;
    let listening = server.wait_for_log(PATIENCE, |line| json_field(line, "http_addr").is_some()).await;
    let addr: SocketAddr = json_field(&listening, "http_addr").unwrap().parse().unwrap();
    let (mut ws, _) = open(addr, "", &[("x-request-id", "ws-log-test-1")]).await.expect("the upgrade");
    send(&mut ws, json!({ "join": { "name": "logged" } })).await;
    event(&mut ws).await;
    send(&mut ws, json!({ "quit": {} })).await;
    assert_eq!(closed(&mut ws).await.0, 1000);
    let line =
        server.wait_for_log(PATIENCE, |line| line.contains("ws-log-test-1") && line.contains("call finished")).await;
    assert_eq!(json_field(&line, "method"), Some("/switchboard.v1.ChatService/Chat"), "{line}");
    assert_eq!(json_field(&line, "code"), Some("OK"), "{line}");
    assert!(json_field(&line, "peer").is_some_and(|peer| peer.starts_with("127.0.0.1:")), "{line}");
}
