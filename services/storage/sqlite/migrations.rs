//! The SQLite schema's migrations, run with `rusqlite` over the files in
//! `migrations/sqlite/` (compiled into the binary, so a deployed binary needs nothing beside
//! it).
//!
//! The history is the table sqlx's migrator kept, `_sqlx_migrations`, read and written the
//! way sqlx does: the same columns, the same description, and the same checksum (SHA-384 of
//! the file's text). So a database written by a release that migrated with sqlx opens here as
//! it is, and a database this code migrates opens in that release — including its refusal of
//! a schema newer than it knows. The rules are sqlx's too: a migration left half-applied,
//! or one whose file changed after it ran, stops the start; an applied version this binary
//! does not know means a newer binary migrated the database ([`OpenError::SchemaNewer`]).
//!
//! Unlike sqlx, everything — the check and every migration — runs in one `IMMEDIATE`
//! transaction, so two processes opening one new database cannot both migrate it.

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha384};

use super::{OpenError, lite_error};

/// One embedded migration: version, description (the file name after the version), SQL.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "initial",
    sql: include_str!("../../../migrations/sqlite/0001_initial.sql"),
}];

/// The history table exactly as sqlx creates it.
const HISTORY: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// Brings the schema of `conn`'s database up to date with [`MIGRATIONS`].
pub fn run(conn: &mut Connection) -> Result<(), OpenError> {
    let failed = |error: rusqlite::Error| match lite_error(error) {
        super::StorageError::Unavailable(detail) => OpenError::Connect(detail),
        super::StorageError::Corrupt(detail) => OpenError::Migrate(detail),
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
    tx.execute_batch(HISTORY).map_err(failed)?;
    let dirty: Option<i64> = tx
        .query_row("SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(failed)?;
    if let Some(version) = dirty {
        return Err(OpenError::Migrate(format!(
            "migration {version} was left partially applied; restore the database from a backup"
        )));
    }
    let applied: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .and_then(|mut statement| statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .map_err(failed)?;
    if let Some(&(version, _)) = applied.iter().find(|(version, _)| MIGRATIONS.iter().all(|m| m.version != *version)) {
        return Err(OpenError::SchemaNewer(version));
    }
    for migration in MIGRATIONS {
        let checksum = Sha384::digest(migration.sql.as_bytes()).to_vec();
        match applied.iter().find(|(version, _)| *version == migration.version) {
            Some((_, recorded)) if *recorded == checksum => {}
            Some(_) => {
                return Err(OpenError::Migrate(format!(
                    "migration {} was applied from a different file than this binary carries",
                    migration.version
                )));
            }
            None => {
                let started = Instant::now();
                tx.execute_batch(migration.sql).map_err(failed)?;
                let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                     VALUES (?1, ?2, TRUE, ?3, ?4)",
                    rusqlite::params![migration.version, migration.description, checksum, nanos],
                )
                .map_err(failed)?;
                tracing::info!(version = migration.version, description = migration.description, "migrated");
            }
        }
    }
    tx.commit().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(conn: &Connection) -> Vec<(i64, String, bool, String)> {
        conn.prepare("SELECT version, description, success, hex(checksum) FROM _sqlx_migrations ORDER BY version")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn records_what_sqlx_recorded_and_runs_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn).unwrap();
        run(&mut conn).unwrap();
        // The row sqlx 0.8 wrote for this file (tests/fixtures/sqlite_7ec856d has it too).
        let sqlx_checksum = "178444BCC3BD64B0D65500B1452FEAE45830EB8D98C52B936DBB6354D50AB175\
                             AB8F118E8396D40D054973619D510CC1";
        assert_eq!(history(&conn), [(1, "initial".to_owned(), true, sqlx_checksum.to_owned())]);
    }

    /// `row` in the history of a fresh database; what running the migrations then says.
    fn run_over(row: &str) -> Result<(), OpenError> {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(HISTORY).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES {row}"
        ))
        .unwrap();
        run(&mut conn)
    }

    #[test]
    fn refuses_newer_changed_and_half_applied_histories() {
        assert!(matches!(run_over("(9999, 'later', TRUE, x'00', 0)"), Err(OpenError::SchemaNewer(9999))));
        let changed = run_over("(1, 'initial', TRUE, x'00', 0)").unwrap_err().to_string();
        assert!(changed.contains("different file"), "{changed}");
        let dirty = run_over("(1, 'initial', FALSE, x'00', 0)").unwrap_err().to_string();
        assert!(dirty.contains("partially applied"), "{dirty}");
    }
}
