-- 0006: the pre-images of updates, so that a run's changes can be put back (custsync restore). Per update the
-- platform confirmed, keyed by its op: the fields it changed as they were before and as the update wrote them
-- (JSON objects, field path -> value; before lacks a path whose earlier value custsync did not know). Deletes
-- keep their pre-image in the deletion log, and what a run created is in its journal.
CREATE TABLE update_images (
    run_id    INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    erp_key   TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    before    TEXT NOT NULL,
    after     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
