package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
)

// sampleOrder is the dependency order of the sample files, one per entity.
var sampleOrder = []mapping.Entity{mapping.Locations, mapping.Companies, mapping.Customers, mapping.Addresses, mapping.Contacts}

// changedColumn is, per entity, a column of the samples and a valid new value for its first row: an update.
var changedColumn = map[mapping.Entity][2]string{
	mapping.Locations: {"name", "Changed HQ"},
	mapping.Companies: {"name", "Changed Holding"},
	mapping.Customers: {"firstName", "Changed"},
	mapping.Addresses: {"contactName", "Changed Name"},
	mapping.Contacts:  {"type", "LOGISTICS"},
}

// editedSample writes the sample of entity into dir with the first row changed and the last row dropped.
func editedSample(t *testing.T, dir string, entity mapping.Entity) string {
	t.Helper()
	f, err := os.Open(filepath.Join("../../samples", string(entity)+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], changedColumn[entity][0])
	if col < 0 {
		t.Fatalf("%s: no column %s", entity, changedColumn[entity][0])
	}
	rows[1][col] = changedColumn[entity][1]
	rows = rows[:len(rows)-1]
	path := filepath.Join(dir, string(entity)+".csv")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// endpointOf finds the endpoint template among candidates that a logged request path matches.
func endpointOf(r sandbox.Request, candidates []remote.Endpoint) (remote.Endpoint, bool) {
	segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	for _, e := range candidates {
		tmpl := strings.Split(strings.TrimPrefix(e.Path, "/"), "/")
		if e.Method != r.Method || len(tmpl) != len(segs) {
			continue
		}
		match := true
		for i, s := range tmpl {
			if !strings.HasPrefix(s, "{") && s != segs[i] {
				match = false
				break
			}
		}
		if match {
			return e, true
		}
	}
	return remote.Endpoint{}, false
}

// needOf returns what command may call for entity: what it always calls, and what it calls under the
// condition when ("" for none).
func needOf(command string, entity mapping.Entity, when string) []remote.Endpoint {
	var out []remote.Endpoint
	for _, n := range scopeNeeds {
		if n.Command == command && n.Entity == entity && (n.When == "" || n.When == when) {
			out = append(out, n.Endpoints...)
		}
	}
	return out
}

// TestScopeNeedsCoverEveryRequest runs every platform command per entity against the sandbox (creates,
// updates and deletes for import) and checks that each request it sent is listed in scopeNeeds for that
// command and entity, so `config check` judges a grant by what the commands really call. A run without a
// need's condition (When) may call only what the command always calls; a run with it calls the condition's
// endpoints too, every one of them.
func TestScopeNeedsCoverEveryRequest(t *testing.T) {
	t.Parallel()
	// Each command runs as a client of its own, so its requests are told from the others' by the client, not by
	// time: a page fetch a command abandoned at the end of a list may reach the sandbox during the next command.
	clients := []sandbox.Client{{ID: "scopes-direct", Secret: "s", Scopes: sandbox.AllScopes}}
	for i := range 100 {
		clients = append(clients, sandbox.Client{ID: "scopes-" + strconv.Itoa(i), Secret: "s", Scopes: sandbox.AllScopes})
	}
	srv, url := platform(t, sandbox.Options{Clients: clients})
	dir := t.TempDir()
	global := []string{"--api-url", url, "--tenant", "scopes", "--client-secret", "s", "--state", filepath.Join(dir, "state.db")}
	seen := map[string]map[remote.Endpoint]bool{}
	commands := 0
	run := func(command string, entity mapping.Entity, when string, args ...string) {
		t.Helper()
		client := "scopes-" + strconv.Itoa(commands)
		commands++
		code, out, errOut := runCLI(t, append(append([]string{}, global...), append([]string{"--client-id", client}, args...)...)...)
		if code != ExitOK && code != ExitPartial {
			t.Fatalf("%s: code %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		need := needOf(command, entity, when)
		if need == nil {
			t.Fatalf("scopeNeeds has nothing for %s %s", command, entity)
		}
		key := command + " " + string(entity) + " " + when
		if seen[key] == nil {
			seen[key] = map[remote.Endpoint]bool{}
		}
		for _, r := range srv.Requests() {
			if r.Path == "/oauth/token" || r.ClientID != client {
				continue
			}
			ep, ok := endpointOf(r, need)
			if !ok {
				t.Errorf("%s (%s): %s %s is not in scopeNeeds", strings.Join(args, " "), strings.TrimSpace(key), r.Method, r.Path)
				continue
			}
			seen[key][ep] = true
		}
	}
	edited := t.TempDir()
	for _, e := range sampleOrder {
		sample := filepath.Join("../../samples", string(e)+".csv")
		run("import", e, "", "import", "--tps", "0", sample)
		run("export", e, "", "export", "--tps", "0", "--entity", string(e), "--out", filepath.Join(dir, string(e)+".csv"))
		run("check", e, "", "check", "--tps", "0", "--report", filepath.Join(dir, string(e)+"-check.csv"), sample)
	}
	// A location that names its company, with no companies in the input, is listed on that company.
	linked := filepath.Join(edited, "linked-locations.csv")
	if err := os.WriteFile(linked, []byte("locationKey,type,companyKey\nLOC-LINKED,OFFICE,C1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("import", mapping.Locations, whenLocationCompanyKey, "import", "--tps", "0", "--entity", "locations", linked)
	run("check", mapping.Locations, whenLocationCompanyKey, "check", "--tps", "0", "--entity", "locations", "--report", filepath.Join(dir, "linked-check.csv"), linked)
	// An assignment no row names, of a customer whose chain of companies has a gap: 0000200001 is assigned to
	// C1000 (a sample row) and now to C1110, whose assignment propagates to C1100, deleted here by hand. check
	// then reads C1100 to learn whether the C1000 assignment is the platform's propagation.
	gapped := filepath.Join(edited, "gapped-contacts.csv")
	if err := os.WriteFile(gapped, []byte("companyKey,sdCustomerNumber,type\nC1110,0000200001,BILLING\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("import", mapping.Contacts, "", "import", "--tps", "0", "--entity", "contacts", gapped)
	rc, err := remote.New(remote.Config{BaseURL: url, Tenant: "scopes", ClientID: "scopes-direct", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	propagated := 0
	for d, err := range rc.ContactAssignmentsWhere(t.Context(), "customer.id", []string{"0000200001"}) {
		if err != nil {
			t.Fatal(err)
		}
		if remote.RefID(d["legalEntity"]) == "C1100" {
			id, _ := d["id"].(string)
			if err := rc.DeleteContactAssignment(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			propagated++
		}
	}
	if propagated != 1 {
		t.Fatalf("%d assignments of 0000200001 to C1100, want the 1 the platform propagated", propagated)
	}
	// Rows synced before, compared with their live records; then a repair of what check finds different.
	for _, e := range sampleOrder {
		run("import", e, whenVerify, "import", "--tps", "0", "--verify", filepath.Join("../../samples", string(e)+".csv"))
	}
	if err := rc.PatchCustomer(t.Context(), "0000200002", remote.Doc{"firstName": "Drifted"}); err != nil {
		t.Fatal(err)
	}
	run("check --fix", mapping.Customers, "", "check", "--tps", "0", "--fix", "--report", filepath.Join(dir, "fix-check.csv"),
		filepath.Join("../../samples", "customers.csv"))
	// Rows not synced yet, looked up before they are written.
	for e, rows := range map[mapping.Entity]string{
		mapping.Customers: "sdCustomerNumber,lastName,contactEmail\nNEW-1,New,new-1@example.com\n",
		mapping.Addresses: "sdCustomerNumber,addressKey,contactName,street,city\n0000200001,new,New,Weg 1,Bonn\n",
		mapping.Companies: "companyKey,name,type,parentCompanyKey\nC-NEW,New,SUBSIDIARY,C1000\n",
		mapping.Locations: "locationKey,name,type\nLOC-NEW,New,OFFICE\n",
	} {
		file := writeFile(t, edited, "adopt-"+string(e)+".csv", rows)
		run("import", e, whenAdopt, "import", "--tps", "0", "--adopt", "--entity", string(e), file)
	}
	run("check", mapping.Contacts, whenUnnamedAssignments, "check", "--tps", "0", "--entity", "contacts", "--report", filepath.Join(dir, "gapped-check.csv"), gapped)
	// Updates and deletes, children first so that every delete meets its record.
	for _, e := range slices.Backward(sampleOrder) {
		run("import", e, "", "import", "--tps", "0", "--mode", "full", "--max-delete", "100%", editedSample(t, edited, e))
	}
	// Put back the updates and deletes of the full-mode runs, the last one first.
	code, out, _ := runCLI(t, append(append([]string{}, global...), "--client-id", "scopes-direct", "state", "runs", "--json")...)
	var runs []struct {
		ID   int64  `json:"id"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(out), &runs); code != ExitOK || err != nil {
		t.Fatalf("state runs: %d %v", code, err)
	}
	for _, r := range runs[:len(sampleOrder)] {
		run("restore", "", "", "restore", "--tps", "0", "--run", strconv.FormatInt(r.ID, 10), "--max-delete", "100%")
	}
	run("import", mapping.Customers, "", "import", "--tps", "0", "--detect-deletions", filepath.Join("../../samples", "customers.csv"))
	run("mappings pull", "", "", "mappings", "pull", "--tps", "0", filepath.Join("../../samples", "customers.csv"))
	run("deletions detect", "", "", "deletions", "detect", "--tps", "0")
	run("migration", "", "", "migration", "retention", "set", "--tps", "0", "--end", time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	run("migration", "", "", "migration", "retention", "show", "--tps", "0")
	run("migration", "", "", "migration", "retention", "delete", "--tps", "0")
	// Every write endpoint of an import must have been exercised, or the run above proves little.
	for _, e := range sampleOrder {
		for _, ep := range needOf("import", e, "") {
			if ep.Method != "GET" && !seen["import "+string(e)+" "][ep] {
				t.Errorf("import %s never called %s", e, ep)
			}
		}
	}
	// A condition names what really makes the command call those endpoints.
	for _, n := range scopeNeeds {
		if n.When == "" {
			continue
		}
		for _, ep := range n.Endpoints {
			if !seen[n.Command+" "+string(n.Entity)+" "+n.When][ep] {
				t.Errorf("%s %s with %s never called %s", n.Command, n.Entity, n.When, ep)
			}
		}
	}
}
