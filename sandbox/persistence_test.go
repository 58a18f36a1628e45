package sandbox

import (
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestPersistenceAcrossRestart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sandbox.db")
	srv, err := New(Options{DataFile: file})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(specWrap(t, srv))
	a := &testAPI{t: t, srv: srv, http: hs}
	a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	a.must(201, "PUT", cust+"/P1", map[string]any{"firstName": "Persisted", "contactEmail": "p@x.com"})
	a.must(201, "PUT", cust+"/P2", map[string]any{"firstName": "Gone"})
	a.must(201, "PUT", cust+"/P1/addresses/a1", map[string]any{"contactName": "P", "isDefault": true})
	a.must(201, "POST", cm+"/locations", map[string]any{"id": "loc", "type": "OFFICE", "contactDetails": map[string]any{}})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "le", "name": "LE", "entitiesAddresses": []any{map[string]any{"id": "loc"}}})
	a.must(201, "POST", cm+"/contact-assignments", map[string]any{"id": "as", "legalEntity": map[string]any{"id": "le"}, "customer": map[string]any{"id": "P1"}})
	a.must(201, "POST", "/acme/sdCustomerMappings", map[string]any{"customerNumber": "P1", "sdCustomerNumber": "0001"})
	a.must(202, "DELETE", cust+"/P2", nil)
	// The commit-then-drop path persists too.
	srv.SetFaults(Faults{Drop: 1})
	a.must(0, "PUT", cust+"/P3", map[string]any{"firstName": "Dropped"})
	a.must(0, "PATCH", cust+"/P3", map[string]any{"lastName": "AfterDrop"})
	srv.SetFaults(Faults{})
	before := a.must(200, "GET", cust+"?pageSize=100", nil).raw
	hs.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, err := New(Options{DataFile: file})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(specWrap(t, srv2))
	t.Cleanup(func() { hs2.Close(); srv2.Close() })
	b := &testAPI{t: t, srv: srv2, http: hs2}
	// Tokens do not survive a restart; clients fetch a new one on 401.
	if r := b.callWith(a.token, "GET", cust, nil); r.status != 401 {
		t.Fatalf("old token after restart: %d", r.status)
	}
	b.token = b.fetchToken(DemoClientID, DemoClientSecret, "")
	after := b.must(200, "GET", cust+"?pageSize=100", nil).raw
	if string(before) != string(after) {
		t.Fatalf("customers differ after restart:\n%s\n%s", before, after)
	}
	if got := b.must(200, "GET", cust+"/P3", nil).obj(t); got["lastName"] != "AfterDrop" {
		t.Fatalf("dropped PATCH not persisted: %v", got)
	}
	if got := b.must(200, "GET", cust+"/P1?expand=addresses", nil).obj(t); got["defaultAddress"] == nil || got["businessModel"] != "B2B" {
		t.Fatalf("P1 after restart: %v", got)
	}
	if le := b.must(200, "GET", cm+"/legal-entities/le", nil).obj(t); len(le["entitiesAddresses"].([]any)) != 1 {
		t.Fatalf("legal entity after restart: %v", le)
	}
	if l := b.must(200, "GET", "/acme/sdCustomerMappings", nil).list(t); len(l) != 1 {
		t.Fatalf("mappings after restart: %v", l)
	}
	b.must(409, "PUT", cust+"/P2", map[string]any{}) // the deletion tombstone survived
	// New documents keep their insertion order after the reload.
	b.must(201, "PUT", cust+"/P0", map[string]any{})
	l := b.must(200, "GET", cust+"?pageSize=100", nil).list(t)
	if l[len(l)-1]["id"] != "P0" {
		t.Fatalf("order after reload: %v", ids(l))
	}
}

// A data file is one sandbox's: the store hands out insertion ranks from what it read at start, so a
// second process writing the same file would give two records one rank. The second opener is refused,
// and says why; once the first has closed the file, it opens.
func TestDataFileInUseByAnotherSandbox(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sandbox.db")
	first, err := New(Options{DataFile: file})
	if err != nil {
		t.Fatal(err)
	}
	second, err := New(Options{DataFile: file})
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second sandbox opened a data file the first holds")
	}
	if !errors.Is(err, ErrDataFileInUse) || !strings.Contains(err.Error(), "sandbox data file "+file+" is in use by another process") {
		t.Errorf("error %q does not say the file is in use", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// A file that exists already is held from the start too, before the sandbox writes to it: a sandbox that
	// had only read it would let another process in, and that one would block its first write.
	again, err := New(Options{DataFile: file})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	defer again.Close()
	if second, err := New(Options{DataFile: file}); !errors.Is(err, ErrDataFileInUse) {
		if err == nil {
			second.Close()
		}
		t.Fatalf("a second sandbox on a data file the first has only read: %v", err)
	}
}
