package main

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"custsync/sandbox"
	"custsync/sandbox/faultproxy"
)

// stateShow returns the output of `state show` for a state file.
func stateShow(t *testing.T, path string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "--state", path, "state", "show")
	if code != ExitOK {
		t.Fatalf("state show: code %d\n%s%s", code, out, errOut)
	}
	return out
}

// The state file is bound to the tenant and API URL only once the platform accepted a request: a run against an
// unreachable URL, a server that is not the platform, refused credentials, an input error or a dry run leaves it
// free for the corrected cron job.
func TestStateIsBoundOnlyAfterThePlatformAccepted(t *testing.T) {
	t.Parallel()
	_, url := platform(t, sandbox.Options{})
	dir := t.TempDir()
	st := filepath.Join(dir, "state.db")
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	badHeader := writeFile(t, dir, "odd.csv", "sdCustomerNumber,shoeSize\n1,42\n")
	notPlatform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Intranet</title></head></html>"))
	}))
	defer notPlatform.Close()
	unreachable := httptest.NewServer(http.NotFoundHandler())
	unreachable.Close()

	run := func(apiURL, secret string, args ...string) int {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"--api-url", apiURL, "--tenant", "acme", "--client-id", "sandbox",
			"--client-secret", secret, "--state", st, "import", "--tps", "0", "--retries", "0"}, args...)...)
		t.Logf("%v: code %d\n%s%s", args, code, out, errOut)
		return code
	}
	for _, tc := range []struct {
		name   string
		apiURL string
		secret string
		args   []string
		want   int
	}{
		{"unreachable API URL", unreachable.URL, "sandbox", []string{in}, ExitTemporary},
		{"not the platform", notPlatform.URL, "sandbox", []string{in}, ExitUsage},
		{"refused credentials", url, "wrong", []string{in}, ExitCredentials},
		{"input error", url, "sandbox", []string{"--entity", "customers", badHeader}, ExitUsage},
		{"dry run", url, "sandbox", []string{"--dry-run", in}, ExitOK},
	} {
		if code := run(tc.apiURL, tc.secret, tc.args...); code != tc.want {
			t.Fatalf("%s: code %d, want %d", tc.name, code, tc.want)
		}
		if out := stateShow(t, st); !strings.Contains(out, "bound to:     nothing yet") {
			t.Fatalf("after %s the state file is bound:\n%s", tc.name, out)
		}
	}
	if code := run(url, "sandbox", in); code != ExitOK {
		t.Fatalf("the corrected run: code %d", code)
	}
	if out := stateShow(t, st); !strings.Contains(out, "bound to:     tenant acme at "+url+" (since ") {
		t.Fatalf("after a run the platform accepted:\n%s", out)
	}
	code, _, errOut := runCLI(t, "--api-url", notPlatform.URL, "--tenant", "acme", "--client-id", "sandbox", "--client-secret", "sandbox",
		"--state", st, "import", in)
	if code != ExitState || !strings.Contains(errOut, "belongs to tenant \"acme\" at "+url) {
		t.Fatalf("another API URL once bound: code %d\n%s", code, errOut)
	}
}

// untouched returns what a file and its directory are: its mode and bytes and the names beside it.
func untouched(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	info, serr := os.Stat(path)
	names, gerr := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	if err = errors.Join(err, serr, gerr); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(info.Mode(), names, raw)
}

// --state pointing at another application's SQLite file: every command refuses it with exit 7 and leaves the
// file and its directory exactly as they were (no table added, no -wal or -shm file), the dry run included.
func TestAnotherApplicationsDatabaseIsRefusedUntouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := filepath.Join(dir, "crm.db")
	db, err := sql.Open("sqlite", "file:"+other+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CREATE TABLE contacts (name TEXT, email TEXT)", "INSERT INTO contacts VALUES ('Ann', 'ann@example.com')"} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	in := writeFile(t, t.TempDir(), "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	before := untouched(t, other)
	for _, args := range [][]string{
		{"import", "--sandbox", "--dry-run", in},
		{"import", "--sandbox", in},
		{"check", "--sandbox", in},
		{"state", "show"},
		{"deletions", "list"},
	} {
		args = append([]string{"--state", other}, args...)
		code, out, errOut := runCLI(t, args...)
		if code != ExitState || !strings.Contains(errOut, "is not a custsync state file") {
			t.Errorf("%v: code %d, want %d\n%s%s", args, code, ExitState, out, errOut)
		}
	}
	if after := untouched(t, other); after != before {
		t.Error("the other application's file or its directory changed")
	}
}

// Once given, the mappings URL stays with the state file: later runs push without being told, deletions ack
// keeps the remote in step, state show names it, and "none" forgets it.
func TestMappingsURLIsRememberedWithTheState(t *testing.T) {
	t.Parallel()
	srv, url := platform(t, sandbox.Options{})
	proxy, err := faultproxy.Start(url) // the mappings endpoint, counted on its own
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	dir := t.TempDir()
	st := filepath.Join(dir, "state.db")
	base := []string{"--api-url", url, "--tenant", "acme", "--client-id", "sandbox", "--client-secret", "sandbox", "--state", st}
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n")
	if code, out, errOut := runCLI(t, append(base, "import", "--tps", "0", in)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	if n := proxy.Total(); n != 0 {
		t.Fatalf("%d mapping requests without a mappings URL", n)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "sdCustomerMappings") {
			t.Fatalf("an SD mapping call went to the API URL: %s %s", r.Method, r.Path)
		}
	}
	code, out, errOut := runCLI(t, append(base, "import", "--tps", "0", "--mappings-url", proxy.URL, in)...)
	if code != ExitOK || !strings.Contains(out, "SD customer mappings: 2 pushed") {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	if show := stateShow(t, st); !strings.Contains(show, "mappings URL: "+proxy.URL) {
		t.Fatalf("state show does not name the mappings URL:\n%s", show)
	}
	writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n3,Cy\n")
	code, out, errOut = runCLI(t, append(base, "import", "--tps", "0", in)...)
	if code != ExitOK || !strings.Contains(out, "SD customer mappings: 1 pushed") {
		t.Fatalf("a later run without the flag keeps the remote in step: code %d\n%s%s", code, out, errOut)
	}
	if n := proxy.Requests(http.MethodPost, "/acme/sdCustomerMappings"); n != 3 {
		t.Errorf("%d mapping pushes, want 3", n)
	}

	// Customer 3 is deleted on the platform; acknowledging it drops its mapping on the remote too.
	if code, out, errOut = runCLI(t, append(base, "deletions", "detect", "--tps", "0")...); code != ExitOK {
		t.Fatalf("detect: code %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, append(base, "import", "--tps", "0", "--mode", "full", "--max-delete", "1",
		writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n"))...); code != ExitOK {
		t.Fatalf("delete: code %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, append(base, "deletions", "ack", "--all")...)
	if code != ExitOK || !strings.Contains(out, "1 on the remote endpoint") {
		t.Fatalf("ack: code %d\n%s%s", code, out, errOut)
	}
	if n := proxy.Requests(http.MethodDelete, "/acme/sdCustomerMappings/3"); n != 1 {
		t.Errorf("%d remote mapping deletes, want 1", n)
	}

	code, out, errOut = runCLI(t, append(base, "mappings", "push", "--mappings-url", "none")...)
	if code != ExitUsage {
		t.Fatalf("push with the URL forgotten: code %d\n%s%s", code, out, errOut)
	}
	if show := stateShow(t, st); !strings.Contains(show, "mappings URL: none") {
		t.Fatalf("\"none\" forgets the URL:\n%s", show)
	}
}
