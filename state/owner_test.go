package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fingerprint is what "untouched" means: the file's bytes, its mode, and the names in its directory.
func fingerprint(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	sum := sha256.Sum256(raw)
	return string(sum[:]) + st.Mode().String() + strings.Join(names, "|")
}

// foreignDB writes an SQLite database of another application and closes it, leaving only the file.
func foreignDB(t *testing.T, path, journalMode string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode("+journalMode+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestForeignFilesAreRefusedUntouched(t *testing.T) {
	t.Parallel()
	cases := map[string]func(t *testing.T, path string){
		"text file": func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("customer,name\n1,Ann\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"another application's id": func(t *testing.T, path string) {
			foreignDB(t, path, "DELETE", "PRAGMA application_id = 1234", "CREATE TABLE notes (body TEXT)")
		},
		"another application's tables": func(t *testing.T, path string) {
			foreignDB(t, path, "DELETE", "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ann')")
		},
		"another application's tables, WAL": func(t *testing.T, path string) {
			foreignDB(t, path, "WAL", "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('ann')")
		},
		"a lookalike with one table of ours": func(t *testing.T, path string) {
			foreignDB(t, path, "DELETE", "CREATE TABLE runs (id INTEGER)")
		},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			write(t, path)
			before := fingerprint(t, path)
			for _, b := range []Binding{testBinding, {}} {
				s, err := Open(context.Background(), path, b)
				var fe *ForeignFileError
				if !errors.Is(err, ErrNotOurs) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "left untouched") {
					if s != nil {
						s.Close()
					}
					t.Fatalf("Open(binding %+v): %v, want ErrNotOurs", b, err)
				}
			}
			if after := fingerprint(t, path); after != before {
				t.Errorf("the file or its directory changed")
			}
		})
	}
}

// State files of custsync versions without an application_id must keep working: they are stamped (and made
// private) on the first open.
func TestOlderStateFileIsStamped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTestStore(t)
	if err := s.PutMappings(ctx, []SDMapping{{CustomerNumber: "C1", SDCustomerNumber: "0000000001"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw := rawDB(t, path)
	if _, err := raw.Exec(`PRAGMA application_id = 0`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	if got := queryInt(t, rawDB(t, path), `PRAGMA application_id`); got != ApplicationID {
		t.Errorf("application_id %#x, want %#x", got, ApplicationID)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if d, err := s.Describe(ctx); err != nil || d.Mappings.Total != 1 || d.Binding != testBinding {
		t.Errorf("the older file's content: %+v %v", d, err)
	}
}

func TestEmptyFilesAreTakenAsNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	emptyDB := filepath.Join(dir, "emptydb.db")
	foreignDB(t, emptyDB, "DELETE", "PRAGMA user_version = 0")
	for _, path := range []string{empty, emptyDB} {
		s := openAt(t, path)
		if v, err := s.SchemaVersion(context.Background()); err != nil || v != KnownSchemaVersion() {
			t.Errorf("%s: schema %d %v", path, v, err)
		}
	}
}
