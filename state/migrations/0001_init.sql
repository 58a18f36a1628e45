-- 0001: the checkpoint of custsync. Times are UTC text "YYYY-MM-DDTHH:MM:SS.sssZ" so they sort and read well.

-- The API URL and tenant this file belongs to; exactly one row once bound.
CREATE TABLE binding (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    api_url    TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    bound_at   TEXT NOT NULL
);

-- One run at a time: at most one row, refreshed by the holder's heartbeat.
CREATE TABLE run_lock (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    token        TEXT NOT NULL,
    acquired_at  TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    args         TEXT NOT NULL DEFAULT 'null',
    status       TEXT NOT NULL CHECK (status IN ('planned', 'running', 'completed', 'failed', 'interrupted')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    -- set once the whole plan is journaled; a run without it has no trustworthy journal to resume
    journaled_at TEXT,
    stats        TEXT
);

-- The checkpoint proper: what the platform holds for each ERP key, as far as custsync wrote it.
-- Kept narrow (no payload) so that loading a million rows reads as few pages as possible.
CREATE TABLE entities (
    kind       TEXT NOT NULL,
    erp_key    TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    row_hash   INTEGER NOT NULL,
    synced_run INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, erp_key)
) WITHOUT ROWID;

-- Two ERP keys pointing at one remote record would make one overwrite the other on the platform.
CREATE UNIQUE INDEX entities_remote_id ON entities (kind, remote_id);

-- The last-sent mapped fields of an entity, read only for the few rows that changed.
CREATE TABLE entity_snapshots (
    kind    TEXT NOT NULL,
    erp_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (kind, erp_key),
    FOREIGN KEY (kind, erp_key) REFERENCES entities (kind, erp_key) ON DELETE CASCADE
);

-- The planned-ops journal: written in full before the first remote call of a run.
CREATE TABLE ops (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    erp_key     TEXT NOT NULL,
    remote_id   TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    new_hash    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    payload     TEXT,
    status      TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done', 'failed', 'skipped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    updated_at  TEXT,
    PRIMARY KEY (run_id, seq)
);

-- SD customer mappings: platform customer number <-> ERP (SAP SD) customer number.
CREATE TABLE sd_mappings (
    customer_number    TEXT PRIMARY KEY,
    sd_customer_number TEXT NOT NULL,
    deleted_in_yaas    INTEGER NOT NULL DEFAULT 0 CHECK (deleted_in_yaas IN (0, 1)),
    pushed             INTEGER NOT NULL DEFAULT 0 CHECK (pushed IN (0, 1)),
    updated_at         TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sd_mappings_sd_number ON sd_mappings (sd_customer_number);
CREATE INDEX sd_mappings_unpushed ON sd_mappings (pushed) WHERE pushed = 0;

-- The deletion log for the ERP team: what was deleted, why, and the remote record as it was.
CREATE TABLE deletions (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    erp_key    TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    pre_image  TEXT,
    reason     TEXT NOT NULL CHECK (reason IN ('erp-deleted', 'full-snapshot', 'deleted-in-platform')),
    run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    acked_at   TEXT
);

CREATE INDEX deletions_key ON deletions (kind, erp_key);
CREATE INDEX deletions_unacked ON deletions (id) WHERE acked_at IS NULL;
