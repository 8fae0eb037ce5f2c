//! The legacy binary frame protocol over raw TCP: the seed's frames byte for byte, and call
//! frames that reach unary gRPC methods through the same layers as the gRPC port.

mod common;

use common::{
    API_KEY, TestServer,
    raw::{Raw, frame},
    test_config,
};
use prost::Message;
use switchboard::{
    legacy::Protocol,
    pb::{CreatePaymentRequest, CreateUserRequest, GetRequest, GetUserRequest, Payment, User},
};
use tokio::io::AsyncWriteExt as _;
use tonic::Code;

const ECHO: u8 = 0x01;
const PING: u8 = 0x02;
const PONG: u8 = 0x03;
const DATA: u8 = 0x04;
const CALL: u8 = 0x10;
const REPLY: u8 = 0x11;

/// A call frame as the README documents it.
fn call(method: &str, metadata: &[(&str, &str)], request: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(method.len() as u16).to_be_bytes());
    payload.extend_from_slice(method.as_bytes());
    payload.extend_from_slice(&(metadata.len() as u16).to_be_bytes());
    for (key, value) in metadata {
        payload.extend_from_slice(&(key.len() as u16).to_be_bytes());
        payload.extend_from_slice(key.as_bytes());
        payload.extend_from_slice(&(value.len() as u16).to_be_bytes());
        payload.extend_from_slice(value.as_bytes());
    }
    payload.extend_from_slice(request);
    frame(CALL, &payload)
}

/// Reads a reply frame: (code, message, response).
async fn reply(raw: &mut Raw) -> (Code, String, Vec<u8>) {
    let (kind, payload) = raw.frame().await;
    assert_eq!(kind, REPLY);
    let code = Code::from(i32::from(u16::from_be_bytes([payload[0], payload[1]])));
    let length = usize::from(u16::from_be_bytes([payload[2], payload[3]]));
    let message = String::from_utf8(payload[4..4 + length].to_vec()).unwrap();
    (code, message, payload[4 + length..].to_vec())
}

#[tokio::test]
async fn echo_ping_and_data_frames_are_answered_like_the_seed() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    // Data gets no reply and an unknown type is ignored, so the Pong is the next thing read.
    let mut burst = frame(DATA, b"some data");
    burst.extend(frame(0x7f, b"unknown"));
    burst.extend(frame(PING, b""));
    burst.extend(frame(ECHO, b"hello"));
    burst.extend(frame(ECHO, b""));
    raw.send(&burst).await;
    raw.expect(&[0, 0, 0, 1, PONG]).await;
    raw.expect(b"\x00\x00\x00\x06\x01hello").await;
    raw.expect(&[0, 0, 0, 1, ECHO]).await;
}

#[tokio::test]
async fn a_frame_at_the_limit_is_echoed_even_when_it_arrives_in_pieces() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    let big = frame(ECHO, &vec![7u8; 1024 * 1024 - 1]);
    assert_eq!(&big[..4], &[0, 0x10, 0, 0], "length 1 MiB: the largest the seed accepts");
    // In pieces with pauses between, so the server assembles the frame from partial reads.
    let (read, mut write) = raw.stream.into_inner().into_split();
    let pieces = big.clone();
    let writer = tokio::spawn(async move {
        for piece in pieces.chunks(100_000) {
            write.write_all(piece).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        write
    });
    raw = Raw { stream: tokio::io::BufReader::new(read.reunite(writer.await.unwrap()).unwrap()) };
    assert!(raw.read_exact(big.len()).await == big, "the echo differs");
}

#[tokio::test]
async fn a_call_frame_creates_a_user_that_grpc_get_user_returns() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    let request = CreateUserRequest {
        user: Some(User { username: "binary".into(), email: "binary@example.com".into(), age: 42, ..User::default() }),
    };
    raw.send(&call("/switchboard.v1.UserService/CreateUser", &[], &request.encode_to_vec())).await;
    let (code, message, response) = reply(&mut raw).await;
    assert_eq!((code, message.as_str()), (Code::Ok, ""));
    let created = User::decode(&response[..]).unwrap();
    assert_eq!(created.username, "binary");

    let fetched = server.users().get_user(GetUserRequest { id: created.id }).await.unwrap().into_inner();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn call_frames_carry_statuses_and_metadata() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;

    // A status with its message; the leading slash is optional.
    raw.send(&call("switchboard.v1.KvService/Get", &[], &GetRequest { key: "nope".into() }.encode_to_vec())).await;
    assert_eq!(reply(&mut raw).await, (Code::NotFound, "Key not found".into(), vec![]));

    // Validation is the service's: the same message a gRPC client gets.
    raw.send(&call("/switchboard.v1.KvService/Get", &[], &GetRequest { key: "bad key".into() }.encode_to_vec())).await;
    let (code, message, _) = reply(&mut raw).await;
    assert_eq!((code, message.as_str()), (Code::InvalidArgument, "key: must not contain spaces or control characters"));

    // Metadata reaches the service: payments need x-api-key and an idempotency-key.
    let payment = CreatePaymentRequest {
        amount_minor: 1999,
        currency: "USD".into(),
        customer_id: "cust_1".into(),
        description: "binary".into(),
    }
    .encode_to_vec();
    raw.send(&call("/switchboard.v1.PaymentService/CreatePayment", &[], &payment)).await;
    assert_eq!(reply(&mut raw).await.0, Code::Unauthenticated);
    let metadata = [("x-api-key", API_KEY), ("idempotency-key", "order-1")];
    raw.send(&call("/switchboard.v1.PaymentService/CreatePayment", &metadata, &payment)).await;
    let (code, message, response) = reply(&mut raw).await;
    assert_eq!(code, Code::Ok, "{message}");
    let first = Payment::decode(&response[..]).unwrap();
    raw.send(&call("/switchboard.v1.PaymentService/CreatePayment", &metadata, &payment)).await;
    let again = Payment::decode(&reply(&mut raw).await.2[..]).unwrap();
    assert_eq!(first.id, again.id, "the same idempotency key is the same payment");
}

