//! State in PostgreSQL, shared by any number of replicas (`--database-url`).
//!
//! Every invariant of [`super`] is enforced by the database, never by this process's memory,
//! because another replica may be writing at the same instant: the e-mail and idempotency
//! uniqueness are unique indexes (insert-or-find in one transaction), refunds lock their
//! payment row (`SELECT … FOR UPDATE`) and apply [`NewRefund::plan`] inside the
//! transaction. The pool fails fast (short acquire timeout), so while the database is away
//! calls get `UNAVAILABLE` quickly; its connections are re-established by themselves when it
//! comes back.

use std::{borrow::Cow, str::FromStr, time::Duration};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use sqlx::{
    PgPool, Postgres, Transaction,
    migrate::{MigrateError, Migration, MigrationType, Migrator},
    postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow},
};
use tokio::sync::mpsc;

use super::{
    sql::{self, Param, Query, RowExt, RowLock},
    *,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("../../migrations/postgres/0001_initial.sql"))];
/// Rows a file's content is cut into.
const CHUNK: usize = 1024 * 1024;
/// How long a call waits for a connection before it fails with UNAVAILABLE.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct PgDb {
    pool: PgPool,
}

impl PgDb {
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| OpenError::Connect(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection that went bad while idle (the server restarted) is noticed before
            // it is handed out, not by a failed call.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        migrator().run(&pool).await.map_err(migrate_error)?;
        tracing::info!("PostgreSQL storage open");
        Ok(Self { pool })
    }

    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    async fn begin(&self) -> StorageResult<Transaction<'static, Postgres>> {
        begin(&self.pool).await
    }
}

/// A migrator over the migrations compiled into the binary (`migrations/postgres/`), so a
/// deployed binary carries its schema and needs no files beside it.
fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// A migration failure as the operator should read it; above all, a database that a newer
/// binary has migrated must not be used (or "fixed") by this older one.
fn migrate_error(failure: MigrateError) -> OpenError {
    match failure {
        MigrateError::VersionMissing(version) => OpenError::SchemaNewer(version),
        MigrateError::Execute(sqlx_error) => match error(sqlx_error) {
            StorageError::Unavailable(detail) => OpenError::Connect(detail),
            StorageError::Corrupt(detail) => OpenError::Migrate(detail),
        },
        other => OpenError::Migrate(other.to_string()),
    }
}

/// Sorts an engine error: the engine being away (retry later) or something it said that
/// this code does not understand.
pub(super) fn error(error: sqlx::Error) -> StorageError {
    use sqlx::Error as E;
    match &error {
        E::Database(db) => {
            // Classes 08 connection, 53 resources, 57 operator intervention (shutdown), 40
            // transaction rollback.
            let code = db.code().unwrap_or_default();
            if ["08", "53", "57", "40"].iter().any(|class| code.starts_with(class)) {
                StorageError::Unavailable(error.to_string())
            } else {
                StorageError::Corrupt(error.to_string())
            }
        }
        E::RowNotFound
        | E::TypeNotFound { .. }
        | E::ColumnIndexOutOfBounds { .. }
        | E::ColumnNotFound(_)
        | E::ColumnDecode { .. }
        | E::Decode(_)
        | E::Encode(_) => StorageError::Corrupt(error.to_string()),
        _ => StorageError::Unavailable(error.to_string()),
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl RowExt for PgRow {
    fn int(&self, column: &str) -> Result<i64, StorageError> {
        sqlx::Row::try_get(self, column).map_err(error)
    }

    fn text(&self, column: &str) -> Result<String, StorageError> {
        sqlx::Row::try_get(self, column).map_err(error)
    }
}

/// A shared [`Query`], bound for sqlx.
fn bind<'q>(query: &'q Query<'_>) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    query.params.iter().fold(sqlx::query(query.sql), |bound, param| match param {
        Param::Int(value) => bound.bind(*value),
        Param::Text(value) => bound.bind(value.as_deref()),
    })
}

