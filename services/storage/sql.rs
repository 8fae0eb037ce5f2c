//! What the SQL backends share: error classification, time and state encodings, and the
//! embedded migrations.

use std::{
    borrow::Cow,
    time::{Duration, SystemTime},
};

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};

use super::{FileRecord, OpenError, PaymentRecord, PaymentState, RefundRecord, StorageError, UserRecord};

/// Sorts an engine error: the engine being away (retry later) or something it said that
/// this code does not understand.
pub fn error(error: sqlx::Error) -> StorageError {
    use sqlx::Error as E;
    match &error {
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL classes: 08 connection, 53 resources, 57 operator intervention
            // (shutdown), 40 transaction rollback. SQLite: 5 BUSY, 6 LOCKED, 10 IOERR, 13 FULL
            // (with their extended codes).
            let transient = ["08", "53", "57", "40"].iter().any(|class| code.starts_with(class))
                || matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6 | 10 | 13));
            if transient {
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

/// Whether an engine error is a unique-constraint violation.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

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

/// A migrator over migrations compiled into the binary (`migrations/<engine>/NNNN_name.sql`),
/// so a deployed binary carries its schema and needs no files beside it.
pub fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            migrations
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
pub fn migrate_error(failure: MigrateError) -> OpenError {
    match failure {
        MigrateError::VersionMissing(version) => OpenError::SchemaNewer(version),
        MigrateError::Execute(sqlx_error) => match error(sqlx_error) {
            StorageError::Unavailable(detail) => OpenError::Connect(detail),
            StorageError::Corrupt(detail) => OpenError::Migrate(detail),
        },
        other => OpenError::Migrate(other.to_string()),
    }
}

/// Decoding a row of either engine into the records of [`super`].
pub trait RowExt {
    fn int(&self, column: &str) -> Result<i64, StorageError>;
    fn text(&self, column: &str) -> Result<String, StorageError>;
}

impl<R> RowExt for R
where
    R: sqlx::Row,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    fn int(&self, column: &str) -> Result<i64, StorageError> {
        self.try_get::<i64, _>(column).map_err(error)
    }

    fn text(&self, column: &str) -> Result<String, StorageError> {
        self.try_get::<String, _>(column).map_err(error)
    }
}

pub fn user(row: &impl RowExt) -> Result<UserRecord, StorageError> {
    Ok(UserRecord {
        id: row.int("id")?,
        username: row.text("username")?,
        email: row.text("email")?,
        age: i32::try_from(row.int("age")?).map_err(|_| StorageError::Corrupt("age out of range".into()))?,
        create_time: from_nanos(row.int("create_time")?),
        update_time: from_nanos(row.int("update_time")?),
    })
}

pub fn payment(row: &impl RowExt) -> Result<PaymentRecord, StorageError> {
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

pub fn refund(row: &impl RowExt) -> Result<RefundRecord, StorageError> {
    Ok(RefundRecord {
        id: row.text("id")?,
        payment_id: row.text("payment_id")?,
        amount_minor: row.int("amount_minor")?,
        reason: row.text("reason")?,
        create_time: from_nanos(row.int("create_time")?),
    })
}

pub fn file(row: &impl RowExt) -> Result<FileRecord, StorageError> {
    Ok(FileRecord {
        name: row.text("name")?,
        size: u64::try_from(row.int("size")?).map_err(|_| StorageError::Corrupt("negative file size".into()))?,
        content_type: row.text("content_type")?,
        sha256: row.text("sha256")?,
        create_time: from_nanos(row.int("create_time")?),
    })
}

/// The column lists the decoders above read.
pub const USER_COLUMNS: &str = "id, username, email, age, create_time, update_time";
pub const PAYMENT_COLUMNS: &str = "id, account, amount_minor, currency, customer_id, description, state, \
                                   refunded_minor, failure_code, failure_message, create_time, update_time";
pub const REFUND_COLUMNS: &str = "id, payment_id, amount_minor, reason, create_time";
pub const FILE_COLUMNS: &str = "name, size, content_type, sha256, create_time";
