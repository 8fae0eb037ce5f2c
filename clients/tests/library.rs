//! The Rust client library against a live server: every error kind as its own variant, a
//! payment create whose first answer is lost yields exactly one payment, deadlines fire.

mod common;

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use common::{
    API_KEY, ScriptedEcho, closed_port, losing_first_response_proxy, scripted_server, slow_proxy,
    slow_proxy_counting_resets, start_server,
};
use switchboard::pb::{self, echo_service_server};
use switchboard_client::{CallOptions, Client, Error, RetryPolicy, ServingStatus};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

fn client(addr: std::net::SocketAddr) -> Client {
    Client::builder(format!("http://{addr}")).api_key(API_KEY).build().expect("client")
}

fn payment(amount_minor: i64, customer: &str) -> pb::CreatePaymentRequest {
    pb::CreatePaymentRequest {
        amount_minor,
        currency: "USD".into(),
        customer_id: customer.into(),
        description: "client test".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trips_through_every_service() {
    let server = start_server().await;
    let client = client(server.grpc_addr());

    assert_eq!(client.health("").await.expect("health"), ServingStatus::Serving);
    assert_eq!(client.echo("hi").await.expect("echo"), "hi");
    assert!(client.ping().await.expect("ping").server_time.is_some());

    let user = client.create_user("alice", "alice@example.com", 30).await.expect("create user");
    assert_eq!(client.get_user(user.id).await.expect("get user").email, "alice@example.com");
    let updated = client
        .update_user(pb::User { id: user.id, age: 31, ..Default::default() }, &["age"])
        .await
        .expect("update user");
    assert_eq!((updated.age, updated.username.as_str()), (31, "alice"));
    let listed = client.list_users(pb::ListUsersRequest { query: "ali".into(), ..Default::default() }).await;
    assert_eq!(listed.expect("list users").users.len(), 1);
    client.delete_user(user.id).await.expect("delete user");

    assert!(!client.kv_set("k", "v1").await.expect("set"));
    assert!(client.kv_set("k", "v2").await.expect("set again"));
    assert_eq!(client.kv_get("k").await.expect("get"), "v2");
    let keys = client.kv_list_keys(pb::ListKeysRequest::default()).await.expect("list keys").keys;
    assert_eq!(keys, ["k"]);
    client.kv_delete("k").await.expect("delete");

    let paid = client.create_payment(payment(9999, "cust_1"), Some("order-1")).await.expect("pay");
    assert_eq!(paid.status, pb::PaymentStatus::Succeeded as i32);
    let again = client.create_payment(payment(9999, "cust_1"), Some("order-1")).await.expect("pay again");
    assert_eq!(again.id, paid.id, "the same idempotency key is the same payment");
    let refund = client
        .refund_payment(
            pb::RefundPaymentRequest { payment_id: paid.id.clone(), amount_minor: 100, reason: "test".into() },
            None,
        )
        .await
        .expect("refund");
    assert_eq!(refund.payment.expect("payment").refunded_minor, 100);
    assert_eq!(client.get_payment(&paid.id).await.expect("get payment").refunded_minor, 100);

    let chunks = tokio_stream::iter(vec![switchboard_client::Bytes::from_static(b"hel"), "lo".into()]);
    let info = pb::FileInfo { name: "a.txt".into(), ..Default::default() };
    let stored = client.upload(info, chunks, &CallOptions::default()).await.expect("upload");
    assert_eq!(stored.size, 5);
    let mut download = client.download("a.txt", &CallOptions::default()).await.expect("download");
    let mut content = Vec::new();
    while let Some(chunk) = download.next_chunk().await.expect("chunk") {
        content.extend_from_slice(&chunk);
    }
    assert_eq!(content, b"hello");
    client.delete_file("a.txt").await.expect("delete file");

    let mut watch = client.kv_watch("w").await.expect("watch");
    client.kv_set("w1", "x").await.expect("set watched");
    let event = tokio::time::timeout(Duration::from_secs(5), watch.next()).await.expect("a watch event in time");
    assert_eq!(event.expect("an event").expect("not an error").key, "w1");

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_members_see_each_other() {
    let server = start_server().await;
    let client = client(server.grpc_addr());
    let mut alice = client.chat("alice").await.expect("alice joins");
    let mut bob = client.chat("bob").await.expect("bob joins");
    assert_eq!(bob.welcome().members, ["alice", "bob"]);
    assert!(matches!(client.chat("bob").await, Err(Error::AlreadyExists { .. })));

    alice.say("hello bob").await.expect("say");
    let heard = next_message(&mut bob).await;
    assert_eq!(heard, ("alice".to_owned(), "hello bob".to_owned()));
    let echoed = next_message(&mut alice).await;
    assert_eq!(echoed.1, "hello bob", "the sender hears itself too");

    bob.quit().await.expect("quit");
    loop {
        match tokio::time::timeout(Duration::from_secs(5), bob.next_event()).await.expect("bob's goodbye in time") {
            Ok(Some(pb::ChatEvent { event: Some(pb::chat_event::Event::Goodbye(_)), .. })) => break,
            Ok(Some(_)) => continue,
            other => panic!("expected a goodbye, got {other:?}"),
        }
    }
    assert_eq!(client.chat_members().await.expect("members"), ["alice"]);
    server.shutdown().await;
}

async fn next_message(session: &mut switchboard_client::ChatSession) -> (String, String) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), session.next_event())
            .await
            .expect("an event in time")
            .expect("no error")
            .expect("the session goes on");
        if let Some(pb::chat_event::Event::Message(message)) = event.event {
            return (message.from, message.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_error_kind_is_its_own_variant() {
    let server = start_server().await;
    let client = client(server.grpc_addr());

    assert!(matches!(client.get_user(424242).await, Err(Error::NotFound { .. })));
    assert!(matches!(client.kv_get("missing").await, Err(Error::NotFound { .. })));

    match client.create_user("", "not-an-email", 200).await {
        Err(Error::InvalidArgument { fields, .. }) => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            for field in ["user.username", "user.email", "user.age"] {
                assert!(names.contains(&field), "{field} missing from {names:?}");
            }
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }

    client.create_user("carol", "carol@example.com", 40).await.expect("create");
    assert!(matches!(client.create_user("carol2", "CAROL@example.com", 41).await, Err(Error::AlreadyExists { .. })));

    let declined = client.create_payment(payment(500, "cust_declined"), None).await.expect("a declined payment");
    assert_eq!(declined.status, pb::PaymentStatus::Failed as i32);
    let refund = pb::RefundPaymentRequest { payment_id: declined.id.clone(), ..Default::default() };
    match client.refund_payment(refund, None).await {
        Err(Error::FailedPrecondition { violations, .. }) => assert!(!violations.is_empty()),
        other => panic!("expected FailedPrecondition, got {other:?}"),
    }

    let anonymous = Client::connect_lazy(format!("http://{}", server.grpc_addr())).expect("client");
    assert!(matches!(anonymous.get_payment(&declined.id).await, Err(Error::Unauthenticated { .. })));
    let wrong = Client::builder(format!("http://{}", server.grpc_addr())).api_key("sk_test_wrong").build();
    assert!(matches!(
        wrong.expect("client").list_payments(Default::default()).await,
        Err(Error::Unauthenticated { .. })
    ));

    // Above the server's 4 MiB message limit: RESOURCE_EXHAUSTED without RetryInfo.
    let huge = "x".repeat(5 * 1024 * 1024);
    match client.echo(&huge).await {
        Err(Error::RateLimited { retry_after: None, .. }) => {}
        other => panic!("expected RateLimited without retry_after, got {other:?}"),
    }

    let nowhere = Client::builder(format!("http://{}", closed_port().await))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client");
    assert!(matches!(nowhere.echo("anyone?").await, Err(Error::Unavailable { .. })));

    assert!(matches!(Client::connect_lazy("not a uri"), Err(Error::Config(_))));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Statuses the real server has no rpc for: a scripted echo server answers them.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn permission_denied_and_rate_limits_from_a_scripted_server() {
    let (addr, service) = scripted_server(vec![
        Status::permission_denied("not yours"),
        Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(200))),
        ),
    ])
    .await;
    let client = Client::connect_lazy(format!("http://{addr}")).expect("client");
    assert!(matches!(client.echo("a").await, Err(Error::PermissionDenied { .. })));
    assert_eq!(service.calls.load(Ordering::SeqCst), 1, "PERMISSION_DENIED is not retried");

    // RESOURCE_EXHAUSTED with RetryInfo: the client waits the server's delay, then retries.
    let started = Instant::now();
    assert_eq!(client.echo("b").await.expect("the retry succeeds"), "b");
    assert!(started.elapsed() >= Duration::from_millis(200), "waited only {:?}", started.elapsed());
    assert_eq!(service.calls.load(Ordering::SeqCst), 3);

    // With retries off, the caller sees the delay to wait.
    let (addr, _) = scripted_server(vec![Status::with_error_details(
        Code::ResourceExhausted,
        "slow down",
        ErrorDetails::with_retry_info(Some(Duration::from_secs(3))),
    )])
    .await;
    let once = Client::builder(format!("http://{addr}")).retry_policy(RetryPolicy::never()).build().expect("client");
    match once.echo("c").await {
        Err(Error::RateLimited { retry_after: Some(after), .. }) => assert_eq!(after, Duration::from_secs(3)),
        other => panic!("expected RateLimited with retry_after, got {other:?}"),
    }

    // UNAVAILABLE is retried for an idempotent call, and the caller never sees it.
    let (addr, service) = scripted_server(vec![Status::unavailable("draining"), Status::unavailable("draining")]).await;
    let client = Client::connect_lazy(format!("http://{addr}")).expect("client");
    assert_eq!(client.echo("d").await.expect("retried to success"), "d");
    assert_eq!(service.calls.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------------
// Retries and deadlines over a misbehaving network
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_whose_answer_is_lost_is_retried_into_exactly_one_payment() {
    let server = start_server().await;
    let (proxy, swallowed) = losing_first_response_proxy(server.grpc_addr()).await;
    let through_proxy = client(proxy);

    let paid = through_proxy.create_payment(payment(4200, "cust_retry"), None).await.expect("the retry succeeds");
    assert_eq!(swallowed.load(Ordering::SeqCst), 1, "the proxy should have lost the first answer");

    let direct = client(server.grpc_addr());
    let listed = direct
        .list_payments(pb::ListPaymentsRequest { customer_id: "cust_retry".into(), ..Default::default() })
        .await
        .expect("list");
    let ids: Vec<&str> = listed.payments.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [paid.id.as_str()], "exactly one payment, the one the client was given");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_retries_the_lost_answer_is_an_error_and_the_payment_exists() {
    // The control for the test above: the proxy really loses the answer after the server
    // has created the payment.
    let server = start_server().await;
    let (proxy, swallowed) = losing_first_response_proxy(server.grpc_addr()).await;
    let once = Client::builder(format!("http://{proxy}"))
        .api_key(API_KEY)
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client");
    let error = once.create_payment(payment(4200, "cust_lost"), None).await.expect_err("the answer was lost");
    assert_eq!(swallowed.load(Ordering::SeqCst), 1, "{error:?}");
    let listed = client(server.grpc_addr())
        .list_payments(pb::ListPaymentsRequest { customer_id: "cust_lost".into(), ..Default::default() })
        .await
        .expect("list");
    assert_eq!(listed.payments.len(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_shorter_than_the_answer_fires_promptly() {
    let server = start_server().await;
    let delay = Duration::from_secs(3);
    let proxy = slow_proxy(server.grpc_addr(), delay).await;
    let client = client(proxy);

    let started = Instant::now();
    let result = client.echo_with("slow", &CallOptions::timeout(Duration::from_millis(100))).await;
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(Error::DeadlineExceeded { .. })), "{result:?}");
    assert!(elapsed < delay, "the deadline error took {elapsed:?}, as long as the answer itself");

    // The same path with time enough works: the deadline, not the proxy, caused the error.
    let result = client.echo_with("patient", &CallOptions::timeout(Duration::from_secs(30))).await;
    assert_eq!(result.expect("a patient call succeeds"), "patient");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_call_cancels_it_on_the_wire() {
    let server = start_server().await;
    let (proxy, resets) = slow_proxy_counting_resets(server.grpc_addr(), Duration::from_secs(2)).await;
    let slow = client(proxy);
    // Open the connection first, so that the dropped call is surely on the wire.
    slow.echo("warm up").await.expect("a call through the slow proxy");
    assert_eq!(resets.load(Ordering::SeqCst), 0);

    tokio::select! {
        _ = slow.echo("dropped before its answer") => panic!("the slow proxy cannot answer this soon"),
        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
    }
    // Dropping the future made the client reset the stream: the server is told to stop.
    let waited = Instant::now();
    while resets.load(Ordering::SeqCst) == 0 {
        assert!(waited.elapsed() < Duration::from_secs(10), "no RST_STREAM reached the server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A chat member whose session is dropped leaves the room.
    let direct = client(server.grpc_addr());
    let mut alice = direct.chat("alice").await.expect("alice joins");
    let bob = direct.chat("bob").await.expect("bob joins");
    drop(bob);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), alice.next_event())
            .await
            .expect("bob's leave notice in time")
            .expect("no error")
            .expect("alice's session goes on");
        if let Some(pb::chat_event::Event::MemberLeft(left)) = event.event {
            assert_eq!(left.name, "bob");
            assert_eq!(left.reason, pb::LeaveReason::Disconnected as i32);
            break;
        }
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_custom_ca() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let (cert_pem, key_pem) = (certified.cert.pem(), certified.signing_key.serialize_pem());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let tls =
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(&cert_pem, &key_pem));
    let router = tonic::transport::Server::builder()
        .tls_config(tls)
        .expect("server TLS")
        .add_service(echo_service_server::EchoServiceServer::new(ScriptedEcho::default()));
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));

    let trusted = Client::builder(format!("https://localhost:{port}"))
        .ca_certificate_pem(cert_pem.clone())
        .build()
        .expect("a TLS client");
    assert_eq!(trusted.echo("over TLS").await.expect("a TLS call"), "over TLS");

    // The system's roots do not know this certificate: the handshake fails, nothing is sent.
    let untrusted = Client::builder(format!("https://localhost:{port}"))
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("a TLS client");
    assert!(matches!(untrusted.echo("x").await, Err(Error::Unavailable { .. })), "an unknown CA must be refused");

    // A plaintext client cannot talk to a TLS server, and a CA for a plaintext URI is a mistake.
    let plain =
        Client::builder(format!("http://localhost:{port}")).retry_policy(RetryPolicy::never()).build().expect("client");
    assert!(plain.echo("x").await.is_err());
    assert!(matches!(
        Client::builder(format!("http://localhost:{port}")).ca_certificate_pem(cert_pem).build(),
        Err(Error::Config(_))
    ));
}
