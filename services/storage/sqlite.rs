//! The durable default: every store in one SQLite database (`<data-dir>/switchboard.db`, WAL,
//! `synchronous=FULL`) and file contents beside it (`<data-dir>/files/blobs/`).
//!
//! Writes go through one writer thread that owns the only writing connection: it takes every
//! write that is waiting (up to [`MAX_BATCH`]), runs them in one transaction (a write of
//! several statements in a savepoint of its own, so it is all-or-nothing), commits once — one
//! fsync for the whole batch — and only then answers each caller. So an acknowledged write is
//! on disk, and many concurrent writers share fsyncs (group commit). One writer also makes
//! every write atomic with respect to the others, which is what the invariants of [`super`]
//! need.
//!
//! Everything here speaks to SQLite through `rusqlite`, the one SQLite driver of the crate.
//! The writer is a plain thread with a `rusqlite` connection and cached prepared statements,
//! not an async sqlx connection: sqlx runs each SQLite statement on a worker thread of its
//! own and hands it over through channels, and with four or five statements a write those
//! hand-offs made the single writer CPU-bound at about 100 µs a write. On the writer's own
//! thread a write costs a few µs of SQLite work and the fsync is shared. The same connection
//! runs the migrations ([`migrations`], history compatible with what sqlx wrote) and the
//! start-up loading before the thread takes it. The reads that do touch SQLite (payments,
//! files, the probe) run on [`Readers`]: a few read-only connections used on the blocking
//! pool, which WAL lets read a committed snapshot while the writer commits.
//!
//! The statements both engines run come from [`sql`]; [`execute`] and [`select`] bind them.
//!
//! Key-value entries and users are the hot path of the suite, so both tables are also held
//! in memory (as Redis holds its dataset), loaded at start-up: `Get`/`ListKeys` and
//! `GetUser`/`ListUsers` never touch SQLite. The mirrors are updated by the writer right
//! after each commit, in commit order, and before the caller is answered, so a client that
//! was told `OK` reads its own write. The cost is memory for those two datasets (values are
//! bounded by `--kv-max-value-bytes`; a user is a few hundred bytes).

mod migrations;

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension,
    types::{ToSqlOutput, ValueRef},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{Semaphore, mpsc, oneshot},
};

use super::memory::{list_keys_in, list_users_in, lock};
use super::{
    sql::{self, Param, Query, RowExt, RowLock},
    *,
};

/// Most writes one transaction carries. Bounds how long the first caller of a batch waits
/// behind the others.
pub const MAX_BATCH: usize = 256;
/// Writes that may wait for the writer; callers beyond this wait to enqueue (backpressure).
const QUEUE: usize = 4096;
/// Prepared statements the writer keeps: every statement it runs, with room to spare.
const WRITER_STATEMENTS: usize = 64;
/// The writer's page cache, in KiB.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Read-only connections; a read beyond waits for one to be free, up to [`READ_WAIT`],
/// then fails with UNAVAILABLE.
const READERS: usize = 4;
const READ_WAIT: Duration = Duration::from_secs(5);
/// How long a statement waits for a lock another connection holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 64 * 1024;

/// Called once the batch that ran a write has committed (`Ok`) or failed.
type Reply = Box<dyn FnOnce(Result<(), StorageError>) + Send>;
/// One write: runs on the writer's connection inside the batch transaction, says whether it
/// succeeded (else its savepoint, if it has one, is rolled back), and how to answer its caller.
struct Job {
    run: RunJob,
    statements: Statements,
}

type RunJob = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// How many statements of a write change the database, which decides whether it needs a
/// savepoint of its own to be all-or-nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statements {
    /// At most one: SQLite undoes a failed statement by itself, so no savepoint is needed
    /// (one costs two more statements and a copy of every page the write touches).
    One,
    /// Several: they run in a savepoint, rolled back if the write fails.
    Several,
}

