package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMigrationsApplyOnceAndAreRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	for i := 0; i < 3; i++ {
		s, err := Open(ctx, path, testBinding)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != KnownSchemaVersion() {
			t.Fatalf("schema version %d, want %d", v, KnownSchemaVersion())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, db, `SELECT COUNT(*) FROM schema_migrations`); got != int64(len(ms)) {
		t.Fatalf("schema_migrations has %d rows after three opens, want %d", got, len(ms))
	}
	for _, m := range ms {
		if got := queryInt(t, db, `SELECT COUNT(*) FROM schema_migrations WHERE version = ? AND name = ?`, m.version, m.name); got != 1 {
			t.Errorf("migration %s recorded %d times", m.name, got)
		}
	}
	if got := queryInt(t, db, `PRAGMA user_version`); got != int64(len(ms)) {
		t.Errorf("user_version %d, want %d", got, len(ms))
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

func TestWriterConnectionPragmas(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	var sync, fk int
	if err := s.writer.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.writer.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if sync != 2 || fk != 1 {
		t.Errorf("writer synchronous=%d foreign_keys=%d, want 2 (FULL) and 1", sync, fk)
	}
	if _, err := s.reader.Exec(`DELETE FROM runs`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	s, path := openTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	future := KnownSchemaVersion() + 1
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 'x')`, future); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, testBinding)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Found != future || tooNew.Known != KnownSchemaVersion() {
		t.Fatalf("error %#v does not report found %d / known %d", err, future, KnownSchemaVersion())
	}
}

func TestNewerUserVersionRefused(t *testing.T) {
	t.Parallel()
	s, path := openTestStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path, testBinding); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open with user_version 99: %v, want ErrSchemaTooNew", err)
	}
}

func TestBindingEnforced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	first, err := Open(ctx, path, Binding{APIURL: "HTTPS://API.Example.com:443/", Tenant: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	if got := first.Binding(); got != testBinding {
		t.Fatalf("stored binding %+v, want %+v", got, testBinding)
	}
	first.Close()

	for _, same := range []Binding{
		{APIURL: "https://api.example.com/", Tenant: "acme"},
		{APIURL: "https://api.example.com", Tenant: " acme "},
	} {
		s, err := Open(ctx, path, same)
		if err != nil {
			t.Fatalf("Open with %+v: %v", same, err)
		}
		s.Close()
	}

	for _, other := range []Binding{
		{APIURL: "https://api.example.com", Tenant: "globex"},
		{APIURL: "https://api.other.example.com", Tenant: "acme"},
		{APIURL: "https://api.example.com/v2", Tenant: "acme"},
		{APIURL: "http://api.example.com", Tenant: "acme"},
	} {
		_, err := Open(ctx, path, other)
		if !errors.Is(err, ErrOtherTenant) {
			t.Fatalf("Open with %+v: %v, want ErrOtherTenant", other, err)
		}
		var be *BindingError
		if !errors.As(err, &be) || be.Bound != testBinding {
			t.Fatalf("error %v does not name the file's binding %+v", err, testBinding)
		}
		if !strings.Contains(err.Error(), `tenant "acme" at https://api.example.com`) {
			t.Errorf("message %q does not say which tenant and URL the file belongs to", err)
		}
	}

	inspect, err := Open(ctx, path, Binding{})
	if err != nil {
		t.Fatalf("Open without a binding: %v", err)
	}
	defer inspect.Close()
	if inspect.Binding() != testBinding {
		t.Errorf("unbound open reports binding %+v, want %+v", inspect.Binding(), testBinding)
	}
}

