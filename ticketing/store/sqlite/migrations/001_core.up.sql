-- Times are INTEGER microseconds since the Unix epoch (UTC), the precision
-- PostgreSQL's timestamptz keeps, so that both drivers return equal values.

CREATE TABLE ticket_counters (
    prefix TEXT NOT NULL,
    day    TEXT NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (prefix, day)
);

CREATE TABLE organizations (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    organization_id INTEGER REFERENCES organizations (id),
    created_at      INTEGER NOT NULL
);

CREATE TABLE customer_phones (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    phone       TEXT NOT NULL,
    PRIMARY KEY (phone, customer_id)
);

CREATE TABLE customer_emails (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    email       TEXT NOT NULL,
    PRIMARY KEY (email, customer_id)
);

CREATE TABLE tickets (
    id                  INTEGER PRIMARY KEY,
    number              TEXT NOT NULL UNIQUE,
    channel             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    priority            TEXT NOT NULL,
    status              TEXT NOT NULL,
    tier                INTEGER NOT NULL,
    subject             TEXT NOT NULL,
    description         TEXT NOT NULL,
    caller_name         TEXT NOT NULL,
    caller_phone        TEXT NOT NULL,
    caller_email        TEXT NOT NULL,
    caller_organization TEXT NOT NULL,
    caller_withheld     INTEGER NOT NULL,
    customer_id         INTEGER,
    assignee            TEXT NOT NULL,
    grp                 TEXT NOT NULL,
    resolution          TEXT NOT NULL,
    received_at         INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    resolved_at         INTEGER,
    closed_at           INTEGER,
    response_due        INTEGER,
    resolve_due         INTEGER,
    version             INTEGER NOT NULL
);
CREATE INDEX tickets_received_at ON tickets (received_at);
CREATE INDEX tickets_status ON tickets (status, id);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at        INTEGER NOT NULL,
    type      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    data      TEXT
);
CREATE INDEX events_ticket ON events (ticket_id, id);

-- The timeline is append-only, whoever writes to the file.
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL REFERENCES blobs (sha256),
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, id);

-- The intake's idempotency ledger: one row per contact (and per note).
CREATE TABLE contacts (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE thread_keys (
    key       TEXT NOT NULL,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (key, ticket_id)
);

CREATE TABLE participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    address   TEXT NOT NULL,
    PRIMARY KEY (ticket_id, address)
);

CREATE TABLE api_tokens (
    hash       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    ticket_id    INTEGER,
    args         TEXT NOT NULL,
    unique_key   TEXT,
    state        TEXT NOT NULL, -- available | running | done | failed
    run_at       INTEGER NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX jobs_due ON jobs (kind, state, run_at);
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running');