/// The way to the writer thread.
#[derive(Clone)]
struct Writer {
    jobs: mpsc::Sender<Job>,
}

pub struct SqliteDb {
    writer: Writer,
    readers: Readers,
    blobs: PathBuf,
    tmp: PathBuf,
    /// Every committed key-value entry (see the module docs).
    kv: Arc<Mutex<BTreeMap<String, String>>>,
    /// Every committed user, by id (see the module docs).
    users: Arc<Mutex<BTreeMap<i64, UserRecord>>>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io { path: path.to_owned(), source }
}

fn connect_error(error: impl std::fmt::Display) -> OpenError {
    OpenError::Connect(error.to_string())
}

impl SqliteDb {
    pub async fn open(data_dir: &Path) -> Result<Self, OpenError> {
        let files = data_dir.join("files");
        let blobs = files.join("blobs");
        let tmp = files.join("tmp");
        for dir in [data_dir, &files, &blobs, &tmp] {
            tokio::fs::create_dir_all(dir).await.map_err(io_error(dir))?;
        }
        let db_path = data_dir.join("switchboard.db");
        // Opening, migrating and loading are blocking work: off the runtime's threads.
        let path = db_path.clone();
        let (connection, kv, users, referenced) = tokio::task::spawn_blocking(move || {
            let mut connection = open_writer(&path).map_err(connect_error)?;
            migrations::run(&mut connection)?;
            let (kv, users, referenced) = load(&connection).map_err(connect_error)?;
            Ok::<_, OpenError>((connection, kv, users, referenced))
        })
        .await
        .map_err(connect_error)??;

        // Leftovers of a crash: uploads that never completed, and blobs renamed into place
        // whose metadata never committed. Nothing refers to either.
        remove_unreferenced(&tmp, &HashSet::new()).await.map_err(io_error(&tmp))?;
        remove_unreferenced(&blobs, &referenced).await.map_err(io_error(&blobs))?;

        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(connection, queue))
            .map_err(io_error(&db_path))?;
        tracing::info!(path = %db_path.display(), kv_entries = kv.len(), users = users.len(), "SQLite storage open");
        Ok(Self {
            writer: Writer { jobs },
            readers: Readers::new(db_path),
            blobs,
            tmp,
            kv: Arc::new(Mutex::new(kv)),
            users: Arc::new(Mutex::new(users)),
        })
    }

    /// Whether reads are answered and the writer thread takes writes. The write is empty, so
    /// its commit changes no page and costs no fsync.
    pub async fn probe(&self) -> StorageResult<()> {
        self.readers.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(lite_error)).await?;
        self.writer.write(Statements::One, |_conn| Ok::<_, StorageError>(())).await
    }
}

/// What start-up loads: every key-value entry, every user, and the blobs files point at.
type Loaded = (BTreeMap<String, String>, BTreeMap<i64, UserRecord>, HashSet<String>);

fn load(conn: &Connection) -> Result<Loaded, StorageError> {
    let kv = conn
        .prepare("SELECT key, value FROM kv")
        .and_then(|mut statement| statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .map_err(lite_error)?;
    let users = select_all(conn, &sql::select_all_users(), sql::user)?.into_iter().map(|u| (u.id, u)).collect();
    let blobs = conn
        .prepare("SELECT blob FROM files")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(lite_error)?;
    Ok((kv, users, blobs))
}

/// The writing connection. It sets WAL (a property of the file, kept from then on) and
/// `synchronous=FULL`: a commit returns only after the WAL is fsynced — the durability
/// promise.
fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Pages the writer keeps in memory (KiB when negative); SQLite's default of 2 MiB made
    // every write to a larger table look its pages up in the OS cache again. Only a database
    // that large fills it.
    connection.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    connection.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    Ok(connection)
}

