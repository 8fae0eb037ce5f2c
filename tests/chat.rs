//! ChatService: a room of real tonic clients, each on its own HTTP/2 connection.

mod common;

use std::time::Duration;

use common::{TestServer, test_config};
use switchboard::pb::{
    ChatEvent, ChatRequest, Join, LeaveReason, ListMembersRequest, Quit, Say, chat_event::Event, chat_request::Action,
    chat_service_client::ChatServiceClient,
};
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{Code, Streaming, transport::Endpoint};

const WAIT: Duration = Duration::from_secs(10);

struct Member {
    tx: mpsc::Sender<ChatRequest>,
    events: Streaming<ChatEvent>,
}

fn action(action: Action) -> ChatRequest {
    ChatRequest { action: Some(action) }
}

fn join_request(name: &str) -> ChatRequest {
    action(Action::Join(Join { name: name.into() }))
}

/// Opens a chat stream on a fresh connection and sends `first`.
async fn open(server: &TestServer, first: ChatRequest) -> Member {
    let channel = server.new_connection().await;
    open_on(ChatServiceClient::new(channel), first).await
}

async fn open_on(mut client: ChatServiceClient<tonic::transport::Channel>, first: ChatRequest) -> Member {
    let (tx, rx) = mpsc::channel(1024);
    tx.send(first).await.unwrap();
    let events = client.chat(ReceiverStream::new(rx)).await.expect("chat call").into_inner();
    Member { tx, events }
}

impl Member {
    async fn say(&self, text: &str) {
        self.tx.send(action(Action::Say(Say { text: text.into() }))).await.unwrap();
    }

    async fn next(&mut self) -> ChatEvent {
        tokio::time::timeout(WAIT, self.events.next())
            .await
            .expect("an event within the wait")
            .expect("stream still open")
            .expect("no error status")
    }

    async fn next_event(&mut self) -> Event {
        self.next().await.event.expect("event set")
    }

    /// The stream's final status (or OK as `None`).
    async fn end(&mut self) -> Option<tonic::Status> {
        loop {
            match tokio::time::timeout(WAIT, self.events.next()).await.expect("stream ends within the wait") {
                None => return None,
                Some(Err(status)) => return Some(status),
                Some(Ok(_)) => continue,
            }
        }
    }
}

async fn join(server: &TestServer, name: &str) -> Member {
    let mut member = open(server, join_request(name)).await;
    match member.next_event().await {
        Event::Welcome(w) => assert_eq!(w.name, name),
        other => panic!("expected welcome, got {other:?}"),
    }
    member
}

fn joined(name: &str) -> Event {
    Event::MemberJoined(switchboard::pb::MemberJoined { name: name.into() })
}

fn message(from: &str, text: &str) -> Event {
    Event::Message(switchboard::pb::ChatMessage { from: from.into(), text: text.into() })
}

