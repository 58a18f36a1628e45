package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// settingMappingsURL is the settings row of the SD customer mappings URL.
const settingMappingsURL = "mappings_url"

// MappingsURL returns the SD customer mappings URL remembered with the file; "" if none.
func (s *Store) MappingsURL(ctx context.Context) (string, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingMappingsURL).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the mappings URL of state file %s: %w", s.path, err)
	}
	return v, nil
}

// SetMappingsURL remembers the SD customer mappings URL, so that every later run keeps the remote endpoint in
// step without being told again; "" forgets it.
func (s *Store) SetMappingsURL(ctx context.Context, u string) error {
	return s.writeTx(ctx, "remember the mappings URL", func(tx *sql.Tx) error {
		if u == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, settingMappingsURL)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			settingMappingsURL, u, formatTime(time.Now()))
		return err
	})
}
