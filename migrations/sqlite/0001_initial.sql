-- Switchboard's state in SQLite. Times are nanoseconds since the Unix epoch.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    -- Lower-cased by the server (Unicode-aware): the case-insensitive uniqueness index and
    -- the search columns.
    email_lower    TEXT    NOT NULL UNIQUE,
    username_lower TEXT    NOT NULL,
    age            INTEGER NOT NULL,
    create_time    INTEGER NOT NULL,
    update_time    INTEGER NOT NULL
);

CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE payments (
    id              TEXT    PRIMARY KEY,
    account         TEXT    NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    refunded_minor  INTEGER NOT NULL CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    failure_code    TEXT    NOT NULL,
    failure_message TEXT    NOT NULL,
    create_time     INTEGER NOT NULL,
    update_time     INTEGER NOT NULL
);
CREATE INDEX payments_listing ON payments (account, create_time, id);

CREATE TABLE refunds (
    id           TEXT    PRIMARY KEY,
    payment_id   TEXT    NOT NULL REFERENCES payments (id),
    amount_minor INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    create_time  INTEGER NOT NULL
);

-- One row per (account, key), decided atomically by the primary key.
CREATE TABLE idempotency_keys (
    account     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    result_id   TEXT NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;

-- Content lives in <data-dir>/files/blobs/<blob>; the blob name is server-made, never the
-- client's file name.
CREATE TABLE files (
    name         TEXT    PRIMARY KEY,
    blob         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    create_time  INTEGER NOT NULL
);