/// Begins a transaction in a task of its own. sqlx's `Pool::begin` is not cancel-safe on
/// PostgreSQL (transact-rs/sqlx#4393): a caller dropped while `BEGIN` is in flight — a client
/// that cancels, a deadline — returns the connection to the pool inside an open transaction,
/// and later single-statement writes on it are acknowledged but invisible to everyone else
/// (the chaos soak caught it). Begun in a task, the transaction always comes to exist as a
/// value, and if its caller is gone it is dropped there, which rolls it back.
async fn begin(pool: &PgPool) -> StorageResult<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    match tokio::spawn(async move { pool.begin().await }).await {
        Ok(begun) => begun.map_err(error),
        Err(join) => Err(StorageError::Unavailable(format!("beginning a transaction failed: {join}"))),
    }
}

async fn execute<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    query: Query<'_>,
) -> StorageResult<PgQueryResult> {
    bind(&query).execute(executor).await.map_err(error)
}

async fn fetch_optional<'e, T>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    query: Query<'_>,
    decode: impl FnOnce(&dyn RowExt) -> StorageResult<T>,
) -> StorageResult<Option<T>> {
    bind(&query).fetch_optional(executor).await.map_err(error)?.as_ref().map(|row: &PgRow| decode(row)).transpose()
}

async fn fetch_all<'e, T>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    query: Query<'_>,
    decode: impl Fn(&dyn RowExt) -> StorageResult<T>,
) -> StorageResult<Vec<T>> {
    bind(&query).fetch_all(executor).await.map_err(error)?.iter().map(|row: &PgRow| decode(row)).collect()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl UserStore for PgDb {
    async fn create(&self, fields: UserFields, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let inserted = bind(&sql::insert_user(&fields, now)).fetch_one(&self.pool).await;
        match inserted {
            Ok(row) => Ok(fields.created(row.int("id")?, now)),
            Err(e) if is_unique_violation(&e) => Err(UserWriteError::EmailTaken(fields.email)),
            Err(e) => Err(error(e).into()),
        }
    }

    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>> {
        fetch_optional(&self.pool, sql::select_user(id, RowLock::None), sql::user).await
    }

    async fn list(&self, query: &str, after: i64, limit_to: usize) -> StorageResult<Vec<UserRecord>> {
        // PostgreSQL's alone: SQLite answers from its in-memory mirror.
        let search = Query {
            sql: concat!(
                "SELECT ",
                sql::user_columns!(),
                " FROM users WHERE id > $1 \
                 AND ($2 = '' OR strpos(username_lower, $2) > 0 OR strpos(email_lower, $2) > 0) ORDER BY id LIMIT $3"
            ),
            params: vec![after.into(), query.into(), limit(limit_to).into()],
        };
        fetch_all(&self.pool, search, sql::user).await
    }

    async fn update(&self, id: i64, patch: UserPatch, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mut tx = self.begin().await?;
        let current = fetch_optional(&mut *tx, sql::select_user(id, RowLock::ForUpdate), sql::user).await?;
        let Some(mut user) = current else { return Err(UserWriteError::NotFound(id)) };
        user.apply(patch, now);
        let updated = bind(&sql::update_user(&user)).execute(&mut *tx).await;
        match updated {
            Ok(_) => {
                tx.commit().await.map_err(error)?;
                Ok(user)
            }
            Err(e) if is_unique_violation(&e) => Err(UserWriteError::EmailTaken(user.email)),
            Err(e) => Err(error(e).into()),
        }
    }

    async fn delete(&self, id: i64) -> StorageResult<bool> {
        Ok(execute(&self.pool, sql::delete_user(id)).await?.rows_affected() > 0)
    }
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl KvStore for PgDb {
    async fn get(&self, key: &str) -> StorageResult<Option<String>> {
        sqlx::query_scalar::<_, String>("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(error)
    }

    async fn set(&self, key: &str, value: &str) -> StorageResult<bool> {
        // xmax is 0 on a freshly inserted row version and set on one an update replaced.
        sqlx::query_scalar::<_, bool>(
            "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value \
             RETURNING xmax <> 0",
        )
        .bind(key)
        .bind(value)
        .fetch_one(&self.pool)
        .await
        .map_err(error)
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        Ok(execute(&self.pool, sql::delete_kv(key)).await?.rows_affected() > 0)
    }

    async fn list_keys(&self, prefix: &str, after: Option<&str>, limit_to: usize) -> StorageResult<Vec<String>> {
        // The key column is COLLATE "C": ordered by bytes, as every backend lists.
        sqlx::query_scalar::<_, String>(
            "SELECT key FROM kv WHERE starts_with(key, $1) AND ($2::text IS NULL OR key > $2) ORDER BY key LIMIT $3",
        )
        .bind(prefix)
        .bind(after)
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await
        .map_err(error)
    }
}

// ---------------------------------------------------------------------------------------------

impl PgDb {
    /// Claims (account, key) for this request inside `tx`. `false`: the key was already used;
    /// the claim waits for a concurrent claimer's transaction to end, so the loser always
    /// sees the winner.
    async fn claim_key(&self, tx: &mut Transaction<'static, Postgres>, claim: Query<'_>) -> StorageResult<bool> {
        Ok(execute(&mut **tx, claim).await?.rows_affected() == 1)
    }

    /// The earlier use of a key another transaction claimed.
    async fn earlier_use(&self, account: &str, key: &str) -> StorageResult<sql::KeyUse> {
        fetch_optional(&self.pool, sql::select_key_use(account, key), sql::key_use)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("idempotency key {key:?} vanished")))
    }

    async fn payment(&self, id: &str) -> StorageResult<Option<PaymentRecord>> {
        fetch_optional(&self.pool, sql::select_payment(id, RowLock::None), sql::payment).await
    }
}

#[async_trait]
impl PaymentStore for PgDb {
    async fn create(&self, claim: Claim<'_>, payment: PaymentRecord) -> StorageResult<Idempotent<PaymentRecord>> {
        let Claim { idempotency_key, fingerprint } = claim;
        let mut tx = self.begin().await?;
        let claim = sql::claim_key(&payment.account, idempotency_key, fingerprint, "payment", &payment.id);
        if self.claim_key(&mut tx, claim).await? {
            execute(&mut *tx, sql::insert_payment(&payment)).await?;
            tx.commit().await.map_err(error)?;
            return Ok(Idempotent::Created(payment));
        }
        tx.rollback().await.map_err(error)?;
        let used = self.earlier_use(&payment.account, idempotency_key).await?;
        if !used.is_same(fingerprint, "payment") {
            return Ok(Idempotent::KeyReused);
        }
        sql::replayed_payment(&used, self.payment(&used.result_id).await?)
    }

    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        Ok(self.payment(id).await?.filter(|p| p.account == account))
    }

    async fn list(&self, page: PaymentPage<'_>) -> StorageResult<Vec<PaymentRecord>> {
        let PaymentPage { account, customer_id, after, limit: limit_to } = page;
        fetch_all(&self.pool, sql::select_payments(account, customer_id, after.as_ref(), limit_to), sql::payment).await
    }

    async fn refund(&self, account: &str, claim: Claim<'_>, refund: NewRefund) -> StorageResult<RefundOutcome> {
        let Claim { idempotency_key, fingerprint } = claim;
        let mut tx = self.begin().await?;
        let claim = sql::claim_key(account, idempotency_key, fingerprint, "refund", &refund.id);
        if !self.claim_key(&mut tx, claim).await? {
            tx.rollback().await.map_err(error)?;
            let used = self.earlier_use(account, idempotency_key).await?;
            if !used.is_same(fingerprint, "refund") {
                return Ok(RefundOutcome::Done(Idempotent::KeyReused));
            }
            let original = fetch_optional(&self.pool, sql::select_refund(&used.result_id), sql::refund).await?;
            let payment = match &original {
                Some(r) => self.payment(&r.payment_id).await?,
                None => None,
            };
            return sql::replayed_refund(&used, original, payment);
        }
        // The row lock serialises refunds of one payment across every replica.
        let payment =
            fetch_optional(&mut *tx, sql::select_payment(&refund.payment_id, RowLock::ForUpdate), sql::payment).await?;
        let (record, updated) = match refund.plan(payment.as_ref(), account) {
            Ok(planned) => planned,
            // Rolled back: a rejected refund does not use up its key.
            Err(rejection) => return Ok(RefundOutcome::Rejected(rejection)),
        };
        execute(&mut *tx, sql::insert_refund(&record)).await?;
        execute(&mut *tx, sql::update_refunded(&updated)).await?;
        tx.commit().await.map_err(error)?;
        Ok(RefundOutcome::Done(Idempotent::Created((record, updated))))
    }
}

