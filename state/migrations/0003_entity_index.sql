-- entity_index caches, per kind, the planner's view of the checkpoint (keys, remote ids, hashes) as one blob,
-- so a re-run loads a million entities with one read instead of a million rows. entity_generation counts the
-- changes of each kind; a cache whose generation differs is stale and is ignored (and rebuilt).
CREATE TABLE entity_generation (
    kind       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE entity_index (
    kind       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    data       BLOB NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER entities_generation_insert AFTER INSERT ON entities BEGIN
    INSERT INTO entity_generation (kind, generation) VALUES (NEW.kind, 1)
        ON CONFLICT (kind) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER entities_generation_update AFTER UPDATE ON entities BEGIN
    INSERT INTO entity_generation (kind, generation) VALUES (NEW.kind, 1)
        ON CONFLICT (kind) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER entities_generation_delete AFTER DELETE ON entities BEGIN
    INSERT INTO entity_generation (kind, generation) VALUES (OLD.kind, 1)
        ON CONFLICT (kind) DO UPDATE SET generation = generation + 1;
END;
