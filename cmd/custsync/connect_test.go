package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"custsync/state"
)

// reconCommands are the commands of connect.go's siblings (export, check, mappings, deletions, state, template).
func reconCommands() []*cli.Command {
	return []*cli.Command{exportCommand(), checkCommand(), mappingsCommand(), deletionsCommand(), stateCommand(), templateCommand()}
}

// runRecon runs the CLI like runCLI, with the reconciliation commands added if the app does not list them yet.
func runRecon(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := NewApp(Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	have := map[string]bool{}
	for _, c := range app.Commands {
		have[c.Name] = true
	}
	for _, c := range reconCommands() {
		if !have[c.Name] {
			prepareCommand(c)
			app.Commands = append(app.Commands, c)
		}
	}
	err := app.RunContext(context.Background(), append([]string{"custsync"}, args...))
	code := report(&errOut, err)
	return code, out.String(), errOut.String()
}

// sandboxSub is sandboxArgs for a subcommand: the platform flags go after "command sub".
func sandboxSub(dir, command, sub string, args ...string) []string {
	return append([]string{"--state", filepath.Join(dir, "state.db"), command, sub, "--sandbox", "--sandbox-data",
		filepath.Join(dir, "sandbox.db"), "--tps", "0"}, args...)
}

func TestConnectRefusesAStateFileOfAnotherTenant(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// An export reads: it binds nothing. The import binds the state file to tenant demo.
	if code, out, errOut := runRecon(t, append([]string{"--tenant", "other"}, sandboxArgs(dir, "export", "--entity", "customers", "--out", filepath.Join(dir, "a.csv"))...)...); code != ExitOK {
		t.Fatalf("export: code %d\n%s%s", code, out, errOut)
	}
	importSamples(t, dir)
	args := append([]string{"--tenant", "other"}, sandboxArgs(dir, "export", "--entity", "customers", "--out", filepath.Join(dir, "b.csv"))...)
	code, _, errOut := runRecon(t, args...)
	if code != ExitState || !strings.Contains(errOut, "belongs to tenant \"demo\"") {
		t.Fatalf("code %d, want %d; stderr %q", code, ExitState, errOut)
	}
}

func TestConnectNeedsTenantAndCredentials(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "s.db")
	out := filepath.Join(dir, "x.csv")
	t.Setenv("CUSTSYNC_CLIENT_ID", "")
	t.Setenv("CUSTSYNC_CLIENT_SECRET", "")
	t.Setenv("CUSTSYNC_TENANT", "")
	code, _, errOut := runRecon(t, "--state", st, "--client-id", "a", "--client-secret", "b", "export", "-e", "customers", "-o", out)
	if code != ExitUsage || !strings.Contains(errOut, "--tenant") {
		t.Fatalf("no tenant: code %d stderr %q", code, errOut)
	}
	code, _, errOut = runRecon(t, "--state", st, "--tenant", "acme", "export", "-e", "customers", "-o", out)
	if code != ExitUsage || !strings.Contains(errOut, "client id and client secret") {
		t.Fatalf("no credentials: code %d stderr %q", code, errOut)
	}
	code, _, errOut = runRecon(t, "--state", st, "--tenant", "acme", "--client-id", "a", "--client-secret", "s3cr3t-value",
		"--api-url", "ftp://nowhere", "export", "-e", "customers", "-o", out)
	if code != ExitUsage || strings.Contains(errOut, "s3cr3t-value") {
		t.Fatalf("bad URL: code %d stderr %q", code, errOut)
	}
}

func TestConnectLockIsExclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := state.Open(context.Background(), filepath.Join(dir, "state.db"), state.Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lock, err := st.AcquireLock(context.Background(), state.LockOwner{Host: "elsewhere", PID: 4242}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	code, _, errOut := runRecon(t, sandboxSub(dir, "mappings", "push")...)
	if code != ExitState || !strings.Contains(errOut, "elsewhere") {
		t.Fatalf("code %d, want %d; stderr %q", code, ExitState, errOut)
	}
}
