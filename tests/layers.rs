//! The tower layers, each through a real tonic client against the real server: request ids,
//! authentication, rate limits, deadlines, panic isolation and load shedding. Slow and
//! panicking work comes from the test-only DebugService (`--enable-debug-rpcs`).

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, test_config, with_metadata};
use switchboard::pb::{
    EchoRequest,
    debug::{PanicRequest, SleepRequest, debug_service_client::DebugServiceClient},
};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt;

fn debug(server: &TestServer) -> DebugServiceClient<Channel> {
    DebugServiceClient::new(server.channel.clone())
}

async fn debug_server() -> TestServer {
    let mut config = test_config();
    config.enable_debug_rpcs = true;
    TestServer::start_with(config).await
}

fn echo(text: &str) -> EchoRequest {
    EchoRequest { message: text.to_owned() }
}

/// The value of a metric line `name{...} value` (or `name value`) in the server's metrics.
fn metric(server: &TestServer, series: &str) -> f64 {
    let text = server.server.metrics().render();
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn request_ids_round_trip_or_are_made() {
    let server = TestServer::start().await;
    let mut client = server.echo();

    let response = client.echo(with_metadata(echo("hi"), &[("x-request-id", "req-abc-123")])).await.unwrap();
    assert_eq!(response.metadata().get("x-request-id").unwrap(), "req-abc-123");

    let response = client.echo(echo("hi")).await.unwrap();
    let made = response.metadata().get("x-request-id").expect("a request id is made").to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    let again = client.echo(echo("hi")).await.unwrap();
    assert_ne!(again.metadata().get("x-request-id").unwrap().to_str().unwrap(), made, "one id per call");

    // Errors carry it too.
    let status = server
        .kv()
        .get(with_metadata(switchboard::pb::GetRequest { key: "none".into() }, &[("x-request-id", "e-1")]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "e-1");
}

#[tokio::test]
async fn the_bearer_token_guards_everything_but_health_and_reflection() {
    let mut config = test_config();
    config.auth_token = Some("t0ken-for-tests".into());
    let server = TestServer::start_with(config).await;
    let mut client = server.echo();

    let missing = client.echo(echo("hi")).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert!(missing.message().contains("authorization"), "{missing:?}");
    let wrong = client.echo(with_metadata(echo("hi"), &[("authorization", "Bearer nope")])).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
    let malformed = client.echo(with_metadata(echo("hi"), &[("authorization", "t0ken-for-tests")])).await.unwrap_err();
    assert_eq!(malformed.code(), Code::Unauthenticated, "{malformed:?}");
    let ok = client.echo(with_metadata(echo("hi"), &[("authorization", "Bearer t0ken-for-tests")])).await.unwrap();
    assert_eq!(ok.into_inner().message, "hi");

    // Payments need both: the token and a known API key.
    let no_key = server
        .payments()
        .get_payment(with_metadata(
            switchboard::pb::GetPaymentRequest { id: "pay_00000000000000000000000000000000".into() },
            &[("authorization", "Bearer t0ken-for-tests")],
        ))
        .await
        .unwrap_err();
    assert_eq!(no_key.code(), Code::Unauthenticated, "{no_key:?}");

    // Probes and reflection need no credentials.
    let mut health = HealthClient::new(server.channel.clone());
    health.check(HealthCheckRequest { service: String::new() }).await.unwrap();
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(server.channel.clone());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses =
        reflection.server_reflection_info(tokio_stream::once(request)).await.expect("reflection is open").into_inner();
    let first = responses.message().await.unwrap().expect("a reflection answer");
    assert!(format!("{first:?}").contains("switchboard.v1.EchoService"), "{first:?}");
}

#[tokio::test]
async fn a_burst_above_the_limit_gets_retry_info_and_the_next_window_succeeds() {
    let mut config = test_config();
    // One call a second after a burst of three: slow enough that a loaded CI machine still
    // makes the burst within one refill.
    config.rate_limit_per_second = 1;
    config.rate_limit_burst = 3;
    let server = TestServer::start_with(config).await;
    let mut client = server.echo();

    for i in 0..3 {
        client.echo(echo("burst")).await.unwrap_or_else(|s| panic!("call {i} of the burst: {s:?}"));
    }
    let refused = client.echo(echo("one too many")).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let delay = refused
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RESOURCE_EXHAUSTED carries google.rpc.RetryInfo");
    assert!(delay > Duration::ZERO && delay <= Duration::from_secs(1), "{delay:?}");
    assert_eq!(metric(&server, r#"switchboard_rate_limited_total{client="peer"}"#), 1.0);

    // Health is never rate limited.
    let mut health = HealthClient::new(server.channel.clone());
    health.check(HealthCheckRequest { service: String::new() }).await.unwrap();

    tokio::time::sleep(delay).await;
    client.echo(echo("next window")).await.expect("the call after the advised wait succeeds");
}

#[tokio::test]
async fn a_50ms_deadline_against_slow_work_is_deadline_exceeded_and_the_work_stops() {
    let server = debug_server().await;
    // Through a transport without a client-side timer, so the status is the server's own
    // answer (see `common::raw_h2`); the server must say DEADLINE_EXCEEDED, not CANCELLED.
    let (transport, origin) = common::raw_h2(server.addr());
    let mut raw = DebugServiceClient::with_origin(transport, origin);
    let mut request = tonic::Request::new(SleepRequest { millis: 5_000 });
    request.set_timeout(Duration::from_millis(50));
    let started = Instant::now();
    let status = raw.sleep(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered at the deadline: {:?}", started.elapsed());

    // The handler was dropped (its sleep cancelled), not left running.
    let series = "switchboard_debug_sleeps_cancelled_total";
    let wait = Instant::now();
    while metric(&server, series) < 1.0 {
        assert!(wait.elapsed() < Duration::from_secs(5), "the sleep was never cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // And a call within its deadline is untouched.
    let mut request = tonic::Request::new(SleepRequest { millis: 10 });
    request.set_timeout(Duration::from_secs(5));
    debug(&server).sleep(request).await.unwrap();
}

#[tokio::test]
async fn the_server_maximum_call_duration_applies_without_a_client_deadline() {
    let mut config = test_config();
    config.enable_debug_rpcs = true;
    config.max_call_duration = Duration::from_millis(100);
    let server = TestServer::start_with(config).await;
    let status = debug(&server).sleep(SleepRequest { millis: 5_000 }).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("at most"), "{status:?}");
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_with_internal_and_the_next_call_succeeds() {
    let server = debug_server().await;
    let status = debug(&server).panic(PanicRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    // Same connection, next call.
    let reply = server.echo().echo(echo("still here")).await.unwrap();
    assert_eq!(reply.into_inner().message, "still here");
    let status = debug(&server).panic(PanicRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
}

#[tokio::test]
async fn a_full_concurrency_limit_sheds_at_once() {
    let mut config = test_config();
    config.enable_debug_rpcs = true;
    config.max_concurrent_calls = 1;
    let server = TestServer::start_with(config).await;

    let mut busy = debug(&server);
    let slow = tokio::spawn(async move { busy.sleep(SleepRequest { millis: 3_000 }).await });

    // Once the slow call holds the only slot (it may take a moment to start), the next call
    // is refused at once rather than queued behind it.
    let waiting = Instant::now();
    let shed = loop {
        let started = Instant::now();
        match server.echo().echo(echo("no room")).await {
            Ok(_) => {
                assert!(waiting.elapsed() < Duration::from_secs(2), "never shed while the slot was taken");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => {
                assert!(started.elapsed() < Duration::from_millis(500), "shed at once: {:?}", started.elapsed());
                break status;
            }
        }
    };
    assert_eq!(shed.code(), Code::Unavailable, "{shed:?}");
    assert_eq!(metric(&server, "switchboard_load_shed_total"), 1.0);

    // Health checks are never shed.
    let mut health = HealthClient::new(server.channel.clone());
    health.check(HealthCheckRequest { service: String::new() }).await.unwrap();

    slow.await.unwrap().expect("the call that held the slot completes");
    server.echo().echo(echo("room again")).await.unwrap();
}

#[tokio::test]
async fn a_silent_stream_is_ended_after_the_idle_timeout_but_health_watches_are_not() {
    use switchboard::pb::{ChatRequest, Join, Say, chat_request::Action};
    use tokio_stream::StreamExt;

    let mut config = test_config();
    config.stream_idle_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(config).await;

    let mut health = HealthClient::new(server.channel.clone());
    let mut watch = health.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    watch.next().await.unwrap().unwrap();

    let (say, said) = tokio::sync::mpsc::channel(4);
    say.send(ChatRequest { action: Some(Action::Join(Join { name: "quiet".into() })) }).await.unwrap();
    let mut events = server.chat().chat(tokio_stream::wrappers::ReceiverStream::new(said)).await.unwrap().into_inner();
    // Activity keeps the stream alive well past the timeout...
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = format!("still here {i}");
        say.send(ChatRequest { action: Some(Action::Say(Say { text: text.clone() })) }).await.unwrap();
        loop {
            let event = events.next().await.unwrap().expect("an active stream is not cut");
            if matches!(event.event, Some(switchboard::pb::chat_event::Event::Message(m)) if m.text == text) {
                break;
            }
        }
    }
    // ...and silence ends it.
    let started = Instant::now();
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("the idle stream ends") {
            Some(Ok(_event)) => continue,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without a status"),
        }
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "cut only after a full second of silence");

    // The health watch, silent all along, is still open.
    let still_open = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;
    assert!(still_open.is_err(), "{still_open:?}");
    drop(say);
}