/// Read-only connections for the reads that touch SQLite, opened as they are first needed
/// and kept. A read runs on tokio's blocking pool, never on a runtime thread; at most
/// [`READERS`] run at once. In WAL a reader sees the last commit and neither waits for the
/// writer nor holds it up.
struct Readers {
    path: Arc<Path>,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    fn new(path: PathBuf) -> Self {
        Self { path: path.into(), idle: Arc::default(), permits: Arc::new(Semaphore::new(READERS)) }
    }

    async fn read<T, F>(&self, work: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StorageResult<T> + Send + 'static,
    {
        let permit = tokio::time::timeout(READ_WAIT, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| StorageError::Unavailable("every SQLite reader stayed busy".into()))?
            .map_err(|_| StorageError::Unavailable("the SQLite readers are closed".into()))?;
        let (path, idle) = (Arc::clone(&self.path), Arc::clone(&self.idle));
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let kept = lock(&idle).pop();
            let conn = match kept {
                Some(conn) => conn,
                None => open_reader(&path).map_err(lite_error)?,
            };
            let result = work(&conn);
            lock(&idle).push(conn);
            result
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("a SQLite read did not finish: {e}")))?
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

/// Sorts a SQLite error: the engine busy or out of resources (retry later), or something
/// this code does not understand.
fn lite_error(error: rusqlite::Error) -> StorageError {
    use rusqlite::ErrorCode as C;
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                C::DatabaseBusy | C::DatabaseLocked | C::SystemIoFailure | C::DiskFull | C::CannotOpen
            ) =>
        {
            StorageError::Unavailable(error.to_string())
        }
        _ => StorageError::Corrupt(error.to_string()),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == SQLITE_CONSTRAINT_UNIQUE || failure.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Int(value) => value.to_sql(),
            Param::Text(Some(text)) => Ok(ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))),
            Param::Text(None) => Ok(ToSqlOutput::Owned(rusqlite::types::Value::Null)),
        }
    }
}

/// A rusqlite row, decoded by the same functions as PostgreSQL's.
impl RowExt for rusqlite::Row<'_> {
    fn int(&self, column: &str) -> Result<i64, StorageError> {
        self.get(column).map_err(lite_error)
    }

    fn text(&self, column: &str) -> Result<String, StorageError> {
        self.get(column).map_err(lite_error)
    }
}

/// Runs one statement; the rows it changed.
fn execute(conn: &Connection, query: &Query<'_>) -> rusqlite::Result<usize> {
    conn.prepare_cached(query.sql)?.execute(rusqlite::params_from_iter(&query.params))
}

/// The one row `query` selects, if any, decoded by `decode`.
fn select<T>(
    conn: &Connection,
    query: &Query<'_>,
    decode: impl FnOnce(&dyn RowExt) -> StorageResult<T>,
) -> StorageResult<Option<T>> {
    conn.prepare_cached(query.sql)
        .and_then(|mut statement| {
            statement.query_row(rusqlite::params_from_iter(&query.params), |row| Ok(decode(row))).optional()
        })
        .map_err(lite_error)?
        .transpose()
}

