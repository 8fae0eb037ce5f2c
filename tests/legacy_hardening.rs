//! Bad input and bad clients on the legacy ports: each is refused or contained, and the
//! server keeps serving everyone else during and after.

mod common;

use std::time::Duration;

use common::{
    TestServer,
    raw::{PATIENCE, Raw, frame, noise},
    test_config,
};
use switchboard::legacy::Protocol;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpSocket,
};

/// Each protocol still does its job for a new client.
async fn serves_everyone(server: &TestServer) {
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET alive yes\nGET alive\n").await;
    kv.expect(b"OK\nyes\n").await;
    let mut echo = Raw::connect(server.legacy(Protocol::Echo)).await;
    echo.send(b"alive\n").await;
    echo.expect(b"alive\n").await;
    let mut binary = Raw::connect(server.legacy(Protocol::Binary)).await;
    binary.send(&frame(0x02, b"")).await;
    binary.expect(&[0, 0, 0, 1, 0x03]).await;
    let name = format!("witness{}", rand_suffix());
    let mut chat = Raw::chat(server.legacy(Protocol::Chat), &name).await;
    chat.send(b"/quit\n").await;
    chat.closed().await;
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn a_10_mib_line_gets_an_error_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    let mut line = vec![b'x'; 10 << 20];
    line.extend_from_slice(b"\nSET after ok\n");
    kv.send(&line).await;
    kv.expect(b"ERROR: Line too long (the limit is 65536 bytes)\nOK\n").await;
    serves_everyone(&server).await;
}

#[tokio::test]
async fn a_frame_header_announcing_4_gib_is_refused() {
    let server = TestServer::start().await;
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    raw.send(&[0xff, 0xff, 0xff, 0xff, 0x01]).await;
    assert!(raw.closed().await.is_empty());
    // Just above the limit is refused too; the limit itself is tested in legacy_binary.rs.
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    raw.send(&[0x00, 0x10, 0x00, 0x01, 0x01]).await;
    assert!(raw.closed().await.is_empty());
    serves_everyone(&server).await;
}

#[tokio::test]
async fn random_bytes_on_every_port_are_contained() {
    let server = TestServer::start().await;
    for (i, protocol) in Protocol::ALL.into_iter().enumerate() {
        let raw = Raw::connect(server.legacy(protocol)).await;
        let (mut read, mut write) = raw.stream.into_inner().into_split();
        // Whatever the server answers is read meanwhile, so its replies never back up.
        let reader = tokio::spawn(async move { tokio::io::copy(&mut read, &mut tokio::io::sink()).await });
        // The server may close on us mid-write (binary): that is containment too.
        let _ = write.write_all(&noise(256 * 1024, 0x9e37_79b9 + i as u64)).await;
        let _ = write.shutdown().await;
        let closed = tokio::time::timeout(PATIENCE, reader).await;
        assert!(closed.is_ok(), "{protocol}: the server kept the connection open");
    }
    serves_everyone(&server).await;
}

#[tokio::test]
async fn half_a_frame_then_silence_is_closed_at_the_idle_deadline() {
    let mut config = test_config();
    config.legacy_idle_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(config).await;
    let mut stalled = Raw::connect(server.legacy(Protocol::Binary)).await;
    stalled.send(&[0, 0, 0, 100, 0x01, b'h', b'a', b'l', b'f']).await;
    // Others are served while it stalls.
    let mut other = Raw::connect(server.legacy(Protocol::Binary)).await;
    other.send(&frame(0x02, b"")).await;
    other.expect(&[0, 0, 0, 1, 0x03]).await;
    assert!(stalled.closed().await.is_empty());
    // Idle KV and echo connections are closed too; an idle chat member is not (it listens).
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    assert!(kv.closed().await.is_empty());
    let mut listener = Raw::chat(server.legacy(Protocol::Chat), "listener").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _speaker = Raw::chat(server.legacy(Protocol::Chat), "speaker").await;
    listener.expect(b"*** speaker joined the chat ***\n").await;
}

#[tokio::test]
async fn a_chat_member_that_never_reads_is_let_go_and_never_slows_the_room() {
    let mut config = test_config();
    config.legacy_idle_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(config).await;
    let addr = server.legacy(Protocol::Chat);

    // A small receive buffer, so the server's writes to it stall soon.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut lazy = socket.connect(addr).await.unwrap();
    lazy.write_all(b"lazy\n").await.unwrap();

    let loud = Raw::chat(addr, "loud").await;
    let (read, mut write) = loud.stream.into_inner().into_split();
    let watcher = tokio::spawn(async move {
        let mut read = BufReader::new(read);
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await.unwrap() == 0 {
                return false;
            }
            if line == "*** lazy left the chat ***\n" {
                return true;
            }
        }
    });
    let text = format!("{}\n", "z".repeat(4000));
    let flood = tokio::spawn(async move {
        // Until the lazy member is gone, capped at 256 MB so a broken server fails the test.
        for _ in 0..64_000 {
            if write.write_all(text.as_bytes()).await.is_err() {
                break;
            }
        }
        write
    });
    // Meanwhile the room serves others.
    let mut a = Raw::chat(addr, "a").await;
    a.send(b"still fine\n").await;
    a.line_until("[a] still fine").await;

    let left = tokio::time::timeout(Duration::from_secs(60), watcher).await.expect("lazy let go in time").unwrap();
    assert!(left, "loud saw lazy leave");
    flood.abort();
    drop(lazy);
    serves_everyone(&server).await;
}

