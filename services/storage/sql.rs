//! The SQL both engines run, written once, and how their rows become records.
//!
//! A statement that SQLite and PostgreSQL both run lives here, as a [`Query`]: its text and
//! its parameters as engine-neutral [`Param`]s. Each engine has one small executor that binds
//! a `Query` with its own driver (`rusqlite` in [`super::sqlite`], `sqlx` in
//! [`super::postgres`]) and one [`RowExt`] impl for its rows, so the decoders below serve
//! both. What only one engine runs (PostgreSQL's `file_chunks` and `xmax`, SQLite's start-up
//! loading) stays in that engine's file.
//!
//! The texts are written in the SQL the two engines share: `$1`, `$2`, … placeholders
//! (SQLite reads `$N` as a named parameter and numbers the names in order of first use, so
//! every text here uses them in ascending order — the `placeholders_ascend` test checks),
//! `CAST(… AS TEXT)` rather than PostgreSQL's `::text`, and row values. Where the engines
//! truly differ, the difference is a parameter of the query ([`RowLock`]).

use std::{
    borrow::Cow,
    time::{Duration, SystemTime},
};

use super::{FileRecord, PaymentRecord, PaymentState, RefundRecord, StorageError, UserFields, UserRecord};

/// Times are stored as nanoseconds since the Unix epoch: exact, and ordered as integers.
pub fn to_nanos(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub fn from_nanos(nanos: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

pub fn state_name(state: PaymentState) -> &'static str {
    match state {
        PaymentState::Succeeded => "succeeded",
        PaymentState::Failed => "failed",
        PaymentState::PartiallyRefunded => "partially_refunded",
        PaymentState::Refunded => "refunded",
    }
}

pub fn parse_state(name: &str) -> Result<PaymentState, StorageError> {
    Ok(match name {
        "succeeded" => PaymentState::Succeeded,
        "failed" => PaymentState::Failed,
        "partially_refunded" => PaymentState::PartiallyRefunded,
        "refunded" => PaymentState::Refunded,
        other => return Err(StorageError::Corrupt(format!("unknown payment state {other:?}"))),
    })
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Queries

/// A value for one placeholder, typed the way both engines store it (integers and text;
/// `None` is NULL of that type, which PostgreSQL needs to know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<'a> {
    Int(Option<i64>),
    Text(Option<Cow<'a, str>>),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Param<'_> {
    fn from(value: String) -> Self {
        Param::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value.map(Cow::Borrowed))
    }
}

/// One statement and the values of its placeholders, in order.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub sql: &'static str,
    pub params: Vec<Param<'a>>,
}

macro_rules! query {
    ($sql:expr $(, $param:expr)* $(,)?) => {
        Query { sql: $sql, params: vec![$(Param::from($param)),*] }
    };
}

// Column lists as macros, so each statement is one `&'static str` put together at compile
// time (the engines cache prepared statements by their text).
macro_rules! user_columns {
    () => {
        "id, username, email, age, create_time, update_time"
    };
}
macro_rules! payment_columns {
    () => {
        "id, account, amount_minor, currency, customer_id, description, state, refunded_minor, failure_code, \
         failure_message, create_time, update_time"
    };
}
macro_rules! refund_columns {
    () => {
        "id, payment_id, amount_minor, reason, create_time"
    };
}
macro_rules! file_columns {
    () => {
        "name, size, content_type, sha256, create_time"
    };
}
pub(super) use user_columns;

/// Whether a read locks the rows it reads until the transaction ends. PostgreSQL needs it
/// where replicas race (`FOR UPDATE`); SQLite's single writer never does, and has no such
/// clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    None,
    ForUpdate,
}

/// Inserts a user; selects the new id.
pub fn insert_user(fields: &UserFields, now: SystemTime) -> Query<'_> {
    query!(
        "INSERT INTO users (username, email, email_lower, username_lower, age, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        &fields.username,
        &fields.email,
        fields.email.to_lowercase(),
        fields.username.to_lowercase(),
        i64::from(fields.age),
        to_nanos(now),
    )
}

