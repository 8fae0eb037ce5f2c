//! The legacy KV text protocol over raw TCP: the seed's exact bytes, on the same data as
//! gRPC `KvService`.

mod common;

use std::time::Duration;

use common::{TestServer, raw::Raw};
use switchboard::{
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
