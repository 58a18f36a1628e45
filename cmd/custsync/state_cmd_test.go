package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/state"
)

func TestStateShowAndRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	st := filepath.Join(dir, "state.db")
	code, out, _ := runRecon(t, "--state", st, "state", "show")
	if code != ExitOK || !strings.Contains(out, "tenant demo at sandbox://in-process") || !strings.Contains(out, "customers 30") ||
		!strings.Contains(out, "lock:         none") {
		t.Fatalf("show: code %d\n%s", code, out)
	}
	code, out, _ = runRecon(t, "--state", st, "state", "runs", "--limit", "5")
	if code != ExitOK || !strings.Contains(out, "import") || !strings.Contains(out, "completed") {
		t.Fatalf("runs: code %d\n%s", code, out)
	}
}

func TestStateUnlockRefusesAFreshLockWithoutForce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	st, err := state.Open(context.Background(), path, state.Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lock, err := st.AcquireLock(context.Background(), state.LockOwner{Host: "batch-host", PID: 777}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	code, out, errOut := runRecon(t, "--state", path, "state", "unlock")
	if code != ExitState || !strings.Contains(out, "batch-host (pid 777)") || !strings.Contains(errOut, "--force") {
		t.Fatalf("unlock without --force: code %d\n%s%s", code, out, errOut)
	}
	if _, locked, _ := st.ReadLock(context.Background()); !locked {
		t.Fatal("the fresh lock was removed without --force")
	}
	code, out, _ = runRecon(t, "--state", path, "state", "unlock", "--force")
	if code != ExitOK || !strings.Contains(out, "removed the lock of batch-host (pid 777)") {
		t.Fatalf("unlock --force: code %d\n%s", code, out)
	}
	if _, locked, _ := st.ReadLock(context.Background()); locked {
		t.Fatal("lock still present after unlock --force")
	}
	if code, out, _ = runRecon(t, "--state", path, "state", "unlock"); code != ExitOK || !strings.Contains(out, "not locked") {
		t.Fatalf("unlock of an unlocked file: code %d\n%s", code, out)
	}
}

// The inspection commands do not create a state file at a mistyped --state: they say it does not exist, exit 2.
func TestInspectingAMissingStateFileCreatesNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "nosuch.db")
	for _, args := range [][]string{{"state", "show"}, {"state", "runs"}, {"state", "unlock"}, {"state", "prune"}, {"mappings", "list"},
		{"restore", "--sandbox", "--run", "last"}, {"restore", "--sandbox", "--run", "1", "--dry-run"}} {
		code, out, errOut := runCLI(t, append([]string{"--state", missing}, args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%v: code %d\n%s%s", args, code, out, errOut)
		}
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v created %s (%v)", args, missing, err)
		}
	}
}

// TestNegativeRateIsAUsageError: the limiter takes any rate but a positive one for unlimited, so --tps below
// zero must be refused, not lift the limit; 0 stays "unlimited" as the flag says.
func TestNegativeRateIsAUsageError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		flags []string
		says  string
	}{
		{[]string{"--tps", "-1"}, "--tps -1: want requests per second"},
		{[]string{"--tps", "NaN"}, "--tps NaN"},
		{[]string{"--tps-burst", "-2"}, "--tps-burst -2: want 0 or more"},
	} {
		args := append([]string{"--state", filepath.Join(dir, "rate.db"), "import", "--sandbox"}, tc.flags...)
		code, out, errOut := runCLI(t, append(args, "../../samples/customers.csv")...)
		if code != ExitUsage || !strings.Contains(errOut, tc.says) {
			t.Errorf("%v: code %d\n%s%s", tc.flags, code, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "--state", filepath.Join(dir, "rate.db"), "import", "--sandbox", "--tps", "0", "../../samples/customers.csv"); code != 0 {
		t.Errorf("--tps 0: code %d\n%s%s", code, out, errOut)
	}
}
