-- Switchboard's state in PostgreSQL. Times are nanoseconds since the Unix epoch.
CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    -- Lower-cased by the server (Unicode-aware): the case-insensitive uniqueness index and
    -- the search columns.
    email_lower    TEXT    NOT NULL UNIQUE,
    username_lower TEXT    NOT NULL,
    age            BIGINT  NOT NULL,
    create_time    BIGINT  NOT NULL,
    update_time    BIGINT  NOT NULL
);

CREATE TABLE kv (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE payments (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account         TEXT    NOT NULL,
    amount_minor    BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    refunded_minor  BIGINT  NOT NULL CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    failure_code    TEXT    NOT NULL,
    failure_message TEXT    NOT NULL,
    create_time     BIGINT  NOT NULL,
    update_time     BIGINT  NOT NULL
);
CREATE INDEX payments_listing ON payments (account, create_time, id);

CREATE TABLE refunds (
    id           TEXT COLLATE "C" PRIMARY KEY,
    payment_id   TEXT    NOT NULL REFERENCES payments (id),
    amount_minor BIGINT  NOT NULL,
    reason       TEXT    NOT NULL,
    create_time  BIGINT  NOT NULL
);

-- One row per (account, key), decided atomically by the primary key.
CREATE TABLE idempotency_keys (
    account     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    result_id   TEXT NOT NULL,
    PRIMARY KEY (account, key)
);

-- Content lives in file_chunks under a server-made blob id, so replacing a file is one
-- atomic switch of `blob`.
CREATE TABLE files (
    name         TEXT COLLATE "C" PRIMARY KEY,
    blob         TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    content_type TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    create_time  BIGINT  NOT NULL
);

CREATE TABLE file_chunks (
    blob TEXT   NOT NULL,
    seq  BIGINT NOT NULL,
    data BYTEA  NOT NULL,
    PRIMARY KEY (blob, seq)
);
