//! Two replicas sharing PostgreSQL and NATS behave as one service: state written on one is
//! read on the other, one chat room spans both, an idempotency key raced at both makes one
//! payment, and the members of a replica that dies leave the room within a bounded time.
//!
//! Needs SWITCHBOARD_TEST_DATABASE_URL and SWITCHBOARD_TEST_NATS_URL (.ci/run sets both);
//! without them it says SKIPPED and does nothing.

mod common;

use std::time::{Duration, Instant};

use common::{API_KEY, NATS_URL_VAR, PgSchema, TestServer, child::ChildServer, connect, with_metadata};
use switchboard::pb::{
    ChatEvent, ChatRequest, CreatePaymentRequest, CreateUserRequest, GetUserRequest, Join, LeaveReason,
    ListMembersRequest, ListPaymentsRequest, Say, User, chat_event::Event, chat_request::Action,
    chat_service_client::ChatServiceClient, payment_service_client::PaymentServiceClient,
    user_service_client::UserServiceClient,
};
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{Streaming, transport::Channel};

const PRESENCE: Duration = Duration::from_millis(500);
const WAIT: Duration = Duration::from_secs(10);

struct Member {
    tx: mpsc::Sender<ChatRequest>,
    events: Streaming<ChatEvent>,
}

async fn join(channel: Channel, name: &str) -> Member {
    let (tx, rx) = mpsc::channel(64);
    tx.send(ChatRequest { action: Some(Action::Join(Join { name: name.into() })) }).await.unwrap();
    let events = ChatServiceClient::new(channel).chat(ReceiverStream::new(rx)).await.expect("chat").into_inner();
    Member { tx, events }
}

impl Member {
    async fn say(&self, text: &str) {
        self.tx.send(ChatRequest { action: Some(Action::Say(Say { text: text.into() })) }).await.unwrap();
    }

    /// Reads events until one matches, failing after [`WAIT`].
    async fn wait_for(&mut self, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, self.events.next())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
                .expect("stream open")
                .expect("no error")
                .event
                .expect("event set");
            if matches(&event) {
                return event;
            }
        }
    }
}

async fn members(channel: Channel) -> Vec<String> {
    ChatServiceClient::new(channel).list_members(ListMembersRequest {}).await.unwrap().into_inner().names
}

/// Polls the member list until it is `expected`.
async fn await_members(channel: Channel, expected: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let names = members(channel.clone()).await;
        if names == expected {
            return;
        }
        assert!(Instant::now() < deadline, "members {names:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Cluster {
    a: TestServer,
    b: ChildServer,
    _schema: PgSchema,
}

async fn cluster(test: &str) -> Option<Cluster> {
    let schema = PgSchema::create(test).await?;
    let nats_url = common::engine_url(NATS_URL_VAR, test)?;
    let subject = format!("switchboard.test.{}", uuid::Uuid::new_v4().simple());
    let presence = format!("{}ms", PRESENCE.as_millis());

    let mut config = common::test_config();
    config.database_url = Some(schema.url());
    config.nats_url = Some(nats_url.clone());
    config.nats_subject = subject.clone();
    config.chat_presence_interval = PRESENCE;
    let a = TestServer::start_with(config).await;
    let db_url = schema.url();
    let b = ChildServer::start(&[
        "--payment-api-keys",
        common::API_KEY,
        "--database-url",
        &db_url,
        "--nats-url",
        &nats_url,
        "--nats-subject",
        &subject,
        "--chat-presence-interval",
        &presence,
    ])
    .await;
    Some(Cluster { a, b, _schema: schema })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_behave_as_one_service() {
    let Some(mut cluster) = cluster("replicas::two_replicas_behave_as_one_service").await else { return };
    let a = cluster.a.channel.clone();
    let b = connect(cluster.b.addr).await;

    // State: written on A, read on B.
    let user = User { username: "shared".into(), email: "shared@example.com".into(), age: 30, ..Default::default() };
    let created = UserServiceClient::new(a.clone()).create_user(CreateUserRequest { user: Some(user) }).await.unwrap();
    let created = created.into_inner();
    let read = UserServiceClient::new(b.clone()).get_user(GetUserRequest { id: created.id }).await.unwrap();
    assert_eq!(read.into_inner(), created);

    // One room: alice on A, bob on B.
    let mut alice = join(cluster.a.new_connection().await, "alice").await;
    await_members(a.clone(), &["alice"]).await;
    await_members(b.clone(), &["alice"]).await;
    let mut bob = join(connect(cluster.b.addr).await, "bob").await;
    alice.wait_for("bob's join", |e| matches!(e, Event::MemberJoined(j) if j.name == "bob")).await;
    await_members(a.clone(), &["alice", "bob"]).await;
    await_members(b.clone(), &["alice", "bob"]).await;
    let welcome = bob.wait_for("welcome", |e| matches!(e, Event::Welcome(_))).await;
    let Event::Welcome(welcome) = welcome else { unreachable!() };
    assert_eq!(welcome.members, ["alice", "bob"], "bob's welcome lists the member on the other replica");

    // A name in use on the other replica is taken here too.
    let mut second_bob = join(cluster.a.new_connection().await, "bob").await;
    let refused = tokio::time::timeout(WAIT, second_bob.events.next()).await.expect("an answer").expect("a status");
    assert_eq!(refused.unwrap_err().code(), tonic::Code::AlreadyExists);

    alice.say("hello from A").await;
    bob.wait_for(
        "alice's message",
        |e| matches!(e, Event::Message(m) if m.from == "alice" && m.text == "hello from A"),
    )
    .await;
    bob.say("hello from B").await;
    alice
        .wait_for("bob's message", |e| matches!(e, Event::Message(m) if m.from == "bob" && m.text == "hello from B"))
        .await;

    // The same idempotency key fired at both replicas at the same instant: one payment.
    for round in 0..5 {
        let key = format!("cross-replica-{round}");
        let request = CreatePaymentRequest {
            amount_minor: 2500,
            currency: "USD".into(),
            customer_id: "cust_cluster".into(),
            description: "raced".into(),
        };
        let mut calls = Vec::new();
        for channel in [a.clone(), b.clone(), a.clone(), b.clone()] {
            let (key, request) = (key.clone(), request.clone());
            calls.push(tokio::spawn(async move {
                let call = with_metadata(request, &[("x-api-key", API_KEY), ("idempotency-key", &key)]);
                PaymentServiceClient::new(channel).create_payment(call).await.unwrap().into_inner().id
            }));
        }
        let mut ids = Vec::new();
        for call in calls {
            ids.push(call.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
    let listed = PaymentServiceClient::new(b.clone())
        .list_payments(with_metadata(ListPaymentsRequest::default(), &[("x-api-key", API_KEY)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.payments.len(), 5, "one payment per key");

    // Replica B dies without a word: its member leaves the room on A within a bounded time.
    let killed_at = Instant::now();
    cluster.b.kill().await;
    let left = alice.wait_for("bob's leave", |e| matches!(e, Event::MemberLeft(l) if l.name == "bob")).await;
    let Event::MemberLeft(left) = left else { unreachable!() };
    assert_eq!(left.reason(), LeaveReason::Disconnected);
    let took = killed_at.elapsed();
    assert!(took < PRESENCE * 3 + Duration::from_secs(3), "bob's ghost lingered {took:?}");
    await_members(a, &["alice"]).await;
}
