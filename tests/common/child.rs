//! The real `switchboard` binary as a child process: for what only a process shows — signals,
//! exit codes, the log lines it writes.

use std::{
    net::SocketAddr,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    /// The tasks reading stdout and stderr; they end at EOF, after the process exits.
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// The default (durable) storage lives here, not in the working directory.
    _data_dir: tempfile::TempDir,
}

impl ChildServer {
    /// Starts `switchboard --listen 127.0.0.1:0 --log-format json <args>` and waits until it
    /// logs its gRPC address.
    pub async fn start(args: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            // Defaults through the environment, so a test's own flags still win: ephemeral
            // loopback ports for the legacy listeners, so children never collide.
            .env("SWITCHBOARD_LEGACY_KV_LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_LEGACY_CHAT_LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_LEGACY_ECHO_LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_LEGACY_BINARY_LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_HTTP_LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_DATA_DIR", data_dir.path())
            .args(args)
            .env_remove("RUST_LOG")
            .env("SWITCHBOARD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the switchboard binary");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = oneshot::channel();
        let mut addr_tx = Some(addr_tx);
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut readers = Vec::new();
        for (reader, is_stdout) in
            [(Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>, true), (Box::new(stderr), false)]
        {
            let lines = Arc::clone(&lines);
            let mut addr_tx = if is_stdout { addr_tx.take() } else { None };
            readers.push(tokio::spawn(async move {
                let mut reader = BufReader::new(reader).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Some(addr) = json_field(&line, "grpc_addr")
                        && let Some(tx) = addr_tx.take()
                    {
                        let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                    }
                    lines.lock().unwrap().push(line);
                }
            }));
        }
        let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
            .await
            .unwrap_or_else(|_| panic!("the server did not log its address; logs: {:?}", lines.lock().unwrap()))
            .expect("the server exited before listening");
        Self { child, addr, lines, readers, _data_dir: data_dir }
    }

    /// A durable server on SQLite in `data_dir`, taking the tests' payment API key.
    pub async fn start_sqlite(data_dir: &std::path::Path) -> Self {
        let dir = data_dir.to_string_lossy().into_owned();
        Self::start(&["--storage", "sqlite", "--data-dir", &dir, "--payment-api-keys", super::API_KEY]).await
    }

    /// SIGKILL, as a crash or an OOM kill would, and reap the process.
    pub async fn kill(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        self.wait(Duration::from_secs(30)).await
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id().expect("still running")).unwrap()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("send the signal");
    }

    /// Waits for the process to exit, at most `limit`, and for its last log lines.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("the server was still running after {limit:?}; logs:\n{}", self.logs().join("\n")),
        };
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status
    }

    /// Every line the process has written so far (stdout and stderr).
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a log line satisfies `predicate`; returns it.
    pub async fn wait_for_log(&self, limit: Duration, predicate: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            if let Some(line) = self.logs().into_iter().find(|line| predicate(line)) {
                return line;
            }
            assert!(started.elapsed() < limit, "no such log line within {limit:?}; logs:\n{}", self.logs().join("\n"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The string value of `"name":"…"` in a JSON log line.
pub fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = line.find(&key)? + key.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}
