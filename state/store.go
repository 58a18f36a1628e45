package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go driver "sqlite"
)

// readPoolSize bounds the read pool; reads are short and the machine small, so a few connections suffice.
const readPoolSize = 4

// busyTimeoutMillis is how long a connection waits for another process's write lock before SQLITE_BUSY.
const busyTimeoutMillis = 10000

// Binding names the platform a state file belongs to. Open normalises it (see NormalizeBinding).
type Binding struct {
	APIURL string
	Tenant string
}

// IsZero reports whether neither field is set.
func (b Binding) IsZero() bool { return b.APIURL == "" && b.Tenant == "" }

// NormalizeBinding returns b in the form stored in the state file: the URL with a lower-case scheme and host,
// no default port, no user info, query or fragment and no trailing slash; the tenant trimmed and lower-case
// (platform tenants are lower-case). Both fields are required.
func NormalizeBinding(b Binding) (Binding, error) {
	tenant := strings.ToLower(strings.TrimSpace(b.Tenant))
	if tenant == "" {
		return Binding{}, errors.New("state binding: tenant is empty")
	}
	raw := strings.TrimSpace(b.APIURL)
	if raw == "" {
		return Binding{}, errors.New("state binding: API URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse may echo the input; an API URL carries no secret unless it has user info, which we never print.
		return Binding{}, errors.New("state binding: API URL is not a valid URL")
	}
	if u.Scheme == "" || u.Host == "" {
		return Binding{}, fmt.Errorf("state binding: API URL %q needs a scheme and a host", u.Redacted())
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]" // IPv6 literal
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	return Binding{APIURL: scheme + "://" + host + path, Tenant: tenant}, nil
}

// Store is an open state file. It is safe for concurrent use; writes are serialised on one connection.
type Store struct {
	path    string
	writer  *sql.DB // exactly one connection: every write, so SQLite never sees two writers from us
	reader  *sql.DB // read-only pool: WAL lets these read while the writer commits
	want    Binding // what Open was asked for; Bind writes it
	boundMu sync.Mutex
	bound   Binding // what the file records; zero until bound

	mu    sync.Mutex
	locks map[*Lock]struct{}        // held locks whose heartbeats Close stops
	stmts map[preparedKey]*sql.Stmt // statements prepared once on the writer connection (see prepareBatched)
}

// dsn builds the connection string. busy_timeout comes first in effect (the driver applies it before the other
// pragmas) so that switching to WAL waits for a concurrent opener instead of failing.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		// FULL, not NORMAL: this file records side effects on the platform; a commit lost to a power cut would
		// make the next run repeat work it believes undone. (WAL is switched on by Open, once the file is
		// known to be ours: the switch writes to the file.)
		q.Add("_pragma", "synchronous(FULL)")
		// BEGIN IMMEDIATE takes the write lock up front instead of failing on a read-to-write upgrade.
		q.Set("_txlock", "immediate")
		// A commit's multi-row statements keep a statement journal (the pages they change, to undo one that
		// fails halfway); past 64 KB SQLite moves it to a temporary file, which cost a delta import of 10k
		// updates 54k of its 132k page writes. In memory it is a few hundred KB at most.
		q.Add("_pragma", "temp_store(MEMORY)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the state file at path, applies pending migrations and checks the binding.
//
// Open refuses, with a *ForeignFileError (errors.Is ErrNotOurs) and without writing a byte or creating a -wal or
// -shm file, a file that is not custsync's: not a SQLite database, another application's application_id, or
// tables custsync did not create. A custsync file of an older version (application_id 0, custsync's tables) is
// stamped with ApplicationID. A new file is created 0600, whatever the umask: it holds customer data; SQLite
// gives its -wal and -shm files the same mode.
//
// A file bound to another API URL or tenant than binding fails with a *BindingError (errors.Is
// ErrOtherTenant). Open writes no binding: Bind does, once the platform has accepted the client (a run that
// fails before that, an input error or a dry run leaves the file unbound). A zero Binding skips the check: it
// is meant for commands that only inspect or unlock a file (`state show|runs|unlock`). A file whose schema is
// newer than this binary fails with a *SchemaTooNewError (errors.Is ErrSchemaTooNew).
func Open(ctx context.Context, path string, binding Binding) (*Store, error) {
	var want Binding
	if !binding.IsZero() {
		var err error
		if want, err = NormalizeBinding(binding); err != nil {
			return nil, err
		}
	}
	if err := checkOwner(ctx, path); err != nil {
		return nil, err
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	writer, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	fail := func(err error) (*Store, error) {
		writer.Close()
		return nil, err
	}
	if err := writer.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("open state file %s: %w", path, err))
	}
	// Checked again through SQLite: the header may not show what only the -wal file holds yet.
	if err := checkOwnerSchema(ctx, writer, path); err != nil {
		return fail(err)
	}
	if _, err := writer.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		return fail(fmt.Errorf("open state file %s: %w", path, err))
	}
	s := &Store{path: path, writer: writer, want: want, locks: map[*Lock]struct{}{}}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if err := s.stamp(ctx); err != nil {
		return fail(err)
	}
	if s.bound, err = s.readBinding(ctx); err != nil {
		return fail(err)
	}
	if !want.IsZero() && !s.bound.IsZero() && s.bound != want {
		return fail(&BindingError{Path: path, Bound: s.bound, Requested: want})
	}
	s.reader, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fail(fmt.Errorf("open state file %s for reading: %w", path, err))
	}
	s.reader.SetMaxOpenConns(readPoolSize)
	s.reader.SetMaxIdleConns(readPoolSize)
	s.reader.SetConnMaxIdleTime(3 * time.Minute)
	return s, nil
}

