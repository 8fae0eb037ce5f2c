//! What every client saw: each operation with the time it was invoked, the time its answer
//! (or its failure) came back, and what that answer was. The checkers read nothing else.
//!
//! Times are microseconds since the run's epoch, taken by the client just before it sends
//! and just after it has read the answer, so the real operation lies inside `[invoke, ret]`.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Microseconds since the run's epoch.
pub type Micros = u64;

/// The run's clock: every timestamp of one history comes from one of these.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn now(&self) -> Micros {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// The front door an operation went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Door {
    Grpc,
    Rest,
    LegacyKv,
    LegacyKvPipelined,
    Binary,
    TelnetChat,
    LegacyEcho,
}

impl Door {
    pub fn label(self) -> &'static str {
        match self {
            Door::Grpc => "gRPC",
            Door::Rest => "REST",
            Door::LegacyKv => "legacy KV",
            Door::LegacyKvPipelined => "legacy KV pipelined",
            Door::Binary => "binary frames",
            Door::TelnetChat => "telnet chat",
            Door::LegacyEcho => "legacy echo",
        }
    }
}

/// The service behind the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Service {
    Kv,
    Users,
    Payments,
    Chat,
    Watch,
    Echo,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Service::Kv => "kv",
            Service::Users => "users",
            Service::Payments => "payments",
            Service::Chat => "chat",
            Service::Watch => "kv watch",
            Service::Echo => "echo",
        }
    }
}

/// Why an operation did not succeed, as its client saw it. `status` is a short label for
/// the error table (`UNAVAILABLE`, `HTTP 503`, `connection lost`, `client timeout`…);
/// `message` is what the server said, if anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub status: String,
    pub message: String,
    /// The server answered that the operation did not happen (INVALID_ARGUMENT, a refusal
    /// before it ran). Otherwise the outcome is unknown: it may have taken effect, at any
    /// time after it was invoked.
    pub definite: bool,
}

impl Failure {
    pub fn unknown(status: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status: status.into(), message: message.into(), definite: false }
    }

    pub fn refused(status: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status: status.into(), message: message.into(), definite: true }
    }
}

// ---- key-value --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvAction {
    Get,
    Set { value: String },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvReply {
    /// A read: the value, or none (NOT_FOUND, `NULL`, 404).
    Value(Option<String>),
    /// A write was applied; `replaced` when the door says whether a value was there before.
    Set { replaced: Option<bool> },
    /// A delete answered: `existed` false is NOT_FOUND (`ERROR: Key not found`, 404).
    Deleted { existed: bool },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KvOp {
    pub door: Door,
    pub client: u32,
    pub key: String,
    pub action: KvAction,
    pub invoke: Micros,
    pub ret: Micros,
    pub outcome: Result<KvReply, Failure>,
    /// A read made by the verifier after the last recovery.
    pub final_read: bool,
}

impl KvOp {
    pub fn is_write(&self) -> bool {
        !matches!(self.action, KvAction::Get)
    }
}

// ---- users ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserAction {
    /// Every create has a username and e-mail of its own, so a user found later names the
    /// create that made it.
    Create {
        username: String,
        email: String,
    },
    Get,
    /// Renames the user (`update_mask: username`) to a name of its own.
    Update {
        username: String,
    },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserReply {
    User { id: i64, username: String },
    NotFound,
    Deleted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserOp {
    pub door: Door,
    pub client: u32,
    /// The user; `None` for a create whose answer was lost (resolved later by its e-mail).
    pub id: Option<i64>,
    pub action: UserAction,
    pub invoke: Micros,
    pub ret: Micros,
    pub outcome: Result<UserReply, Failure>,
    pub final_read: bool,
}

/// A user as the verifier's final listing shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserFinal {
    pub id: i64,
    pub username: String,
    pub email: String,
}

// ---- payments ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSeen {
    pub id: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub status: String,
}

/// One logical create under an idempotency key (the client library may send it several
/// times, always with the same key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentCreate {
    pub door: Door,
    pub client: u32,
    pub key: String,
    pub amount_minor: i64,
    pub invoke: Micros,
    pub ret: Micros,
    pub outcome: Result<PaymentSeen, Failure>,
    /// Sent by the verifier after the last recovery, for a key whose create had failed.
    pub recovery: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundOp {
    pub door: Door,
    pub client: u32,
    pub key: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub invoke: Micros,
    pub ret: Micros,
    /// The payment as the refund's answer shows it.
    pub outcome: Result<PaymentSeen, Failure>,
}

/// A payment as a listing shows it; `description` carries the idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentFinal {
    pub id: String,
    pub description: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub status: String,
}

// ---- chat -------------------------------------------------------------------------------