#[tokio::test]
async fn streaming_unknown_and_malformed_calls_get_a_status_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    raw.send(&call("/switchboard.v1.KvService/Watch", &[], b"")).await;
    let (code, message, _) = reply(&mut raw).await;
    assert_eq!(code, Code::Unimplemented);
    assert!(message.contains("streaming"), "{message}");
    raw.send(&call("/switchboard.v1.KvService/Nope", &[], b"")).await;
    assert_eq!(reply(&mut raw).await.0, Code::Unimplemented);
    raw.send(&frame(CALL, &[0, 200, b'/'])).await;
    let (code, message, _) = reply(&mut raw).await;
    assert_eq!(
        (code, message.as_str()),
        (Code::InvalidArgument, "malformed call frame: the call frame ends inside its method name")
    );
    raw.send(&call("/switchboard.v1.EchoService/Echo", &[("grpc-timeout", "1S")], b"")).await;
    assert_eq!(reply(&mut raw).await.0, Code::InvalidArgument);
    raw.send(&call("/switchboard.v1.EchoService/Echo", &[], b"\xff\xff")).await;
    assert_eq!(reply(&mut raw).await.0, Code::InvalidArgument, "undecodable protobuf, as on the gRPC port");
    // Health is reachable too.
    raw.send(&call("/grpc.health.v1.Health/Check", &[], b"")).await;
    assert_eq!(reply(&mut raw).await, (Code::Ok, String::new(), vec![0x08, 0x01]));
    raw.send(&frame(PING, b"")).await;
    raw.expect(&[0, 0, 0, 1, PONG]).await;
}

#[tokio::test]
async fn call_frames_go_through_the_grpc_layers() {
    // The status-codes layer turns tonic's OUT_OF_RANGE for an oversized request into
    // RESOURCE_EXHAUSTED on the gRPC port; a call frame must see the same.
    let mut config = test_config();
    config.max_message_bytes = 1024;
    let server = TestServer::start_with(config).await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    let oversized = switchboard::pb::EchoRequest { message: "x".repeat(2000) }.encode_to_vec();
    raw.send(&call("/switchboard.v1.EchoService/Echo", &[], &oversized)).await;
    let (code, message, _) = reply(&mut raw).await;
    assert_eq!(code, Code::ResourceExhausted, "{message}");
    assert!(message.starts_with("request message too large"), "{message}");
}

/// The bytes of the README's worked example, exactly.
#[tokio::test]
async fn the_readme_worked_example_is_byte_exact() {
    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    let get = hex("00 00 00 2c 10 00 1d 2f 73 77 69 74 63 68 62 6f 61 72 64 2e 76 31 2e 4b 76 53 65 72 76 69 63 65 \
         2f 47 65 74 00 00 0a 08 67 72 65 65 74 69 6e 67");
    assert_eq!(get, call("/switchboard.v1.KvService/Get", &[], &GetRequest { key: "greeting".into() }.encode_to_vec()));
    raw.send(&get).await;
    raw.expect(&hex("00 00 00 12 11 00 05 00 0d 4b 65 79 20 6e 6f 74 20 66 6f 75 6e 64")).await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET greeting hello world\n").await;
    kv.expect(b"OK\n").await;
    raw.send(&get).await;
    raw.expect(&hex("00 00 00 1c 11 00 00 00 00 0a 08 67 72 65 65 74 69 6e 67 12 0b 68 65 6c 6c 6f 20 77 6f 72 6c 64"))
        .await;
    let mut ping = Raw::connect(server.legacy(Protocol::Binary)).await;
    ping.send(&hex("00 00 00 01 02")).await;
    ping.expect(&hex("00 00 00 01 03")).await;
}