/// Every row `query` selects, decoded by `decode`.
fn select_all<T>(
    conn: &Connection,
    query: &Query<'_>,
    decode: impl Fn(&dyn RowExt) -> StorageResult<T>,
) -> StorageResult<Vec<T>> {
    let mut statement = conn.prepare_cached(query.sql).map_err(lite_error)?;
    let mut rows = statement.query(rusqlite::params_from_iter(&query.params)).map_err(lite_error)?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().map_err(lite_error)? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// A statement of the writer's own (BEGIN, COMMIT, savepoints), without parameters.
fn control(conn: &Connection, sql: &'static str) -> rusqlite::Result<()> {
    execute(conn, &Query { sql, params: Vec::new() }).map(drop)
}

impl Writer {
    /// Runs `work` in the next batch and returns its result once the batch is durable.
    async fn write<T, E, F>(&self, statements: Statements, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.write_then(statements, work, |_| {}).await
    }

    /// [`Writer::write`], and `committed` runs on the writer thread once the batch is durable,
    /// in commit order, before the caller is answered.
    async fn write_then<T, E, F, C>(&self, statements: Statements, work: F, committed: C) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let run: RunJob = Box::new(move |conn: &Connection| {
            let result = work(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |batch: Result<(), StorageError>| {
                let outcome = batch.map_err(E::from).and(result);
                if let Ok(value) = &outcome {
                    committed(value);
                }
                let _ = answer.send(outcome);
            });
            (ok, reply)
        });
        self.jobs
            .send(Job { run, statements })
            .await
            .map_err(|_| StorageError::Unavailable("the SQLite writer has stopped".into()))?;
        // A dropped answer means the batch failed before this write ran.
        answered.await.unwrap_or_else(|_| Err(StorageError::Unavailable("the write was not committed".into()).into()))
    }
}

async fn remove_unreferenced(dir: &Path, keep: &HashSet<String>) -> std::io::Result<()> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) {
            tracing::info!(file = %entry.path().display(), "removing an unreferenced file left by a crash");
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    Ok(())
}

/// The group-commit loop, on the writer thread. Ends when every [`SqliteDb`] handle is gone.
fn run_writer(conn: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        // Everything that queued while the last batch committed goes into this one.
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let outcome = run_batch(&conn, &mut batch, &mut replies);
        if let Err(error) = &outcome {
            tracing::error!(%error, writes = replies.len(), "SQLite batch failed; rolling back");
            let _ = conn.execute_batch("ROLLBACK");
        }
        let outcome = outcome.map_err(lite_error);
        for reply in replies {
            reply(outcome.clone());
        }
        // Jobs that did not run are dropped here; their callers get UNAVAILABLE.
        batch.clear();
    }
}

fn run_batch(conn: &Connection, batch: &mut Vec<Job>, replies: &mut Vec<Reply>) -> rusqlite::Result<()> {
    // IMMEDIATE: take the write lock now rather than at the first write.
    control(conn, "BEGIN IMMEDIATE")?;
    for job in batch.drain(..) {
        let savepoint = job.statements == Statements::Several;
        if savepoint {
            control(conn, "SAVEPOINT write")?;
        }
        let (ok, reply) = (job.run)(conn);
        replies.push(reply);
        if savepoint {
            if !ok {
                control(conn, "ROLLBACK TO write")?;
            }
            control(conn, "RELEASE write")?;
        }
        // Some failures (disk full, I/O errors) end the whole transaction. The writes after
        // must not run outside one, and those before were undone: the batch has failed.
        if conn.is_autocommit() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("SQLite rolled the batch's transaction back".into()),
            ));
        }
    }
    control(conn, "COMMIT")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl UserStore for SqliteDb {
    async fn create(&self, fields: UserFields, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mirror = Arc::clone(&self.users);
        self.writer
            .write_then(
                Statements::One,
                move |conn| {
                    let insert = sql::insert_user(&fields, now);
                    let inserted = conn.prepare_cached(insert.sql).and_then(|mut statement| {
                        statement.query_row(rusqlite::params_from_iter(&insert.params), |row| row.get::<_, i64>(0))
                    });
                    drop(insert);
                    match inserted {
                        Ok(id) => Ok(fields.created(id, now)),
                        Err(e) if is_unique_violation(&e) => Err(UserWriteError::EmailTaken(fields.email)),
                        Err(e) => Err(lite_error(e).into()),
                    }
                },
                move |user: &UserRecord| {
                    lock(&mirror).insert(user.id, user.clone());
                },
            )
            .await
    }

    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>> {
        Ok(lock(&self.users).get(&id).cloned())
    }

    async fn list(&self, query: &str, after: i64, limit: usize) -> StorageResult<Vec<UserRecord>> {
        Ok(list_users_in(&lock(&self.users), query, after, limit))
    }

    async fn update(&self, id: i64, patch: UserPatch, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mirror = Arc::clone(&self.users);
        self.writer
            .write_then(
                Statements::One,
                move |conn| {
                    let current = select(conn, &sql::select_user(id, RowLock::None), sql::user)?;
                    let Some(mut user) = current else { return Err(UserWriteError::NotFound(id)) };
                    user.apply(patch, now);
                    match execute(conn, &sql::update_user(&user)) {
                        Ok(_) => Ok(user),
                        Err(e) if is_unique_violation(&e) => Err(UserWriteError::EmailTaken(user.email)),
                        Err(e) => Err(lite_error(e).into()),
                    }
                },
                move |user: &UserRecord| {
                    lock(&mirror).insert(user.id, user.clone());
                },
            )
            .await
    }

    async fn delete(&self, id: i64) -> StorageResult<bool> {
        let mirror = Arc::clone(&self.users);
        self.writer
            .write_then(
                Statements::One,
                move |conn| Ok(execute(conn, &sql::delete_user(id)).map_err(lite_error)? > 0),
                move |&deleted: &bool| {
                    if deleted {
                        lock(&mirror).remove(&id);
                    }
                },
            )
            .await
    }
}

