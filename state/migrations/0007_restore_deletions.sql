-- 0007: a restore (custsync restore --include-creates) deletes what a run created, and logs those deletions
-- like any other, with their own reason. SQLite cannot change a CHECK constraint, so the log is copied into a
-- table that allows it.
CREATE TABLE deletions_next (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    erp_key    TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    pre_image  TEXT,
    reason     TEXT NOT NULL CHECK (reason IN ('erp-deleted', 'full-snapshot', 'deleted-in-platform', 'restore')),
    run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    acked_at   TEXT
);

INSERT INTO deletions_next (id, kind, erp_key, remote_id, pre_image, reason, run_id, created_at, acked_at)
SELECT id, kind, erp_key, remote_id, pre_image, reason, run_id, created_at, acked_at FROM deletions;
DROP TABLE deletions;
ALTER TABLE deletions_next RENAME TO deletions;

CREATE INDEX deletions_key ON deletions (kind, erp_key);
CREATE INDEX deletions_unacked ON deletions (id) WHERE acked_at IS NULL;
CREATE INDEX deletions_run ON deletions (run_id);
