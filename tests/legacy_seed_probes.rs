//! The defects `../shared/peers/seed-go/probes.sh` reproduces in the seed's Go servers, each
//! as a test that Switchboard passes. P3–P6 probe the raw-TCP servers the legacy adapter
//! replaces; P1 and P2 probe the seed's REST users API, which Switchboard serves as gRPC
//! `UserService` (and to binary call frames), so they are asked of that.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::{
    TestServer,
    raw::{PATIENCE, Raw, frame},
};
use switchboard::{
    legacy::Protocol,
    pb::{CreateUserRequest, GetRequest, GetUserRequest, ListUsersRequest, UpdateUserRequest, User},
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tonic::Code;

/// P3: the seed's chat `Run()` sends join/leave notices into its own full broadcast channel
/// and blocks forever when someone joins during a flood. Here a member joins mid-flood and
/// is welcomed, and the room still works afterwards.
#[tokio::test]
async fn p3_a_member_joining_during_a_flood_is_welcomed_and_the_room_survives() {
    let server = TestServer::start().await;
    let addr = server.legacy(Protocol::Chat);
    let mut drains = Vec::new();
    let mut senders = Vec::new();
    for i in 0..12 {
        let member = Raw::chat(addr, &format!("s{i}")).await;
        let (read, write) = member.stream.into_inner().into_split();
        // Every member reads everything, as chatload's clients do.
        drains.push(tokio::spawn(async move {
            let mut read = read;
            let _ = tokio::io::copy(&mut read, &mut tokio::io::sink()).await;
        }));
        if i < 6 {
            senders.push(write);
        } else {
            drop(write);
        }
    }
    let line = format!("{}\n", "m".repeat(31));
    let batch = line.repeat(16);
    let flooding = Arc::new(AtomicBool::new(true));
    let mut floods = Vec::new();
    for mut sender in senders {
        let batch = batch.clone();
        let flooding = Arc::clone(&flooding);
        floods.push(tokio::spawn(async move {
            let mut sent = 0;
            // 16 lines per write, as chatload does, until the late member is in (capped, so
            // a broken test cannot flood forever).
            while flooding.load(Ordering::Relaxed) && sent < 20_000 {
                if sender.write_all(batch.as_bytes()).await.is_err() {
                    break;
                }
                sent += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            sender
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(floods.iter().all(|flood| !flood.is_finished()), "still flooding when the late member joins");
    // Raw::chat checks the welcome and the joiner's own join notice, within PATIENCE.
    let mut late = Raw::chat(addr, "late").await;
    flooding.store(false, Ordering::Relaxed);
    let mut senders = Vec::new();
    for flood in floods {
        senders.push(flood.await.unwrap());
    }
    // The server may still be working through what the senders wrote, and the late member,
    // which did not read during the flood, may skip a message (it is told so): say something
    // until it comes back.
    let spoken = tokio::time::timeout(Duration::from_secs(60), async {
        for attempt in 0.. {
            late.send(format!("made it {attempt}\n").as_bytes()).await;
            loop {
                let line = late.line().await;
                if line == format!("[late] made it {attempt}") {
                    return;
                }
                assert!(
                    line.starts_with("[s") || line.starts_with("[late] made it") || line.contains("skipped"),
                    "{line}"
                );
                if line.contains("skipped") {
                    break;
                }
            }
        }
    })
    .await;
    assert!(spoken.is_ok(), "the late member's message never came back");
    let _after = Raw::chat(addr, "after").await;
    drop(senders);
    for drain in drains {
        drain.abort();
    }
}

/// P4: the seed collapsed whitespace inside values (`strings.Fields` re-joined with one
/// space). `NULL` for a missing key stays as the seed said it, so a stored `NULL` reads the
/// same on the text wire; gRPC tells the two apart.
#[tokio::test]
async fn p4_values_keep_their_spacing_and_null_is_told_apart_over_grpc() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(b"SET k   two   spaces\nGET k\nSET n NULL\nGET n\nGET missing\n").await;
    kv.expect(b"OK\ntwo   spaces\nOK\nNULL\nNULL\n").await;
    let mut grpc = server.kv();
    assert_eq!(grpc.get(GetRequest { key: "n".into() }).await.unwrap().into_inner().value, "NULL");
    assert_eq!(grpc.get(GetRequest { key: "missing".into() }).await.unwrap_err().code(), Code::NotFound);
}

/// P4: a 70 kB `SET` made the seed's `bufio.Scanner` drop the connection without a reply.
#[tokio::test]
async fn p4_a_70_kb_set_gets_an_error_line_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut kv = Raw::kv(server.legacy(Protocol::Kv)).await;
    kv.send(format!("SET big {}\nSET small v\nGET big\nGET small\n", "v".repeat(70_000)).as_bytes()).await;
    kv.expect(b"ERROR: Line too long (the limit is 65536 bytes)\nOK\nNULL\nv\n").await;
}

/// P5: a 5-byte frame announcing length 0 underflowed `length - 1` in the seed and made it
/// allocate 4 GiB per connection (and die under a memory limit). Here it is refused, the
/// connection closes, and the server keeps serving.
#[tokio::test]
async fn p5_a_zero_length_frame_is_refused_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let addr = server.legacy(Protocol::Binary);
    let mut witness = Raw::connect(addr).await;
    let mut attackers = Vec::new();
    for _ in 0..2 {
        let mut attacker = Raw::connect(addr).await;
        attacker.send(&[0, 0, 0, 0, 1]).await;
        attackers.push(attacker);
    }
    for attacker in &mut attackers {
        assert!(attacker.closed().await.is_empty(), "refused without a reply");
    }
    witness.send(&frame(0x02, b"")).await;
    witness.expect(&[0, 0, 0, 1, 0x03]).await;
    let mut fresh = Raw::connect(addr).await;
    fresh.send(&frame(0x01, b"alive")).await;
    fresh.expect(&frame(0x01, b"alive")).await;
}

/// P6: the seed's echo server buffered a line without a newline until memory ran out
/// (128 MiB in the probe). Here the line is reported as too long as soon as it passes the
/// limit — while it is still arriving, so it is not being buffered — and skipped.
#[tokio::test]
async fn p6_an_endless_line_is_cut_off_at_the_limit_not_buffered() {
    let server = TestServer::start().await;
    let echo = Raw::connect(server.legacy(Protocol::Echo)).await;
    let (read, mut write) = echo.stream.into_inner().into_split();
    let mut read = BufReader::new(read);
    let megabyte = vec![b'a'; 1 << 20];
    // Well past the limit, no newline yet: the error must already be there.
    for _ in 0..32 {
        write.write_all(&megabyte).await.unwrap();
    }
    let mut line = String::new();
    tokio::time::timeout(PATIENCE, read.read_line(&mut line)).await.unwrap().unwrap();
    assert_eq!(line, "ERROR: Line too long (the limit is 65536 bytes)\n");
    write.write_all(b"tail of the long line\nnext\n").await.unwrap();
    line.clear();
    tokio::time::timeout(PATIENCE, read.read_line(&mut line)).await.unwrap().unwrap();
    assert_eq!(line, "next\n");
}

fn user(username: &str, email: &str, age: i32) -> User {
    User { username: username.into(), email: email.into(), age, ..User::default() }
}

/// P1: the seed's PUT updated the shared user in place while GET encoded it after releasing
/// the lock (a data race the race detector reports). Here concurrent updates and reads of one
/// user only ever see whole versions of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_concurrent_updates_and_reads_of_one_user_see_whole_versions() {
    let server = TestServer::start().await;
    let id = server
        .users()
        .create_user(CreateUserRequest { user: Some(user("v0", "p1@example.com", 0)) })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut tasks = Vec::new();
    for writer in 0..2 {
        let mut users = server.users();
        tasks.push(tokio::spawn(async move {
            for i in 0..150 {
                // Ages are 0..=150: each writer has its own half of the range.
                let age = writer * 75 + i % 75 + 1;
                let update = UpdateUserRequest {
                    user: Some(User { id, ..user(&format!("v{age}"), "", age) }),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["username".into(), "age".into()] }),
                };
                users.update_user(update).await.unwrap();
            }
        }));
    }
    for _ in 0..2 {
        let mut users = server.users();
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let got = users.get_user(GetUserRequest { id }).await.unwrap().into_inner();
                assert_eq!(got.username, format!("v{}", got.age), "a torn read: {got:?}");
                assert_eq!(got.email, "p1@example.com");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// P2: the seed's update skipped Create's e-mail uniqueness check, blanked a user on an empty
/// body, accepted `/api/users/1/anything` and trailing garbage, and stored a 64 MiB username.
#[tokio::test]
async fn p2_updates_are_validated_like_creates_and_sizes_are_bounded() {
    let server = TestServer::start().await;
    let mut users = server.users();
    let a = users.create_user(CreateUserRequest { user: Some(user("a", "a@x.test", 1)) }).await.unwrap().into_inner();
    let b = users.create_user(CreateUserRequest { user: Some(user("b", "b@x.test", 2)) }).await.unwrap().into_inner();

    let steal = UpdateUserRequest {
        user: Some(User { id: b.id, email: "A@x.test".into(), ..User::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    };
    assert_eq!(users.update_user(steal).await.unwrap_err().code(), Code::AlreadyExists);

    let empty = UpdateUserRequest { user: Some(User { id: b.id, ..User::default() }), update_mask: None };
    assert_eq!(users.update_user(empty).await.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(users.get_user(GetUserRequest { id: b.id }).await.unwrap().into_inner(), b, "b is unchanged");

    let huge = CreateUserRequest { user: Some(user(&"u".repeat(64 << 20), "big@x.test", 3)) };
    assert_eq!(users.create_user(huge).await.unwrap_err().code(), Code::ResourceExhausted);
    let listed = users.list_users(ListUsersRequest::default()).await.unwrap().into_inner().users;
    assert_eq!(listed, [a.clone(), b], "nothing else was stored");

    // A method path with extra segments is no method, not GetUser (the binary call frames
    // share the gRPC port's routing).
    let mut raw = Raw::connect(server.legacy(Protocol::Binary)).await;
    let method = b"/switchboard.v1.UserService/GetUser/anything";
    let mut payload = (method.len() as u16).to_be_bytes().to_vec();
    payload.extend_from_slice(method);
    payload.extend_from_slice(&[0, 0]);
    raw.send(&frame(0x10, &payload)).await;
    let (kind, reply) = raw.frame().await;
    assert_eq!((kind, u16::from_be_bytes([reply[0], reply[1]])), (0x11, Code::Unimplemented as u16));
}
