//! `sbctl` end to end: the real binary as a subprocess against the real server on loopback,
//! asserting what a shell user sees — output and exit code — for every subcommand.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command as StdCommand, Stdio},
    sync::mpsc,
    time::Duration,
};

use assert_cmd::Command;
use common::{API_KEY, BlockingServer, slow_proxy, test_config};
use predicates::prelude::*;
use serde_json::Value;

const ENV: [&str; 6] =
    ["SBCTL_SERVER", "SBCTL_TOKEN", "SBCTL_API_KEY", "SBCTL_CA_CERT", "SBCTL_TIMEOUT", "SBCTL_OUTPUT"];

/// `sbctl --server <server>` with no SBCTL_* settings inherited from the environment.
fn sbctl_at(url: &str) -> Command {
    let mut command = Command::cargo_bin("sbctl").expect("the sbctl binary");
    for name in ENV {
        command.env_remove(name);
    }
    command.args(["--server", url]).timeout(Duration::from_secs(60));
    command
}

fn sbctl(server: &BlockingServer) -> Command {
    sbctl_at(&server.url())
}

/// Runs with `--output json` and returns the parsed stdout, asserting exit 0.
fn json(server: &BlockingServer, args: &[&str]) -> Value {
    let output = sbctl(server).args(["--output", "json"]).args(args).output().expect("sbctl runs");
    assert!(output.status.success(), "sbctl {args:?} failed: {output:?}");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("sbctl {args:?} printed no JSON ({e}): {output:?}"))
}

#[test]
fn usage_errors_exit_2() {
    let server = BlockingServer::start();
    sbctl(&server).assert().code(2).stderr(predicate::str::contains("Usage"));
    sbctl(&server).args(["users", "get", "not-a-number"]).assert().code(2);
    sbctl(&server).args(["users", "update", "1"]).assert().code(2).stderr(predicate::str::contains("--username"));
    sbctl(&server).args(["--timeout", "soon", "ping"]).assert().code(2);
    sbctl(&server).args(["chat"]).assert().code(2).stderr(predicate::str::contains("--name"));
    sbctl_at("not a uri").arg("ping").assert().code(2).stderr(predicate::str::contains("server address"));
    sbctl_at("https://localhost:1").args(["--ca-cert", "/no/such/ca.pem", "ping"]).assert().code(1);
    // --help documents the exit codes.
    sbctl(&server).arg("--help").assert().success().stdout(predicate::str::contains("9   UNAVAILABLE"));
}

#[test]
fn health_echo_and_ping() {
    let server = BlockingServer::start();
    sbctl(&server).arg("health").assert().success().stdout(predicate::str::contains("SERVING"));
    let health = json(&server, &["health", "switchboard.v1.KvService"]);
    assert_eq!(health["status"], "SERVING");
    sbctl(&server).args(["health", "switchboard.v1.Nope"]).assert().code(4);

    sbctl(&server).args(["echo", "hello there"]).assert().success().stdout("message  hello there\n");
    let ping = json(&server, &["ping"]);
    assert!(ping["server_time"].as_str().is_some_and(|t| t.ends_with('Z')), "{ping}");
}

