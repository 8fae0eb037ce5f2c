//! The gaps found by trying the server as an attacker would, each closed: legacy ports that
//! cannot carry the bearer token stay shut under `--auth-token`; chat names cannot pass for
//! another member on the telnet side; connections that never send a request are closed;
//! stalled binary frames cannot hold more than the frame budget; a compressed message without
//! `grpc-encoding` is INTERNAL, as the gRPC spec says.

mod common;

use std::{net::SocketAddr, time::Duration};

use bytes::{BufMut, BytesMut};
use common::{TestServer, raw::Raw, test_config};
use switchboard::{
    legacy::Protocol,
    pb::{ChatRequest, EchoRequest, Join, chat_request::Action, echo_service_client::EchoServiceClient},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Code;

#[tokio::test]
async fn legacy_text_ports_stay_closed_when_a_token_is_required() {
    let mut config = test_config();
    config.auth_token = Some("s3cret".into());
    let server = TestServer::start_with(config.clone()).await;
    for protocol in [Protocol::Kv, Protocol::Chat, Protocol::Echo] {
        assert_eq!(server.server.legacy_addr(protocol), None, "{protocol} cannot carry a token: it must stay shut");
    }
    // Binary call frames carry metadata and pass the same auth layer: that port stays.
    assert!(server.server.legacy_addr(Protocol::Binary).is_some());
    server.server.shutdown().await;

    config.legacy_allow_unauthenticated = true;
    let opened = TestServer::start_with(config).await;
    let kv = opened.server.legacy_addr(Protocol::Kv).expect("opened on purpose");
    let mut raw = Raw::kv(kv).await;
    raw.send(b"SET k v\n").await;
    raw.expect(b"OK\n").await;
    opened.server.shutdown().await;
}

#[tokio::test]
async fn chat_names_that_could_impersonate_are_refused_on_every_door() {
    let server = TestServer::start().await;
    for name in ["admin] hi", "[admin]", "*** mallory joined the chat ***"] {
        let join = ChatRequest { action: Some(Action::Join(Join { name: name.into() })) };
        let status = match server.chat().chat(tokio_stream::iter([join])).await {
            Err(status) => status,
            Ok(response) => {
                let mut stream = response.into_inner();
                stream.message().await.expect_err("the join is refused")
            }
        };
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}: {status:?}");
        assert!(status.message().contains("letters, digits"), "{status:?}");
    }

    let mut telnet = Raw::connect(server.legacy(Protocol::Chat)).await;
    telnet.expect(b"Enter your name: ").await;
    telnet.send(b"[admin]\n").await;
    telnet
        .expect(b"ERROR: join.name: may hold only letters, digits, '_', '-' and '.', not '['\nEnter your name: ")
        .await;
    telnet.send(b"admin\n").await;
    telnet.expect(b"Welcome to the chat, admin!\n").await;
    server.server.shutdown().await;
}

/// Reads until the server closes the connection; how long that took.
async fn closed_within(mut socket: TcpStream, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_elapsed) => return None,
        }
    }
}

#[tokio::test]
async fn connections_that_never_send_a_request_are_closed() {
    let mut config = test_config();
    config.first_request_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(config).await;
    let http = server.server.http_addr().unwrap();
    let mut silent = Vec::new();
    for addr in [server.addr(), http] {
        for _ in 0..50 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        // Half the HTTP/2 preface, then nothing: as bad as silence.
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        silent.push(stalled);
    }
    let closes = futures::future::join_all(silent.into_iter().map(|s| closed_within(s, Duration::from_secs(10)))).await;
    assert!(closes.iter().all(Option::is_some), "every silent connection is closed: {closes:?}");
    // Well-behaved clients are untouched.
    let reply = EchoServiceClient::new(server.new_connection().await)
        .echo(EchoRequest { message: "still here".into() })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "still here");
    server.server.shutdown().await;
}

fn frame_header(kind: u8, payload_len: usize) -> BytesMut {
    let mut frame = BytesMut::new();
    frame.put_u32(u32::try_from(payload_len + 1).unwrap());
    frame.put_u8(kind);
    frame
}

#[tokio::test]
async fn stalled_frames_are_bounded_by_the_frame_budget_and_deadline() {
    let mut config = test_config();
    config.legacy_frame_timeout = Duration::from_secs(1);
    config.legacy_frame_buffer_bytes = 1024 * 1024;
    let server = TestServer::start_with(config).await;
    let binary = server.legacy(Protocol::Binary);

    // A 1 MiB budget. One sender stalls after 768 KiB of a 1 MiB - 1 frame: it holds 768 KiB.
    let mut staller = TcpStream::connect(binary).await.unwrap();
    staller.write_all(&frame_header(0x04, 1024 * 1024 - 1)).await.unwrap();
    staller.write_all(&vec![7u8; 768 * 1024]).await.unwrap();
    // Let the server take it in before the next sender competes for the budget.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A second sends a whole 512 KiB frame: only 256 KiB of it fit beside the first, so it
    // waits for room rather than being buffered whole.
    let blocked = TcpStream::connect(binary).await.unwrap();
    let mut big = frame_header(0x01, 512 * 1024);
    big.extend_from_slice(&vec![1u8; 512 * 1024]);
    // Written from a task of its own: the server stops reading it, so the write may wait.
    let (mut blocked, mut blocked_writer) = blocked.into_split();
    let frame = big.clone();
    let writer = tokio::spawn(async move { blocked_writer.write_all(&frame).await });
    // The frame that does not fit is not buffered beside the stalled one: no echo while the
    // stalled sender holds its share.
    let mut first_byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), blocked.read(&mut first_byte)).await;
    assert!(early.is_err(), "the frame past the budget was buffered and answered: {early:?}");

    let stalled = closed_within(staller, Duration::from_secs(10)).await.expect("the stalled sender is closed");
    assert!(stalled < Duration::from_secs(5), "after the 1 s frame deadline, not the 5 min idle one: {stalled:?}");
    drop((blocked, writer));

    // With the budget free again, a large frame goes through.
    let mut after = TcpStream::connect(binary).await.unwrap();
    after.write_all(&big).await.unwrap();
    let mut answer = vec![0u8; big.len()];
    tokio::time::timeout(Duration::from_secs(5), after.read_exact(&mut answer)).await.unwrap().unwrap();
    assert_eq!(answer.len(), big.len());
    server.server.shutdown().await;
}

/// The grpc-status a raw HTTP/2 gRPC request gets.
async fn grpc_status_of(addr: SocketAddr, path: &str, body: Vec<u8>) -> String {
    use http_body_util::BodyExt as _;
    let (client, origin) = common::raw_h2(addr);
    let request = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!("{origin}{}", &path[1..]))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(bytes::Bytes::from(body))))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    if let Some(status) = parts.headers.get("grpc-status") {
        return status.to_str().unwrap().to_owned();
    }
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    trailers.get("grpc-status").map(|s| s.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_compressed_message_without_an_encoding_is_internal_as_the_spec_says() {
    let server = TestServer::start().await;
    // `EchoRequest { message: "x" }`, flagged compressed, with no grpc-encoding header.
    let mut body = vec![1u8, 0, 0, 0, 3];
    body.extend_from_slice(&[0x0a, 0x01, b'x']);
    let status = grpc_status_of(server.addr(), "/switchboard.v1.EchoService/Echo", body).await;
    assert_eq!(status, (Code::Internal as i32).to_string());
    server.server.shutdown().await;
}
