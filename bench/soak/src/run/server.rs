//! The real `switchboard` binary as a child process: started on ephemeral loopback ports,
//! watched (its log lines counted, its memory and open files sampled from `/proc`), killed
//! or terminated and started again by the fault injector.

use std::{
    collections::{BTreeMap, VecDeque},
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::Value;
use switchboard_soak::history::{Clock, Incarnation};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

use super::lock;

/// How to start the server. Each start uses the same arguments; ports are always ephemeral.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub bin: PathBuf,
    pub args: Vec<String>,
    /// Run inside this process's mount namespace (the tmpfs holder), via `nsenter`.
    pub mount_namespace_of: Option<u32>,
    pub shutdown_grace: Duration,
}

/// An address per front door: the ports a started server listens on (or, as [`super::Doors`],
/// the proxies in front of them).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub legacy_kv: SocketAddr,
    pub legacy_chat: SocketAddr,
    pub legacy_echo: SocketAddr,
    pub legacy_binary: SocketAddr,
}

/// What the server wrote, summed over all its lives: warning and error lines by message,
/// and the last lines for a post-mortem.
#[derive(Debug, Default)]
pub struct LogTally {
    pub by_message: BTreeMap<String, u64>,
    pub last_lines: VecDeque<String>,
    /// Lines saying the disk is full (SQLite's "database or disk is full").
    pub disk_full_lines: u64,
}

/// A running server.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub ports: Ports,
    pub incarnation: Incarnation,
    samples: Arc<Mutex<Samples>>,
    sampler: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Samples {
    peak_rss_kib: u64,
    peak_fds: u64,
    last_fds: u64,
}