#[tokio::test]
async fn connections_above_the_cap_are_told_and_closed() {
    let mut config = test_config();
    config.legacy_max_connections = 2;
    let server = TestServer::start_with(config).await;
    let first = Raw::kv(server.legacy(Protocol::Kv)).await;
    let mut second = Raw::connect(server.legacy(Protocol::Echo)).await;
    // Answered, so the server holds its permit before the next connection arrives.
    second.send(b"x\n").await;
    second.expect(b"x\n").await;
    // The cap is over every legacy protocol.
    let mut third = Raw::connect(server.legacy(Protocol::Kv)).await;
    third.expect(b"ERROR: Too many connections, try again later\n").await;
    assert!(third.closed().await.is_empty());
    let mut binary = Raw::connect(server.legacy(Protocol::Binary)).await;
    assert!(binary.closed().await.is_empty(), "binary clients are closed without text");
    drop(first);
    // The permit comes back once the server notices the close.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut again = Raw::connect(server.legacy(Protocol::Kv)).await;
        let first_line = again.line().await;
        if first_line == "KV Store Server v1.0" {
            break;
        }
        assert_eq!(first_line, "ERROR: Too many connections, try again later");
        assert!(tokio::time::Instant::now() < deadline, "the permit never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn shutdown_closes_legacy_connections_and_listeners() {
    let server = TestServer::start().await;
    let kv_addr = server.legacy(Protocol::Kv);
    let mut kv = Raw::kv(kv_addr).await;
    let mut chat = Raw::chat(server.legacy(Protocol::Chat), "bye").await;
    tokio::time::timeout(PATIENCE, server.server.shutdown()).await.expect("shutdown in time");
    kv.closed().await;
    chat.closed().await;
    assert!(tokio::net::TcpStream::connect(kv_addr).await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn listeners_can_be_turned_off() {
    let mut config = test_config();
    config.legacy_echo_listen = "off".parse().unwrap();
    let server = TestServer::start_with(config).await;
    assert_eq!(server.server.legacy_addr(Protocol::Echo), None);
    assert!(server.server.legacy_addr(Protocol::Kv).is_some());
}

#[tokio::test]
async fn half_a_call_frame_from_a_client_that_leaves_changes_nothing() {
    use prost::Message as _;
    use switchboard::pb::{CreateUserRequest, ListUsersRequest, User};
    let server = TestServer::start().await;
    let method = b"/switchboard.v1.UserService/CreateUser";
    let request = CreateUserRequest {
        user: Some(User { username: "ghost".into(), email: "ghost@example.com".into(), ..User::default() }),
    };
    let mut payload = (method.len() as u16).to_be_bytes().to_vec();
    payload.extend_from_slice(method);
    payload.extend_from_slice(&[0, 0]);
    payload.extend_from_slice(&request.encode_to_vec());
    let whole = frame(0x10, &payload);
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    raw.send(&whole[..whole.len() - 3]).await;
    raw.stream.get_mut().shutdown().await.unwrap();
    assert!(raw.closed().await.is_empty());
    let users = server.users().list_users(ListUsersRequest::default()).await.unwrap().into_inner().users;
    assert!(users.is_empty(), "{users:?}");
    // The same frame, whole, does create the user: the test above could fail.
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    raw.send(&whole).await;
    let (kind, reply) = raw.frame().await;
    assert_eq!((kind, &reply[..4]), (0x11, &[0u8, 0, 0, 0][..]));
}

#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let mut config = test_config();
    config.legacy_max_connections_per_peer = 2;
    let server = TestServer::start_with(config).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut echo = Raw::connect(server.legacy(Protocol::Echo)).await;
        // Answered, so the server holds the slot before the next connection arrives.
        echo.send(b"x\n").await;
        echo.expect(b"x\n").await;
        held.push(echo);
    }
    let mut third = Raw::connect(server.legacy(Protocol::Kv)).await;
    third.expect(b"ERROR: Too many connections from your address\n").await;
    assert!(third.closed().await.is_empty());

    // Another address (all of 127.0.0.0/8 is this machine) still gets in.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(server.legacy(Protocol::Echo)).await.unwrap();
    other.write_all(b"from elsewhere\n").await.unwrap();
    let mut reply = String::new();
    BufReader::new(&mut other).read_line(&mut reply).await.unwrap();
    assert_eq!(reply, "from elsewhere\n");
}
