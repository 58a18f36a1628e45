package state

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

var testBinding = Binding{APIURL: "https://api.example.com", Tenant: "acme"}

// openTestStore opens a fresh state file in a temp dir, bound to testBinding, closed at cleanup.
func openTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	return openAt(t, path), path
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, testBinding)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// As after a run the platform accepted.
	if err := s.Bind(context.Background()); err != nil {
		t.Fatalf("Bind(%s): %v", path, err)
	}
	return s
}

// rawDB opens the file with a plain connection, for inspecting or tampering with it behind the Store's back.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// journalPlan begins a run and journals ops, returning the run id and the seqs in order.
func journalPlan(t testing.TB, s *Store, ops []PlannedOp) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	runID, err := s.BeginRun(ctx, "import", []string{"customers.csv"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.BeginJournal(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, 0, len(ops))
	for _, op := range ops {
		seq, err := j.Add(op)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return runID, seqs
}
