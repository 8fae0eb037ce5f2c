//! The Python and Node clients, run as a user runs them: their example programs against the
//! real server, from dependencies installed exactly as pinned (`pip install -r
//! requirements.txt` into a fresh virtual environment, `npm ci` from the committed lock file).
//! Each example must pass against the real server and fail against one that breaks the
//! idempotency contract; each language's committed generated code must be what its regen
//! script makes from proto/ today.
//!
//! The Python venv lives in `target/tools/python-client-venv` (remade when requirements.txt
//! changes, by the installer the server's tests use); `npm ci` installs into `clients/node/node_modules` (git-ignored). If python3,
//! pip, node or npm cannot install or run, these tests fail; they never skip.

mod common;
// The installer of the server's tests (`target/tools/<name>`, staged and renamed into place).
#[path = "../../tests/common/tools.rs"]
mod tools;
#[path = "../../tests/common/venv.rs"]
mod venv;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use common::{API_KEY, BlockingServer};
use switchboard::pb::{self, payment_service_server};
use tonic::{Request, Response, Status};

const MARKER: &str = "switchboard-installed";

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn describe(what: &str, output: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fingerprint of the files an installation was made from (FNV-1a, enough to notice a change).
fn fingerprint(files: &[PathBuf]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

// ---------------------------------------------------------------------------------------------
// Installing the tools
// ---------------------------------------------------------------------------------------------

/// The venv's python, installed on first call (once per process).
fn python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(install_python_venv)
        .clone()
        .unwrap_or_else(|error| panic!("the Python client's dependencies cannot be installed: {error}"))
}

/// `target/tools/python-client-venv`, with exactly what requirements.txt pins, made by the
/// installer the server's tests use.
fn install_python_venv() -> Result<PathBuf, String> {
    let file = clients_dir().join("python/requirements.txt");
    let text = std::fs::read_to_string(&file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let requirements: Vec<&str> =
        text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
    let venv = venv::venv("python-client-venv", &requirements, |staging| {
        let python = staging.join("bin/python");
        tools::run(Command::new(python).args(["-c", "import grpc, grpc_tools"]), "importing grpc in the venv").map(drop)
    })?;
    Ok(venv.join("bin/python"))
}

/// `npm ci` in clients/node, once per process, again whenever the lock file changed.
fn node_modules() -> PathBuf {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    NODE.get_or_init(npm_ci)
        .clone()
        .unwrap_or_else(|error| panic!("the Node client's dependencies cannot be installed: {error}"))
}

fn npm_ci() -> Result<PathBuf, String> {
    let node_dir = clients_dir().join("node");
    let wanted = fingerprint(&[node_dir.join("package.json"), node_dir.join("package-lock.json")]);
    let modules = node_dir.join("node_modules");
    if std::fs::read_to_string(modules.join(MARKER)).is_ok_and(|m| m.trim() == wanted) {
        return Ok(modules);
    }
    tools::run(
        Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&node_dir),
        "npm ci in clients/node",
    )?;
    std::fs::write(modules.join(MARKER), &wanted).map_err(|e| format!("cannot write the marker: {e}"))?;
    Ok(modules)
}

// ---------------------------------------------------------------------------------------------
// Running the examples
// ---------------------------------------------------------------------------------------------

fn python_example(addr: &str, extra: &[&str]) -> Output {
    Command::new(python())
        .arg(clients_dir().join("python/example.py"))
        .args(["--server", addr, "--api-key", API_KEY])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run example.py")
}

fn node_example(addr: &str, extra: &[&str]) -> Output {
    node_modules();
    Command::new("node")
        .arg(clients_dir().join("node/example.js"))
        .args(["--server", addr, "--api-key", API_KEY])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run example.js")
}

fn assert_all_passed(output: &Output, what: &str, last_line: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", describe(what, output));
    for needle in ["users: created, read, updated, listed and deleted", "payments: pay_", "chat: ", last_line] {
        assert!(stdout.contains(needle), "{what} did not print {needle:?}: {}", describe(what, output));
    }
}

#[test]
fn python_example_passes_against_the_server() {
    let server = BlockingServer::start();
    let output = python_example(&server.addr().to_string(), &[]);
    assert_all_passed(&output, "example.py", "python example: all checks passed");
}

#[test]
fn node_example_passes_against_the_server() {
    let server = BlockingServer::start();
    let output = node_example(&server.addr().to_string(), &[]);
    assert_all_passed(&output, "example.js", "node example: all checks passed");
}

// ---------------------------------------------------------------------------------------------
// A server that breaks the contract: the examples must notice
// ---------------------------------------------------------------------------------------------

/// Charges again on every call, whatever the idempotency key says.
#[derive(Default)]
struct ForgetfulPayments {
    next: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl payment_service_server::PaymentService for ForgetfulPayments {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let request = request.into_inner();
        Ok(Response::new(pb::Payment {
            id: format!("pay_{n:032x}"),
            amount_minor: request.amount_minor,
            currency: request.currency,
            customer_id: request.customer_id,
            description: request.description,
            status: pb::PaymentStatus::Succeeded as i32,
            ..Default::default()
        }))
    }
    async fn get_payment(&self, _: Request<pb::GetPaymentRequest>) -> Result<Response<pb::Payment>, Status> {
        Err(Status::unimplemented("forgetful"))
    }
    async fn list_payments(
        &self,
        _: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        Err(Status::unimplemented("forgetful"))
    }
    async fn refund_payment(&self, _: Request<pb::RefundPaymentRequest>) -> Result<Response<pb::Refund>, Status> {
        Err(Status::unimplemented("forgetful"))
    }
}

/// A payment server without idempotency, on its own runtime; stops when dropped.
fn forgetful_server() -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = tonic::transport::Server::builder()
            .add_service(payment_service_server::PaymentServiceServer::new(ForgetfulPayments::default()));
        tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
        addr
    });
    (runtime, addr.to_string())
}

