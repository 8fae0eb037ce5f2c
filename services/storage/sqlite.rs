//! The durable default: every store in one SQLite database (`<data-dir>/switchboard.db`, WAL,
//! `synchronous=FULL`) and file contents beside it (`<data-dir>/files/blobs/`).
//!
//! Writes go through one writer thread that owns the only writing connection: it takes every
//! write that is waiting (up to [`MAX_BATCH`]), runs them in one transaction (a write of
//! several statements in a savepoint of its own, so it is all-or-nothing), commits once — one fsync for the whole batch — and only then answers each
//! caller. So an acknowledged write is on disk, and many concurrent writers share fsyncs
//! (group commit). One writer also makes every write atomic with respect to the others,
//! which is what the invariants of [`super`] need.
//!
//! The writer is a plain thread with a `rusqlite` connection and cached prepared statements,
//! not an async sqlx connection: sqlx runs each SQLite statement on a worker thread of its
//! own and hands it over through channels, and with four or five statements a write those
//! hand-offs made the single writer CPU-bound at about 100 µs a write. On the writer's own
//! thread a write costs a few µs of SQLite work and the fsync is shared.
//! Migrations, start-up loading and the reads that do touch SQLite (payments, files) use
//! sqlx, on a small pool of read-only connections that WAL lets proceed while the writer
//! commits.
//!
//! Key-value entries and users are the hot path of the suite, so both tables are also held
//! in memory (as Redis holds its dataset), loaded at start-up: `Get`/`ListKeys` and
//! `GetUser`/`ListUsers` never touch SQLite. The mirrors are updated by the writer right
//! after each commit, in commit order, and before the caller is answered, so a client that
//! was told `OK` reads its own write. The cost is memory for those two datasets (values are
//! bounded by `--kv-max-value-bytes`; a user is a few hundred bytes).

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use sqlx::{
    ConnectOptions, Connection as _, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{mpsc, oneshot},
};

use super::memory::{list_keys_in, list_users_in, lock};
use super::{
    sql::{self, FILE_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS, USER_COLUMNS, to_nanos},
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
const READ_CHUNK: usize = 64 * 1024;
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("../../migrations/sqlite/0001_initial.sql"))];

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
    read: SqlitePool,
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
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(connect_error)?
            .filename(&db_path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit returns only after the WAL is fsynced — the durability promise.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .disable_statement_logging();

        let mut setup = options.connect().await.map_err(connect_error)?;
        sql::migrator(MIGRATIONS).run(&mut setup).await.map_err(sql::migrate_error)?;

        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await
            .map_err(connect_error)?;

        // Leftovers of a crash: uploads that never completed, and blobs renamed into place
        // whose metadata never committed. Nothing refers to either.
        let referenced: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT blob FROM files")
            .fetch_all(&mut setup)
            .await
            .map_err(connect_error)?
            .into_iter()
            .collect();
        remove_unreferenced(&tmp, &HashSet::new()).await.map_err(io_error(&tmp))?;
        remove_unreferenced(&blobs, &referenced).await.map_err(io_error(&blobs))?;

        let kv: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>("SELECT key, value FROM kv")
            .fetch_all(&mut setup)
            .await
            .map_err(connect_error)?
            .into_iter()
            .collect();
        let users = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users"))
            .fetch_all(&mut setup)
            .await
            .map_err(connect_error)?
            .iter()
            .map(|row| sql::user(row).map(|user| (user.id, user)))
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(connect_error)?;
        setup.close().await.map_err(connect_error)?;

        let connection = open_writer(&db_path).map_err(connect_error)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(connection, queue))
            .map_err(io_error(&db_path))?;
        tracing::info!(path = %db_path.display(), kv_entries = kv.len(), users = users.len(), "SQLite storage open");
        Ok(Self {
            writer: Writer { jobs },
            read,
            blobs,
            tmp,
            kv: Arc::new(Mutex::new(kv)),
            users: Arc::new(Mutex::new(users)),
        })
    }

    /// Whether reads are answered and the writer thread takes writes. The write is empty, so
    /// its commit changes no page and costs no fsync.
    pub async fn probe(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await.map_err(sql::error)?;
        self.writer.write(Statements::One, |_conn| Ok::<_, StorageError>(())).await
    }
}

