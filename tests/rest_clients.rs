//! The HTTP front door through real clients that are not ours: Python scripts in
//! `tests/python/` (httpx, openapi-spec-validator, schemathesis) run against a real server, one
//! server per test, and each test asserts on the script's exit status and its summary line
//! (`<script>: N checks, M failures`, see `tests/python/restcheck.py`).
//!
//! The Python packages are pinned, every dependency included, and installed on first use into
//! `target/tools/rest-clients-venv` (see `common::venv`). If they cannot be installed the tests
//! fail; they never skip.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::OnceLock,
    time::Duration,
};

use common::{TestServer, test_config};
use switchboard::{
    config::Config,
    pb::{ChatRequest, Join, Quit, Say, chat_event::Event, chat_request::Action},
};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader, Lines},
    process::{Child, ChildStdout},
};
use tokio_stream::{StreamExt as _, wrappers::ReceiverStream};

/// httpx, schemathesis and openapi-spec-validator, with every dependency pinned (Python 3.11).
const REQUIREMENTS: &[&str] = &[
    "httpx==0.28.1",
    "schemathesis==4.32.5",
    "openapi-spec-validator==0.9.0",
    "annotated-types==0.8.0",
    "anyio==4.16.0",
    "attrs==26.1.0",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "click==8.5.1",
    "graphql-core==3.3.2",
    "h11==0.16.0",
    "harfile==0.6.0",
    "httpcore==1.0.9",
    "hypothesis==6.170.17",
    "hypothesis-graphql==0.13.5",
    "idna==3.20",
    "iniconfig==2.3.1",
    "jsonschema==4.26.0",
    "jsonschema-path==0.5.0",
    "jsonschema-specifications==2025.9.1",
    "jsonschema_rs==0.60.3",
    "lazy-object-proxy==1.13.0",
    "markdown-it-py==4.3.0",
    "MarkupSafe==3.0.4",
    "mdurl==0.1.2",
    "openapi-schema-validator==0.9.0",
    "packaging==26.4",
    "pathable==0.6.0",
    "pluggy==1.7.0",
    "pydantic==2.14.4",
    "pydantic-settings==2.16.3",
    "pydantic_core==2.50.5",
    "Pygments==2.21.0",
    "pyrate-limiter==4.5.1",
    "pytest==9.2.0",
    "python-dotenv==1.2.4",
    "PyYAML==6.0.4",
    "referencing==0.37.0",
    "requests==2.34.2",
    "rfc3339-validator==0.1.4",
    "rich==15.0.0",
    "rpds-py==2026.9.1",
    "six==1.17.0",
    "sortedcontainers==2.4.0",
    "typing-inspection==0.4.5",
    "typing_extensions==4.16.0",
    "urllib3==2.8.0",
    "Werkzeug==3.1.9",
];

/// Small, so that a body over the limit is cheap to send; a file upload is several times this.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
const MAX_UPLOAD_BYTES: u64 = 256 * 1024;
/// How long one script may run; the schemathesis run gets more.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
const FUZZ_LIMIT: Duration = Duration::from_secs(300);
/// schemathesis examples per operation.
const FUZZ_MAX_EXAMPLES: &str = "30";
/// How long the event-stream test waits for each step of the script.
const STEP: Duration = Duration::from_secs(20);

/// The test configuration with the limits above.
fn rest_config() -> Config {
    let mut config = test_config();
    config.max_message_bytes = MAX_MESSAGE_BYTES;
    config.max_upload_bytes = MAX_UPLOAD_BYTES;
    config
}