pub fn select_user(id: i64, lock: RowLock) -> Query<'static> {
    let sql = match lock {
        RowLock::None => concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
        RowLock::ForUpdate => concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 FOR UPDATE"),
    };
    query!(sql, id)
}

/// Writes every field of `user` (as [`UserRecord::apply`] left it).
pub fn update_user(user: &UserRecord) -> Query<'_> {
    query!(
        "UPDATE users SET username = $1, email = $2, email_lower = $3, username_lower = $4, age = $5, \
         update_time = $6 WHERE id = $7",
        &user.username,
        &user.email,
        user.email.to_lowercase(),
        user.username.to_lowercase(),
        i64::from(user.age),
        to_nanos(user.update_time),
        user.id,
    )
}

/// Every user (SQLite's start-up loading).
pub fn select_all_users() -> Query<'static> {
    query!(concat!("SELECT ", user_columns!(), " FROM users"))
}

pub fn delete_user(id: i64) -> Query<'static> {
    query!("DELETE FROM users WHERE id = $1", id)
}

pub fn delete_kv(key: &str) -> Query<'_> {
    query!("DELETE FROM kv WHERE key = $1", key)
}

/// The earlier use of an idempotency key, decoded by [`key_use`].
pub fn select_key_use<'a>(account: &'a str, key: &'a str) -> Query<'a> {
    query!("SELECT fingerprint, kind, result_id FROM idempotency_keys WHERE account = $1 AND key = $2", account, key)
}

/// Records the first use of an idempotency key; changes no row if the key was used before.
pub fn claim_key<'a>(
    account: &'a str,
    key: &'a str,
    fingerprint: &'a str,
    kind: &'static str,
    result_id: &'a str,
) -> Query<'a> {
    query!(
        "INSERT INTO idempotency_keys (account, key, fingerprint, kind, result_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account, key) DO NOTHING",
        account,
        key,
        fingerprint,
        kind,
        result_id,
    )
}

pub fn select_payment(id: &str, lock: RowLock) -> Query<'_> {
    let sql = match lock {
        RowLock::None => concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1"),
        RowLock::ForUpdate => concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1 FOR UPDATE"),
    };
    query!(sql, id)
}

pub fn insert_payment(p: &PaymentRecord) -> Query<'_> {
    query!(
        concat!(
            "INSERT INTO payments (",
            payment_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &p.id,
        &p.account,
        p.amount_minor,
        &p.currency,
        &p.customer_id,
        &p.description,
        state_name(p.state),
        p.refunded_minor,
        &p.failure_code,
        &p.failure_message,
        to_nanos(p.create_time),
        to_nanos(p.update_time),
    )
}

/// The account's payments, newest first, strictly after `after` (`(create_time, id)`),
/// optionally of one customer.
pub fn select_payments<'a>(
    account: &'a str,
    customer_id: Option<&'a str>,
    after: Option<&'a (SystemTime, String)>,
    max: usize,
) -> Query<'a> {
    query!(
        concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE account = $1 AND (CAST($2 AS TEXT) IS NULL OR customer_id = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR (create_time, id) < ($3, CAST($4 AS TEXT))) \
             ORDER BY create_time DESC, id DESC LIMIT $5"
        ),
        account,
        customer_id,
        after.map(|(time, _)| to_nanos(*time)),
        after.map(|(_, id)| id.as_str()),
        limit(max),
    )
}

/// The payment as a refund left it.
pub fn update_refunded(p: &PaymentRecord) -> Query<'_> {
    query!(
        "UPDATE payments SET state = $1, refunded_minor = $2, update_time = $3 WHERE id = $4",
        state_name(p.state),
        p.refunded_minor,
        to_nanos(p.update_time),
        &p.id,
    )
}

pub fn select_refund(id: &str) -> Query<'_> {
    query!(concat!("SELECT ", refund_columns!(), " FROM refunds WHERE id = $1"), id)
}

pub fn insert_refund(r: &RefundRecord) -> Query<'_> {
    query!(
        concat!("INSERT INTO refunds (", refund_columns!(), ") VALUES ($1, $2, $3, $4, $5)"),
        &r.id,
        &r.payment_id,
        r.amount_minor,
        &r.reason,
        to_nanos(r.create_time),
    )
}

