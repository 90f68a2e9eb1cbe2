-- Ticket numbers come from one sequence per prefix and day
-- (ticket_number_<prefix>_<yyyymmdd>), made on first use.

CREATE TABLE organizations (
    id   bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE customers (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    organization_id bigint REFERENCES organizations (id),
    created_at      timestamptz NOT NULL
);

CREATE TABLE customer_phones (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    phone       text NOT NULL,
    UNIQUE (phone, customer_id)
);

CREATE TABLE customer_emails (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    email       text NOT NULL,
    UNIQUE (email, customer_id)
);

CREATE TABLE tickets (
    id                  bigserial PRIMARY KEY,
    number              text NOT NULL UNIQUE,
    channel             text NOT NULL,
    kind                text NOT NULL,
    priority            text NOT NULL,
    status              text NOT NULL,
    tier                integer NOT NULL,
    subject             text NOT NULL,
    description         text NOT NULL,
    caller_name         text NOT NULL,
    caller_phone        text NOT NULL,
    caller_email        text NOT NULL,
    caller_organization text NOT NULL,
    caller_withheld     boolean NOT NULL,
    customer_id         bigint,
    assignee            text NOT NULL,
    grp                 text NOT NULL,
    resolution          text NOT NULL,
    received_at         timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    response_due        timestamptz,
    resolve_due         timestamptz,
    version             bigint NOT NULL
);
CREATE INDEX tickets_received_at ON tickets (received_at);
CREATE INDEX tickets_status ON tickets (status, id);

CREATE TABLE events (
    id        bigserial PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    at        timestamptz NOT NULL,
    type      text NOT NULL,
    actor     text NOT NULL,
    data      json
);
CREATE INDEX events_ticket ON events (ticket_id, id);

-- The timeline is append-only, whoever connects to the database.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE blobs (
    sha256 text PRIMARY KEY,
    size   bigint NOT NULL,
    data   bytea NOT NULL
);

CREATE TABLE attachments (
    id           bigserial PRIMARY KEY,
    ticket_id    bigint NOT NULL REFERENCES tickets (id),
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL REFERENCES blobs (sha256),
    created_at   timestamptz NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, id);

-- The intake's idempotency ledger: one row per contact (and per note).
CREATE TABLE contacts (
    channel     text NOT NULL,
    external_id text NOT NULL,
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE thread_keys (
    key       text NOT NULL,
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (key, ticket_id)
);

CREATE TABLE participants (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    address   text NOT NULL,
    PRIMARY KEY (ticket_id, address)
);

CREATE TABLE api_tokens (
    hash       text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    ticket_id    bigint,
    args         json NOT NULL,
    unique_key   text,
    state        text NOT NULL, -- available | running | done | failed
    run_at       timestamptz NOT NULL,
    attempt      integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz
);
CREATE INDEX jobs_due ON jobs (kind, state, run_at);
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running');
