package state

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step, named migrations/NNNN_description.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order. Versions must run 1, 2, 3... without gaps,
// which a test checks; a gap would be a packaging mistake, not something to recover from at run time.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", name)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// KnownSchemaVersion is the newest schema version this binary can migrate to.
func KnownSchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies every pending migration, each in its own write transaction that also records it in
// schema_migrations and PRAGMA user_version, so a crash leaves the file at a recorded version. The version is
// re-read inside each transaction because another process may be migrating the same file at the same time.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return writeFailed("create schema_migrations", err)
	}
	current, err := schemaVersion(ctx, s.writer)
	if err != nil {
		return err
	}
	if current > len(ms) {
		return &SchemaTooNewError{Path: s.path, Found: current, Known: len(ms)}
	}
	if notice, ok := ctx.Value(upgradeNoticeKey{}).(func(string, int, int)); ok && current > 0 && current < len(ms) {
		notice(s.path, current, len(ms))
	}
	for _, m := range ms[current:] {
		var tooNew *SchemaTooNewError
		err := s.writeTx(ctx, "apply migration "+m.name, func(tx *sql.Tx) error {
			v, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v >= m.version {
				if v > len(ms) {
					tooNew = &SchemaTooNewError{Path: s.path, Found: v, Known: len(ms)}
					return tooNew
				}
				return nil // applied meanwhile by another process
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, formatTime(time.Now())); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if tooNew != nil {
			return tooNew
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion is the highest recorded migration; user_version counts too, in case a newer binary changed how
// it records versions.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var recorded, user int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&recorded); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&user); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return max(recorded, user), nil
}

// SchemaVersion is the schema version of the open file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.reader)
}

type upgradeNoticeKey struct{}

// WithUpgradeNotice returns a context that makes Open call notice before it brings the schema of an existing
// file up to date (from and to are schema versions), so that a command can say why its start takes longer: a
// step may rewrite a table (moving the snapshots into the checkpoint rows took about 12 s per million
// entities). A new file is created at the current schema without a notice.
func WithUpgradeNotice(ctx context.Context, notice func(path string, from, to int)) context.Context {
	return context.WithValue(ctx, upgradeNoticeKey{}, notice)
}