// createPrivate creates an absent state file empty and 0600, so that SQLite, which keeps an existing file's
// mode and gives it to the -wal and -shm files, never makes it readable by others under the usual umask.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(0o600) // the umask may have taken more than 0600 allows, never less
}

// readBinding returns the file's binding; zero if it has none.
func (s *Store) readBinding(ctx context.Context) (Binding, error) {
	var b Binding
	err := s.writer.QueryRowContext(ctx, `SELECT api_url, tenant FROM binding WHERE id = 1`).Scan(&b.APIURL, &b.Tenant)
	if errors.Is(err, sql.ErrNoRows) {
		return Binding{}, nil
	}
	if err != nil {
		return Binding{}, fmt.Errorf("read the binding of state file %s: %w", s.path, err)
	}
	return b, nil
}

// Bind records the binding Open was asked for, if the file has none yet. Call it once the platform has
// accepted the client for that tenant (custsync does so at the first 2xx answer to an authenticated request).
// It fails with a *BindingError if the file was bound to something else meanwhile, and does nothing for a
// store opened with a zero Binding.
func (s *Store) Bind(ctx context.Context) error {
	if s.want.IsZero() {
		return nil
	}
	s.boundMu.Lock()
	defer s.boundMu.Unlock()
	if s.bound == s.want {
		return nil
	}
	var bound Binding
	err := s.writeTx(ctx, "bind state file", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO binding (id, api_url, tenant, bound_at) VALUES (1, ?, ?, ?)`,
			s.want.APIURL, s.want.Tenant, formatTime(time.Now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT api_url, tenant FROM binding WHERE id = 1`).Scan(&bound.APIURL, &bound.Tenant)
	})
	if err != nil {
		return err
	}
	if bound != s.want {
		return &BindingError{Path: s.path, Bound: bound, Requested: s.want}
	}
	s.bound = bound
	return nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Binding is the API URL and tenant the file is bound to; zero if it was never bound.
func (s *Store) Binding() Binding {
	s.boundMu.Lock()
	defer s.boundMu.Unlock()
	return s.bound
}

// Close stops the heartbeat of any lock still held and closes the file. It does not remove such a lock: a held
// lock must be released with Lock.Release first (a run that dies without releasing leaves its lock to go stale).
func (s *Store) Close() error {
	s.mu.Lock()
	held := make([]*Lock, 0, len(s.locks))
	for l := range s.locks {
		held = append(held, l)
	}
	stmts := s.stmts
	s.stmts = nil
	s.mu.Unlock()
	for _, l := range held {
		l.stopHeartbeat()
	}
	var errs []error
	for _, stmt := range stmts {
		errs = append(errs, stmt.Close())
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	errs = append(errs, s.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return nil
}

// writeTx runs fn in one write transaction (BEGIN IMMEDIATE on the single writer connection) and commits it.
// Any failure rolls back and is wrapped with ErrWriteFailed and what.
func (s *Store) writeTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return writeFailed(what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return writeFailed(what, err)
	}
	if err := tx.Commit(); err != nil {
		return writeFailed(what, err)
	}
	return nil
}

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads a stored time; an empty or NULL value is the zero time.
func parseTime(v sql.NullString) (time.Time, error) {
	if !v.Valid || v.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, v.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", v.String, err)
	}
	return t, nil
}
