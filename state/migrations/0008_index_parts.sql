-- 0008: the entity index cache is kept in parts of a few MB. One blob of a checkpoint of millions (about 90 MB
-- at three million entities) was copied whole into SQLite's memory to be written or read, beside the copy the
-- index itself holds: the re-run after a change of the checkpoint then needed 340 MB instead of 260. A cache
-- only: its rows are dropped and rebuilt by the next run.
DROP TABLE entity_index;
CREATE TABLE entity_index (
    kind       TEXT NOT NULL,
    part       INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (kind, part)
) WITHOUT ROWID;