// ---------------------------------------------------------------------------------------------

/// An upload streamed into `file_chunks` under a fresh blob id as it arrives (so memory
/// stays at one chunk per upload), made visible at commit by pointing the file's name at the
/// blob in one transaction. An abandoned upload's chunks are deleted when it is dropped; a
/// crash mid-upload leaves unreferenced chunks, which nothing reads.
struct PgUpload {
    pool: PgPool,
    blob: String,
    next_seq: i64,
    pending: BytesMut,
    committed: bool,
}

impl PgUpload {
    async fn store_chunk(&mut self, data: &[u8]) -> StorageResult<()> {
        sqlx::query("INSERT INTO file_chunks (blob, seq, data) VALUES ($1, $2, $3)")
            .bind(&self.blob)
            .bind(self.next_seq)
            .bind(data)
            .execute(&self.pool)
            .await
            .map_err(error)?;
        self.next_seq += 1;
        Ok(())
    }
}

impl Drop for PgUpload {
    fn drop(&mut self) {
        if self.committed || self.next_seq == 0 {
            return;
        }
        let (pool, blob) = (self.pool.clone(), self.blob.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = delete_chunks(&pool, &blob).await;
            });
        }
    }
}

#[async_trait]
impl FileUpload for PgUpload {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.pending.extend_from_slice(&chunk);
        while self.pending.len() >= CHUNK {
            let full = self.pending.split_to(CHUNK);
            self.store_chunk(&full).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, record: FileRecord) -> StorageResult<FileRecord> {
        if !self.pending.is_empty() {
            let rest = self.pending.split();
            self.store_chunk(&rest).await?;
        }
        let mut tx = begin(&self.pool).await?;
        // One commit per name at a time across replicas, so the old blob found is the one
        // replaced.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(&record.name)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        let old = fetch_optional(&mut *tx, sql::select_blob(&record.name), sql::blob).await?;
        execute(&mut *tx, sql::upsert_file(&record, &self.blob)).await?;
        if let Some(old) = old {
            delete_chunks(&mut *tx, &old).await?;
        }
        tx.commit().await.map_err(error)?;
        self.committed = true;
        Ok(record)
    }
}

