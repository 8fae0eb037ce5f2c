//! The durability promise, tested the hard way: a `switchboard` child process under
//! concurrent writes (users, kv, payments) is killed with SIGKILL at a random moment; after a
//! restart on the same data directory every write that had been acknowledged is there, intact,
//! and a payment retried with its idempotency key returns the original payment.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use common::{API_KEY, child::ChildServer, connect, with_metadata};
use switchboard::pb::{
    CreatePaymentRequest, CreateUserRequest, GetPaymentRequest, GetRequest, GetUserRequest, Payment, SetRequest, User,
    kv_service_client::KvServiceClient, payment_service_client::PaymentServiceClient,
    user_service_client::UserServiceClient,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ChildServer::start_sqlite(dir.path()).await;
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let writers: Vec<_> =
        (0..8).map(|w| tokio::spawn(write_until_killed(server.addr, w, Arc::clone(&acked)))).collect();

    // A random moment between 300 ms and 1.5 s into the load.
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos();
    let delay = Duration::from_millis(300 + u64::from(nanos % 1200));
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
