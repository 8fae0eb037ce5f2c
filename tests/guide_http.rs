//! The Go guide's HTTP endpoints on the HTTP port, tested with the guide's own clients: its
//! users client and payment-gateway client, verbatim (tests/guide_clients/, built with the
//! machine's Go), and curl for its ServeMux and upload servers. Bad input gets the guide's kind
//! of error and changes nothing.

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::{API_KEY, TestServer, child::ChildServer, child::json_field, test_config};
use serde_json::Value as Json;
use switchboard::pb::ListFilesRequest;

/// Builds the guide's clients (stdlib only, GOPATH mode, no network) once per test binary.
fn guide_clients() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guide_clients");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("guide-clients-{}", std::process::id()));
            let output = Command::new("go")
                .args(["build", "-o"])
                .arg(&out)
                .arg(".")
                .current_dir(&source)
                .env("GO111MODULE", "off")
                .env("GOFLAGS", "")
                .env("GOCACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"))
                .output()
                .expect("Go is installed (Debian package golang-go; .ci/run installs it)");
            assert!(output.status.success(), "go build failed: {}", String::from_utf8_lossy(&output.stderr));
            out
        })
        .clone()
}

/// Runs the guide's clients against `http` and returns their report, step → (ok, detail).
fn run_guide_clients(http: SocketAddr, email: &str) -> Vec<(String, bool, String)> {
    let output = Command::new(guide_clients())
        .args(["-base", &format!("http://{http}"), "-api-key", API_KEY, "-email", email])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let step = parts.next().unwrap_or_default().to_owned();
            let ok = parts.next() == Some("ok");
            (step, ok, parts.next().unwrap_or_default().to_owned())
        })
        .collect()
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `curl -sS -i <args>`. Blocking: the servers run on a multi-threaded runtime.
fn curl(args: &[&str]) -> Reply {
    let output = Command::new("curl").args(["-sS", "-i", "--max-time", "20"]).args(args).output().expect("curl");
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply { status, headers: head.to_ascii_lowercase(), body: body.to_owned() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_users_and_payment_clients_work_unchanged() {
    let server = TestServer::start_with(test_config()).await;
    let http = server.server.http_addr().unwrap();
    let report = tokio::task::spawn_blocking(move || run_guide_clients(http, "gopher@example.com")).await.unwrap();
    let step = |name: &str| {
        report.iter().find(|(step, ..)| step == name).unwrap_or_else(|| panic!("no step {name} in {report:#?}")).clone()
    };
    let expect_ok = |name: &str, detail: &str| {
        let (_, ok, got) = step(name);
        assert!(ok && got.contains(detail), "{name}: expected ok with {detail:?}, got {ok} {got:?}");
    };
    let expect_error = |name: &str, needle: &str| {
        let (_, ok, got) = step(name);
        assert!(!ok && got.contains(needle), "{name}: expected an error with {needle:?}, got {ok} {got:?}");
    };
    expect_ok("create", "username=gopher email=gopher@example.com age=13");
    expect_error("create-duplicate", "status 409");
    expect_ok("get", "username=gopher age=13");
    expect_ok("update", "username=gopher2 age=14");
    expect_ok("search", "count=1 first=gopher2");
    expect_ok("delete", "");
    expect_error("get-deleted", "status 404");
    expect_ok("pay", "status=succeeded amount=99.99 id_set=true created_set=true");
    expect_ok("status", "status=succeeded amount=99.99");
    expect_ok("refund", "status=succeeded amount=25.50 transaction=true refunded_set=true");
    expect_error("over-refund", "status 400");
    expect_ok("status-after", "status=partially_refunded");
    expect_error("status-unknown", "payment not found");
    expect_error("pay-wrong-key", "status 401");
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servemux_upload_and_payment_endpoints_answer_as_the_guide_did() {
    let server = TestServer::start_with(test_config()).await;
    let http = server.server.http_addr().unwrap();
    let url = |path: &str| format!("http://{http}{path}");

    let home = curl(&[&url("/")]);
    assert_eq!((home.status, home.body.as_str()), (200, "Welcome to our API"));
    let health = curl(&[&url("/api/health")]);
    assert_eq!((health.status, health.json()), (200, serde_json::json!({"status": "healthy"})));
    assert_eq!(curl(&[&url("/api/users")]).json(), serde_json::json!([]), "a bare JSON array");
    let unknown = curl(&[&url("/api/nothing")]);
    assert_eq!((unknown.status, unknown.json()), (404, serde_json::json!({"error": "endpoint not found"})));

    // The upload form: streamed into FileService, the guide's answer line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "guide upload\n").unwrap();
    let form = format!("file=@{};type=text/plain", file.display());
    let uploaded = curl(&["-F", &form, &url("/upload")]);
    assert_eq!((uploaded.status, uploaded.body.as_str()), (200, "File uploaded successfully: notes.txt\n"));
    assert_eq!(curl(&[&url("/v1/files/notes.txt")]).body, "guide upload\n", "the same FileService");
    // The guide wrote `header.Filename` under ./uploads as given: no more.
    let traversal = format!("file=@{};filename=../../etc/passwd", file.display());
    let refused = curl(&["-F", &traversal, &url("/upload")]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    let missing = curl(&["-F", "other=1", &url("/upload")]);
    assert_eq!((missing.status, missing.body.as_str()), (400, "Error retrieving file\n"));
    assert_eq!(curl(&["-X", "GET", &url("/upload")]).status, 405);
    let files = server.files().list_files(ListFilesRequest::default()).await.unwrap().into_inner().files;
    assert_eq!(files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["notes.txt"], "nothing else stored");

    // Payments: exact decimals, one payment per idempotency key.
    let pay = |key: &str, amount: &str| {
        curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-H",
            &format!("x-api-key: {API_KEY}"),
            "-H",
            "x-api-secret: ignored",
            "-H",
            &format!("idempotency-key: {key}"),
            &url("/api/v1/payments"),
            "-d",
            &format!(r#"{{"amount":{amount},"currency":"USD","customer_id":"cust_1","description":"Order"}}"#),
        ])
    };
    let first = pay("idem-1", "19.99");
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["amount"], serde_json::json!(19.99));
    assert!(first.body.contains(r#""amount":19.99"#), "written exactly: {}", first.body);
    let again = pay("idem-1", "19.99");
    assert_eq!(again.json()["transaction_id"], first.json()["transaction_id"], "a retry is the same payment");
    let different = pay("idem-1", "5.00");
    assert!((400..500).contains(&different.status), "same key, other amount: {}", different.body);
    let inexact = pay("idem-2", "19.999");
    assert_eq!(inexact.status, 400);
    assert!(inexact.json()["error"].as_str().unwrap().contains("more decimal places than USD allows"));
    let bad_json = curl(&["-X", "POST", &url("/api/users"), "-d", "{\"username\":"]);
    assert_eq!(bad_json.status, 400);
    assert!(bad_json.json()["error"].as_str().unwrap().starts_with("invalid request body"));
    let payments = curl(&["-H", &format!("x-api-key: {API_KEY}"), &url("/v1/payments")]).json();
    assert_eq!(payments["payments"].as_array().unwrap().len(), 1, "exactly one payment: {payments}");
    assert_eq!(curl(&[&url("/api/users")]).json(), serde_json::json!([]), "the bad create stored nothing");
    server.server.shutdown().await;
}

/// The guide's endpoints pass the gRPC layers: the bearer token, one access line per call; and
/// `/api/health` turns 503 as soon as the server starts draining.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_endpoints_pass_the_layers_and_health_follows_the_drain() {
    let server = ChildServer::start(&["--storage", "memory", "--auth-token", "s3cret", "--shutdown-delay", "3s"]).await;
    let listening = server.wait_for_log(Duration::from_secs(10), |line| json_field(line, "http_addr").is_some()).await;
    let http: SocketAddr = json_field(&listening, "http_addr").unwrap().parse().unwrap();
    let url = |path: &str| format!("http://{http}{path}");

    let denied = curl(&[&url("/api/users")]);
    assert_eq!(denied.status, 401);
    assert!(denied.json()["error"].as_str().unwrap().contains("Bearer"), "{}", denied.body);
    let allowed = curl(&["-H", "authorization: Bearer s3cret", "-H", "x-request-id: guide-1", &url("/api/users")]);
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert!(allowed.headers.contains("x-request-id: guide-1"), "{}", allowed.headers);
    let line =
        server.wait_for_log(Duration::from_secs(10), |l| l.contains("guide-1") && l.contains("call finished")).await;
    assert_eq!(json_field(&line, "method"), Some("/switchboard.v1.UserService/ListUsers"));
    // Health is open to probes, like gRPC health.
    assert_eq!(curl(&[&url("/api/health")]).status, 200);

    server.signal(nix::sys::signal::Signal::SIGTERM);
    let mut draining = None;
    for _ in 0..40 {
        let reply = curl(&[&url("/api/health")]);
        if reply.status == 503 {
            draining = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let draining = draining.expect("/api/health turns 503 while the server drains");
    assert_eq!(draining.json(), serde_json::json!({"status": "unavailable"}));
}
