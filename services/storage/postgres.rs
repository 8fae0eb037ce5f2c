//! State in PostgreSQL, shared by any number of replicas (`--database-url`).
//!
//! Every invariant of [`super`] is enforced by the database, never by this process's memory,
//! because another replica may be writing at the same instant: the e-mail and idempotency
//! uniqueness are unique indexes (insert-or-find in one transaction), refunds lock their
//! payment row (`SELECT … FOR UPDATE`) and apply [`NewRefund::plan`] inside the
//! transaction. The pool fails fast (short acquire timeout), so while the database is away
//! calls get `UNAVAILABLE` quickly; its connections are re-established by themselves when it
//! comes back.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use sqlx::{
    PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::sync::mpsc;

use super::{
    sql::{self, FILE_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS, RowExt, USER_COLUMNS, to_nanos},
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
        sql::migrator(MIGRATIONS).run(&pool).await.map_err(sql::migrate_error)?;
        tracing::info!("PostgreSQL storage open");
        Ok(Self { pool })
    }

    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    async fn begin(&self) -> StorageResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(sql::error)
    }
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl UserStore for PgDb {
    async fn create(&self, fields: UserFields, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let result = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, email, email_lower, username_lower, age, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&fields.username)
        .bind(&fields.email)
        .bind(fields.email.to_lowercase())
        .bind(fields.username.to_lowercase())
        .bind(i64::from(fields.age))
        .bind(to_nanos(now))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(UserRecord {
                id,
                username: fields.username,
                email: fields.email,
                age: fields.age,
                create_time: now,
                update_time: now,
            }),
            Err(e) if sql::is_unique_violation(&e) => Err(UserWriteError::EmailTaken(fields.email)),
            Err(e) => Err(sql::error(e).into()),
        }
    }

    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql::error)?;
        row.as_ref().map(sql::user).transpose()
    }

    async fn list(&self, query: &str, after: i64, limit_to: usize) -> StorageResult<Vec<UserRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 \
             AND ($2 = '' OR strpos(username_lower, $2) > 0 OR strpos(email_lower, $2) > 0) \
             ORDER BY id LIMIT $3"
        ))
        .bind(after)
        .bind(query)
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await
        .map_err(sql::error)?;
        rows.iter().map(sql::user).collect()
    }

    async fn update(&self, id: i64, patch: UserPatch, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql::error)?;
        let Some(row) = row else { return Err(UserWriteError::NotFound(id)) };
        let mut user = sql::user(&row)?;
        user.apply(patch, now);
        let result = sqlx::query(
            "UPDATE users SET username = $1, email = $2, email_lower = $3, username_lower = $4, age = $5, \
             update_time = $6 WHERE id = $7",
        )
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.email.to_lowercase())
        .bind(user.username.to_lowercase())
        .bind(i64::from(user.age))
        .bind(to_nanos(now))
        .bind(id)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {
                tx.commit().await.map_err(sql::error)?;
                Ok(user)
            }
            Err(e) if sql::is_unique_violation(&e) => Err(UserWriteError::EmailTaken(user.email)),
            Err(e) => Err(sql::error(e).into()),
        }
    }

    async fn delete(&self, id: i64) -> StorageResult<bool> {
        let done =
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&self.pool).await.map_err(sql::error)?;
        Ok(done.rows_affected() > 0)
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
            .map_err(sql::error)
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
        .map_err(sql::error)
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        let done =
            sqlx::query("DELETE FROM kv WHERE key = $1").bind(key).execute(&self.pool).await.map_err(sql::error)?;
        Ok(done.rows_affected() > 0)
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
        .map_err(sql::error)
    }
}

// ---------------------------------------------------------------------------------------------

