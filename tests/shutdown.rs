//! Graceful shutdown as Kubernetes drives it: SIGTERM to the real binary, with unary calls in
//! flight, a gRPC chat member in the room, a telnet chat member on the legacy port and a
//! health watcher.

mod common;

use std::time::{Duration, Instant};

use common::{
    child::{ChildServer, json_field},
    connect,
};
use nix::sys::signal::Signal;
use switchboard::pb::{
    ChatRequest, Join, LeaveReason,
    chat_event::Event,
    chat_request::Action,
    chat_service_client::ChatServiceClient,
    debug::{SleepRequest, debug_service_client::DebugServiceClient},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_calls_says_goodbye_and_exits_zero() {
    let mut server = ChildServer::start(&["--enable-debug-rpcs", "--shutdown-grace", "10s"]).await;

    // A health watcher (as a load balancer would keep).
    let mut health = HealthClient::new(connect(server.addr).await);
    let mut watch = health.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status(), ServingStatus::Serving);

    // A chat member, in the room.
    let mut chat = ChatServiceClient::new(connect(server.addr).await);
    let (say, said) = mpsc::channel(8);
    say.send(ChatRequest { action: Some(Action::Join(Join { name: "dora".into() })) }).await.unwrap();
    let mut events = chat.chat(ReceiverStream::new(said)).await.unwrap().into_inner();
    let welcome = events.next().await.unwrap().unwrap();
    assert!(matches!(welcome.event, Some(Event::Welcome(_))), "{welcome:?}");

    // A telnet member of the same room, on the legacy chat port.
    let ready = server
        .wait_for_log(WAIT, |line| line.contains("legacy listener ready") && line.contains(r#""protocol":"chat""#))
        .await;
    let chat_port: std::net::SocketAddr = json_field(&ready, "addr").expect("the chat address").parse().unwrap();
    let mut telnet = TcpStream::connect(chat_port).await.unwrap();
    let mut prompt = [0u8; 17];
    telnet.read_exact(&mut prompt).await.unwrap();
    assert_eq!(&prompt, b"Enter your name: ");
    telnet.write_all(b"tess\n").await.unwrap();

    // Two unary calls in flight, each on its own connection.
    let mut in_flight = Vec::new();
    for _ in 0..2 {
        let mut client = DebugServiceClient::new(connect(server.addr).await);
        in_flight.push(tokio::spawn(async move { client.sleep(SleepRequest { millis: 1_500 }).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);

    // The watcher hears NOT_SERVING first, and then its stream ends (it does not hold the drain).
    let next = tokio::time::timeout(WAIT, watch.next()).await.expect("a status after SIGTERM");
    assert_eq!(next.unwrap().unwrap().status(), ServingStatus::NotServing);
    let end = tokio::time::timeout(WAIT, watch.next()).await.expect("the watch ends");
    assert!(end.is_none(), "the watch ends cleanly after NOT_SERVING: {end:?}");

    // The chat member sees itself leave for the shutdown, gets a goodbye, and the stream ends OK.
    let mut saw_own_leave = false;
    let goodbye = loop {
        let event = tokio::time::timeout(WAIT, events.next()).await.expect("chat events during the drain");
        match event.expect("a goodbye before the end").expect("no error").event {
            Some(Event::MemberLeft(left)) if left.name == "dora" => {
                assert_eq!(left.reason(), LeaveReason::ServerShutdown);
                saw_own_leave = true;
            }
            Some(Event::Goodbye(goodbye)) => break goodbye,
            _ => {}
        }
    };
    assert!(saw_own_leave, "the room was told why dora left");
    assert!(goodbye.reason.contains("shutting down"), "{goodbye:?}");
    let end = tokio::time::timeout(WAIT, events.next()).await.expect("the chat stream ends");
    assert!(end.is_none(), "the chat stream ends with OK after the goodbye: {end:?}");

    // The telnet member is told, and then its connection closes.
    let mut heard = Vec::new();
    tokio::time::timeout(WAIT, telnet.read_to_end(&mut heard)).await.expect("the telnet session ends").unwrap();
    let heard = String::from_utf8_lossy(&heard);
    assert!(heard.ends_with("*** Server shutting down, goodbye ***\n"), "telnet saw: {heard:?}");

    // New connections are refused while the calls in flight finish (the listener closes as
    // the drain begins; allow the accept task a moment on a busy machine).
    let closing = Instant::now();
    while tokio::net::TcpStream::connect(server.addr).await.is_ok() {
        assert!(closing.elapsed() < Duration::from_secs(1), "the listener is still open during the drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for call in in_flight {
        let reply = call.await.unwrap().expect("an in-flight call completes OK during the drain");
        assert!(reply.into_inner().slept_millis >= 1_500);
    }

    let status = server.wait(WAIT).await;
    assert_eq!(status.code(), Some(0), "exit code; logs:\n{}", server.logs().join("\n"));
    assert!(signalled.elapsed() < Duration::from_secs(10), "exited within the grace period");
    let logs = server.logs().join("\n");
    assert!(logs.contains("draining: health is NOT_SERVING") && logs.contains("server stopped"), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drain_is_bounded_by_the_grace_period() {
    let mut server = ChildServer::start(&["--enable-debug-rpcs", "--shutdown-grace", "1s"]).await;
    let mut client = DebugServiceClient::new(connect(server.addr).await);
    let stuck = tokio::spawn(async move { client.sleep(SleepRequest { millis: 60_000 }).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    server.signal(Signal::SIGINT);
    let status = server.wait(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "exit code; logs:\n{}", server.logs().join("\n"));
    let took = signalled.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "grace 1 s, took {took:?}");
    assert!(server.logs().iter().any(|line| line.contains("outlived the shutdown grace period")));

    let cut = stuck.await.unwrap().expect_err("the call that outlived the grace period is cut");
    assert_ne!(cut.code(), Code::Ok);
}
