//! KvService through a real tonic client.

mod common;

use common::{TestServer, bad_fields};
use switchboard::pb::{DeleteRequest, GetRequest, ListKeysRequest, SetRequest, WatchRequest, watch_event::Kind};
use tokio_stream::StreamExt;
use tonic::Code;

fn set(key: &str, value: &str) -> SetRequest {
    SetRequest { key: key.into(), value: value.into() }
}

#[tokio::test]
async fn set_get_delete() {
    let server = TestServer::start().await;
    let mut kv = server.kv();
    assert!(!kv.set(set("greeting", "hello  world")).await.unwrap().into_inner().replaced);
    let got = kv.get(GetRequest { key: "greeting".into() }).await.unwrap().into_inner();
    assert_eq!(got.value, "hello  world", "inner spacing is kept");
    assert!(kv.set(set("greeting", "hi")).await.unwrap().into_inner().replaced);
    kv.delete(DeleteRequest { key: "greeting".into() }).await.unwrap();
    let missing = kv.get(GetRequest { key: "greeting".into() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "Key not found");
    assert_eq!(kv.delete(DeleteRequest { key: "greeting".into() }).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn keys_and_values_are_limited() {
    let server = TestServer::start().await;
    let mut kv = server.kv();
    for bad_key in ["", "has space", "tab\tkey", &"k".repeat(257)] {
        let status = kv.set(set(bad_key, "v")).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "key {bad_key:?}");
        assert_eq!(bad_fields(&status), ["key"]);
    }
    let status = kv.set(set("k", "line\nbreak")).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["value"]);
    let status = kv.set(set("k", &"v".repeat(1024 * 1024 + 1))).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["value"]);
    kv.set(set(&"k".repeat(256), &"v".repeat(1024 * 1024))).await.expect("values at the limit are fine");
    assert_eq!(kv.get(GetRequest { key: "bad key".into() }).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn list_keys_by_prefix_in_pages() {
    let server = TestServer::start().await;
    let mut kv = server.kv();
    for i in 0..12 {
        kv.set(set(&format!("user:{i:02}"), "x")).await.unwrap();
    }
    kv.set(set("other", "x")).await.unwrap();
    kv.set(set("usera", "x")).await.unwrap();

    let mut keys = Vec::new();
    let mut token = String::new();
    loop {
        let page = kv
            .list_keys(ListKeysRequest { prefix: "user:".into(), page_size: 5, page_token: token })
            .await
            .unwrap()
            .into_inner();
        keys.extend(page.keys);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = (0..12).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(keys, expected);

    let all = kv.list_keys(ListKeysRequest::default()).await.unwrap().into_inner();
    assert_eq!(all.keys.len(), 14);
    assert_eq!(all.keys.first().map(String::as_str), Some("other"));
}

#[tokio::test]
async fn watch_streams_changes_under_a_prefix() {
    let server = TestServer::start().await;
    let mut kv = server.kv();
    let mut watch = kv.watch(WatchRequest { prefix: "cfg/".into() }).await.unwrap().into_inner();
    // The call returns once the server has answered with headers, i.e. after it subscribed.
    kv.set(set("other", "ignored")).await.unwrap();
    kv.set(set("cfg/a", "1")).await.unwrap();
    kv.delete(DeleteRequest { key: "cfg/a".into() }).await.unwrap();

    let first = watch.next().await.unwrap().unwrap();
    assert_eq!((first.kind(), first.key.as_str(), first.value.as_str()), (Kind::Set, "cfg/a", "1"));
    let second = watch.next().await.unwrap().unwrap();
    assert_eq!((second.kind(), second.key.as_str()), (Kind::Deleted, "cfg/a"));
}
