//! "What happened to request X": the binary's JSON logs carry one access line per call with
//! the request id, method, peer, status code and latency, and the id is on the lines a
//! handler logs too.

mod common;

use std::time::Duration;

use common::{child::ChildServer, connect, with_metadata};
use switchboard::pb::{
    EchoRequest, GetRequest,
    debug::{SleepRequest, debug_service_client::DebugServiceClient},
    echo_service_client::EchoServiceClient,
    kv_service_client::KvServiceClient,
};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn the_request_id_round_trips_and_is_on_every_log_line_of_the_call() {
    let server = ChildServer::start(&["--enable-debug-rpcs"]).await;
    let channel = connect(server.addr).await;

    let reply = EchoServiceClient::new(channel.clone())
        .echo(with_metadata(EchoRequest { message: "hi".into() }, &[("x-request-id", "trace-me-42")]))
        .await
        .unwrap();
    assert_eq!(reply.metadata().get("x-request-id").unwrap(), "trace-me-42");

    let line = server.wait_for_log(WAIT, |line| line.contains("trace-me-42") && line.contains("call finished")).await;
    for needle in [
        r#""request_id":"trace-me-42""#,
        r#""method":"/switchboard.v1.EchoService/Echo""#,
        r#""code":"OK""#,
        r#""latency_ms":"#,
        r#""peer":"127.0.0.1:"#,
    ] {
        assert!(line.contains(needle), "access line lacks {needle}: {line}");
    }

    // A failing call logs its code.
    let status = KvServiceClient::new(channel.clone())
        .get(with_metadata(GetRequest { key: "nothing-here".into() }, &[("x-request-id", "trace-me-43")]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let line = server.wait_for_log(WAIT, |line| line.contains("trace-me-43") && line.contains("call finished")).await;
    assert!(line.contains(r#""code":"NOT_FOUND""#), "{line}");

    // A handler's own log line carries the id of its call (through the call span).
    let mut request = tonic::Request::new(SleepRequest { millis: 5_000 });
    request.metadata_mut().insert("x-request-id", "trace-me-44".parse().unwrap());
    request.metadata_mut().insert("grpc-timeout", "50m".parse().unwrap());
    let _ = DebugServiceClient::new(channel).sleep(request).await;
    let line = server.wait_for_log(WAIT, |line| line.contains("debug sleep cancelled")).await;
    assert!(line.contains("trace-me-44"), "the handler's line carries the request id: {line}");
}
