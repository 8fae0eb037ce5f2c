//! gRPC-Web on the gRPC port: what a browser sends (HTTP/1.1 POSTs of
//! `application/grpc-web+proto`, with CORS preflights), for a unary and a server-streaming
//! rpc. The requests are built by hand, byte for byte, so the test shows the wire format.

mod common;

use bytes::{Buf, Bytes};
use common::{TestServer, test_config};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use prost::Message;
use switchboard::pb::{
    DownloadRequest, DownloadResponse, EchoRequest, EchoResponse, UploadRequest, download_response, upload_request,
};
use tonic::codegen::http::{Method, Request, StatusCode};

const ORIGIN: &str = "https://app.example.com";

/// One gRPC-Web frame: flag byte (0 = message, 0x80 = trailers), u32 length, payload.
fn frame(message: &impl Message) -> Bytes {
    let payload = message.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&payload);
    out.into()
}

/// Splits a gRPC-Web response body into its message payloads and its trailer block.
fn frames(mut body: Bytes) -> (Vec<Bytes>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.has_remaining() {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flag & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(&payload));
        } else {
            messages.push(payload);
        }
    }
    (messages, trailers)
}

async fn post(server: &TestServer, method: &str, body: Bytes) -> (StatusCode, tonic::codegen::http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/{method}", server.addr()))
        .version(tonic::codegen::http::Version::HTTP_11)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", ORIGIN)
        .body(Full::new(body))
        .unwrap();
    let response = client.request(request).await.expect("an HTTP/1.1 response");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
}

async fn web_server() -> TestServer {
    let mut config = test_config();
    config.cors_allow_origins = vec![ORIGIN.to_owned()];
    TestServer::start_with(config).await
}

#[tokio::test]
async fn a_browser_can_call_a_unary_rpc() {
    let server = web_server().await;
    let (status, headers, body) =
        post(&server, "switchboard.v1.EchoService/Echo", frame(&EchoRequest { message: "from a browser".into() }))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/grpc-web"), "{headers:?}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let (messages, trailers) = frames(body);
    assert_eq!(messages.len(), 1);
    assert_eq!(EchoResponse::decode(messages[0].clone()).unwrap().message, "from a browser");
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");

    // Errors come back as gRPC statuses in the trailer frame (or headers), not HTTP errors.
    let (status, headers, body) =
        post(&server, "switchboard.v1.KvService/Get", frame(&switchboard::pb::GetRequest { key: "nope".into() })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, trailers) = frames(body);
    let code = headers.get("grpc-status").map(|v| v.to_str().unwrap().to_owned());
    assert!(trailers.contains("grpc-status:5") || code.as_deref() == Some("5"), "{headers:?} {trailers:?}");
}

#[tokio::test]
async fn a_browser_can_call_a_server_streaming_rpc() {
    let server = web_server().await;
    let content = Bytes::from(vec![b'x'; 100_000]);
    let uploads = vec![
        UploadRequest {
            part: Some(upload_request::Part::Info(switchboard::pb::FileInfo {
                name: "web.bin".into(),
                ..Default::default()
            })),
        },
        UploadRequest { part: Some(upload_request::Part::Chunk(content.clone())) },
    ];
    server.files().upload(tokio_stream::iter(uploads)).await.unwrap();

    let (status, _, body) =
        post(&server, "switchboard.v1.FileService/Download", frame(&DownloadRequest { name: "web.bin".into() })).await;
    assert_eq!(status, StatusCode::OK);
    let (messages, trailers) = frames(body);
    assert!(messages.len() >= 2, "an info message then chunks");
    let mut downloaded = Vec::new();
    for message in messages {
        if let Some(download_response::Part::Chunk(chunk)) = DownloadResponse::decode(message).unwrap().part {
            downloaded.extend_from_slice(&chunk);
        }
    }
    assert_eq!(downloaded, content);
    assert!(trailers.contains("grpc-status:0"), "{trailers:?}");
}

#[tokio::test]
async fn cors_preflight_allows_the_configured_origin_only() {
    let server = web_server().await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(format!("http://{}/switchboard.v1.EchoService/Echo", server.addr()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-grpc-web,authorization")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let allowed = client.request(preflight(ORIGIN)).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], ORIGIN);
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    assert!(allowed_headers.contains("x-grpc-web") && allowed_headers.contains("authorization"), "{allowed_headers}");

    let other = client.request(preflight("https://evil.example")).await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{:?}", other.headers());
}
