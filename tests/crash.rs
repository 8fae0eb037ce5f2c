//! The durability promise, tested the hard way: a `switchboard` child process under
//! concurrent writes (users, kv, payments over gRPC; pipelined `SET`s on the legacy KV port)
//! is killed with SIGKILL at a random moment; after a restart on the same data directory every
//! write that had been acknowledged is there, intact, and a payment retried with its
//! idempotency key returns the original payment.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use common::{
    API_KEY,
    child::{ChildServer, json_field},
    connect, with_metadata,
};
use futures::StreamExt as _;
use switchboard::pb::{
    CreatePaymentRequest, CreateUserRequest, GetPaymentRequest, GetRequest, GetUserRequest, Payment, SetRequest, User,
    kv_service_client::KvServiceClient, payment_service_client::PaymentServiceClient,
    user_service_client::UserServiceClient,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

#[derive(Default)]
struct Acknowledged {
    users: Vec<User>,
    kv: Vec<(String, String)>,
    payments: Vec<(String, CreatePaymentRequest, Payment)>,
}

fn charge(i: usize, writer: usize) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount_minor: 100 + i as i64,
        currency: "USD".into(),
        customer_id: format!("cust_{writer}"),
        description: format!("order {writer}-{i}"),
    }
}

/// Writes until the server dies, recording every write it acknowledged.
async fn write_until_killed(addr: std::net::SocketAddr, writer: usize, acked: Arc<Mutex<Acknowledged>>) {
    let channel = connect(addr).await;
    let mut users = UserServiceClient::new(channel.clone());
    let mut kv = KvServiceClient::new(channel.clone());
    let mut payments = PaymentServiceClient::new(channel);
    for i in 0.. {
        let user = User {
            username: format!("w{writer}u{i}"),
            email: format!("w{writer}.u{i}@crash.test"),
            age: (i % 100) as i32,
            ..Default::default()
        };
        let Ok(created) = users.create_user(CreateUserRequest { user: Some(user) }).await else { return };
        acked.lock().unwrap().users.push(created.into_inner());

        let (key, value) = (format!("w{writer}:k{i}"), format!("value {i} of writer {writer}"));
        if kv.set(SetRequest { key: key.clone(), value: value.clone() }).await.is_err() {
            return;
        }
        acked.lock().unwrap().kv.push((key, value));

        let idempotency_key = format!("crash-{writer}-{i}");
        let request = charge(i, writer);
        let call = with_metadata(request.clone(), &[("x-api-key", API_KEY), ("idempotency-key", &idempotency_key)]);
        let Ok(payment) = payments.create_payment(call).await else { return };
        acked.lock().unwrap().payments.push((idempotency_key, request, payment.into_inner()));
    }
}

/// A random moment between 300 ms and 1.5 s.
fn random_delay() -> Duration {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos();
    Duration::from_millis(300 + u64::from(nanos % 1200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ChildServer::start_sqlite(dir.path()).await;
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let writers: Vec<_> =
        (0..8).map(|w| tokio::spawn(write_until_killed(server.addr, w, Arc::clone(&acked)))).collect();

    let delay = random_delay();
    tokio::time::sleep(delay).await;
    let status = server.kill().await;
    assert!(!status.success(), "the server was killed, not stopped: {status:?}");
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer).await.expect("writers stop").expect("writer task");
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "killed after {delay:?}: {} users, {} kv entries, {} payments acknowledged",
        acked.users.len(),
        acked.kv.len(),
        acked.payments.len()
    );
    assert!(!acked.users.is_empty(), "the load acknowledged nothing before the kill; the test proves nothing");

    let restarted = ChildServer::start_sqlite(dir.path()).await;
    let channel = connect(restarted.addr).await;
    let mut users = UserServiceClient::new(channel.clone());
    let mut kv = KvServiceClient::new(channel.clone());
    let mut payments = PaymentServiceClient::new(channel);
    for user in &acked.users {
        let got = users.get_user(GetUserRequest { id: user.id }).await.expect("an acknowledged user is there");
        assert_eq!(&got.into_inner(), user);
    }
    for (key, value) in &acked.kv {
        let got = kv.get(GetRequest { key: key.clone() }).await.expect("an acknowledged kv entry is there");
        assert_eq!(&got.into_inner().value, value);
    }
    for (idempotency_key, request, payment) in &acked.payments {
        let get = with_metadata(GetPaymentRequest { id: payment.id.clone() }, &[("x-api-key", API_KEY)]);
        assert_eq!(&payments.get_payment(get).await.expect("an acknowledged payment is there").into_inner(), payment);
        let retry = with_metadata(request.clone(), &[("x-api-key", API_KEY), ("idempotency-key", idempotency_key)]);
        let replayed = payments.create_payment(retry).await.expect("a retry after the restart succeeds");
        assert_eq!(&replayed.into_inner(), payment, "the retry returns the original payment");
    }
}

/// Sends pipelines of eight `SET`s in one write each until the server dies, recording every
/// `SET` answered `OK`.
async fn pipeline_sets_until_killed(
    addr: std::net::SocketAddr,
    writer: usize,
    acked: Arc<Mutex<Vec<(String, String)>>>,
) {
    let stream = TcpStream::connect(addr).await.expect("connect to the legacy KV port");
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read).lines();
    for _banner_line in 0..4 {
        if !matches!(replies.next_line().await, Ok(Some(_))) {
            return;
        }
    }
    for round in 0.. {
        let pipeline: Vec<(String, String)> =
            (0..8).map(|j| (format!("p{writer}:{round}:{j}"), format!("value {j} of round {round}"))).collect();
        let commands: String = pipeline.iter().map(|(key, value)| format!("SET {key} {value}\n")).collect();
        if write.write_all(commands.as_bytes()).await.is_err() {
            return;
        }
        for entry in pipeline {
            match replies.next_line().await {
                Ok(Some(reply)) => {
                    assert_eq!(reply, "OK", "a SET of a fresh key is answered OK");
                    acked.lock().unwrap().push(entry);
                }
                _ => return,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_legacy_sets_answered_ok_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ChildServer::start_sqlite(dir.path()).await;
    let ready = server.wait_for_log(Duration::from_secs(10), |line| line.contains("legacy_kv")).await;
    let kv_addr = json_field(&ready, "legacy_kv").expect("the legacy KV address is logged").parse().unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> =
        (0..4).map(|w| tokio::spawn(pipeline_sets_until_killed(kv_addr, w, Arc::clone(&acked)))).collect();

    let delay = random_delay();
    tokio::time::sleep(delay).await;
    let status = server.kill().await;
    assert!(!status.success(), "the server was killed, not stopped: {status:?}");
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer).await.expect("writers stop").expect("writer task");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!("killed after {delay:?}: {} legacy SETs acknowledged", acked.len());
    assert!(!acked.is_empty(), "the load acknowledged nothing before the kill; the test proves nothing");

    let restarted = ChildServer::start_sqlite(dir.path()).await;
    let kv = KvServiceClient::new(connect(restarted.addr).await);
    // Thousands of reads: 32 at a time over the one connection.
    futures::stream::iter(acked)
        .for_each_concurrent(32, |(key, value)| {
            let mut kv = kv.clone();
            async move {
                let got = kv.get(GetRequest { key }).await.expect("an acknowledged SET is there");
                assert_eq!(got.into_inner().value, value);
            }
        })
        .await;
}
