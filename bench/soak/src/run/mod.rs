//! One backend's soak: the server under its fault proxies, the load on every front door, the
//! fault injector, then recovery and the final reads that the checkers compare the history
//! against.

pub mod disk;
pub mod faults;
pub mod fleet;
pub mod load;
pub mod postgres;
pub mod proxy;
pub mod server;
pub mod verify;

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use rand::Rng;
use switchboard_soak::history::{Clock, Door, Failure, History, KvAction, KvOp, KvReply, Micros};
use tokio::sync::watch;

use self::proxy::FaultProxy;

/// The two storage setups the soak runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The default: SQLite in the data directory (on a small tmpfs, so it can be filled).
    Sqlite,
    /// PostgreSQL for state and NATS for chat, both reached through fault proxies.
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL + NATS",
        }
    }
}

/// Where the clients connect: the fault proxies in front of the server's ports, one per front
/// door like the server's own. These stay put across restarts; the proxies follow the server
/// to its new ports.
pub type Doors = server::Ports;

/// The payment API key of the soak's server.
pub const API_KEY: &str = "sk_test_soak";

/// What every load task shares.
pub struct Ctx {
    pub clock: Clock,
    history: Mutex<History>,
    pub doors: Doors,
    stop: watch::Receiver<bool>,
    /// Names this run's keys, e-mails and idempotency keys apart from any other run's.
    pub tag: String,
    /// The KV keys every door works on (all under `soak/`, which the watchers watch).
    pub keys: Vec<String>,
    /// Users known to exist (acknowledged creates), shared so every door works on them.
    pub users: Mutex<Vec<i64>>,
    /// Payments that succeeded, with their amounts, for refunds.
    pub payments: Mutex<Vec<(String, i64)>>,
    next_client: AtomicU32,
}

pub const WATCH_PREFIX: &str = "soak/";

impl Ctx {
    pub fn new(clock: Clock, doors: Doors, stop: watch::Receiver<bool>, tag: String, keys: usize) -> Self {
        Self {
            clock,
            history: Mutex::new(History::default()),
            doors,
            stop,
            tag,
            keys: (0..keys).map(|i| format!("{WATCH_PREFIX}k{i}")).collect(),
            users: Mutex::new(Vec::new()),
            payments: Mutex::new(Vec::new()),
            next_client: AtomicU32::new(1),
        }
    }

    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// A number for a new client, unique in this run.
    pub fn client_id(&self) -> u32 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }

    pub fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when the load is told to stop.
    pub async fn stopping(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stop| *stop).await;
    }

    /// The history, to record into.
    pub fn record(&self) -> MutexGuard<'_, History> {
        lock(&self.history)
    }

    /// Records a load client's KV operation that ends now; whether it failed.
    pub fn record_kv(
        &self,
        door: Door,
        client: u32,
        key: String,
        action: KvAction,
        invoke: Micros,
        outcome: Result<KvReply, Failure>,
    ) -> bool {
        let failed = outcome.is_err();
        let ret = self.now();
        self.record().kv.push(KvOp { door, client, key, action, invoke, ret, outcome, final_read: false });
        failed
    }

    pub fn into_history(self) -> History {
        self.history.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    pub fn random_key(&self) -> &str {
        &self.keys[rand::rng().random_range(0..self.keys.len())]
    }

    /// Sleeps `range` milliseconds (uniformly), or until the load stops.
    pub async fn pause(&self, range: std::ops::Range<u64>) {
        let ms = rand::rng().random_range(range);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => {}
            () = self.stopping() => {}
        }
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long any single operation may take before its client gives up on it.
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);

/// A client library error as the history records it.
pub fn client_failure(error: &switchboard_client::Error) -> Failure {
    use switchboard_client::Error;
    use tonic::Code;
    let code = error.code();
    let message = match error {
        Error::Other(status) => status.message().to_owned(),
        other => other.to_string(),
    };
    // The server said the call did not run: bad input, no credentials, a rate limit with
    // RetryInfo. Everything else (UNAVAILABLE, a deadline, a lost connection) may have run.
    let definite = matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::OutOfRange
            | Code::Unimplemented
    );
    let lower = message.to_lowercase();
    let transport = matches!(error, Error::Other(status) if std::error::Error::source(status.as_ref()).is_some())
        || (code == Code::Unavailable
            && ["transport", "connect", "connection", "broken pipe", "h2 protocol", "stream closed"]
                .iter()
                .any(|hint| lower.contains(hint)));
    let status = if transport { "connection lost".to_owned() } else { code_name(code).to_owned() };
    Failure { status, message, definite }
}

/// The canonical name of a gRPC code (`UNAVAILABLE`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The soak's working directory for one backend.
pub fn work_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("switchboard-soak-{tag}"))
}

/// The same in `Arc` form, for tasks.
pub type SharedCtx = Arc<Ctx>;

/// What the soak of one backend needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server_bin: PathBuf,
    /// The whole run: load without faults, with faults, without again.
    pub duration: Duration,
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub disk_full: bool,
    /// KV keys every door shares.
    pub keys: usize,
}

/// A finished soak of one backend.
#[derive(Default)]
pub struct Outcome {
    pub history: History,
    pub logs: server::LogTally,
    pub proxies: Vec<(String, u64, u64, u64, u64)>,
}