// ---------------------------------------------------------------------------------------------

/// Whether a key has a value (SQLite's alone: PostgreSQL's upsert says so itself).
const KV_EXISTS: &str = "SELECT 1 FROM kv WHERE key = $1";
const KV_UPSERT: &str = "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2";

#[async_trait]
impl KvStore for SqliteDb {
    async fn get(&self, key: &str) -> StorageResult<Option<String>> {
        Ok(lock(&self.kv).get(key).cloned())
    }

    async fn set(&self, key: &str, value: &str) -> StorageResult<bool> {
        let (key, value) = (key.to_owned(), value.to_owned());
        let mirror = Arc::clone(&self.kv);
        let entry = (key.clone(), value.clone());
        self.writer
            .write_then(
                Statements::One,
                move |conn| {
                    let exists = Query { sql: KV_EXISTS, params: vec![Param::from(&key)] };
                    let existed = select(conn, &exists, |_| Ok(()))?.is_some();
                    let upsert = Query { sql: KV_UPSERT, params: vec![Param::from(&key), Param::from(&value)] };
                    execute(conn, &upsert).map_err(lite_error)?;
                    Ok(existed)
                },
                move |_| {
                    lock(&mirror).insert(entry.0, entry.1);
                },
            )
            .await
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        let key = key.to_owned();
        let mirror = Arc::clone(&self.kv);
        let removed = key.clone();
        self.writer
            .write_then(
                Statements::One,
                move |conn| Ok(execute(conn, &sql::delete_kv(&key)).map_err(lite_error)? > 0),
                move |_| {
                    lock(&mirror).remove(&removed);
                },
            )
            .await
    }

    async fn list_keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> StorageResult<Vec<String>> {
        Ok(list_keys_in(&lock(&self.kv), prefix, after, limit))
    }
}

// ---------------------------------------------------------------------------------------------

fn payment_by_id(conn: &Connection, id: &str) -> StorageResult<Option<PaymentRecord>> {
    select(conn, &sql::select_payment(id, RowLock::None), sql::payment)
}