/// A file's record and blob, decoded by [`file_and_blob`].
pub fn select_file(name: &str) -> Query<'_> {
    query!(concat!("SELECT blob, ", file_columns!(), " FROM files WHERE name = $1"), name)
}

/// The blob a name points at (column `blob`).
pub fn select_blob(name: &str) -> Query<'_> {
    query!("SELECT blob FROM files WHERE name = $1", name)
}

/// Points `record.name` at `blob`, replacing whatever it pointed at.
pub fn upsert_file<'a>(record: &'a FileRecord, blob: &'a str) -> Query<'a> {
    query!(
        "INSERT INTO files (name, blob, size, content_type, sha256, create_time) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (name) DO UPDATE SET blob = $2, size = $3, content_type = $4, sha256 = $5, create_time = $6",
        &record.name,
        blob,
        i64::try_from(record.size).unwrap_or(i64::MAX),
        &record.content_type,
        &record.sha256,
        to_nanos(record.create_time),
    )
}

/// Deletes a file's record; selects the blob it pointed at (column `blob`).
pub fn delete_file(name: &str) -> Query<'_> {
    query!("DELETE FROM files WHERE name = $1 RETURNING blob", name)
}

/// Files named strictly after `after`, ascending by name (bytes: SQLite's BINARY, the
/// PostgreSQL column's `COLLATE "C"`).
pub fn select_files<'a>(after: Option<&'a str>, max: usize) -> Query<'a> {
    query!(
        concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE (CAST($1 AS TEXT) IS NULL OR name > $1) ORDER BY name LIMIT $2"
        ),
        after,
        limit(max),
    )
}

// ---------------------------------------------------------------------------------------------
// Rows

/// A row of either engine, read by column name.
pub trait RowExt {
    fn int(&self, column: &str) -> Result<i64, StorageError>;
    fn text(&self, column: &str) -> Result<String, StorageError>;
}

pub fn user(row: &dyn RowExt) -> Result<UserRecord, StorageError> {
    Ok(UserRecord {
        id: row.int("id")?,
        username: row.text("username")?,
        email: row.text("email")?,
        age: i32::try_from(row.int("age")?).map_err(|_| StorageError::Corrupt("age out of range".into()))?,
        create_time: from_nanos(row.int("create_time")?),
        update_time: from_nanos(row.int("update_time")?),
    })
}

pub fn payment(row: &dyn RowExt) -> Result<PaymentRecord, StorageError> {
    Ok(PaymentRecord {
        id: row.text("id")?,
        account: row.text("account")?,
        amount_minor: row.int("amount_minor")?,
        currency: row.text("currency")?,
        customer_id: row.text("customer_id")?,
        description: row.text("description")?,
        state: parse_state(&row.text("state")?)?,
        refunded_minor: row.int("refunded_minor")?,
        failure_code: row.text("failure_code")?,
        failure_message: row.text("failure_message")?,
        create_time: from_nanos(row.int("create_time")?),
        update_time: from_nanos(row.int("update_time")?),
    })
}

pub fn refund(row: &dyn RowExt) -> Result<RefundRecord, StorageError> {
    Ok(RefundRecord {
        id: row.text("id")?,
        payment_id: row.text("payment_id")?,
        amount_minor: row.int("amount_minor")?,
        reason: row.text("reason")?,
        create_time: from_nanos(row.int("create_time")?),
    })
}

pub fn file_and_blob(row: &dyn RowExt) -> Result<(FileRecord, String), StorageError> {
    Ok((file(row)?, blob(row)?))
}

pub fn file(row: &dyn RowExt) -> Result<FileRecord, StorageError> {
    Ok(FileRecord {
        name: row.text("name")?,
        size: u64::try_from(row.int("size")?).map_err(|_| StorageError::Corrupt("negative file size".into()))?,
        content_type: row.text("content_type")?,
        sha256: row.text("sha256")?,
        create_time: from_nanos(row.int("create_time")?),
    })
}

