-- 0011: the change log of a kind is bounded. logged counts the keys logged since the cache was written and
-- log_budget is how many the cache is worth catching up from (a quarter of its entities, and a thousand);
-- past it logging stops (cached goes to 0) and the next load rebuilds the index from the table. Without the
-- bound, the cache of an empty checkpoint, written by a first import's own load, made that import log every
-- create, and the next run delete them all again.
ALTER TABLE entity_generation ADD COLUMN logged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entity_generation ADD COLUMN log_budget INTEGER NOT NULL DEFAULT 0;
