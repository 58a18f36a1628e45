-- 0010: the keys each committing transaction changed, under the generation it gave their kind, logged while the
-- kind's index is cached. A run after a change then brings the cached index up to date from the few entities
-- that changed since the cache was written, instead of rebuilding it from every row of the checkpoint (about a
-- second at a million entities, on every run that follows a change). Rows at or below the generation of the
-- cache are dropped when the cache is rewritten.
CREATE TABLE entity_changes (
    kind       TEXT NOT NULL,
    generation INTEGER NOT NULL,
    erp_key    TEXT NOT NULL,
    PRIMARY KEY (kind, generation, erp_key)
) WITHOUT ROWID;

-- Whether the kind's index has been cached, so changes are logged, read with the generation a commit bumps
-- anyway: looking up the cache's own rows, parts of 4 MB, made SQLite read a whole part per commit.
ALTER TABLE entity_generation ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
UPDATE entity_generation SET cached = 1 WHERE kind IN (SELECT kind FROM entity_index);