// Opening with a binding binds nothing: only Bind does, which custsync calls once the platform has accepted it.
// A run that fails before that (a typo in the API URL, an input error, a dry run) leaves the file free.
func TestOpenDoesNotBindUntilBind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	for _, b := range []Binding{{}, {APIURL: "https://typo.example", Tenant: "acme"}, {APIURL: "https://x.example", Tenant: "globex"}} {
		s, err := Open(ctx, path, b)
		if err != nil {
			t.Fatalf("open with %+v: %v", b, err)
		}
		if !s.Binding().IsZero() {
			t.Fatalf("open with %+v bound the file to %+v", b, s.Binding())
		}
		s.Close()
	}
	s, err := Open(ctx, path, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx); err != nil || s.Binding() != testBinding {
		t.Fatalf("Bind: %v, binding %+v", err, s.Binding())
	}
	if err := s.Bind(ctx); err != nil {
		t.Fatalf("Bind again: %v", err)
	}
	s.Close()
	if _, err := Open(ctx, path, Binding{APIURL: "https://x.example", Tenant: "globex"}); !errors.Is(err, ErrOtherTenant) {
		t.Fatalf("want the file bound to acme now, got %v", err)
	}
	// Two opens of an unbound file: the first Bind wins, the second is refused.
	fresh := filepath.Join(t.TempDir(), "state.db")
	a, err := Open(ctx, fresh, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, fresh, Binding{APIURL: "https://x.example", Tenant: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(ctx); !errors.Is(err, ErrOtherTenant) {
		t.Fatalf("second Bind: %v, want ErrOtherTenant", err)
	}
}

func TestMappingsURLIsRemembered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTestStore(t)
	if u, err := s.MappingsURL(ctx); err != nil || u != "" {
		t.Fatalf("new file: %q %v", u, err)
	}
	if err := s.SetMappingsURL(ctx, "https://ec.example.com"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, path)
	d, err := s.Describe(ctx)
	if err != nil || d.MappingsURL != "https://ec.example.com" {
		t.Fatalf("reopened: %q %v", d.MappingsURL, err)
	}
	if err := s.SetMappingsURL(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.MappingsURL(ctx); u != "" {
		t.Fatalf("forgotten URL still there: %q", u)
	}
}

func TestNormalizeBinding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      Binding
		want    Binding
		wantErr bool
	}{
		{in: Binding{"https://API.emporix.io/", "acme"}, want: Binding{"https://api.emporix.io", "acme"}},
		{in: Binding{"https://api.emporix.io:443", "ACME"}, want: Binding{"https://api.emporix.io", "acme"}},
		{in: Binding{"http://127.0.0.1:8080//", "t1"}, want: Binding{"http://127.0.0.1:8080", "t1"}},
		{in: Binding{"http://[::1]:80/base/", "t1"}, want: Binding{"http://[::1]/base", "t1"}},
		{in: Binding{"https://user:pw@api.emporix.io/?q=1#x", "t1"}, want: Binding{"https://api.emporix.io", "t1"}},
		{in: Binding{"api.emporix.io", "t1"}, wantErr: true},
		{in: Binding{"https://api.emporix.io", ""}, wantErr: true},
		{in: Binding{"", "acme"}, wantErr: true},
	}
	for _, c := range cases {
		got, err := NormalizeBinding(c.in)
		if c.wantErr {
			if err == nil {
				t.Errorf("NormalizeBinding(%+v) = %+v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeBinding(%+v) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// The writer's statement journals stay in memory: on disk they were 40% of a delta import's page writes.
func TestWriterKeepsTemporaryDataInMemory(t *testing.T) {
	s, _ := openTestStore(t)
	if got := queryInt(t, s.writer, `PRAGMA temp_store`); got != 2 {
		t.Fatalf("writer temp_store = %d, want 2 (MEMORY)", got)
	}
}

// Migration 0012 moves every snapshot into its entity's row: a file written before it keeps each entity's
// last-sent fields, an entity without a snapshot stays without one, and the old table is gone.
func TestSnapshotsMoveIntoTheEntityRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	const before = 11
	db, ms := stateAtVersion(t, path, before)
	for _, q := range []string{
		`INSERT INTO entities (kind, erp_key, remote_id, row_hash, updated_at) VALUES
			('customers', 'C1', 'R1', 1, '2026-01-01T00:00:00Z'), ('customers', 'C2', 'R2', 2, '2026-01-01T00:00:00Z'),
			('addresses', 'C1', 'A1', 3, '2026-01-01T00:00:00Z')`,
		`INSERT INTO entity_snapshots (kind, erp_key, payload) VALUES
			('customers', 'C1', '{"firstName":"Ada"}'), ('addresses', 'C1', '{"city":"Berlin"}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var notices []string
	notice := WithUpgradeNotice(ctx, func(p string, from, to int) { notices = append(notices, fmt.Sprintf("%s %d->%d", p, from, to)) })
	s, err := Open(notice, path, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if want := fmt.Sprintf("%s %d->%d", path, before, len(ms)); !slices.Equal(notices, []string{want}) {
		t.Errorf("upgrade notices %q, want %q", notices, want)
	}
	// A new file is created at the current schema: nothing to announce.
	fresh, err := Open(notice, filepath.Join(t.TempDir(), "new.db"), testBinding)
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	if len(notices) != 1 {
		t.Errorf("upgrade notices after creating a new file: %q", notices)
	}
	for kind, want := range map[string]map[string]string{
		"customers": {"C1": `{"firstName":"Ada"}`},
		"addresses": {"C1": `{"city":"Berlin"}`},
	} {
		got, err := s.Snapshots(ctx, kind, []string{"C1", "C2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || string(got["C1"]) != want["C1"] {
			t.Errorf("%s snapshots after the migration: %q, want %q", kind, got, want)
		}
	}
	if n := queryInt(t, rawDB(t, path), `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'entity_snapshots'`); n != 0 {
		t.Errorf("entity_snapshots still in the schema")
	}
	// An update keeps the snapshot it is given; one without a snapshot leaves none behind.
	err = s.Commit(ctx, []Outcome{
		{Kind: "customers", ERPKey: "C1", Action: ActionUpdate, RemoteID: "R1", RowHash: 11},
		{Kind: "customers", ERPKey: "C2", Action: ActionUpdate, RemoteID: "R2", RowHash: 12, Snapshot: []byte(`{"firstName":"Bo"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Snapshots(ctx, "customers", []string{"C1", "C2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got["C2"]) != `{"firstName":"Bo"}` {
		t.Errorf("customers snapshots after the updates: %q, want only C2's", got)
	}
}

// stateAtVersion creates a state file at path as the migrations up to version left it, for a test of the ones
// after; it returns the file's connection and every migration.
func stateAtVersion(t *testing.T, path string, version int) (*sql.DB, []migration) {
	t.Helper()
	db := rawDB(t, path)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:version] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')`, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, version)); err != nil {
		t.Fatal(err)
	}
	return db, ms
}

// Migration 0013 gives logged changes their values: a change logged before carries none, so it goes with the
// cache it would bring up to date, and the next load builds the index from the table; commits after log again.
func TestChangesLoggedBeforeTheirValuesRebuildTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, _ := stateAtVersion(t, path, 12)
	for _, q := range []string{
		`INSERT INTO entities (kind, erp_key, remote_id, row_hash, updated_at) VALUES
			('customers', 'C1', 'R1', 5, '2026-01-01T00:00:00Z'), ('customers', 'C2', 'R2', 2, '2026-01-01T00:00:00Z')`,
		// A cache at generation 1 (C1 with hash 1) and C1's change at generation 2, logged without values.
		`INSERT INTO entity_generation (kind, generation, cached, logged, log_budget) VALUES ('customers', 2, 1, 1, 1000)`,
		`INSERT INTO entity_changes (kind, generation, erp_key) VALUES ('customers', 2, 'C1')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b := indexBuilder{}
	b.add("C1", "R1", 1, 0)
	b.add("C2", "R2", 2, 0)
	stale, err := b.finish()
	if err != nil {
		t.Fatal(err)
	}
	part := 0
	if err := stale.writeBlob(func(data []byte) error {
		_, err := db.Exec(`INSERT INTO entity_index (kind, part, generation, data) VALUES ('customers', ?, 1, ?)`, part, data)
		part++
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if n := queryInt(t, s.reader, `SELECT COUNT(*) FROM entity_changes`) + queryInt(t, s.reader, `SELECT COUNT(*) FROM entity_index`); n != 0 {
		t.Fatalf("%d rows of the old log and cache left", n)
	}
	hashOf := func(key string) uint64 {
		t.Helper()
		x, err := s.LoadEntityIndex(ctx, "customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		i, ok := x.Lookup(key)
		if !ok {
			t.Fatalf("%s is not in the index", key)
		}
		return x.Ref(i).RowHash
	}
	if got := hashOf("C1"); got != 5 {
		t.Fatalf("C1's hash after the upgrade: %d, want the table's 5", got)
	}
	if err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: "C2", Action: ActionUpdate, RemoteID: "R2", RowHash: 22}}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, s.reader, `SELECT COUNT(*) FROM entity_changes WHERE erp_key = 'C2' AND remote_id = 'R2' AND row_hash = 22`); n != 1 {
		t.Fatalf("the update after the upgrade logged %d changes with its values, want 1", n)
	}
	if got := hashOf("C2"); got != 22 {
		t.Fatalf("C2's hash caught up from the log: %d, want 22", got)
	}
}

// Migration 0016 links the resuming runs recorded before it to the runs they resumed, from their reports, so
// that `restore --run last` puts an interrupted run back with the run that finished it.
func TestResumedRunsRecordedBeforeTheLinkAreLinked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, _ := stateAtVersion(t, path, 15)
	if _, err := db.Exec(`INSERT INTO runs (id, kind, args, status, started_at, stats) VALUES
		(1, 'import', '{}', 'interrupted', '2026-01-01T00:00:00.000Z', NULL),
		(2, 'import', '{}', 'completed', '2026-01-01T01:00:00.000Z', '{"resumedRun":1,"created":3}'),
		(3, 'import', '{}', 'completed', '2026-01-02T00:00:00.000Z', '{"resumedRun":null}'),
		(4, 'check', '{}', 'completed', '2026-01-02T01:00:00.000Z', 'not json')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	runs, err := s.ListRuns(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int64{}
	for _, r := range runs {
		got[r.ID] = r.ResumedRun
	}
	if want := map[int64]int64{1: 0, 2: 1, 3: 0, 4: 0}; !maps.Equal(got, want) {
		t.Fatalf("resumed runs %v, want %v", got, want)
	}
}