/// The venv's python, installing the venv on first use.
fn python() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        common::venv::venv("rest-clients-venv", REQUIREMENTS, |venv| {
            let output = std::process::Command::new(venv.join("bin/python"))
                .args(["-c", "import httpx, schemathesis.cli, openapi_spec_validator; print('ok')"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run the venv's python: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!("the REST client packages do not import: {}", String::from_utf8_lossy(&output.stderr)))
            }
        })
    })
    .clone()
    .map(|venv| venv.join("bin/python"))
    .unwrap_or_else(|e| panic!("cannot install the REST client tools (httpx, schemathesis): {e}"))
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// `python tests/python/<script> <args>`, nothing written into the source tree.
fn script(name: &str, args: &[&str]) -> tokio::process::Command {
    let python = tokio::task::block_in_place(python);
    // The payment API keys the test server takes (the tests' key first).
    let keys = rest_config().payment_api_keys;
    let mut command = tokio::process::Command::new(python);
    command
        .arg(scripts().join(name))
        .args(args)
        .current_dir(scripts())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("NO_COLOR", "1")
        .env("REST_TEST_API_KEY", &keys[0])
        .env("REST_TEST_OTHER_API_KEY", &keys[1])
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn http_addr(server: &TestServer) -> String {
    server.server.http_addr().expect("the test config turns the HTTP listener on").to_string()
}

/// Runs a script to its end, at most `limit`.
async fn run(mut command: tokio::process::Command, limit: Duration) -> (ExitStatus, String, String) {
    let child = command.spawn().expect("start the python script");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the script ran longer than {limit:?}"))
        .expect("wait for the script");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The script exited 0 after at least `min_checks` checks, none failed.
fn assert_passed(name: &str, (status, stdout, stderr): &(ExitStatus, String, String), min_checks: usize) {
    let report = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    let summary = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} printed no summary line ({status})\n{report}"));
    let numbers: Vec<usize> =
        summary.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    let [checks, failures] = numbers[..] else { panic!("{name}: an unexpected summary {summary:?}\n{report}") };
    assert!(status.success() && failures == 0, "{name}: {summary} ({status})\n{report}");
    assert!(checks >= min_checks, "{name} made only {checks} checks, expected at least {min_checks}\n{report}");
}

// ---------------------------------------------------------------------------------------------

/// openapi_check.py: `/openapi.json` validates as OpenAPI 3.1 (openapi-spec-validator), lists
/// exactly the 14 paths of the `google.api.http` rules (one per shape, as OpenAPI requires)
/// with their methods, and every operation
/// it lists answers its documented method — not 404 or 405, not 5xx — with a documented
/// content type.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_is_valid_and_every_operation_answers() {
    let server = TestServer::start_with(rest_config()).await;
    let output = run(script("openapi_check.py", &[&http_addr(&server)]), SCRIPT_LIMIT).await;
    assert_passed("openapi_check", &output, 100);
}

/// walk.py: an httpx user through users (create, get, list with page_token, PATCH with the mask
/// from the body and from `?update_mask=`, delete), kv (a key with `/`), payments (API key,
/// Idempotency-Key replay and misuse, list, refund, over-refund), files (raw upload and
/// download of exact bytes, type and length), echo, ping and chat members; every body exactly
/// proto3 JSON.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_walks_through_every_service() {
    let server = TestServer::start_with(rest_config()).await;
    let output = run(script("walk.py", &[&http_addr(&server), &MAX_MESSAGE_BYTES.to_string()]), SCRIPT_LIMIT).await;
    assert_passed("walk", &output, 250);
}

/// bad_input.py: on every route, malformed JSON, unknown fields, wrong types, wrong content
/// type (415), a body over `--max-message-bytes` (413), unknown paths (404), wrong methods
/// (405 with `Allow`), unknown query parameters, non-numeric ids, file names that are paths,
/// missing or unknown API keys (401) and invalid values (400 with a google.rpc.BadRequest) are
/// each refused with a google.rpc.Status body, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_on_every_route_is_refused_and_changes_nothing() {
    let server = TestServer::start_with(rest_config()).await;
    let args = [http_addr(&server), MAX_MESSAGE_BYTES.to_string(), MAX_UPLOAD_BYTES.to_string()];
    let output = run(script("bad_input.py", &args.iter().map(String::as_str).collect::<Vec<_>>()), SCRIPT_LIMIT).await;
    assert_passed("bad_input", &output, 1000);
}

/// schemathesis against `/openapi.json`: a fixed seed, one worker, a bounded number of examples
/// per operation; no 5xx, and every status, content type and body as documented. Streams are
/// ended by a short `--stream-idle-timeout`, so their events are read and checked too.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_or_schema_mismatch() {
    let mut config = rest_config();
    config.stream_idle_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(config).await;
    let workdir = tempfile::tempdir().expect("a scratch directory for schemathesis");
    let workdir_path = workdir.path().to_string_lossy().into_owned();
    let output = run(script("fuzz.py", &[&http_addr(&server), &workdir_path, FUZZ_MAX_EXAMPLES]), FUZZ_LIMIT).await;
    assert_passed("fuzz", &output, 4);
}

