//! The legacy KV text protocol over raw TCP: the seed's exact bytes, on the same data as
//! gRPC `KvService`.

mod common;

use std::time::Duration;

use common::{Backend, TestServer, raw::Raw};
use switchboard::{
    config::Config,
    legacy::Protocol,
    pb::{GetRequest, SetRequest, WatchRequest, watch_event::Kind},
};
use tokio::io::AsyncWriteExt as _;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test]
async fn a_session_says_exactly_what_the_seed_said() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(
        b"KEYS\nSET name Alice\nGET name\nget missing\nDELETE name\nDELETE name\nSET b 2\nset a 1\n\
          keys\nFROB x\nSET k\nGET\nDELETE\n\n   \nGet b extra ignored\nQUIT\n",
    )
    .await;
    kv.expect(
        b"No keys stored\nOK\nAlice\nNULL\nOK\nERROR: Key not found\nOK\nOK\na, b\n\
          ERROR: Unknown command 'FROB'\nERROR: SET requires key and value\nERROR: GET requires key\n\
          ERROR: DELETE requires key\n2\nGoodbye!\n",
    )
    .await;
    assert!(kv.closed().await.is_empty(), "nothing after Goodbye!");
}

#[tokio::test]
async fn telnet_line_endings_and_mixed_case_commands() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"sEt greeting hello world \r\nGeT greeting\r\nquit\r\n").await;
    kv.expect(b"OK\nhello world\nGoodbye!\n").await;
    kv.closed().await;
}

#[tokio::test]
async fn service_validation_errors_become_error_lines() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    let long_key = "k".repeat(257);
    kv.send(format!("SET {long_key} v\nGET {long_key}\nSET ctl a\x01b\nGET ctl\n").as_bytes()).await;
    kv.expect(
        b"ERROR: key: must be at most 256 bytes, got 257\nERROR: key: must be at most 256 bytes, got 257\n\
          ERROR: value: must not contain line breaks or control characters other than tab\nNULL\n",
    )
    .await;
}

#[tokio::test]
async fn a_text_set_is_read_back_over_grpc_and_watchers_see_it() {
    let server = TestServer::start().await;
    let mut grpc = server.kv();
    let mut watch = grpc.watch(WatchRequest { prefix: "shared".into() }).await.unwrap().into_inner();
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET shared  spaced   value\n").await;
    kv.expect(b"OK\n").await;
    let got = grpc.get(GetRequest { key: "shared".into() }).await.unwrap().into_inner();
    assert_eq!(got.value, "spaced   value");
    let event = tokio::time::timeout(Duration::from_secs(10), watch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((event.kind(), event.key.as_str(), event.value.as_str()), (Kind::Set, "shared", "spaced   value"));

    kv.send(b"DELETE shared\n").await;
    kv.expect(b"OK\n").await;
    assert_eq!(grpc.get(GetRequest { key: "shared".into() }).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn a_grpc_set_is_read_back_over_text() {
    let server = TestServer::start().await;
    server.kv().set(SetRequest { key: "from-grpc".into(), value: "tab\there".into() }).await.unwrap();
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"GET from-grpc\nKEYS\n").await;
    kv.expect(b"tab\there\nfrom-grpc\n").await;
}

#[tokio::test]
async fn a_thousand_pipelined_commands_get_a_thousand_replies_in_order() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    let mut burst = String::new();
    let mut expected = String::new();
    for i in 0..500 {
        burst.push_str(&format!("SET key{i} value {i}\nGET key{i}\n"));
        expected.push_str(&format!("OK\nvalue {i}\n"));
    }
    kv.send(burst.as_bytes()).await;
    kv.expect(expected.as_bytes()).await;
}

#[tokio::test]
async fn a_command_split_across_segments_is_one_command() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    for piece in [&b"SE"[..], b"T sp", b"lit va", b"lue\nGE", b"T split", b"\n"] {
        kv.send(piece).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    kv.expect(b"OK\nvalue\n").await;
}

#[tokio::test]
async fn invalid_utf8_gets_an_error_line_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET k \xff\xfe\nSET k ok\nGET k\n").await;
    kv.expect(b"ERROR: Invalid UTF-8 in line\nOK\nok\n").await;
}