pub fn blob(row: &dyn RowExt) -> Result<String, StorageError> {
    row.text("blob")
}

/// What an idempotency key was first used for.
pub struct KeyUse {
    fingerprint: String,
    kind: String,
    pub result_id: String,
}

impl KeyUse {
    /// Whether the earlier use was this same request.
    pub fn is_same(&self, fingerprint: &str, kind: &str) -> bool {
        self.fingerprint == fingerprint && self.kind == kind
    }
}

pub fn key_use(row: &dyn RowExt) -> Result<KeyUse, StorageError> {
    Ok(KeyUse { fingerprint: row.text("fingerprint")?, kind: row.text("kind")?, result_id: row.text("result_id")? })
}

// ---------------------------------------------------------------------------------------------
// Replays

/// The answer to a payment retried under its key: the original, which must exist.
pub fn replayed_payment(
    key: &KeyUse,
    original: Option<PaymentRecord>,
) -> Result<super::Idempotent<PaymentRecord>, StorageError> {
    original
        .map(super::Idempotent::Replayed)
        .ok_or_else(|| StorageError::Corrupt(format!("idempotency record points at missing payment {}", key.result_id)))
}

/// The answer to a refund retried under its key: the original refund and its payment,
/// which must both exist.
pub fn replayed_refund(
    key: &KeyUse,
    original: Option<RefundRecord>,
    payment: Option<PaymentRecord>,
) -> Result<super::RefundOutcome, StorageError> {
    match (original, payment) {
        (Some(r), Some(p)) => Ok(super::RefundOutcome::Done(super::Idempotent::Replayed((r, p)))),
        _ => Err(StorageError::Corrupt(format!("idempotency record points at missing refund {}", key.result_id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite numbers `$N` names in order of first use; binding by position is right only
    /// when that order is 1, 2, 3, … — and every placeholder has a value.
    #[test]
    fn placeholders_ascend() {
        let now = SystemTime::UNIX_EPOCH;
        let fields = UserFields { username: "u".into(), email: "e".into(), age: 1 };
        let user =
            UserRecord { id: 1, username: "u".into(), email: "e".into(), age: 1, create_time: now, update_time: now };
        let payment = PaymentRecord {
            id: "p".into(),
            account: "a".into(),
            amount_minor: 1,
            currency: "EUR".into(),
            customer_id: "c".into(),
            description: String::new(),
            state: PaymentState::Succeeded,
            refunded_minor: 0,
            failure_code: String::new(),
            failure_message: String::new(),
            create_time: now,
            update_time: now,
        };
        let refund = RefundRecord {
            id: "r".into(),
            payment_id: "p".into(),
            amount_minor: 1,
            reason: String::new(),
            create_time: now,
        };
        let file = FileRecord {
            name: "f".into(),
            size: 1,
            content_type: String::new(),
            sha256: String::new(),
            create_time: now,
        };
        let after = (now, "p".to_owned());
        let mut queries = vec![
            insert_user(&fields, now),
            select_all_users(),
            update_user(&user),
            delete_user(1),
            delete_kv("k"),
            select_key_use("a", "k"),
            claim_key("a", "k", "f", "payment", "p"),
            insert_payment(&payment),
            select_payments("a", Some("c"), Some(&after), 10),
            update_refunded(&payment),
            select_refund("r"),
            insert_refund(&refund),
            select_file("f"),
            select_blob("f"),
            upsert_file(&file, "b"),
            delete_file("f"),
            select_files(None, 10),
        ];
        for lock in [RowLock::None, RowLock::ForUpdate] {
            queries.push(select_user(1, lock));
            queries.push(select_payment("p", lock));
        }
        for query in queries {
            let mut first_uses = Vec::new();
            let mut rest = query.sql;
            while let Some(at) = rest.find('$') {
                rest = &rest[at + 1..];
                let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
                let n: usize = rest[..digits].parse().expect("a number after $");
                if !first_uses.contains(&n) {
                    first_uses.push(n);
                }
            }
            let expected: Vec<usize> = (1..=query.params.len()).collect();
            assert_eq!(first_uses, expected, "{}", query.sql);
        }
    }
}