#[async_trait]
impl PaymentStore for SqliteDb {
    async fn create(&self, claim: Claim<'_>, payment: PaymentRecord) -> StorageResult<Idempotent<PaymentRecord>> {
        let Claim { idempotency_key, fingerprint } = claim;
        let (key, fingerprint) = (idempotency_key.to_owned(), fingerprint.to_owned());
        self.writer
            .write(Statements::Several, move |conn| {
                // The writer is the only one: what it finds here cannot change before it commits.
                if let Some(used) = select(conn, &sql::select_key_use(&payment.account, &key), sql::key_use)? {
                    if !used.is_same(&fingerprint, "payment") {
                        return Ok(Idempotent::KeyReused);
                    }
                    return sql::replayed_payment(&used, payment_by_id(conn, &used.result_id)?);
                }
                let claim = sql::claim_key(&payment.account, &key, &fingerprint, "payment", &payment.id);
                execute(conn, &claim).map_err(lite_error)?;
                execute(conn, &sql::insert_payment(&payment)).map_err(lite_error)?;
                Ok(Idempotent::Created(payment))
            })
            .await
    }

    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        let id = id.to_owned();
        let payment = self.readers.read(move |conn| payment_by_id(conn, &id)).await?;
        Ok(payment.filter(|p| p.account == account))
    }

    async fn list(&self, page: PaymentPage<'_>) -> StorageResult<Vec<PaymentRecord>> {
        let PaymentPage { account, customer_id, after, limit } = page;
        let (account, customer_id) = (account.to_owned(), customer_id.map(str::to_owned));
        self.readers
            .read(move |conn| {
                let query = sql::select_payments(&account, customer_id.as_deref(), after.as_ref(), limit);
                select_all(conn, &query, sql::payment)
            })
            .await
    }

    async fn refund(&self, account: &str, claim: Claim<'_>, refund: NewRefund) -> StorageResult<RefundOutcome> {
        let Claim { idempotency_key, fingerprint } = claim;
        let (account, key, fingerprint) = (account.to_owned(), idempotency_key.to_owned(), fingerprint.to_owned());
        self.writer
            .write(Statements::Several, move |conn| {
                if let Some(used) = select(conn, &sql::select_key_use(&account, &key), sql::key_use)? {
                    if !used.is_same(&fingerprint, "refund") {
                        return Ok(RefundOutcome::Done(Idempotent::KeyReused));
                    }
                    let original = select(conn, &sql::select_refund(&used.result_id), sql::refund)?;
                    let payment = match &original {
                        Some(r) => payment_by_id(conn, &r.payment_id)?,
                        None => None,
                    };
                    return sql::replayed_refund(&used, original, payment);
                }
                let payment = payment_by_id(conn, &refund.payment_id)?;
                let (record, updated) = match refund.plan(payment.as_ref(), &account) {
                    Ok(planned) => planned,
                    Err(rejection) => return Ok(RefundOutcome::Rejected(rejection)),
                };
                execute(conn, &sql::claim_key(&account, &key, &fingerprint, "refund", &record.id))
                    .map_err(lite_error)?;
                execute(conn, &sql::insert_refund(&record)).map_err(lite_error)?;
                execute(conn, &sql::update_refunded(&updated)).map_err(lite_error)?;
                Ok(RefundOutcome::Done(Idempotent::Created((record, updated))))
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------

/// An upload being written to `files/tmp/<blob>`; removed again unless committed.
struct SqliteUpload {
    writer: Writer,
    file: Option<tokio::fs::File>,
    tmp_path: PathBuf,
    blobs: PathBuf,
    tmp_dir: PathBuf,
    blob: String,
}

impl Drop for SqliteUpload {
    fn drop(&mut self) {
        // After a commit the temp path no longer exists; otherwise this discards the upload.
        let _ = std::fs::remove_file(&self.tmp_path);
    }
}

fn file_error(error: std::io::Error) -> StorageError {
    StorageError::Unavailable(format!("file storage: {error}"))
}

/// Makes a rename or removal in `dir` durable.
async fn sync_dir(dir: &Path) -> StorageResult<()> {
    tokio::fs::File::open(dir).await.map_err(file_error)?.sync_all().await.map_err(file_error)
}

#[async_trait]
impl FileUpload for SqliteUpload {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        let file = self.file.as_mut().ok_or_else(|| StorageError::Corrupt("upload already finished".into()))?;
        file.write_all(&chunk).await.map_err(file_error)
    }

    async fn commit(mut self: Box<Self>, record: FileRecord) -> StorageResult<FileRecord> {
        let mut file = self.file.take().ok_or_else(|| StorageError::Corrupt("upload already finished".into()))?;
        file.flush().await.map_err(file_error)?;
        file.sync_all().await.map_err(file_error)?;
        drop(file);
        let final_path = self.blobs.join(&self.blob);
        tokio::fs::rename(&self.tmp_path, &final_path).await.map_err(file_error)?;
        sync_dir(&self.blobs).await?;
        sync_dir(&self.tmp_dir).await?;

        // The blob is durable; now the metadata, which makes it visible (atomically
        // replacing any earlier file of the name). A crash in between leaves an
        // unreferenced blob, removed at the next start.
        let (blob, meta) = (self.blob.clone(), record.clone());
        let replaced: Option<String> = self
            .writer
            .write(Statements::One, move |conn| {
                let old = select(conn, &sql::select_blob(&meta.name), sql::blob)?;
                execute(conn, &sql::upsert_file(&meta, &blob)).map_err(lite_error)?;
                Ok::<_, StorageError>(old)
            })
            .await
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&final_path);
            })?;
        if let Some(old) = replaced {
            let _ = tokio::fs::remove_file(self.blobs.join(old)).await;
        }
        Ok(record)
    }
}

