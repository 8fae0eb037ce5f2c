//! Where state lives: one small trait per kind of state (users, key-value entries, payments,
//! files) and the record types they speak. This room knows storage and nothing of gRPC; the
//! services translate between these records and the protobuf messages.
//!
//! Every backend keeps the same invariants, which the services rely on:
//! * user e-mails are unique without regard to letter case;
//! * an idempotency key, per account, maps to exactly one request fingerprint and one result,
//!   decided atomically (two racing calls with one key see one winner);
//! * a payment's refunded total never exceeds its amount (checked inside the same atomic
//!   step that records the refund).
//!
//! Three backends keep them: [`memory`] (ephemeral), [`sqlite`] (the durable default: one
//! file under the data directory, group-committed) and [`postgres`] (shared by replicas).
//! A write a durable backend has acknowledged has been committed to disk (SQLite with
//! `synchronous=FULL`, PostgreSQL with its own commit durability).

pub mod memory;
pub mod postgres;
mod sql;
pub mod sqlite;
mod timed;

use std::{pin::Pin, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use tokio_stream::Stream;

/// A failure of the storage engine itself (not of the caller's request).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The engine cannot be reached or refused the work; retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The engine returned something this code does not understand.
    #[error("storage failure: {0}")]
    Corrupt(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub age: i32,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

/// The fields a client sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    pub username: String,
    pub email: String,
    pub age: i32,
}

/// Which fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<String>,
    pub age: Option<i32>,
}

impl UserFields {
    /// The user these fields make, under the `id` the store gave it.
    pub fn created(self, id: i64, now: SystemTime) -> UserRecord {
        UserRecord { id, username: self.username, email: self.email, age: self.age, create_time: now, update_time: now }
    }
}

impl UserRecord {
    /// The user with `patch` applied at `now`: every backend updates through this.
    pub fn apply(&mut self, patch: UserPatch, now: SystemTime) {
        if let Some(username) = patch.username {
            self.username = username;
        }
        if let Some(email) = patch.email {
            self.email = email;
        }
        if let Some(age) = patch.age {
            self.age = age;
        }
        self.update_time = now;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("no user with id {0}")]
    NotFound(i64),
    #[error("e-mail {0:?} is already registered")]
    EmailTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn create(&self, fields: UserFields, now: SystemTime) -> Result<UserRecord, UserWriteError>;
    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>>;
    /// Users with `id > after`, ascending by id, whose username or e-mail contains `query`
    /// (already lower-cased; empty matches all), at most `limit` of them.
    async fn list(&self, query: &str, after: i64, limit: usize) -> StorageResult<Vec<UserRecord>>;
    async fn update(&self, id: i64, patch: UserPatch, now: SystemTime) -> Result<UserRecord, UserWriteError>;
    /// `false` if there was no such user.
    async fn delete(&self, id: i64) -> StorageResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Key-value

#[async_trait]
pub trait KvStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> StorageResult<Option<String>>;
    /// `true` if the key had a value before.
    async fn set(&self, key: &str, value: &str) -> StorageResult<bool>;
    /// `true` if the key existed.
    async fn delete(&self, key: &str) -> StorageResult<bool>;
    /// Keys starting with `prefix`, strictly after `after` (if any), ascending by bytes, at
    /// most `limit`.
    async fn list_keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> StorageResult<Vec<String>>;
}

// ---------------------------------------------------------------------------------------------
// Payments

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    Succeeded,
    Failed,
    PartiallyRefunded,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: String,
    /// The API key's account; payments of one account are invisible to the others.
    pub account: String,
    pub amount_minor: i64,
    pub currency: String,
    pub customer_id: String,
    pub description: String,
    pub state: PaymentState,
    pub refunded_minor: i64,
    pub failure_code: String,
    pub failure_message: String,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub reason: String,
    pub create_time: SystemTime,
}

/// What an idempotent write found: either it did the work, or the key was used before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent<T> {
    /// This call did the work.
    Created(T),
    /// The same request was made before under this key; here is its original result.
    Replayed(T),
    /// The key was used before for a different request.
    KeyReused,
}