#[tokio::test]
async fn a_client_that_leaves_mid_command_leaves_nothing_behind() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET ghost boo").await;
    kv.stream.get_mut().shutdown().await.unwrap();
    assert!(kv.closed().await.is_empty());
    assert_eq!(server.kv().get(GetRequest { key: "ghost".into() }).await.unwrap_err().code(), Code::NotFound);
}

/// The servers a pipeline is tried on: memory and the durable SQLite default, each with the
/// default value limit (a `GET` may return 1 MiB, so each runs alone) and with 1 KiB values
/// (`GET`s fit the connection's byte bound and run alongside other commands). On SQLite a
/// write is seen only once committed, so a read that overlapped a write of its key would
/// read the old value here.
fn pipeline_servers() -> Vec<(&'static str, Backend, Option<usize>)> {
    vec![
        ("memory", Backend::Memory, None),
        ("memory, 1 KiB values", Backend::Memory, Some(1024)),
        ("sqlite", Backend::sqlite(), None),
        ("sqlite, 1 KiB values", Backend::sqlite(), Some(1024)),
    ]
}

fn pipeline_config(backend: &Backend, max_value_bytes: Option<usize>) -> Config {
    let mut config = backend.config();
    if let Some(max) = max_value_bytes {
        config.kv_max_value_bytes = max;
    }
    config
}

#[tokio::test]
async fn a_pipeline_in_one_write_gets_the_replies_of_one_command_at_a_time() {
    for (name, backend, max_value_bytes) in pipeline_servers() {
        let server = TestServer::start_with(pipeline_config(&backend, max_value_bytes)).await;
        let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
        kv.send(
            b"SET a 1\nGET a\nSET b 2\nSET a 3\nGET a\nDELETE b\nGET b\nDELETE b\nSET c x\nGET c\nget c\n\
              KEYS\nGET a\nFROB\nSET a 4\nSET\nGET a\nDELETE c\nKEYS\nQUIT\nSET after 1\n",
        )
        .await;
        let mut got = Vec::new();
        for _ in 0..20 {
            got.push(kv.line().await);
        }
        assert_eq!(
            got,
            [
                "OK",
                "1",
                "OK",
                "OK",
                "3",
                "OK",
                "NULL",
                "ERROR: Key not found",
                "OK",
                "x",
                "x",
                "a, c",
                "3",
                "ERROR: Unknown command 'FROB'",
                "OK",
                "ERROR: SET requires key and value",
                "4",
                "OK",
                "a",
                "Goodbye!",
            ],
            "{name}"
        );
        assert!(kv.closed().await.is_empty(), "{name}: nothing after Goodbye!");
        let mut grpc = server.kv();
        assert_eq!(grpc.get(GetRequest { key: "a".into() }).await.unwrap().into_inner().value, "4", "{name}");
        let after = grpc.get(GetRequest { key: "after".into() }).await.unwrap_err();
        assert_eq!(after.code(), Code::NotFound, "{name}: a command after QUIT ran");
    }
}

#[tokio::test]
async fn many_pipelined_sets_of_distinct_keys_then_gets_of_each_are_answered_in_order() {
    // More than one connection's worth of commands in flight, so the pipeline fills and
    // drains several times within one write.
    const KEYS: usize = 300;
    for (name, backend, max_value_bytes) in pipeline_servers() {
        let server = TestServer::start_with(pipeline_config(&backend, max_value_bytes)).await;
        let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
        let mut burst = String::new();
        let mut expected = String::new();
        for i in 0..KEYS {
            burst.push_str(&format!("SET key{i} value {i}\n"));
            expected.push_str("OK\n");
        }
        for i in 0..KEYS {
            burst.push_str(&format!("GET key{i}\n"));
            expected.push_str(&format!("value {i}\n"));
        }
        kv.send(burst.as_bytes()).await;
        let got = kv.read_exact(expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), expected, "{name}");
        let mut grpc = server.kv();
        let last = grpc.get(GetRequest { key: format!("key{}", KEYS - 1) }).await.unwrap().into_inner();
        assert_eq!(last.value, format!("value {}", KEYS - 1), "{name}");
    }
}
