-- raw_hash is a hash of the input cells a row was synced from (with the mapping that read them). It lets the
-- planner recognise an unchanged row without mapping it; 0 means unknown, and the row hash stays the truth.
ALTER TABLE entities ADD COLUMN raw_hash INTEGER NOT NULL DEFAULT 0;