/// A refund to record, planned by the service.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub id: String,
    pub payment_id: String,
    /// 0 refunds everything that remains.
    pub amount_minor: i64,
    pub reason: String,
    pub time: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRejection {
    NoSuchPayment,
    NotRefundable(PaymentState),
    /// More was asked than remains refundable.
    ExceedsRemaining {
        remaining_minor: i64,
    },
}

// Returned once and matched at once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Done(Idempotent<(RefundRecord, PaymentRecord)>),
    Rejected(RefundRejection),
}

impl NewRefund {
    /// Plans this refund of `payment` (as read inside the backend's atomic step; `None` if
    /// there is no such payment) for `account`: the refund record and the payment as it is
    /// after the refund, or why it is refused. Every backend refunds through this.
    pub fn plan(
        self,
        payment: Option<&PaymentRecord>,
        account: &str,
    ) -> Result<(RefundRecord, PaymentRecord), RefundRejection> {
        let payment = payment.filter(|p| p.account == account).ok_or(RefundRejection::NoSuchPayment)?;
        let (amount_minor, updated) = payment.apply_refund(self.amount_minor, self.time)?;
        let record = RefundRecord {
            id: self.id,
            payment_id: self.payment_id,
            amount_minor,
            reason: self.reason,
            create_time: self.time,
        };
        Ok((record, updated))
    }
}

impl PaymentRecord {
    /// The one rule for refunds: only charged payments can be refunded, and never by more
    /// than what remains. Returns the refund's amount and the payment as it is after the
    /// refund.
    fn apply_refund(&self, requested_minor: i64, time: SystemTime) -> Result<(i64, PaymentRecord), RefundRejection> {
        if !matches!(self.state, PaymentState::Succeeded | PaymentState::PartiallyRefunded) {
            return Err(RefundRejection::NotRefundable(self.state));
        }
        let remaining_minor = self.amount_minor - self.refunded_minor;
        let amount = if requested_minor == 0 { remaining_minor } else { requested_minor };
        if amount > remaining_minor {
            return Err(RefundRejection::ExceedsRemaining { remaining_minor });
        }
        let mut after = self.clone();
        after.refunded_minor += amount;
        after.state = if after.refunded_minor == after.amount_minor {
            PaymentState::Refunded
        } else {
            PaymentState::PartiallyRefunded
        };
        after.update_time = time;
        Ok((amount, after))
    }
}

/// The idempotency key a write is claimed under, and the fingerprint of its request: a retry
/// with the same key and fingerprint gets the first answer; another request under the same key
/// is `KeyReused`.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub idempotency_key: &'a str,
    pub fingerprint: &'a str,
}

/// One page of an account's payments: newest first, strictly after the cursor `after`
/// (`(create_time, id)` of the last one seen), optionally of one customer.
#[derive(Debug, Clone)]
pub struct PaymentPage<'a> {
    pub account: &'a str,
    pub customer_id: Option<&'a str>,
    pub after: Option<(SystemTime, String)>,
    pub limit: usize,
}

#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// Stores `payment` under (`payment.account`, the claim's key) unless that key is taken:
    /// then returns the original payment if the fingerprint matches, or `KeyReused`.
    async fn create(&self, claim: Claim<'_>, payment: PaymentRecord) -> StorageResult<Idempotent<PaymentRecord>>;
    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>>;
    async fn list(&self, page: PaymentPage<'_>) -> StorageResult<Vec<PaymentRecord>>;
    /// Records a refund of one of `account`'s payments atomically with
    /// [`PaymentRecord::apply_refund`], under the same idempotency rules as
    /// [`PaymentStore::create`].
    async fn refund(&self, account: &str, claim: Claim<'_>, refund: NewRefund) -> StorageResult<RefundOutcome>;
}

// ---------------------------------------------------------------------------------------------
// Files

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
    pub create_time: SystemTime,
}

/// Content of a stored file, in chunks.
pub type FileContent = Pin<Box<dyn Stream<Item = StorageResult<Bytes>> + Send>>;

/// An upload in progress. Nothing is visible until [`FileUpload::commit`]; dropping it
/// without a commit discards what was written.
#[async_trait]
pub trait FileUpload: Send {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()>;
    /// Makes the file visible under its name, replacing any earlier file of that name.
    async fn commit(self: Box<Self>, record: FileRecord) -> StorageResult<FileRecord>;
}

#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// `name` has been validated by the caller: it is a plain file name, never a path.
    async fn begin_upload(&self, name: &str) -> StorageResult<Box<dyn FileUpload>>;
    async fn open(&self, name: &str) -> StorageResult<Option<(FileRecord, FileContent)>>;
    /// Files named strictly after `after`, ascending by name, at most `limit`.
    async fn list(&self, after: Option<&str>, limit: usize) -> StorageResult<Vec<FileRecord>>;
    /// `false` if there was no such file.
    async fn delete(&self, name: &str) -> StorageResult<bool>;
}