#[tokio::test]
async fn three_members_see_joins_messages_and_leaves() {
    let server = TestServer::start().await;
    let mut alice = join(&server, "alice").await;
    assert_eq!(alice.next_event().await, joined("alice"));
    let mut bob = open(&server, join_request("bob")).await;
    match bob.next_event().await {
        Event::Welcome(w) => assert_eq!(w.members, ["alice", "bob"]),
        other => panic!("expected welcome, got {other:?}"),
    }
    assert_eq!(bob.next_event().await, joined("bob"));
    assert_eq!(alice.next_event().await, joined("bob"));
    let mut carol = join(&server, "carol").await;
    assert_eq!(carol.next_event().await, joined("carol"));
    assert_eq!(alice.next_event().await, joined("carol"));
    assert_eq!(bob.next_event().await, joined("carol"));

    // Broadcast to everyone, sender included, each sender's messages in order.
    for i in 0..20 {
        alice.say(&format!("a{i}")).await;
        bob.say(&format!("b{i}")).await;
    }
    for member in [&mut alice, &mut bob, &mut carol] {
        let mut from_alice = Vec::new();
        let mut from_bob = Vec::new();
        let mut last_sequence = 0;
        while from_alice.len() + from_bob.len() < 40 {
            let event = member.next().await;
            assert!(event.sequence > last_sequence, "sequence increases");
            last_sequence = event.sequence;
            match event.event.unwrap() {
                Event::Message(m) if m.from == "alice" => from_alice.push(m.text),
                Event::Message(m) if m.from == "bob" => from_bob.push(m.text),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(from_alice, (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>());
        assert_eq!(from_bob, (0..20).map(|i| format!("b{i}")).collect::<Vec<_>>());
    }

    // The member list, in the stream and unary.
    carol.tx.send(action(Action::ListMembers(ListMembersRequest {}))).await.unwrap();
    match carol.next_event().await {
        Event::Members(m) => assert_eq!(m.names, ["alice", "bob", "carol"]),
        other => panic!("expected members, got {other:?}"),
    }
    let names = server.chat().list_members(ListMembersRequest {}).await.unwrap().into_inner().names;
    assert_eq!(names, ["alice", "bob", "carol"]);

    // Quit: the others are told, the quitter gets its own leave notice, a goodbye, then OK.
    bob.tx.send(action(Action::Quit(Quit {}))).await.unwrap();
    let left = Event::MemberLeft(switchboard::pb::MemberLeft { name: "bob".into(), reason: LeaveReason::Quit.into() });
    assert_eq!(bob.next_event().await, left);
    assert!(matches!(bob.next_event().await, Event::Goodbye(_)));
    assert!(bob.end().await.is_none(), "quit ends the stream with OK");
    assert_eq!(alice.next_event().await, left);
    assert_eq!(carol.next_event().await, left);
    let names = server.chat().list_members(ListMembersRequest {}).await.unwrap().into_inner().names;
    assert_eq!(names, ["alice", "carol"]);
}

#[tokio::test]
async fn abrupt_disconnect_removes_the_member() {
    let server = TestServer::start().await;
    let mut alice = join(&server, "alice").await;
    assert_eq!(alice.next_event().await, joined("alice"));
    let dave = join(&server, "dave").await;
    assert_eq!(alice.next_event().await, joined("dave"));

    // The client vanishes mid-stream: its response stream is reset before it ever closes
    // its request side (a clean half-close would count as a quit).
    let Member { tx, events } = dave;
    drop(events);
    drop(tx);

    let event = alice.next_event().await;
    let expected = Event::MemberLeft(switchboard::pb::MemberLeft {
        name: "dave".into(),
        reason: LeaveReason::Disconnected.into(),
    });
    assert_eq!(event, expected);
    let names = server.chat().list_members(ListMembersRequest {}).await.unwrap().into_inner().names;
    assert_eq!(names, ["alice"]);
    // The name is free again.
    join(&server, "dave").await;
}

#[tokio::test]
async fn a_slow_reader_is_told_what_it_missed_and_never_slows_the_room() {
    let mut config = test_config();
    config.chat_member_queue = 64;
    let server = TestServer::start_with(config).await;

    // The slow member's connection has HTTP/2's default 64 KiB windows, so that not reading
    // pushes back on the server quickly instead of buffering megabytes in the client.
    let slow_channel = Endpoint::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .unwrap();
    let mut slow = open_on(ChatServiceClient::new(slow_channel), join_request("slow")).await;
    assert!(matches!(slow.next_event().await, Event::Welcome(_)));
    let mut reader = join(&server, "reader").await;
    let reader_joined = reader.next().await;
    assert_eq!(reader_joined.event, Some(joined("reader")));
    let slow_joined_sequence = reader_joined.sequence - 1;
    let sender = join(&server, "sender").await;
    assert_eq!(reader.next_event().await, joined("sender"));

    // The sender floods the room; the reader keeps up with every message in order while
    // "slow" reads nothing at all.
    const TOTAL: usize = 6000;
    const BURST: usize = 50;
    for burst in 0..TOTAL / BURST {
        for i in 0..BURST {
            sender.say(&format!("m{}", burst * BURST + i)).await;
        }
        for i in 0..BURST {
            let expected = message("sender", &format!("m{}", burst * BURST + i));
            assert_eq!(reader.next_event().await, expected, "the reader keeps up, nothing skipped");
        }
    }
    sender.say("end").await;

    // Now the slow member reads: what fit in its queue, a `missed` notice where it fell
    // behind, then the rest. Nothing is lost silently: received + missed = published.
    let (mut received, mut missed) = (0u64, 0u64);
    let end_sequence = loop {
        let event = slow.next().await;
        match event.event.unwrap() {
            Event::Missed(m) => missed += m.count,
            Event::Message(m) if m.text == "end" => {
                received += 1;
                break event.sequence;
            }
            Event::MemberJoined(_) | Event::Message(_) => received += 1,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(missed > 0, "the slow member fell behind and was told so");
    assert_eq!(received + missed, end_sequence - slow_joined_sequence + 1, "every event accounted for");
}

#[tokio::test]
async fn session_errors_end_the_stream_with_the_right_code() {
    let mut config = test_config();
    config.chat_join_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(config).await;

    let mut no_join = open(&server, action(Action::Say(Say { text: "hi".into() }))).await;
    assert_eq!(no_join.end().await.expect("error").code(), Code::FailedPrecondition);

    let mut empty = open(&server, ChatRequest { action: None }).await;
    assert_eq!(empty.end().await.expect("error").code(), Code::FailedPrecondition);

    for bad in ["", " padded", "new\nline", &"n".repeat(33)] {
        let mut member = open(&server, join_request(bad)).await;
        assert_eq!(member.end().await.expect("error").code(), Code::InvalidArgument, "name {bad:?}");
    }

    let _erin = join(&server, "erin").await;
    let mut twin = open(&server, join_request("erin")).await;
    assert_eq!(twin.end().await.expect("error").code(), Code::AlreadyExists);

    // A stream that never joins is ended by the join deadline.
    let (_tx, rx) = mpsc::channel::<ChatRequest>(1);
    let mut client = ChatServiceClient::new(server.new_connection().await);
    let mut silent = client.chat(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let status = tokio::time::timeout(WAIT, silent.next()).await.unwrap().unwrap().unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);

    // After joining, a bad request is an error event and the session goes on.
    let mut frank = join(&server, "frank").await;
    assert_eq!(frank.next_event().await, joined("frank"));
    frank.say("").await;
    match frank.next_event().await {
        Event::Error(e) => assert_eq!(e.code, Code::InvalidArgument as i32),
        other => panic!("expected an error event, got {other:?}"),
    }
    frank.tx.send(join_request("frank2")).await.unwrap();
    assert!(matches!(frank.next_event().await, Event::Error(_)));
    frank.say("still here").await;
    assert_eq!(frank.next_event().await, message("frank", "still here"));
}
