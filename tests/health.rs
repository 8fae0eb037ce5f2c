//! grpc.health.v1 as the spec says, and Echo/Ping as the simplest end-to-end check.

mod common;

use std::time::Duration;

use common::TestServer;
use switchboard::{
    health::Serving,
    pb::{EchoRequest, PingRequest},
    server::SERVICE_NAMES,
};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

fn check(name: &str) -> HealthCheckRequest {
    HealthCheckRequest { service: name.into() }
}

#[tokio::test]
async fn check_reports_the_server_and_every_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel.clone());
    for name in std::iter::once("").chain(SERVICE_NAMES) {
        let status = health.check(check(name)).await.unwrap().into_inner().status();
        assert_eq!(status, ServingStatus::Serving, "{name:?}");
    }
    assert!(SERVICE_NAMES.contains(&"switchboard.v1.PaymentService"));
    let unknown = health.check(check("no.such.Service")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn watch_follows_changes_and_keeps_unknown_names_open() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel.clone());

    let mut kv = health.watch(check("switchboard.v1.KvService")).await.unwrap().into_inner();
    assert_eq!(kv.next().await.unwrap().unwrap().status(), ServingStatus::Serving);
    server.server.health().set("switchboard.v1.KvService", Serving::NotServing);
    assert_eq!(kv.next().await.unwrap().unwrap().status(), ServingStatus::NotServing);

    let mut unknown = health.watch(check("no.such.Service")).await.unwrap().into_inner();
    assert_eq!(unknown.next().await.unwrap().unwrap().status(), ServingStatus::ServiceUnknown);
    // The spec: the stream stays open (no error, no end) for a name that is unknown now.
    let nothing = tokio::time::timeout(Duration::from_millis(300), unknown.next()).await;
    assert!(nothing.is_err(), "the watch stream stayed open: {nothing:?}");
}

#[tokio::test]
async fn echo_and_ping() {
    let server = TestServer::start().await;
    let mut echo = server.echo();
    let text = "héllo\twörld  ".repeat(10);
    let reply = echo.echo(EchoRequest { message: text.clone() }).await.unwrap().into_inner();
    assert_eq!(reply.message, text);
    let pong = echo.ping(PingRequest {}).await.unwrap().into_inner();
    let server_time = std::time::SystemTime::try_from(pong.server_time.unwrap()).unwrap();
    let skew = server_time.elapsed().unwrap_or_default();
    assert!(skew < Duration::from_secs(60), "server time is now-ish");
}
