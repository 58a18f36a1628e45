package state

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// ApplicationID is the SQLite application_id (PRAGMA application_id) of custsync's state files: "CuSy". The
// schema version is PRAGMA user_version (see KnownSchemaVersion).
const ApplicationID = 0x43755379

// ErrNotOurs matches a *ForeignFileError: the file is not a custsync state file.
var ErrNotOurs = errors.New("not a custsync state file")

// ForeignFileError reports a file Open refused because it is not custsync's; the file is left untouched.
type ForeignFileError struct {
	Path   string
	Reason string
}

// Error says which file and why, and that it was left alone.
func (e *ForeignFileError) Error() string {
	return fmt.Sprintf("%s is not a custsync state file (%s); it was left untouched: use another --state file", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrNotOurs) true.
func (e *ForeignFileError) Is(target error) bool { return target == ErrNotOurs }

// sqliteMagic opens every SQLite database file; the header is 100 bytes, application_id at offset 68.
const sqliteMagic = "SQLite format 3\x00"

// checkOwner decides from the file alone, without opening it for writing, whether path may be used as a state
// file: absent or empty (a new one), custsync's application_id, or a database without application_id whose
// tables are all custsync's (a state file of an older custsync, or an empty database). Reading the schema of
// the latter goes through an immutable read-only connection, which creates no -wal or -shm file.
func checkOwner(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open state file %s: %w", path, err)
	}
	defer f.Close()
	header := make([]byte, 100)
	n, err := io.ReadFull(f, header)
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF) || string(header[:len(sqliteMagic)]) != sqliteMagic:
		return &ForeignFileError{Path: path, Reason: "not a SQLite database"}
	case err != nil:
		return fmt.Errorf("read state file %s: %w", path, err)
	}
	switch id := binary.BigEndian.Uint32(header[68:72]); id {
	case ApplicationID:
		return nil
	case 0:
	default:
		return &ForeignFileError{Path: path, Reason: fmt.Sprintf("its SQLite application_id is %#08x, another application's", id)}
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&immutable=1")
	if err != nil {
		return fmt.Errorf("read state file %s: %w", path, err)
	}
	defer db.Close()
	return checkOwnerSchema(ctx, db, path)
}

// checkOwnerSchema applies checkOwner's rule through an open connection.
func checkOwnerSchema(ctx context.Context, db *sql.DB, path string) error {
	var id int64
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&id); err != nil {
		return fmt.Errorf("read state file %s: %w", path, err)
	}
	switch uint32(id) {
	case ApplicationID:
		return nil
	case 0:
	default:
		return &ForeignFileError{Path: path, Reason: fmt.Sprintf("its SQLite application_id is %#08x, another application's", uint32(id))}
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return fmt.Errorf("read state file %s: %w", path, err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("read state file %s: %w", path, err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read state file %s: %w", path, err)
	}
	if len(tables) == 0 {
		return nil // an empty database: nothing to take for someone else's
	}
	known, err := custsyncTables()
	if err != nil {
		return err
	}
	var foreign []string
	for _, t := range tables {
		if !slices.Contains(known, t) {
			foreign = append(foreign, t)
		}
	}
	switch {
	case len(foreign) > 0:
		slices.Sort(foreign)
		if len(foreign) > 5 {
			foreign = append(foreign[:5], "...")
		}
		return &ForeignFileError{Path: path, Reason: "it has tables custsync does not create: " + strings.Join(foreign, ", ")}
	case !slices.Contains(tables, "schema_migrations"):
		return &ForeignFileError{Path: path, Reason: "it has no custsync schema version"}
	}
	return nil
}

var createTablePattern = regexp.MustCompile(`(?im)^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)`)

// custsyncTables lists the tables custsync's migrations create, and schema_migrations.
func custsyncTables() ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	tables := []string{"schema_migrations"}
	for _, m := range ms {
		for _, match := range createTablePattern.FindAllStringSubmatch(m.sql, -1) {
			tables = append(tables, match[1])
		}
	}
	return tables, nil
}

// stamp gives a file without custsync's application_id (new, or from an older custsync) that id, and makes an
// older custsync's file private as new files are.
func (s *Store) stamp(ctx context.Context) error {
	var id int64
	if err := s.writer.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&id); err != nil {
		return fmt.Errorf("read state file %s: %w", s.path, err)
	}
	if uint32(id) == ApplicationID {
		return nil
	}
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, int32(ApplicationID))); err != nil {
		return writeFailed("stamp the application id", err)
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		return fmt.Errorf("make state file %s private: %w", s.path, err)
	}
	return nil
}