impl Server {
    /// Starts the server and waits until it says it is ready (at most 60 s).
    pub async fn start(spec: &ServerSpec, logs: Arc<Mutex<LogTally>>, clock: &Clock) -> anyhow::Result<Self> {
        let started = clock.now();
        let mut command = match spec.mount_namespace_of {
            Some(holder) => {
                let mut command = Command::new("nsenter");
                command.arg(format!("--mount=/proc/{holder}/ns/mnt")).arg("--").arg(&spec.bin);
                command
            }
            None => Command::new(&spec.bin),
        };
        command
            .args(&spec.args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().with_context(|| format!("starting {}", spec.bin.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("the server exited at once"))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let ready_tx = Arc::new(Mutex::new(Some(ready_tx)));
        let stdout = child.stdout.take().context("server stdout")?;
        let stderr = child.stderr.take().context("server stderr")?;
        tokio::spawn(read_log(stdout, Arc::clone(&logs), Some(Arc::clone(&ready_tx))));
        tokio::spawn(read_log(stderr, Arc::clone(&logs), None));

        let ports = tokio::select! {
            ready = ready_rx => ready.map_err(|_| anyhow!("the server's log ended before it was ready"))?,
            () = tokio::time::sleep(Duration::from_secs(60)) => bail!("the server was not ready within 60 s"),
            status = child.wait() => bail!("the server exited before it was ready: {:?}; last lines:\n{}",
                status, lock(&logs).last_lines.iter().cloned().collect::<Vec<_>>().join("\n")),
        };
        let samples = Arc::new(Mutex::new(Samples::default()));
        let fds_at_ready = count_fds(pid);
        let sampler = tokio::spawn(sample(pid, Arc::clone(&samples)));
        let incarnation = Incarnation {
            pid,
            started,
            ready: clock.now(),
            ended: None,
            end: String::new(),
            unexpected_end: false,
            fds_at_ready,
            fds_after_load: None,
            peak_fds: fds_at_ready.unwrap_or(0),
            peak_rss_kib: 0,
        };
        Ok(Self { child, pid, ports, incarnation, samples, sampler })
    }

    /// Open file descriptors right now.
    pub fn fds(&self) -> Option<u64> {
        count_fds(self.pid)
    }

    /// Whether the process is still running (an unexpected exit is found here).
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{status}")),
            Ok(None) => None,
            Err(error) => Some(format!("cannot tell: {error}")),
        }
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub async fn kill(mut self, clock: &Clock) -> Incarnation {
        self.take_samples();
        let _ = nix::sys::signal::kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        let status = self.child.wait().await;
        self.finish(clock, format!("SIGKILL ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string())), false)
    }

    /// SIGTERM: the graceful drain. Unexpected unless it exits 0 within the grace (and a
    /// margin for a loaded machine).
    pub async fn terminate(mut self, clock: &Clock, grace: Duration) -> Incarnation {
        self.take_samples();
        let sent = Instant::now();
        let _ = nix::sys::signal::kill(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
        let limit = grace + Duration::from_secs(10);
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => {
                let took = sent.elapsed();
                let ok = status.success() && took <= grace + Duration::from_secs(2);
                self.finish(clock, format!("SIGTERM: {status} after {} ms", took.as_millis()), !ok)
            }
            Ok(Err(error)) => self.finish(clock, format!("SIGTERM: wait failed: {error}"), true),
            Err(_) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
                let _ = self.child.wait().await;
                self.finish(clock, format!("SIGTERM: still running after {} s; killed", limit.as_secs()), true)
            }
        }
    }

    /// The process is gone already (found by [`Server::exited`]).
    pub fn lost(self, clock: &Clock, how: String) -> Incarnation {
        self.finish(clock, format!("exited by itself: {how}"), true)
    }

    fn take_samples(&mut self) {
        let samples = *lock(&self.samples);
        self.incarnation.peak_rss_kib =
            self.incarnation.peak_rss_kib.max(samples.peak_rss_kib).max(peak_rss_kib(self.pid));
        self.incarnation.peak_fds = self.incarnation.peak_fds.max(samples.peak_fds);
    }

    fn finish(mut self, clock: &Clock, end: String, unexpected: bool) -> Incarnation {
        self.sampler.abort();
        let samples = *lock(&self.samples);
        self.incarnation.peak_rss_kib = self.incarnation.peak_rss_kib.max(samples.peak_rss_kib);
        self.incarnation.peak_fds = self.incarnation.peak_fds.max(samples.peak_fds);
        self.incarnation.ended = Some(clock.now());
        self.incarnation.end = end;
        self.incarnation.unexpected_end = unexpected;
        self.incarnation
    }

    /// Records the open files now, with the load stopped and its clients gone.
    pub fn note_fds_after_load(&mut self) {
        self.incarnation.fds_after_load = self.fds().or(Some(lock(&self.samples).last_fds));
    }
}

async fn read_log(
    stream: impl AsyncRead + Unpin,
    logs: Arc<Mutex<LogTally>>,
    ready: Option<Arc<Mutex<Option<oneshot::Sender<Ports>>>>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let parsed: Option<Value> = serde_json::from_str(&line).ok();
        let fields = parsed.as_ref().and_then(|v| v.get("fields"));
        let message = fields.and_then(|f| f.get("message")).and_then(Value::as_str).unwrap_or("");
        if let (Some(ready), Some(fields)) = (&ready, fields)
            && message.starts_with("switchboard ready")
            && let Some(ports) = ports_from(fields)
            && let Some(tx) = lock(ready).take()
        {
            let _ = tx.send(ports);
        }
        let level = parsed.as_ref().and_then(|v| v.get("level")).and_then(Value::as_str).unwrap_or("");
        let mut logs = lock(&logs);
        if line.contains("disk is full") {
            logs.disk_full_lines += 1;
        }
        if matches!(level, "WARN" | "ERROR") || parsed.is_none() {
            let text: String =
                if message.is_empty() { line.chars().take(100).collect() } else { message.chars().take(100).collect() };
            *logs.by_message.entry(format!("{} {text}", if level.is_empty() { "RAW" } else { level })).or_default() +=
                1;
        }
        logs.last_lines.push_back(line);
        if logs.last_lines.len() > 300 {
            logs.last_lines.pop_front();
        }
    }
}

fn ports_from(fields: &Value) -> Option<Ports> {
    let addr = |name: &str| fields.get(name)?.as_str()?.parse::<SocketAddr>().ok();
    Some(Ports {
        grpc: addr("grpc")?,
        http: addr("http")?,
        legacy_kv: addr("legacy_kv")?,
        legacy_chat: addr("legacy_chat")?,
        legacy_echo: addr("legacy_echo")?,
        legacy_binary: addr("legacy_binary")?,
    })
}

async fn sample(pid: u32, samples: Arc<Mutex<Samples>>) {
    loop {
        let rss = peak_rss_kib(pid);
        let fds = count_fds(pid);
        {
            let mut samples = lock(&samples);
            samples.peak_rss_kib = samples.peak_rss_kib.max(rss);
            if let Some(fds) = fds {
                samples.peak_fds = samples.peak_fds.max(fds);
                samples.last_fds = fds;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The kernel's high-water mark of the process's resident memory (VmHWM), KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn count_fds(pid: u32) -> Option<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(|entries| entries.count() as u64)
}
