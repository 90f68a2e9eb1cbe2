-- SIP registrar: softphone bindings and lock-out of addresses that fail
-- digest authentication, shared by every instance.

CREATE TABLE sip_bindings (
    aor        text NOT NULL,
    contact    text NOT NULL,
    source     text NOT NULL,
    transport  text NOT NULL,
    call_id    text NOT NULL,
    cseq       bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    instance   text NOT NULL,
    PRIMARY KEY (aor, contact)
);
CREATE INDEX sip_bindings_expires ON sip_bindings (expires_at);

CREATE TABLE sip_auth_failures (
    source       text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);