/// A message a member sent: its text is `m<n>`, numbered from 1 per session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatSay {
    pub door: Door,
    /// The sender's session name (unique per session).
    pub member: String,
    pub n: u64,
    pub invoke: Micros,
    pub outcome: Result<(), Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatSeen {
    /// A message; `sequence` is the room's number for it (gRPC only; telnet shows none).
    Message { sequence: Option<u64>, from: String, n: u64 },
    /// Another room event (a join or a leave), with its number where the door shows it.
    Room { sequence: Option<u64> },
    /// "You read too slowly: `count` room events were skipped here."
    Missed { count: u64 },
    /// The server refused one of this member's requests (a `ChatError` event).
    Refused { message: String },
}

/// Everything one member session received, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatSession {
    pub door: Door,
    pub member: String,
    /// Reads slowly on purpose, so that it is made to skip.
    pub slow: bool,
    pub joined: Micros,
    pub ended: Micros,
    pub seen: Vec<(Micros, ChatSeen)>,
    pub end: String,
}

// ---- watch ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSeen {
    pub at: Micros,
    pub key: String,
    /// The new value; `None` for a deletion.
    pub value: Option<String>,
}

/// One watch stream, from the moment the server had registered it (the response headers
/// arrived) to its end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchSession {
    pub door: Door,
    pub client: u32,
    pub established: Micros,
    pub ended: Micros,
    pub events: Vec<WatchSeen>,
    pub end: String,
}

// ---- other operations -------------------------------------------------------------------

/// An operation checked on the spot (echo, ping, health): its answer was right or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimpleOp {
    pub door: Door,
    pub service: Service,
    pub invoke: Micros,
    pub ret: Micros,
    pub outcome: Result<(), Failure>,
    /// What was wrong with a wrong answer (an echo that came back different).
    pub wrong: Option<String>,
}

// ---- the run ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FaultKind {
    /// SIGKILL the server, start it again.
    Kill,
    /// SIGTERM the server (graceful drain), start it again.
    Term,
    /// Close every client connection through the proxy, refuse new ones for a moment.
    ProxyCut,
    /// Add latency to every chunk through the proxy.
    ProxyDelay,
    /// Close the server-to-client half of every connection, then the rest.
    ProxyHalfClose,
    /// Fill the filesystem under the SQLite data directory, then free it.
    DiskFull,
    /// Cut the server's connections to PostgreSQL.
    PostgresCut,
    /// Cut the server's connections to NATS.
    NatsCut,
}

impl FaultKind {
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Kill => "SIGKILL + restart",
            FaultKind::Term => "SIGTERM + restart",
            FaultKind::ProxyCut => "proxy: cut connections",
            FaultKind::ProxyDelay => "proxy: delay",
            FaultKind::ProxyHalfClose => "proxy: half-close",
            FaultKind::DiskFull => "disk full",
            FaultKind::PostgresCut => "cut PostgreSQL",
            FaultKind::NatsCut => "cut NATS",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub start: Micros,
    /// When the fault was healed (the server ready again, the disk freed…).
    pub end: Micros,
    pub detail: String,
}

/// One life of the server process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incarnation {
    pub pid: u32,
    pub started: Micros,
    pub ready: Micros,
    pub ended: Option<Micros>,
    /// How it ended: `SIGKILL`, `SIGTERM: exit 0 after 312 ms`, `exited by itself: …`.
    pub end: String,
    /// It ended without being told to, or a SIGTERM did not end in exit 0 within the grace.
    pub unexpected_end: bool,
    pub fds_at_ready: Option<u64>,
    /// Open files once the load had stopped and its clients had closed (the last life
    /// before the verifier's restart only).
    pub fds_after_load: Option<u64>,
    pub peak_fds: u64,
    /// The kernel's high-water mark of resident memory (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Everything one backend's run recorded.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct History {
    /// Which setup ran (`SQLite`, `PostgreSQL + NATS`).
    pub backend: String,
    pub kv: Vec<KvOp>,
    pub users: Vec<UserOp>,
    pub users_final: Vec<UserFinal>,
    pub payments: Vec<PaymentCreate>,
    pub refunds: Vec<RefundOp>,
    /// Listed after the last recovery, before failed creates were sent again.
    pub payments_before_recovery: Vec<PaymentFinal>,
    /// Listed at the very end.
    pub payments_final: Vec<PaymentFinal>,
    pub chat_says: Vec<ChatSay>,
    pub chat_sessions: Vec<ChatSession>,
    pub watches: Vec<WatchSession>,
    pub simple: Vec<SimpleOp>,
    pub faults: Vec<Fault>,
    pub incarnations: Vec<Incarnation>,
    /// The load ran without faults before `faults_from` and after `faults_until`.
    pub faults_from: Micros,
    pub faults_until: Micros,
    pub load_until: Micros,
    /// How long after a server process died a write it had sent on may still land (the
    /// engine's own commit of it: PostgreSQL); zero for SQLite, which lives in the process.
    pub pending_slack: Micros,
}

impl History {
    /// The windows during which the data directory's filesystem was full.
    pub fn disk_full_windows(&self) -> Vec<(Micros, Micros)> {
        self.faults.iter().filter(|f| f.kind == FaultKind::DiskFull).map(|f| (f.start, f.end)).collect()
    }
}
