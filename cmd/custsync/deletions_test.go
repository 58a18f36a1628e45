package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"custsync/remote"
)

// TestDeletionsCommandsFlow deletes an imported customer on the platform: detection logs it (its address leaves
// the checkpoint with it, without an entry of its own), list and export show it to the ERP, and acknowledging
// the exported file clears it.
func TestDeletionsCommandsFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	withSandbox(t, dir, func(rc *remote.Client) {
		if err := rc.DeleteCustomer(context.Background(), "0000200002"); err != nil {
			t.Fatal(err)
		}
	})
	code, out, errOut := runRecon(t, sandboxSub(dir, "deletions", "detect")...)
	if code != ExitOK || !strings.Contains(out, "1 customers deleted on the platform") || !strings.Contains(out, "0000200002") ||
		!strings.Contains(out, "1 addresses and 0 contact assignments left the checkpoint") {
		t.Fatalf("detect: code %d\n%s%s", code, out, errOut)
	}
	st := filepath.Join(dir, "state.db")
	code, out, _ = runRecon(t, "--state", st, "deletions", "list")
	if code != ExitOK || !strings.Contains(out, "deleted-in-platform") || !strings.Contains(out, "1 entries") {
		t.Fatalf("list: code %d\n%s", code, out)
	}
	if code, out, _ = runRecon(t, "--state", st, "mappings", "list", "--deleted"); code != ExitOK || !strings.Contains(out, "0000200002") || !strings.Contains(out, "1 mappings") {
		t.Fatalf("mappings list --deleted: code %d\n%s", code, out)
	}
	export := filepath.Join(dir, "deletions.xlsx")
	if code, out, _ = runRecon(t, "--state", st, "deletions", "export", "-o", export); code != ExitOK || !strings.Contains(out, "exported 1 deletions") {
		t.Fatalf("export: code %d\n%s", code, out)
	}
	code, out, errOut = runRecon(t, sandboxSub(dir, "deletions", "ack", "--remote", "--mappings-url", "sandbox", export)...)
	if code != ExitOK || !strings.Contains(out, "acknowledged 1 entries; dropped 1 mappings locally, 1 on the remote endpoint") {
		t.Fatalf("ack: code %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = runRecon(t, "--state", st, "deletions", "list"); code != ExitOK || !strings.Contains(out, "0 entries") {
		t.Fatalf("list after ack: code %d\n%s", code, out)
	}
	if code, _, _ = runRecon(t, "--state", st, "deletions", "ack"); code != ExitUsage {
		t.Fatalf("ack of nothing: code %d", code)
	}
	if code, _, _ = runRecon(t, "--state", st, "deletions", "ack", "--key", "nonsense"); code != ExitUsage {
		t.Fatalf("bad --key: code %d", code)
	}
	noCols := writeFile(t, dir, "odd.csv", "a,b\n1,2\n")
	if code, _, errOut = runRecon(t, "--state", st, "deletions", "ack", noCols); code != ExitUsage || !strings.Contains(errOut, "erpKey") {
		t.Fatalf("file without the columns: code %d %q", code, errOut)
	}
}