#[test]
fn users_every_subcommand() {
    let server = BlockingServer::start();
    let created =
        json(&server, &["users", "create", "--username", "alice", "--email", "alice@example.com", "--age", "30"]);
    let id = created["id"].as_i64().expect("an id").to_string();
    assert_eq!(created["username"], "alice");

    sbctl(&server)
        .args(["users", "get", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("email").and(predicate::str::contains("alice@example.com")));
    let listed = json(&server, &["users", "list", "--query", "ALI"]);
    assert_eq!(listed["users"][0]["id"].as_i64().map(|i| i.to_string()), Some(id.clone()));
    sbctl(&server)
        .args(["users", "list"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ID").and(predicate::str::contains("alice@example.com")));
    let updated = json(&server, &["users", "update", &id, "--age", "31"]);
    assert_eq!((updated["age"].as_i64(), &updated["username"]), (Some(31), &Value::from("alice")));

    sbctl(&server)
        .args(["users", "create", "--username", "a2", "--email", "ALICE@example.com"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("already exists"));
    sbctl(&server)
        .args(["users", "create", "--username", "bob", "--email", "nope", "--age", "500"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("user.email").and(predicate::str::contains("user.age")));
    let output = sbctl(&server)
        .args(["--output", "json", "users", "create", "--username", "bob", "--email", "nope"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let error: Value = serde_json::from_slice(&output.stderr).expect("a JSON error on stderr");
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT", "{error}");
    assert_eq!(error["error"]["fields"][0]["field"], "user.email", "{error}");

    sbctl(&server).args(["users", "delete", &id]).assert().success().stdout(predicate::str::contains("deleted"));
    sbctl(&server).args(["users", "get", &id]).assert().code(4).stderr(predicate::str::contains("not found"));
    sbctl(&server).args(["users", "delete", &id]).assert().code(4);
}

#[test]
fn kv_every_subcommand() {
    let server = BlockingServer::start();
    sbctl(&server)
        .args(["kv", "set", "greeting", "hello", "world"])
        .assert()
        .success()
        .stdout(predicate::str::contains("false"));
    sbctl(&server).args(["kv", "get", "greeting"]).assert().success().stdout("hello world\n");
    assert_eq!(json(&server, &["kv", "set", "greeting", "again"])["replaced"], true);
    sbctl(&server).args(["kv", "set", "other", "x"]).assert().success();
    assert_eq!(json(&server, &["kv", "list"])["keys"], serde_json::json!(["greeting", "other"]));
    sbctl(&server).args(["kv", "list", "--prefix", "gr"]).assert().success().stdout("greeting\n");
    sbctl(&server).args(["kv", "delete", "greeting"]).assert().success();
    sbctl(&server).args(["kv", "get", "greeting"]).assert().code(4);
    sbctl(&server).args(["kv", "delete", "greeting"]).assert().code(4);
    sbctl(&server).args(["kv", "set", "has space", "x"]).assert().code(3).stderr(predicate::str::contains("key"));
}

#[test]
fn kv_watch_prints_changes() {
    let server = BlockingServer::start();
    let mut watcher = spawn_sbctl(&server, &["kv", "watch", "--prefix", "w"]);
    let lines = read_lines(&mut watcher);
    // The watch is open once the server has answered the call; keep setting until it shows.
    let mut seen = false;
    for attempt in 0..50 {
        sbctl(&server).args(["kv", "set", "w1", &format!("v{attempt}")]).assert().success();
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            assert!(line.starts_with("SET w1 = v"), "{line}");
            seen = true;
            break;
        }
    }
    assert!(seen, "kv watch printed nothing");
    let _ = watcher.kill();
    let _ = watcher.wait();
}

#[test]
fn payments_every_subcommand() {
    let server = BlockingServer::start();
    let create = ["pay", "create", "--amount", "9999", "--currency", "USD", "--customer", "cust_1"];
    sbctl(&server).args(create).assert().code(7).stderr(predicate::str::contains("unauthenticated"));
    sbctl(&server).args(["--api-key", "sk_wrong"]).args(create).assert().code(7);

    let with_key = |args: &[&str]| -> Value {
        let mut all = vec!["--api-key", API_KEY];
        all.extend_from_slice(args);
        json(&server, &all)
    };
    let mut keyed = create.to_vec();
    keyed.extend(["--idempotency-key", "order-1", "--description", "Order #1"]);
    let paid = with_key(&keyed);
    assert_eq!((&paid["status"], paid["amount_minor"].as_i64()), (&Value::from("SUCCEEDED"), Some(9999)));
    let id = paid["id"].as_str().expect("a payment id").to_owned();
    assert_eq!(with_key(&keyed)["id"], id.as_str(), "the same idempotency key is the same payment");

    let refund = with_key(&["pay", "refund", &id, "--amount", "2500", "--reason", "damaged"]);
    assert_eq!(refund["payment"]["status"], "PARTIALLY_REFUNDED");
    assert_eq!(with_key(&["pay", "get", &id])["refunded_minor"], 2500);
    let listed = with_key(&["pay", "list"]);
    assert_eq!(listed["payments"].as_array().map(Vec::len), Some(1), "{listed}");
    sbctl(&server)
        .args(["--api-key", API_KEY, "pay", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(id.as_str()).and(predicate::str::contains("PARTIALLY_REFUNDED")));

    let declined = with_key(&["pay", "create", "--amount", "100", "--currency", "USD", "--customer", "cust_declined"]);
    assert_eq!(declined["failure_code"], "card_declined");
    let declined_id = declined["id"].as_str().expect("id");
    sbctl(&server).args(["--api-key", API_KEY, "pay", "refund", declined_id]).assert().code(6);
    sbctl(&server).args(["--api-key", API_KEY, "pay", "get", "pay_00000000000000000000000000000000"]).assert().code(4);
    sbctl(&server)
        .args(["--api-key", API_KEY, "pay", "create", "--amount", "-5", "--currency", "usd", "--customer", "c"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("amount_minor").and(predicate::str::contains("currency")));
}

#[test]
fn files_every_subcommand() {
    let mut config = test_config();
    config.max_upload_bytes = 100_000;
    let server = BlockingServer::start_with(config);
    let dir = tempfile::tempdir().expect("a temp dir");
    let source = dir.path().join("notes.txt");
    let content: Vec<u8> = (0..70_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&source, &content).expect("write the source");

    let uploaded =
        json(&server, &["files", "upload", source.to_str().expect("utf-8 path"), "--content-type", "text/plain"]);
    assert_eq!((uploaded["name"].as_str(), uploaded["size"].as_i64()), (Some("notes.txt"), Some(70_000)));

    sbctl(&server).args(["files", "list"]).assert().success().stdout(predicate::str::contains("notes.txt"));
    let target = dir.path().join("copy.txt");
    sbctl(&server)
        .args(["files", "download", "notes.txt", "--to", target.to_str().expect("utf-8 path")])
        .assert()
        .success();
    assert_eq!(std::fs::read(&target).expect("downloaded"), content);
    sbctl(&server).args(["files", "download", "notes.txt", "--to", "-"]).assert().success().stdout(content.clone());
    sbctl(&server).args(["files", "download", "missing.txt", "--to", "-"]).assert().code(4);

    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 150_000]).expect("write");
    sbctl(&server).args(["files", "upload", big.to_str().expect("utf-8")]).assert().code(8);
    sbctl(&server)
        .args(["files", "upload", "/no/such/file"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot open"));
    sbctl(&server).args(["files", "upload", source.to_str().expect("utf-8"), "--name", "../evil"]).assert().code(3);

    sbctl(&server).args(["files", "delete", "notes.txt"]).assert().success();
    sbctl(&server).args(["files", "delete", "notes.txt"]).assert().code(4);
}

#[test]
fn other_statuses_exit_11() {
    // A server with only the echo service: every other rpc is UNIMPLEMENTED.
    let server = BlockingServer::start();
    let (addr, _) = server.block_on(common::scripted_server(vec![]));
    sbctl_at(&format!("http://{addr}"))
        .args(["users", "get", "1"])
        .assert()
        .code(11)
        .stderr(predicate::str::contains("Unimplemented"));
    sbctl_at(&format!("http://{addr}")).args(["echo", "still here"]).assert().success();
}

#[test]
fn unreachable_and_slow_servers() {
    let server = BlockingServer::start();
    let closed = server.block_on(common::closed_port());
    sbctl_at(&format!("http://{closed}")).arg("ping").assert().code(9).stderr(predicate::str::contains("unavailable"));

    let proxy = server.block_on(slow_proxy(server.addr(), Duration::from_secs(5)));
    let started = std::time::Instant::now();
    sbctl_at(&format!("http://{proxy}")).args(["--timeout", "200ms", "ping"]).assert().code(10);
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Interactive chat, driven through stdin
// ---------------------------------------------------------------------------------------------

fn spawn_sbctl(server: &BlockingServer, args: &[&str]) -> Child {
    let mut command = StdCommand::new(assert_cmd::cargo::cargo_bin("sbctl"));
    for name in ENV {
        command.env_remove(name);
    }
    command
        .args(["--server", &server.url()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sbctl")
}

/// The child's stdout, line by line, from a reader thread.
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for a line containing `needle`; returns the lines seen up to it.
fn expect_line(lines: &mpsc::Receiver<String>, who: &str, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(Duration::from_secs(15)) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("{who} never printed {needle:?}; printed {seen:#?}"),
        }
    }
}

fn type_line(stdin: &mut ChildStdin, line: &str) {
    writeln!(stdin, "{line}").expect("write to sbctl chat");
    stdin.flush().expect("flush");
}

fn wait_exit(child: &mut Child, who: &str) -> std::process::ExitStatus {
    for _ in 0..150 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("{who} did not exit within 15 s");
}

#[test]
fn two_chat_processes_see_each_other() {
    let server = BlockingServer::start();
    let mut alice = spawn_sbctl(&server, &["chat", "--name", "alice"]);
    let alice_out = read_lines(&mut alice);
    let mut alice_in = alice.stdin.take().expect("stdin");
    expect_line(&alice_out, "alice", "Welcome, alice!");

    let mut bob = spawn_sbctl(&server, &["chat", "--name", "bob"]);
    let bob_out = read_lines(&mut bob);
    let mut bob_in = bob.stdin.take().expect("stdin");
    expect_line(&bob_out, "bob", "In the room: alice, bob");
    expect_line(&alice_out, "alice", "*** bob joined the chat ***");

    // A third process cannot take a name in use: exit 5.
    sbctl(&server).args(["chat", "--name", "bob"]).write_stdin("").assert().code(5);

    type_line(&mut alice_in, "hello bob");
    expect_line(&bob_out, "bob", "[alice] hello bob");
    expect_line(&alice_out, "alice", "[alice] hello bob");
    type_line(&mut bob_in, "hi alice");
    expect_line(&alice_out, "alice", "[bob] hi alice");

    type_line(&mut alice_in, "/users");
    expect_line(&alice_out, "alice", "*** Members: alice, bob ***");
    sbctl(&server).args(["chat", "members"]).assert().success().stdout(predicate::str::contains("alice\nbob\n"));

    type_line(&mut bob_in, "/quit");
    expect_line(&bob_out, "bob", "Goodbye");
    assert_eq!(wait_exit(&mut bob, "bob").code(), Some(0), "/quit exits 0");
    expect_line(&alice_out, "alice", "*** bob left the chat ***");

    // Ctrl-C leaves politely too: exit 0, and the room is told.
    let mut carol = spawn_sbctl(&server, &["chat", "--name", "carol"]);
    let carol_out = read_lines(&mut carol);
    expect_line(&carol_out, "carol", "Welcome, carol!");
    expect_line(&alice_out, "alice", "*** carol joined the chat ***");
    let interrupt = StdCommand::new("kill").args(["-INT", &carol.id().to_string()]).status().expect("run kill");
    assert!(interrupt.success(), "kill -INT failed");
    expect_line(&carol_out, "carol", "Goodbye");
    assert_eq!(wait_exit(&mut carol, "carol").code(), Some(0), "Ctrl-C exits 0");
    expect_line(&alice_out, "alice", "*** carol left the chat ***");

    drop(alice_in); // end of input, as Ctrl-D
    expect_line(&alice_out, "alice", "Goodbye");
    assert_eq!(wait_exit(&mut alice, "alice").code(), Some(0), "EOF exits 0");
    sbctl(&server).args(["chat", "members"]).assert().success().stdout("(no members)\n");
}