#[async_trait]
impl FileStore for PgDb {
    async fn begin_upload(&self, _name: &str) -> StorageResult<Box<dyn FileUpload>> {
        Ok(Box::new(PgUpload {
            pool: self.pool.clone(),
            blob: uuid::Uuid::new_v4().simple().to_string(),
            next_seq: 0,
            pending: BytesMut::new(),
            committed: false,
        }))
    }

    async fn open(&self, name: &str) -> StorageResult<Option<(FileRecord, FileContent)>> {
        let Some((record, blob)) = fetch_optional(&self.pool, sql::select_file(name), sql::file_and_blob).await? else {
            return Ok(None);
        };
        let (chunks, content) = mpsc::channel::<StorageResult<Bytes>>(2);
        let (pool, size) = (self.pool.clone(), record.size);
        // One chunk row per query, so a download holds no connection while the client reads.
        tokio::spawn(async move {
            let mut sent: u64 = 0;
            for seq in 0i64.. {
                if sent >= size {
                    return;
                }
                let data =
                    sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM file_chunks WHERE blob = $1 AND seq = $2")
                        .bind(&blob)
                        .bind(seq)
                        .fetch_optional(&pool)
                        .await;
                let item = match data {
                    Ok(Some(data)) => {
                        sent += data.len() as u64;
                        Ok(Bytes::from(data))
                    }
                    Ok(None) => Err(StorageError::Unavailable("the file was replaced during the download".into())),
                    Err(e) => Err(error(e)),
                };
                let failed = item.is_err();
                if chunks.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Some((record, Box::pin(tokio_stream::wrappers::ReceiverStream::new(content)))))
    }

    async fn list(&self, after: Option<&str>, limit_to: usize) -> StorageResult<Vec<FileRecord>> {
        fetch_all(&self.pool, sql::select_files(after, limit_to), sql::file).await
    }

    async fn delete(&self, name: &str) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let Some(blob) = fetch_optional(&mut *tx, sql::delete_file(name), sql::blob).await? else { return Ok(false) };
        delete_chunks(&mut *tx, &blob).await?;
        tx.commit().await.map_err(error)?;
        Ok(true)
    }
}

/// Deletes a blob's content.
async fn delete_chunks<'e>(executor: impl sqlx::Executor<'e, Database = Postgres>, blob: &str) -> StorageResult<()> {
    sqlx::query("DELETE FROM file_chunks WHERE blob = $1").bind(blob).execute(executor).await.map(drop).map_err(error)
}