/// Claims (account, key) for this request. `false`: the key was already used; the claim
/// waits for a concurrent claimer's transaction to end, so the loser always sees the winner.
async fn claim_key(
    tx: &mut Transaction<'static, Postgres>,
    account: &str,
    key: &str,
    fingerprint: &str,
    kind: &str,
    result_id: &str,
) -> StorageResult<bool> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (account, key, fingerprint, kind, result_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account, key) DO NOTHING",
    )
    .bind(account)
    .bind(key)
    .bind(fingerprint)
    .bind(kind)
    .bind(result_id)
    .execute(&mut **tx)
    .await
    .map_err(sql::error)?;
    Ok(done.rows_affected() == 1)
}

/// The earlier use of a key: `Ok(Some(result_id))` when it was for the same request.
async fn earlier_use(
    pool: &PgPool,
    account: &str,
    key: &str,
    fingerprint: &str,
    kind: &str,
) -> StorageResult<Option<String>> {
    let row = sqlx::query("SELECT fingerprint, kind, result_id FROM idempotency_keys WHERE account = $1 AND key = $2")
        .bind(account)
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(sql::error)?
        .ok_or_else(|| StorageError::Corrupt(format!("idempotency key {key:?} vanished")))?;
    if row.text("fingerprint")? == fingerprint && row.text("kind")? == kind {
        Ok(Some(row.text("result_id")?))
    } else {
        Ok(None)
    }
}

async fn payment_by_id<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    id: &str,
    lock: bool,
) -> StorageResult<Option<PaymentRecord>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(sql::error)?;
    row.as_ref().map(sql::payment).transpose()
}

#[async_trait]
impl PaymentStore for PgDb {
    async fn create(
        &self,
        idempotency_key: &str,
        fingerprint: &str,
        payment: PaymentRecord,
    ) -> StorageResult<Idempotent<PaymentRecord>> {
        let mut tx = self.begin().await?;
        if claim_key(&mut tx, &payment.account, idempotency_key, fingerprint, "payment", &payment.id).await? {
            let p = &payment;
            sqlx::query(&format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(&p.id)
            .bind(&p.account)
            .bind(p.amount_minor)
            .bind(&p.currency)
            .bind(&p.customer_id)
            .bind(&p.description)
            .bind(sql::state_name(p.state))
            .bind(p.refunded_minor)
            .bind(&p.failure_code)
            .bind(&p.failure_message)
            .bind(to_nanos(p.create_time))
            .bind(to_nanos(p.update_time))
            .execute(&mut *tx)
            .await
            .map_err(sql::error)?;
            tx.commit().await.map_err(sql::error)?;
            return Ok(Idempotent::Created(payment));
        }
        tx.rollback().await.map_err(sql::error)?;
        match earlier_use(&self.pool, &payment.account, idempotency_key, fingerprint, "payment").await? {
            Some(id) => {
                let original = payment_by_id(&self.pool, &id, false).await?.ok_or_else(|| {
                    StorageError::Corrupt(format!("idempotency record points at missing payment {id}"))
                })?;
                Ok(Idempotent::Replayed(original))
            }
            None => Ok(Idempotent::KeyReused),
        }
    }

    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        Ok(payment_by_id(&self.pool, id, false).await?.filter(|p| p.account == account))
    }