/// The server's shutdown grace in the soak: short, so a SIGTERM restart is quick, and long
/// enough for a loaded debug build to drain.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub async fn soak(backend: Backend, settings: &Settings) -> anyhow::Result<Outcome> {
    use anyhow::Context as _;

    let tag: String = {
        let mut rng = rand::rng();
        (0..8).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect()
    };
    let clock = Clock::start();
    let work = work_dir(&tag);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let data = work.join("data");
    let mut args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--legacy-kv-listen",
        "127.0.0.1:0",
        "--legacy-chat-listen",
        "127.0.0.1:0",
        "--legacy-echo-listen",
        "127.0.0.1:0",
        "--legacy-binary-listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        // The access line of every call would be most of the output; warnings are kept.
        "--log",
        "info,switchboard::access=warn",
        "--payment-api-keys",
        API_KEY,
        "--shutdown-grace",
        "3s",
        // A small ring, so the slow readers are made to skip.
        "--chat-member-queue",
        "64",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push("--data-dir".into());
    args.push(data.to_string_lossy().into_owned());

    let mut disk = None;
    let mut schema = None;
    let (mut postgres_proxy, mut nats_proxy) = (None, None);
    match backend {
        Backend::Sqlite => {
            args.extend(["--storage".into(), "sqlite".into()]);
            if settings.disk_full {
                disk = Some(disk::TmpfsHolder::start(&data, 64).await?);
            } else {
                std::fs::create_dir_all(&data)?;
            }
        }
        Backend::Postgres => {
            let database = settings.database_url.as_deref().context("the PostgreSQL backend needs --database-url")?;
            let nats = settings.nats_url.as_deref().context("the PostgreSQL backend needs --nats-url")?;
            let created = postgres::Schema::create(database, &tag).await?;
            let pg = FaultProxy::start("PostgreSQL", Some(postgres::loopback_authority(database).await?)).await?;
            let ns = FaultProxy::start("NATS", Some(postgres::loopback_authority(nats).await?)).await?;
            args.extend(["--database-url".into(), created.url_via(pg.addr)]);
            args.extend(["--nats-url".into(), postgres::with_authority(nats, ns.addr)]);
            args.extend(["--nats-subject".into(), format!("switchboard.soak.{tag}")]);
            std::fs::create_dir_all(&data)?;
            schema = Some(created);
            postgres_proxy = Some(pg);
            nats_proxy = Some(ns);
        }
    }
    let spec = server::ServerSpec {
        bin: settings.server_bin.clone(),
        args,
        mount_namespace_of: disk.as_ref().map(|d: &disk::TmpfsHolder| d.pid),
        shutdown_grace: SHUTDOWN_GRACE,
    };
    let fleet = Arc::new(fleet::Fleet::new(clock, spec, postgres_proxy, nats_proxy, disk).await?);
    fleet.start_server().await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx: SharedCtx = Arc::new(Ctx::new(clock, fleet.doors(), stop_rx, tag.clone(), settings.keys));
    // The watchdog: a server that dies on its own is recorded and started again.
    let watchdog = {
        let fleet = Arc::clone(&fleet);
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            while !ctx.stopped() {
                if let Err(error) = fleet.watchdog().await {
                    eprintln!("soak: restarting the server after it died failed: {error:#}");
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let tasks = load::start(&ctx);

    let total = settings.duration;
    let quiet = total.mul_f64(0.2).max(Duration::from_secs(3));
    tokio::time::sleep(quiet).await;
    let faults_from = ctx.now();
    let fault_phase = total.saturating_sub(quiet * 2).max(Duration::from_secs(5));
    let kinds = faults::kinds(backend == Backend::Postgres, fleet.disk.is_some());
    let until = faults_from + u64::try_from(fault_phase.as_micros()).unwrap_or(u64::MAX);
    faults::inject(&ctx, &fleet, &kinds, until).await?;
    let faults_until = ctx.now();
    tokio::time::sleep(quiet).await;

    let load_until = ctx.now();
    stop_tx.send_replace(true);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(15), task).await.is_err() {
            abort.abort();
        }
    }
    let _ = watchdog.await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    fleet.note_fds_after_load().await;

    // The last recovery: a crash with nothing in flight, then everything is read back.
    fleet.kill().await;
    fleet.start_server().await?;
    verify::final_reads(&ctx).await?;
    fleet.terminate().await;

    let mut history = Arc::try_unwrap(ctx).map_err(|_| anyhow::anyhow!("a load task outlived the run"))?.into_history();
    history.incarnations = fleet.incarnations();
    history.faults_from = faults_from;
    history.faults_until = faults_until;
    history.load_until = load_until;
    history.pending_slack = if backend == Backend::Postgres { 2_000_000 } else { 0 };
    history.backend = backend.label().to_owned();
    let proxies = fleet
        .client_proxies()
        .into_iter()
        .chain(fleet.postgres.iter())
        .chain(fleet.nats.iter())
        .map(|p| {
            use std::sync::atomic::Ordering::Relaxed;
            (
                p.name.to_owned(),
                p.stats.accepted.load(Relaxed),
                p.stats.refused.load(Relaxed),
                p.stats.cut.load(Relaxed),
                p.stats.half_closed.load(Relaxed),
            )
        })
        .collect();
    let fleet = Arc::try_unwrap(fleet).map_err(|_| anyhow::anyhow!("the fleet is still shared"))?;
    let logs = std::mem::take(&mut *lock(&fleet.logs));
    if let Some(disk) = fleet.disk {
        disk.stop().await;
    }
    if let Some(schema) = schema {
        schema.drop().await;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(Outcome { history, logs, proxies })
}
