package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"custsync/remote"
)

func TestMappingsCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importSamples(t, dir)
	st := filepath.Join(dir, "state.db")
	code, out, _ := runRecon(t, "--state", st, "mappings", "list", "--unpushed")
	if code != ExitOK || !strings.Contains(out, "30 mappings") {
		t.Fatalf("list --unpushed: code %d\n%s", code, out)
	}
	// The platform has no SD mappings endpoint: pushing needs one named.
	code, _, errOut := runRecon(t, sandboxSub(dir, "mappings", "push")...)
	if code != ExitUsage || !strings.Contains(errOut, "--mappings-url") {
		t.Fatalf("push without a mappings URL: code %d\n%s", code, errOut)
	}
	code, out, errOut = runRecon(t, sandboxSub(dir, "mappings", "push", "--mappings-url", "sandbox")...)
	if code != ExitOK || !strings.Contains(out, "pushed 30 mappings, 0 failed") {
		t.Fatalf("push: code %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = runRecon(t, "--state", st, "mappings", "list", "--unpushed"); !strings.Contains(out, "0 mappings") {
		t.Fatalf("list after push: code %d\n%s", code, out)
	}
	withSandbox(t, dir, func(rc *remote.Client) {
		n := 0
		for _, err := range rc.SDMappings(context.Background(), "") {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 30 {
			t.Errorf("remote endpoint holds %d mappings, want 30", n)
		}
		if _, err := rc.UpsertCustomer(context.Background(), "webshop-9", remote.Doc{"lastName": "Shop", "contactEmail": "w9@example.com",
			"b2b": map[string]any{"companyRegistrationId": "0000777777"}}); err != nil {
			t.Fatal(err)
		}
	})
	code, out, errOut = runRecon(t, sandboxSub(dir, "mappings", "pull", "--key-field", "b2b.companyRegistrationId", "--dry-run")...)
	if code != ExitOK || !strings.Contains(out, "31 platform customers read, would adopt 1") {
		t.Fatalf("pull --dry-run: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runRecon(t, sandboxSub(dir, "mappings", "pull", "--key-field", "b2b.companyRegistrationId")...)
	if code != ExitOK || !strings.Contains(out, "adopted 1") {
		t.Fatalf("pull: code %d\n%s", code, out)
	}
	code, out, _ = runRecon(t, "--state", st, "mappings", "export", "-o", filepath.Join(dir, "m.xlsx"))
	if code != ExitOK || !strings.Contains(out, "exported 31 mappings") {
		t.Fatalf("export: code %d\n%s", code, out)
	}
}