// ---------------------------------------------------------------------------------------------
// Event streams: the script and this test take turns, one line each way.

/// sse.py: an SSE consumer (plain httpx streaming) sees its own kv PUTs and DELETEs on
/// `/v1/kv:watch?prefix=p` in order; sees a member that this test drives over gRPC join, speak
/// and quit on `/v1/chat/events`; and when the server drains, both streams end with
/// `event: end` carrying a google.rpc.Status: code 0 for the room (after a `goodbye`), 14
/// (UNAVAILABLE, "watch again") for the KV watch, as over gRPC (README, "Streams as
/// Server-Sent Events").
#[tokio::test(flavor = "multi_thread")]
async fn event_streams_carry_changes_and_end_when_the_server_drains() {
    let server = TestServer::start_with(rest_config()).await;
    let mut command = script("sse.py", &[&http_addr(&server)]);
    command.stdin(Stdio::piped());
    let mut talk = Conversation::start(command);

    talk.expect("READY chat").await;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tx.send(action(Action::Join(Join { name: "rusty".into() }))).await.unwrap();
    let mut member = server.chat().chat(ReceiverStream::new(rx)).await.expect("join the room").into_inner();
    let welcome = tokio::time::timeout(STEP, member.next()).await.expect("a welcome in time");
    assert!(
        matches!(welcome, Some(Ok(ref event)) if matches!(event.event, Some(Event::Welcome(_)))),
        "expected a welcome, got {welcome:?}"
    );
    talk.say("JOINED").await;
    talk.expect("CHECKED").await;
    tx.send(action(Action::Say(Say { text: "hello over gRPC ✓".into() }))).await.unwrap();
    tx.send(action(Action::Quit(Quit {}))).await.unwrap();
    // The member's own stream ends (OK) after its goodbye: it has left the room.
    loop {
        match tokio::time::timeout(STEP, member.next()).await.expect("the member's stream ends in time") {
            Some(Ok(_)) => continue,
            Some(Err(status)) => panic!("the member's stream failed: {status:?}"),
            None => break,
        }
    }
    talk.say("LEFT").await;

    talk.expect("READY drain").await;
    let TestServer { server, channel } = server;
    drop(channel);
    tokio::time::timeout(Duration::from_secs(30), server.shutdown()).await.expect("the server drains in time");
    let output = talk.finish().await;
    assert_passed("sse", &output, 40);
}

fn action(action: Action) -> ChatRequest {
    ChatRequest { action: Some(action) }
}

/// A running script spoken to on stdin and listened to on stdout; everything it printed is kept
/// for the failure message.
struct Conversation {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    transcript: Vec<String>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Conversation {
    fn start(mut command: tokio::process::Command) -> Self {
        let mut child = command.spawn().expect("start the python script");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Self { child, lines, transcript: Vec::new(), stderr }
    }

    /// Reads lines until `expected`; anything else the script prints on the way is kept.
    async fn expect(&mut self, expected: &str) {
        loop {
            match tokio::time::timeout(STEP, self.lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    let found = line == expected;
                    self.transcript.push(line);
                    if found {
                        return;
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let (status, stdout, stderr) = self.finish().await;
                    panic!(
                        "the script ended before {expected:?} ({status})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
                    );
                }
                Err(_) => {
                    panic!("no {expected:?} from the script within {STEP:?}; so far:\n{}", self.transcript.join("\n"))
                }
            }
        }
    }

    async fn say(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("the script's stdin is open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write to the script");
        stdin.flush().await.expect("flush to the script");
    }

    /// Closes stdin, waits for the end, and returns the exit status and everything printed.
    async fn finish(&mut self) -> (ExitStatus, String, String) {
        drop(self.child.stdin.take());
        let status = tokio::time::timeout(SCRIPT_LIMIT, async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                self.transcript.push(line);
            }
            self.child.wait().await
        })
        .await
        .expect("the script ends in time")
        .expect("wait for the script");
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        (status, self.transcript.join("\n"), stderr)
    }
}
