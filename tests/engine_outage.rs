//! When PostgreSQL or NATS goes away, the calls that need it fail fast with UNAVAILABLE and
//! health turns NOT_SERVING for exactly the services that depend on it; the others keep
//! serving; and everything recovers by itself when the engine is back, without a restart.
//!
//! The machine's shared PostgreSQL and NATS are never stopped: the server reaches them
//! through a TCP proxy on loopback that this test cuts and restores.

mod common;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use common::{NATS_URL_VAR, PgSchema, TestServer, engine_url, with_host};
use switchboard::pb::{
    ChatRequest, EchoRequest, GetRequest, Join, SetRequest, chat_request::Action,
    chat_service_client::ChatServiceClient,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// A loopback TCP proxy that can be cut (every connection closed, new ones refused) and
/// restored.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_seen) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *cut_seen.borrow() {
                    continue; // dropped: the connection is refused
                }
                let (upstream, mut cut_seen) = (upstream.clone(), cut_seen.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_seen.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut, task }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn health(server: &TestServer, name: &str) -> ServingStatus {
    let request = HealthCheckRequest { service: name.into() };
    HealthClient::new(server.channel.clone()).check(request).await.unwrap().into_inner().status()
}

async fn await_health(server: &TestServer, name: &str, expected: ServingStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = health(server, name).await;
        if status == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{name}: {status:?} after {within:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Joins the chat; the first event or the stream's status.
async fn try_join(server: &TestServer, name: &str) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(ChatRequest { action: Some(Action::Join(Join { name: name.into() })) }).await.unwrap();
    let mut events =
        ChatServiceClient::new(server.new_connection().await).chat(ReceiverStream::new(rx)).await?.into_inner();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("an answer within 5 s");
    first.expect("stream open").map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_fail_fast_and_heal_by_themselves() {
    let test = "engine_outage::outages_fail_fast_and_heal_by_themselves";
    let Some(schema) = PgSchema::create(test).await else { return };
    let Some(nats_url) = engine_url(NATS_URL_VAR, test) else { return };
    let pg_proxy = Proxy::start(schema.server_addr()).await;
    let nats_proxy = Proxy::start(common::authority(&nats_url).1.to_owned()).await;

    let mut config = common::test_config();
    config.database_url = Some(schema.url_via(pg_proxy.addr));
    config.nats_url = Some(with_host(&nats_url, nats_proxy.addr));
    config.nats_subject = format!("switchboard.test.{}", uuid::Uuid::new_v4().simple());
    let server = TestServer::start_with(config).await;
    let mut kv = server.kv();
    kv.set(SetRequest { key: "before".into(), value: "v".into() }).await.unwrap();
    try_join(&server, "early").await.expect("chat works while NATS is up");

    // PostgreSQL goes away.
    pg_proxy.set_cut(true);
    let started = Instant::now();
    let status = kv.get(GetRequest { key: "before".into() }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "failed only after {:?}", started.elapsed());
    for service in ["switchboard.v1.KvService", "switchboard.v1.UserService", "switchboard.v1.PaymentService"] {
        await_health(&server, service, ServingStatus::NotServing, Duration::from_secs(5)).await;
    }
    assert_eq!(health(&server, "switchboard.v1.EchoService").await, ServingStatus::Serving);
    assert_eq!(health(&server, "switchboard.v1.ChatService").await, ServingStatus::Serving);
    server.echo().echo(EchoRequest { message: "still here".into() }).await.expect("echo is unaffected");
    try_join(&server, "during-pg-outage").await.expect("chat does not need PostgreSQL");

    // PostgreSQL is back: no restart.
    pg_proxy.set_cut(false);
    await_health(&server, "switchboard.v1.KvService", ServingStatus::Serving, Duration::from_secs(10)).await;
    assert_eq!(kv.get(GetRequest { key: "before".into() }).await.unwrap().into_inner().value, "v");

    // NATS goes away.
    nats_proxy.set_cut(true);
    await_health(&server, "switchboard.v1.ChatService", ServingStatus::NotServing, Duration::from_secs(5)).await;
    let started = Instant::now();
    let status = try_join(&server, "during-nats-outage").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(health(&server, "switchboard.v1.KvService").await, ServingStatus::Serving);
    kv.set(SetRequest { key: "during".into(), value: "v".into() }).await.expect("kv does not need NATS");

    // NATS is back.
    nats_proxy.set_cut(false);
    await_health(&server, "switchboard.v1.ChatService", ServingStatus::Serving, Duration::from_secs(15)).await;
    try_join(&server, "after").await.expect("chat works again");
}
