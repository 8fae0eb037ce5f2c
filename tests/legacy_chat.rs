//! The legacy telnet chat over raw TCP: the seed's exact bytes, in the same room as gRPC
//! `ChatService` members.

mod common;

use std::time::Duration;

use common::{TestServer, raw::Raw, test_config};
use switchboard::{
    legacy::Protocol,
    pb::{ChatEvent, ChatRequest, Join, Say, chat_event::Event, chat_request::Action},
};
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::Streaming;

#[tokio::test]
async fn a_session_says_exactly_what_the_seed_said() {
    let server = TestServer::start().await;
    let addr = server.legacy(Protocol::Chat);
    // Raw::chat checks the prompt, both welcome lines and the member's own join notice.
    let mut alice = Raw::chat(addr, "alice").await;
    let mut bob = Raw::chat(addr, "bob").await;
    alice.expect(b"*** bob joined the chat ***\n").await;

    bob.send(b"hello   there \r\n\n").await;
    alice.expect(b"[bob] hello   there\n").await;
    bob.expect(b"[bob] hello   there\n").await;

    alice.send(b"/users\n").await;
    alice.expect(b"Connected users:\n  - alice\n  - bob\n\n").await;

    bob.send(b"/quit\n").await;
    assert!(bob.closed().await.is_empty(), "a quitting member is not told anything more");
    alice.expect(b"*** bob left the chat ***\n").await;
}

#[tokio::test]
async fn a_telnet_member_and_a_grpc_member_share_the_room() {
    let server = TestServer::start().await;
    let mut telnet = Raw::chat(server.legacy(Protocol::Chat), "telly").await;

    let (tx, rx) = mpsc::channel(16);
    tx.send(action(Action::Join(Join { name: "grace".into() }))).await.unwrap();
    let mut grpc: Streaming<ChatEvent> = server.chat().chat(ReceiverStream::new(rx)).await.unwrap().into_inner();
    match next(&mut grpc).await {
        Event::Welcome(welcome) => assert_eq!(welcome.members, ["grace", "telly"]),
        other => panic!("expected the welcome, got {other:?}"),
    }
    telnet.expect(b"*** grace joined the chat ***\n").await;
    assert!(matches!(next(&mut grpc).await, Event::MemberJoined(j) if j.name == "grace"));

    tx.send(action(Action::Say(Say { text: "hi from gRPC".into() }))).await.unwrap();
    telnet.expect(b"[grace] hi from gRPC\n").await;
    assert!(matches!(next(&mut grpc).await, Event::Message(m) if m.from == "grace"));

    telnet.send(b"hi from telnet\n").await;
    match next(&mut grpc).await {
        Event::Message(m) => assert_eq!((m.from.as_str(), m.text.as_str()), ("telly", "hi from telnet")),
        other => panic!("expected the telnet message, got {other:?}"),
    }
    telnet.expect(b"[telly] hi from telnet\n").await;

    // Another telnet member comes and goes: the gRPC member sees both.
    let mut tina = Raw::chat(server.legacy(Protocol::Chat), "tina").await;
    assert!(matches!(next(&mut grpc).await, Event::MemberJoined(j) if j.name == "tina"));
    telnet.expect(b"*** tina joined the chat ***\n").await;
    tina.send(b"/quit\n").await;
    tina.closed().await;
    match next(&mut grpc).await {
        Event::MemberLeft(left) => assert_eq!(left.name, "tina"),
        other => panic!("expected tina's leave, got {other:?}"),
    }
    telnet.expect(b"*** tina left the chat ***\n").await;

    drop(tx); // the gRPC member closes its side: it leaves
    telnet.expect(b"*** grace left the chat ***\n").await;
    telnet.send(b"/quit\n").await;
    telnet.closed().await;
    assert!(
        server.chat().list_members(switchboard::pb::ListMembersRequest {}).await.unwrap().into_inner().names.is_empty()
    );
}

#[tokio::test]
async fn a_taken_or_invalid_name_gets_an_error_and_the_prompt_again() {
    let server = TestServer::start().await;
    let addr = server.legacy(Protocol::Chat);
    let _alice = Raw::chat(addr, "alice").await;
    let mut second = Raw::connect(addr).await;
    second.expect(b"Enter your name: ").await;
    second.send(b"alice\n").await;
    second.expect(b"ERROR: the name \"alice\" is already taken in this room\nEnter your name: ").await;
    second.send(b"\n").await;
    let error = second.line().await;
    assert!(error.starts_with("ERROR: join.name: "), "{error}");
    second.expect(b"Enter your name: ").await;
    second.send(b"  bob  \n").await;
    second.expect(b"Welcome to the chat, bob!\n").await;
}

#[tokio::test]
async fn no_name_within_the_handshake_deadline_closes_the_connection() {
    let mut config = test_config();
    config.legacy_handshake_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(config).await;
    let mut silent = Raw::connect(server.legacy(Protocol::Chat)).await;
    silent.expect(b"Enter your name: ").await;
    assert!(silent.closed().await.is_empty());
    // A half-typed name does not stretch the deadline either.
    let mut slow = Raw::connect(server.legacy(Protocol::Chat)).await;
    slow.expect(b"Enter your name: ").await;
    slow.send(b"ali").await;
    assert!(slow.closed().await.is_empty());
    assert!(
        server.chat().list_members(switchboard::pb::ListMembersRequest {}).await.unwrap().into_inner().names.is_empty()
    );
}

#[tokio::test]
async fn a_member_that_disconnects_leaves_and_its_name_is_free_again() {
    let server = TestServer::start().await;
    let addr = server.legacy(Protocol::Chat);
    let mut alice = Raw::chat(addr, "alice").await;
    let mut carol = Raw::chat(addr, "carol").await;
    alice.expect(b"*** carol joined the chat ***\n").await;
    carol.send(b"half a messa").await; // then vanishes mid-line
    drop(carol);
    alice.expect(b"*** carol left the chat ***\n").await;
    let _carol = Raw::chat(addr, "carol").await;
    alice.expect(b"*** carol joined the chat ***\n").await;
}

#[tokio::test]
async fn bad_lines_get_error_lines_and_the_member_stays() {
    let server = TestServer::start().await;
    let mut alice = Raw::chat(server.legacy(Protocol::Chat), "alice").await;
    alice.send(b"\xff\xfe\n").await;
    alice.expect(b"ERROR: Invalid UTF-8 in line\n").await;
    alice.send(format!("{}\n", "x".repeat(5000)).as_bytes()).await;
    assert_eq!(alice.line().await, "ERROR: say.text: must be at most 4096 bytes, got 5000");
    alice.send(format!("{}\n", "y".repeat(100 * 1024)).as_bytes()).await;
    alice.expect(b"ERROR: Line too long (the limit is 65536 bytes)\n").await;
    alice.send(b"still here\n").await;
    alice.expect(b"[alice] still here\n").await;
}

fn action(action: Action) -> ChatRequest {
    ChatRequest { action: Some(action) }
}

async fn next(stream: &mut Streaming<ChatEvent>) -> Event {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("no error")
        .event
        .expect("event set")
}
