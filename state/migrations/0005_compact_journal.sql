-- 0005: the journal becomes the store of a streamed plan, so it must take millions of ops fast.
-- ops is keyed by (run_id, seq) alone, without a rowid (one b-tree per insert instead of two), and gets a
-- record column: the engine's compact encoding of everything an op needs to be applied later. Its CHECK
-- constraints and the foreign key to runs go: they were over half of an insert's cost, and only the state
-- package writes these columns, from validated values (PlannedOp.validate) and fixed statuses; runs are never
-- deleted.
CREATE TABLE ops_new (
    run_id      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    erp_key     TEXT NOT NULL,
    remote_id   TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    new_hash    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    payload     TEXT,
    status      TEXT NOT NULL DEFAULT 'planned',
    attempts    INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    updated_at  TEXT,
    record      BLOB,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

INSERT INTO ops_new (run_id, seq, kind, erp_key, remote_id, action, new_hash, reason, payload, status, attempts,
    http_status, error, updated_at)
SELECT run_id, seq, kind, erp_key, remote_id, action, new_hash, reason, payload, status, attempts,
    http_status, error, updated_at FROM ops;
DROP TABLE ops;
ALTER TABLE ops_new RENAME TO ops;

-- The generation of a kind is bumped once per committing transaction (Store.Commit, DeleteEntity) instead of
-- by a trigger on every row: with batched multi-row upserts the triggers were most of a commit's work.
DROP TRIGGER entities_generation_insert;
DROP TRIGGER entities_generation_update;
DROP TRIGGER entities_generation_delete;
