-- SIP registrar: softphone bindings and lock-out of addresses that fail
-- digest authentication, shared by every instance. Times are INTEGER
-- microseconds since the Unix epoch (UTC).

CREATE TABLE sip_bindings (
    aor        TEXT NOT NULL,
    contact    TEXT NOT NULL,
    source     TEXT NOT NULL,
    transport  TEXT NOT NULL,
    call_id    TEXT NOT NULL,
    cseq       INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    instance   TEXT NOT NULL,
    PRIMARY KEY (aor, contact)
);
CREATE INDEX sip_bindings_expires ON sip_bindings (expires_at);

CREATE TABLE sip_auth_failures (
    source       TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
);
