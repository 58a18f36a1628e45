-- 0004: what a state file remembers besides the binding: settings given once that every later run must keep
-- using, such as the SD customer mappings URL.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
