-- The service-desk process: SLA state on tickets, the knowledge base with a
-- trigram index (pg_trgm, which splits Chinese text into character
-- trigrams), and shared secrets (the confirmation links' signing key).

ALTER TABLE tickets
    ADD COLUMN responded_at timestamptz,
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN sla_paused_since timestamptz,
    ADD COLUMN sla_paused_us bigint NOT NULL DEFAULT 0,
    ADD COLUMN sla_flags integer NOT NULL DEFAULT 0,
    ADD COLUMN escalations integer NOT NULL DEFAULT 0,
    ADD COLUMN reopens integer NOT NULL DEFAULT 0,
    ADD COLUMN reassigns integer NOT NULL DEFAULT 0;

-- Contacts per period, for the reports.
CREATE INDEX events_type_at ON events (type, at);

CREATE TABLE kb_articles (
    id               bigserial PRIMARY KEY,
    title            text NOT NULL,
    problem          text NOT NULL,
    cause            text NOT NULL,
    resolution       text NOT NULL,
    category         text NOT NULL,
    source_ticket_id bigint UNIQUE REFERENCES tickets (id),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    version          bigint NOT NULL,
    search_text      text GENERATED ALWAYS AS
        (lower(title || ' ' || problem || ' ' || cause || ' ' || resolution || ' ' || category)) STORED
);

-- pg_trgm lives in one schema per database (public), shared by every
-- schema that uses it; migrations run under an advisory lock, so instances
-- starting together do not race to create it. Where the extension cannot
-- be installed (no privilege), search still works by scanning.
DO $$
DECLARE
    ext_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm not installed (%): knowledge-base search scans', SQLERRM;
    END;
    SELECT extnamespace::regnamespace::text INTO ext_schema FROM pg_extension WHERE extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX kb_articles_trgm ON kb_articles USING gin (search_text %I.gin_trgm_ops)', ext_schema);
    END IF;
END
$$;

CREATE TABLE secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