fn assert_caught_double_charge(output: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{what} passed against a server that charges twice: {}", describe(what, output));
    assert!(stderr.contains("FAILED") && stderr.contains("idempotency"), "{}", describe(what, output));
}

#[test]
fn python_example_fails_against_a_server_without_idempotency() {
    let (_runtime, addr) = forgetful_server();
    let output = python_example(&addr, &["--scenario", "payments"]);
    assert_caught_double_charge(&output, "example.py --scenario payments");
}

#[test]
fn node_example_fails_against_a_server_without_idempotency() {
    let (_runtime, addr) = forgetful_server();
    let output = node_example(&addr, &["--scenario", "payments"]);
    assert_caught_double_charge(&output, "example.js --scenario payments");
}

// ---------------------------------------------------------------------------------------------
// Generated code is current
// ---------------------------------------------------------------------------------------------

/// Every file under `dir`, relative, sorted, with its content.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries.map(|e| e.expect("a directory entry")) {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "__pycache__") {
                    continue;
                }
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_owned();
                files.push((relative, std::fs::read(&path).expect("readable")));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

fn assert_same_tree(committed: &Path, fresh: &Path, regen: &str) {
    let (committed_files, fresh_files) = (tree(committed), tree(fresh));
    let names = |files: &[(PathBuf, Vec<u8>)]| files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed_files), names(&fresh_files), "{} is stale: run {regen}", committed.display());
    for ((path, old), (_, new)) in committed_files.iter().zip(&fresh_files) {
        assert!(old == new, "{} differs from what {regen} makes now: run it and commit", path.display());
    }
}

#[test]
fn python_generated_code_matches_the_protos() {
    let python = python();
    let fresh = tempfile::tempdir().expect("temp dir");
    let output = tools::run(
        Command::new(clients_dir().join("python/regen.sh")).arg(fresh.path()).env("PYTHON", &python),
        "clients/python/regen.sh",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    drop(output);
    assert_same_tree(&clients_dir().join("python/generated"), fresh.path(), "clients/python/regen.sh");
}

#[test]
fn node_generated_declarations_match_the_protos() {
    node_modules();
    let fresh = tempfile::tempdir().expect("temp dir");
    tools::run(Command::new(clients_dir().join("node/regen.sh")).arg(fresh.path()), "clients/node/regen.sh")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_same_tree(&clients_dir().join("node/generated"), fresh.path(), "clients/node/regen.sh");
}

#[test]
fn examples_time_out_rather_than_hang() {
    // A server that accepts connections and never answers: each example's deadlines end it.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let _held = std::thread::spawn(move || {
        runtime.block_on(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        })
    });
    let started = std::time::Instant::now();
    let output = python_example(&addr, &["--scenario", "users"]);
    assert!(!output.status.success(), "{}", describe("example.py against a silent server", &output));
    let output = node_example(&addr, &["--scenario", "users"]);
    assert!(!output.status.success(), "{}", describe("example.js against a silent server", &output));
    assert!(started.elapsed() < Duration::from_secs(60), "the examples took {:?}", started.elapsed());
}