#[async_trait]
impl FileStore for SqliteDb {
    async fn begin_upload(&self, _name: &str) -> StorageResult<Box<dyn FileUpload>> {
        // The on-disk name is ours, never the client's: no client input reaches a path.
        let blob = uuid::Uuid::new_v4().simple().to_string();
        let tmp_path = self.tmp.join(&blob);
        let file = tokio::fs::File::create(&tmp_path).await.map_err(file_error)?;
        Ok(Box::new(SqliteUpload {
            writer: self.writer.clone(),
            file: Some(file),
            tmp_path,
            blobs: self.blobs.clone(),
            tmp_dir: self.tmp.clone(),
            blob,
        }))
    }

    async fn open(&self, name: &str) -> StorageResult<Option<(FileRecord, FileContent)>> {
        let name = name.to_owned();
        let found = self.readers.read(move |conn| select(conn, &sql::select_file(&name), sql::file_and_blob)).await?;
        let Some((record, blob)) = found else { return Ok(None) };
        let mut file = match tokio::fs::File::open(self.blobs.join(blob)).await {
            Ok(file) => file,
            // Replaced or deleted between the lookup and the open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(e)),
        };
        let (chunks, content) = mpsc::channel::<StorageResult<Bytes>>(2);
        tokio::spawn(async move {
            loop {
                let mut buffer = vec![0; READ_CHUNK];
                match file.read(&mut buffer).await {
                    Ok(0) => return,
                    Ok(n) => {
                        buffer.truncate(n);
                        if chunks.send(Ok(Bytes::from(buffer))).await.is_err() {
                            return; // the downloader left
                        }
                    }
                    Err(e) => {
                        let _ = chunks.send(Err(file_error(e))).await;
                        return;
                    }
                }
            }
        });
        Ok(Some((record, Box::pin(tokio_stream::wrappers::ReceiverStream::new(content)))))
    }

    async fn list(&self, after: Option<&str>, limit: usize) -> StorageResult<Vec<FileRecord>> {
        let after = after.map(str::to_owned);
        self.readers.read(move |conn| select_all(conn, &sql::select_files(after.as_deref(), limit), sql::file)).await
    }

    async fn delete(&self, name: &str) -> StorageResult<bool> {
        let name = name.to_owned();
        let blob =
            self.writer.write(Statements::One, move |conn| select(conn, &sql::delete_file(&name), sql::blob)).await?;
        match blob {
            Some(blob) => {
                let _ = tokio::fs::remove_file(self.blobs.join(blob)).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
