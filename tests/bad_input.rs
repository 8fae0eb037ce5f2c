//! Hostile and broken input: each gets a clear status, and the server keeps serving.

mod common;

use common::{TestServer, bad_fields};
use switchboard::pb::{EchoRequest, ListKeysRequest, ListUsersRequest, PingRequest, User};
use tonic::{Code, codegen::http::uri::PathAndQuery};

/// The server still answers after whatever a test threw at it.
async fn assert_still_serving(server: &TestServer) {
    server.echo().ping(PingRequest {}).await.expect("the server keeps serving");
}

#[tokio::test]
async fn oversized_messages_are_resource_exhausted() {
    let server = TestServer::start().await;
    let status = server.echo().echo(EchoRequest { message: "x".repeat(5 * 1024 * 1024) }).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("too large"), "{}", status.message());
    assert_still_serving(&server).await;
}

// The same wire tags as the real messages, but with `bytes` where the real ones have
// `string`: a way to put invalid UTF-8 on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct RawUser {
    #[prost(bytes = "vec", tag = "2")]
    username: Vec<u8>,
    #[prost(string, tag = "3")]
    email: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawCreateUserRequest {
    #[prost(message, optional, tag = "1")]
    user: Option<RawUser>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawBytes {
    #[prost(bytes = "vec", tag = "1")]
    first_field: Vec<u8>,
}

async fn raw_call<Req, Resp>(server: &TestServer, path: &'static str, request: Req) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(tonic::Request::new(request), PathAndQuery::from_static(path), codec).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn invalid_utf8_in_strings_is_invalid_argument() {
    let server = TestServer::start().await;
    let request = RawCreateUserRequest {
        user: Some(RawUser { username: vec![0xff, 0xfe, b'a'], email: "a@example.com".into() }),
    };
    let status = raw_call::<_, User>(&server, "/switchboard.v1.UserService/CreateUser", request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let key = RawBytes { first_field: vec![b'k', 0xc3] };
    let status = raw_call::<_, RawBytes>(&server, "/switchboard.v1.KvService/Get", key).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Not protobuf at all: a length-delimited field that runs past the end.
    let garbage = RawBytes { first_field: vec![0x0a, 0x7f, 0x01] };
    let status =
        raw_call::<_, RawBytes>(&server, "/switchboard.v1.EchoService/Echo", RawBytes { first_field: Vec::new() })
            .await
            .map(|_| ());
    assert!(status.is_ok(), "an empty echo is fine");
    let status = raw_call::<_, RawBytes>(&server, "/switchboard.v1.UserService/GetUser", garbage).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn absurd_page_sizes_and_garbage_tokens() {
    let server = TestServer::start().await;
    let status = server.users().list_users(ListUsersRequest { page_size: -1, ..Default::default() }).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["page_size"]);

    // Huge sizes are served as the maximum, not refused and not trusted.
    let page = server.kv().list_keys(ListKeysRequest { page_size: i32::MAX, ..Default::default() }).await.unwrap();
    assert!(page.into_inner().next_page_token.is_empty());

    for token in ["garbage", "!!!", "djEuZm9vLmJhcg", &"A".repeat(10_000), "\u{1F600}"] {
        let request = ListUsersRequest { page_token: token.into(), ..Default::default() };
        let status = server.users().list_users(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "token {token:?}");
        assert_eq!(bad_fields(&status), ["page_token"], "token {token:?}");
    }
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    let server = TestServer::start().await;
    let status = raw_call::<_, RawBytes>(&server, "/switchboard.v1.EchoService/Nope", RawBytes::default()).await;
    assert_eq!(status.unwrap_err().code(), Code::Unimplemented);
    assert_still_serving(&server).await;
}