/// Why a store could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the database schema is newer than this switchboard (it has migration {0}, which this binary does \
         not know); upgrade the binary"
    )]
    SchemaNewer(i64),
    #[error("cannot migrate the database schema: {0}")]
    Migrate(String),
    #[error("cannot use {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot open the database: {0}")]
    Connect(String),
}

/// The engine behind a set of stores, for health probes.
#[derive(Clone)]
pub enum Engine {
    Memory,
    Sqlite(std::sync::Arc<sqlite::SqliteDb>),
    Postgres(sqlx::PgPool),
}

impl Engine {
    /// Whether the engine answers now. Fails fast: pools time out acquiring in seconds.
    pub async fn probe(&self) -> StorageResult<()> {
        match self {
            Engine::Memory => Ok(()),
            Engine::Sqlite(db) => db.probe().await,
            Engine::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop).map_err(postgres::error),
        }
    }
}

/// The stores a server runs on.
#[derive(Clone)]
pub struct Stores {
    pub users: std::sync::Arc<dyn UserStore>,
    pub kv: std::sync::Arc<dyn KvStore>,
    pub payments: std::sync::Arc<dyn PaymentStore>,
    pub files: std::sync::Arc<dyn FileStore>,
    pub engine: Engine,
}

impl Stores {
    /// Everything in this process's memory: gone when it exits.
    pub fn memory() -> Self {
        Self {
            users: std::sync::Arc::new(memory::MemoryUserStore::default()),
            kv: std::sync::Arc::new(memory::MemoryKvStore::default()),
            payments: std::sync::Arc::new(memory::MemoryPaymentStore::default()),
            files: std::sync::Arc::new(memory::MemoryFileStore::default()),
            engine: Engine::Memory,
        }
    }

    /// The last step of a graceful shutdown, after the last call has finished. Every backend
    /// commits each write durably before acknowledging it (SQLite with `synchronous=FULL`
    /// through the group-commit writer, PostgreSQL by its own commit), so nothing is buffered
    /// here to write; what is left is to make sure the engine still answers, so a failure at
    /// the very end is logged rather than silent.
    pub async fn flush(&self) -> StorageResult<()> {
        self.engine.probe().await
    }

    /// Durable stores in `data_dir` (created if missing): `switchboard.db` and `files/`.
    pub async fn sqlite(data_dir: &std::path::Path) -> Result<Self, OpenError> {
        let db = std::sync::Arc::new(sqlite::SqliteDb::open(data_dir).await?);
        Ok(Self {
            users: db.clone(),
            kv: db.clone(),
            payments: db.clone(),
            files: db.clone(),
            engine: Engine::Sqlite(db),
        })
    }

    /// Stores in PostgreSQL at `url`, shareable by any number of replicas.
    pub async fn postgres(url: &str) -> Result<Self, OpenError> {
        let db = std::sync::Arc::new(postgres::PgDb::open(url).await?);
        Ok(Self {
            users: db.clone(),
            kv: db.clone(),
            payments: db.clone(),
            files: db.clone(),
            engine: Engine::Postgres(db.pool()),
        })
    }
}