    async fn list(
        &self,
        account: &str,
        customer_id: Option<&str>,
        after: Option<(SystemTime, String)>,
        limit_to: usize,
    ) -> StorageResult<Vec<PaymentRecord>> {
        let (after_time, after_id) = match after {
            Some((time, id)) => (Some(to_nanos(time)), Some(id)),
            None => (None, None),
        };
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE account = $1 AND ($2::text IS NULL OR customer_id = $2) \
             AND ($3::bigint IS NULL OR (create_time, id) < ($3, $4::text)) \
             ORDER BY create_time DESC, id DESC LIMIT $5"
        ))
        .bind(account)
        .bind(customer_id)
        .bind(after_time)
        .bind(after_id)
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
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
        let mut tx = self.begin().await?;
        if !claim_key(&mut tx, account, idempotency_key, fingerprint, "refund", &refund.id).await? {
            tx.rollback().await.map_err(sql::error)?;
            let Some(id) = earlier_use(&self.pool, account, idempotency_key, fingerprint, "refund").await? else {
                return Ok(RefundOutcome::Done(Idempotent::KeyReused));
            };
            let row = sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"))
                .bind(&id)
                .fetch_optional(&self.pool)
                .await
                .map_err(sql::error)?;
            let original = row.as_ref().map(sql::refund).transpose()?;
            let payment = match &original {
                Some(r) => payment_by_id(&self.pool, &r.payment_id, false).await?,
                None => None,
            };
            return match (original, payment) {
                (Some(r), Some(p)) => Ok(RefundOutcome::Done(Idempotent::Replayed((r, p)))),
                _ => Err(StorageError::Corrupt(format!("idempotency record points at missing refund {id}"))),
            };
        }
        // The row lock serialises refunds of one payment across every replica.
        let payment = payment_by_id(&mut *tx, &refund.payment_id, true).await?;
        let (record, updated) = match refund.plan(payment.as_ref(), account) {
            Ok(planned) => planned,
            // Rolled back: a rejected refund does not use up its key.
            Err(rejection) => return Ok(RefundOutcome::Rejected(rejection)),
        };
        sqlx::query(&format!("INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
            .bind(&record.id)
            .bind(&record.payment_id)
            .bind(record.amount_minor)
            .bind(&record.reason)
            .bind(to_nanos(record.create_time))
            .execute(&mut *tx)
            .await
            .map_err(sql::error)?;
        sqlx::query("UPDATE payments SET state = $1, refunded_minor = $2, update_time = $3 WHERE id = $4")
            .bind(sql::state_name(updated.state))
            .bind(updated.refunded_minor)
            .bind(to_nanos(updated.update_time))
            .bind(&updated.id)
            .execute(&mut *tx)
            .await
            .map_err(sql::error)?;
        tx.commit().await.map_err(sql::error)?;
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
            .map_err(sql::error)?;
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
                let _ = sqlx::query("DELETE FROM file_chunks WHERE blob = $1").bind(blob).execute(&pool).await;
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
        let mut tx = self.pool.begin().await.map_err(sql::error)?;
        // One commit per name at a time across replicas, so the old blob found is the one
        // replaced.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(&record.name)
            .execute(&mut *tx)
            .await
            .map_err(sql::error)?;
        let old = sqlx::query_scalar::<_, String>("SELECT blob FROM files WHERE name = $1")
            .bind(&record.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql::error)?;
        sqlx::query(
            "INSERT INTO files (name, blob, size, content_type, sha256, create_time) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET blob = $2, size = $3, content_type = $4, sha256 = $5, create_time = $6",
        )
        .bind(&record.name)
        .bind(&self.blob)
        .bind(i64::try_from(record.size).unwrap_or(i64::MAX))
        .bind(&record.content_type)
        .bind(&record.sha256)
        .bind(to_nanos(record.create_time))
        .execute(&mut *tx)
        .await
        .map_err(sql::error)?;
        if let Some(old) = old {
            sqlx::query("DELETE FROM file_chunks WHERE blob = $1")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(sql::error)?;
        }
        tx.commit().await.map_err(sql::error)?;
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
        let row = sqlx::query(&format!("SELECT blob, {FILE_COLUMNS} FROM files WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql::error)?;
        let Some(row) = row else { return Ok(None) };
        let record = sql::file(&row)?;
        let blob = row.text("blob")?;
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
                    Err(e) => Err(sql::error(e)),
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
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2"
        ))
        .bind(after)
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await
        .map_err(sql::error)?;
        rows.iter().map(sql::file).collect()
    }

    async fn delete(&self, name: &str) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        let blob = sqlx::query_scalar::<_, String>("DELETE FROM files WHERE name = $1 RETURNING blob")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql::error)?;
        let Some(blob) = blob else { return Ok(false) };
        sqlx::query("DELETE FROM file_chunks WHERE blob = $1")
            .bind(blob)
            .execute(&mut *tx)
            .await
            .map_err(sql::error)?;
        tx.commit().await.map_err(sql::error)?;
        Ok(true)
    }
}