/// The writing connection, with the settings the sqlx ones get from their options (WAL is
/// a property of the file, already set by then; the rest are per connection).
fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Pages the writer keeps in memory (KiB when negative); SQLite's default of 2 MiB made
    // every write to a larger table look its pages up in the OS cache again. Only a database
    // that large fills it.
    connection.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    connection.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    Ok(connection)
}

/// Sorts a SQLite error the way [`sql::error`] sorts sqlx's: the engine busy or out of
/// resources (retry later), or something this code does not understand.
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

/// A rusqlite row, decoded by the same functions as the sqlx rows of [`sql`].
struct LiteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl sql::RowExt for LiteRow<'_, '_> {
    fn int(&self, column: &str) -> Result<i64, StorageError> {
        self.0.get(column).map_err(lite_error)
    }

    fn text(&self, column: &str) -> Result<String, StorageError> {
        self.0.get(column).map_err(lite_error)
    }
}

/// The one row `sql` selects with `params`, if any, decoded by `decode`.
fn select_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&LiteRow<'_, '_>) -> StorageResult<T>,
) -> StorageResult<Option<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.query_row(params, |row| Ok(decode(&LiteRow(row)))).optional())
        .map_err(lite_error)?
        .transpose()
}

/// Runs one statement on the writer's connection; the rows it changed.
fn execute(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
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
    execute(conn, "BEGIN IMMEDIATE", [])?;
    for job in batch.drain(..) {
        let savepoint = job.statements == Statements::Several;
        if savepoint {
            execute(conn, "SAVEPOINT write", [])?;
        }
        let (ok, reply) = (job.run)(conn);
        replies.push(reply);
        if savepoint {
            if !ok {
                execute(conn, "ROLLBACK TO write", [])?;
            }
            execute(conn, "RELEASE write", [])?;
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
    execute(conn, "COMMIT", [])?;
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
                    let inserted = conn
                        .prepare_cached(
                            "INSERT INTO users (username, email, email_lower, username_lower, age, create_time, \
                             update_time) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                        )
                        .and_then(|mut statement| {
                            statement.query_row(
                                params![
                                    fields.username,
                                    fields.email,
                                    fields.email.to_lowercase(),
                                    fields.username.to_lowercase(),
                                    i64::from(fields.age),
                                    to_nanos(now)
                                ],
                                |row| row.get::<_, i64>(0),
                            )
                        });
                    match inserted {
                        Ok(id) => Ok(UserRecord {
                            id,
                            username: fields.username,
                            email: fields.email,
                            age: fields.age,
                            create_time: now,
                            update_time: now,
                        }),
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
                    let current =
                        select_one(conn, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), [id], |row| {
                            sql::user(row)
                        })?;
                    let Some(mut user) = current else { return Err(UserWriteError::NotFound(id)) };
                    user.apply(patch, now);
                    let updated = execute(
                        conn,
                        "UPDATE users SET username = $1, email = $2, email_lower = $3, username_lower = $4, age = $5, \
                         update_time = $6 WHERE id = $7",
                        params![
                            user.username,
                            user.email,
                            user.email.to_lowercase(),
                            user.username.to_lowercase(),
                            i64::from(user.age),
                            to_nanos(now),
                            id
                        ],
                    );
                    match updated {
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
                move |conn| {
                    let deleted = execute(conn, "DELETE FROM users WHERE id = $1", [id]).map_err(lite_error)?;
                    Ok(deleted > 0)
                },
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
                    let existed = select_one(conn, "SELECT 1 FROM kv WHERE key = $1", [&key], |_| Ok(()))?.is_some();
                    execute(
                        conn,
                        "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
                        [&key, &value],
                    )
                    .map_err(lite_error)?;
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
                move |conn| {
                    let deleted = execute(conn, "DELETE FROM kv WHERE key = $1", [&key]).map_err(lite_error)?;
                    Ok(deleted > 0)
                },
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

/// What an idempotency key was first used for.
struct KeyUse {
    fingerprint: String,
    kind: String,
    result_id: String,
}

fn key_use(conn: &Connection, account: &str, key: &str) -> StorageResult<Option<KeyUse>> {
    use sql::RowExt;
    select_one(
        conn,
        "SELECT fingerprint, kind, result_id FROM idempotency_keys WHERE account = $1 AND key = $2",
        [account, key],
        |row| {
            Ok(KeyUse {
                fingerprint: row.text("fingerprint")?,
                kind: row.text("kind")?,
                result_id: row.text("result_id")?,
            })
        },
    )
}

fn record_key(
    conn: &Connection,
    account: &str,
    key: &str,
    fingerprint: &str,
    kind: &str,
    result_id: &str,
) -> StorageResult<()> {
    execute(
        conn,
        "INSERT INTO idempotency_keys (account, key, fingerprint, kind, result_id) VALUES ($1, $2, $3, $4, $5)",
        [account, key, fingerprint, kind, result_id],
    )
    .map(drop)
    .map_err(lite_error)
}

fn payment_by_id(conn: &Connection, id: &str) -> StorageResult<Option<PaymentRecord>> {
    select_one(conn, &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"), [id], |row| sql::payment(row))
}

fn insert_payment(conn: &Connection, p: &PaymentRecord) -> StorageResult<()> {
    execute(
        conn,
        &format!("INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        params![
            p.id,
            p.account,
            p.amount_minor,
            p.currency,
            p.customer_id,
            p.description,
            sql::state_name(p.state),
            p.refunded_minor,
            p.failure_code,
            p.failure_message,
            to_nanos(p.create_time),
            to_nanos(p.update_time)
        ],
    )
    .map(drop)
    .map_err(lite_error)
}

#[async_trait]
impl PaymentStore for SqliteDb {
    async fn create(
        &self,
        idempotency_key: &str,
        fingerprint: &str,
        payment: PaymentRecord,
    ) -> StorageResult<Idempotent<PaymentRecord>> {
        let (key, fingerprint) = (idempotency_key.to_owned(), fingerprint.to_owned());
        self.writer
            .write(Statements::Several, move |conn| {
                if let Some(used) = key_use(conn, &payment.account, &key)? {
                    if used.fingerprint != fingerprint || used.kind != "payment" {
                        return Ok(Idempotent::KeyReused);
                    }
                    let original = payment_by_id(conn, &used.result_id)?.ok_or_else(|| {
                        StorageError::Corrupt(format!(
                            "idempotency record points at missing payment {}",
                            used.result_id
                        ))
                    })?;
                    return Ok(Idempotent::Replayed(original));
                }
                record_key(conn, &payment.account, &key, &fingerprint, "payment", &payment.id)?;
                insert_payment(conn, &payment)?;
                Ok(Idempotent::Created(payment))
            })
            .await
    }

    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND account = $2"))
            .bind(id)
            .bind(account)
            .fetch_optional(&self.read)
            .await
            .map_err(sql::error)?;
        row.as_ref().map(sql::payment).transpose()
    }

    async fn list(
        &self,
        account: &str,
        customer_id: Option<&str>,
        after: Option<(SystemTime, String)>,
        limit: usize,
    ) -> StorageResult<Vec<PaymentRecord>> {
        let (after_time, after_id) = match after {
            Some((time, id)) => (Some(to_nanos(time)), Some(id)),
            None => (None, None),
        };
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE account = $1 AND ($2 IS NULL OR customer_id = $2) \
             AND ($3 IS NULL OR create_time < $3 OR (create_time = $3 AND id < $4)) \
             ORDER BY create_time DESC, id DESC LIMIT $5"
        ))
        .bind(account)
        .bind(customer_id)
        .bind(after_time)
        .bind(after_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await
        .map_err(sql::error)?;
        rows.iter().map(sql::payment).collect()
    }

    async fn refund(
        &self,
        account: &str,
        idempotency_key: &str,
        fingerprint: &str,
        refund: NewRefund,
    ) -> StorageResult<RefundOutcome> {
        let (account, key, fingerprint) = (account.to_owned(), idempotency_key.to_owned(), fingerprint.to_owned());
        self.writer
            .write(Statements::Several, move |conn| {
                if let Some(used) = key_use(conn, &account, &key)? {
                    if used.fingerprint != fingerprint || used.kind != "refund" {
                        return Ok(RefundOutcome::Done(Idempotent::KeyReused));
                    }
                    let original = select_one(
                        conn,
                        &format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"),
                        [&used.result_id],
                        |row| sql::refund(row),
                    )?;
                    let payment = match &original {
                        Some(r) => payment_by_id(conn, &r.payment_id)?,
                        None => None,
                    };
                    return match (original, payment) {
                        (Some(r), Some(p)) => Ok(RefundOutcome::Done(Idempotent::Replayed((r, p)))),
                        _ => Err(StorageError::Corrupt(format!(
                            "idempotency record points at missing refund {}",
                            used.result_id
                        ))),
                    };
                }
                let payment = payment_by_id(conn, &refund.payment_id)?;
                let (record, updated) = match refund.plan(payment.as_ref(), &account) {
                    Ok(planned) => planned,
                    Err(rejection) => return Ok(RefundOutcome::Rejected(rejection)),
                };
                record_key(conn, &account, &key, &fingerprint, "refund", &record.id)?;
                execute(
                    conn,
                    &format!("INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                    params![
                        record.id,
                        record.payment_id,
                        record.amount_minor,
                        record.reason,
                        to_nanos(record.create_time)
                    ],
                )
                .map_err(lite_error)?;
                execute(
                    conn,
                    "UPDATE payments SET state = $1, refunded_minor = $2, update_time = $3 WHERE id = $4",
                    params![
                        sql::state_name(updated.state),
                        updated.refunded_minor,
                        to_nanos(updated.update_time),
                        updated.id
                    ],
                )
                .map_err(lite_error)?;
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
                let old = select_one(conn, "SELECT blob FROM files WHERE name = $1", [&meta.name], |row| {
                    sql::RowExt::text(row, "blob")
                })?;
                execute(
                    conn,
                    "INSERT INTO files (name, blob, size, content_type, sha256, create_time) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET blob = $2, size = $3, \
                     content_type = $4, sha256 = $5, create_time = $6",
                    params![
                        meta.name,
                        blob,
                        i64::try_from(meta.size).unwrap_or(i64::MAX),
                        meta.content_type,
                        meta.sha256,
                        to_nanos(meta.create_time)
                    ],
                )
                .map_err(lite_error)?;
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
        let row = sqlx::query(&format!("SELECT blob, {FILE_COLUMNS} FROM files WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(sql::error)?;
        let Some(row) = row else { return Ok(None) };
        let record = sql::file(&row)?;
        let blob = sql::RowExt::text(&row, "blob")?;
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
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE ($1 IS NULL OR name > $1) ORDER BY name LIMIT $2"
        ))
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await
        .map_err(sql::error)?;
        rows.iter().map(sql::file).collect()
    }

    async fn delete(&self, name: &str) -> StorageResult<bool> {
        let name = name.to_owned();
        let blob = self
            .writer
            .write(Statements::One, move |conn| {
                select_one(conn, "DELETE FROM files WHERE name = $1 RETURNING blob", [&name], |row| {
                    sql::RowExt::text(row, "blob")
                })
            })
            .await?;
        match blob {
            Some(blob) => {
                let _ = tokio::fs::remove_file(self.blobs.join(blob)).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
