-- The service-desk process: SLA state on tickets, the knowledge base with a
-- trigram full-text index (works for Chinese, which has no spaces between
-- words), and shared secrets (the confirmation links' signing key).

ALTER TABLE tickets ADD COLUMN responded_at INTEGER;
ALTER TABLE tickets ADD COLUMN confirmed_at INTEGER;
ALTER TABLE tickets ADD COLUMN sla_paused_since INTEGER;
ALTER TABLE tickets ADD COLUMN sla_paused_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN escalations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN reopens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN reassigns INTEGER NOT NULL DEFAULT 0;

-- Contacts per period, for the reports.
CREATE INDEX events_type_at ON events (type, at);

CREATE TABLE kb_articles (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL,
    problem          TEXT NOT NULL,
    cause            TEXT NOT NULL,
    resolution       TEXT NOT NULL,
    category         TEXT NOT NULL,
    source_ticket_id INTEGER UNIQUE REFERENCES tickets (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL
);

CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, problem, cause, resolution, category,
    content = 'kb_articles', content_rowid = 'id', tokenize = 'trigram case_sensitive 0'
);
CREATE TRIGGER kb_articles_ai AFTER INSERT ON kb_articles BEGIN
    INSERT INTO kb_fts (rowid, title, problem, cause, resolution, category)
    VALUES (new.id, new.title, new.problem, new.cause, new.resolution, new.category);
END;
CREATE TRIGGER kb_articles_ad AFTER DELETE ON kb_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, problem, cause, resolution, category)
    VALUES ('delete', old.id, old.title, old.problem, old.cause, old.resolution, old.category);
END;
CREATE TRIGGER kb_articles_au AFTER UPDATE ON kb_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, problem, cause, resolution, category)
    VALUES ('delete', old.id, old.title, old.problem, old.cause, old.resolution, old.category);
    INSERT INTO kb_fts (rowid, title, problem, cause, resolution, category)
    VALUES (new.id, new.title, new.problem, new.cause, new.resolution, new.category);
END;

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
