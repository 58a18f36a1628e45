package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

func remoteMappings(t *testing.T, rc *remote.Client) map[string]remote.SDMapping {
	t.Helper()
	out := map[string]remote.SDMapping{}
	for m, err := range rc.SDMappings(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out[m.CustomerNumber] = m
	}
	return out
}

// TestDeletionInPlatformFlowsToTheLogAndOut deletes a synchronised customer directly on the platform: detection
// flags its mapping, logs the customer with the pre-image, drops it and its address from the checkpoint, and
// finds nothing new the second time; the deletions export carries the entries to the ERP, and acknowledging
// that file clears them locally and on the remote mappings endpoint.
func TestDeletionInPlatformFlowsToTheLogAndOut(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rc, st := p.client("deltenant"), p.state("deltenant")
	custs := loadRecords(t, "../samples/customers.csv", mapping.Customers)[:3]
	var addrs []mapping.Record
	for _, a := range loadRecords(t, "../samples/addresses.csv", mapping.Addresses) {
		if a.KeyParts[0] <= custs[2].Key {
			addrs = append(addrs, a)
		}
	}
	seedSynced(t, st, rc, custs)
	seedSynced(t, st, rc, addrs)
	if rep, err := PushMappings(ctx, st, rc, 4); err != nil || rep.Pushed != 3 {
		t.Fatalf("push: %+v %v", rep, err)
	}
	victim := custs[1].Key // 0000200002, one address
	if err := rc.DeleteCustomer(ctx, victim); err != nil {
		t.Fatal(err)
	}

	rep, err := DetectDeletedInPlatform(ctx, st, rc)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 3 || len(rep.Deleted) != 1 || rep.Deleted[0] != victim || rep.Addresses != 1 {
		t.Fatalf("detect: %+v", rep)
	}
	m, ok, err := st.GetMapping(ctx, victim)
	if err != nil || !ok || !m.DeletedInYaaS || m.Pushed {
		t.Fatalf("mapping after detection: %+v %v %v", m, ok, err)
	}
	if _, ok, _ := st.GetEntity(ctx, state.EntityKey{Kind: "customers", ERPKey: victim}); ok {
		t.Error("the deleted customer is still in the checkpoint")
	}
	if _, ok, _ := st.GetEntity(ctx, state.EntityKey{Kind: "addresses", ERPKey: mapping.JoinKey(victim, "A1")}); ok {
		t.Error("the deleted customer's address is still in the checkpoint")
	}
	log, err := st.ListDeletions(ctx, state.DeletionFilter{})
	if err != nil || len(log) != 1 {
		t.Fatalf("deletion log: %+v %v", log, err)
	}
	var pre map[string]any
	if log[0].Kind != "customers" || log[0].Reason != state.ReasonDeletedInPlatform || json.Unmarshal(log[0].PreImage, &pre) != nil || pre["firstName"] != "Katrin" {
		t.Errorf("customer log entry: %+v", log[0])
	}
	held, err := DeletedInPlatformKeys(ctx, st)
	if err != nil || held[victim] != victim || len(held) != 1 {
		t.Errorf("held keys %v %v", held, err)
	}
	again, err := DetectDeletedInPlatform(ctx, st, rc)
	if err != nil || len(again.Deleted) != 0 {
		t.Fatalf("second detection: %+v %v", again, err)
	}

	// The flag reaches the remote endpoint with the next push.
	if rep, err := PushMappings(ctx, st, rc, 4); err != nil || rep.Pushed != 1 {
		t.Fatalf("push after detection: %+v %v", rep, err)
	}
	if rm := remoteMappings(t, rc); !rm[victim].DeletedInYaaS || len(rm) != 3 {
		t.Fatalf("remote mappings: %+v", rm)
	}

	// Out to the ERP, and back as an acknowledgement.
	out := filepath.Join(p.dir, "deletions.csv")
	exp, err := Export(ctx, st, nil, ExportOptions{Entities: []string{"deletions"}, Out: out})
	if err != nil || exp.Rows("deletions") != 1 {
		t.Fatalf("deletions export: %+v %v", exp, err)
	}
	ack, err := AckDeletions(ctx, st, rc, AckOptions{Files: []string{out}, RemoteMappings: true})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Acked != 1 || ack.MappingsLocal != 1 || ack.MappingsRemote != 1 || len(ack.NotFound) != 0 {
		t.Fatalf("ack: %+v", ack)
	}
	if n, _ := st.CountUnackedDeletions(ctx); n != 0 {
		t.Errorf("%d unacknowledged entries after ack", n)
	}
	if _, ok, _ := st.GetMapping(ctx, victim); ok {
		t.Error("local mapping survived the ack")
	}
	if rm := remoteMappings(t, rc); len(rm) != 2 {
		t.Errorf("remote mappings after ack: %+v", rm)
	}
	if held, _ := DeletedInPlatformKeys(ctx, st); len(held) != 0 {
		t.Errorf("keys still held after ack: %v", held)
	}
	all, err := st.ListDeletions(ctx, state.DeletionFilter{IncludeAcked: true})
	if err != nil || len(all) != 1 || all[0].AckedAt.IsZero() {
		t.Errorf("log after ack: %+v %v", all, err)
	}
}

// TestDetectedDeletionRecreatesDependantsAfterAck: a customer deleted on the platform outside custsync takes its
// addresses and contact assignments along there. Recording the deletion (`deletions detect`, or an import with
// --detect-deletions) drops their checkpoint rows with the customer's, so once the ERP acknowledged the
// deletion and still has the rows, the next import creates the customer, its address and its assignment again
// instead of counting the two as unchanged.
func TestDetectedDeletionRecreatesDependantsAfterAck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		detect func(e *env, files []string) error
	}{
		{"deletions detect", func(e *env, _ []string) error {
			rep, err := DetectDeletedInPlatform(ctx, e.st, e.rc)
			if err == nil && (len(rep.Deleted) != 1 || rep.Addresses != 1 || rep.Contacts != 1) {
				err = fmt.Errorf("detect: %+v", rep)
			}
			return err
		}},
		{"import --detect-deletions", func(e *env, files []string) error {
			rep, err := e.run(ctx, Options{DetectDeletions: true}, files...)
			if err == nil && rep.Created != 0 {
				err = fmt.Errorf("the held customer's rows were written:\n%s", rep.Summary())
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The tenant lets a deleted customer's number be used again, so the customer can come back.
			e := newEnvFor(t, sandbox.Options{RecreateDeletedCustomers: true}, nil)
			files := []string{
				e.file("companies.csv", "companyKey,name,type\nC1,Acme,COMPANY\n"),
				e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n"+
					"0000000001,Anna,Berg,anna@x.example\n0000000002,Bob,Kurz,bob@x.example\n"),
				e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country\n0000000001,A1,Anna,Hauptstr 1,Berlin,DE\n"),
				e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nC1,0000000001,PRIMARY\n"),
			}
			if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 5 {
				t.Fatalf("%v\n%s", err, rep.Summary())
			}
			if err := e.rc.DeleteCustomer(ctx, "0000000001"); err != nil {
				t.Fatal(err)
			}
			if err := tc.detect(e, files); err != nil {
				t.Fatal(err)
			}
			for _, k := range []state.EntityKey{{Kind: string(mapping.Addresses), ERPKey: mapping.JoinKey("0000000001", "A1")},
				{Kind: string(mapping.Contacts), ERPKey: mapping.JoinKey("C1", "0000000001")}} {
				if _, ok, err := e.st.GetEntity(ctx, k); ok || err != nil {
					t.Fatalf("the checkpoint keeps %s %s, which the platform removed with the customer (%v)", k.Kind, k.ERPKey, err)
				}
			}
			if dels, err := e.st.ListDeletions(ctx, state.DeletionFilter{}); err != nil || len(dels) != 1 || dels[0].Kind != string(mapping.Customers) {
				t.Fatalf("deletion log %+v %v, want the customer's entry alone", dels, err)
			}

			if _, err := AckDeletions(ctx, e.st, nil, AckOptions{All: true}); err != nil {
				t.Fatal(err)
			}
			rep, err := e.run(ctx, Options{}, files...)
			if err != nil || rep.Created != 3 {
				t.Fatalf("after the ack: %v\n%s", err, rep.Summary())
			}
			if _, err := e.rc.GetAddress(ctx, "0000000001", "0000000001-A1"); err != nil {
				t.Fatalf("address after the customer came back: %v", err)
			}
			if _, ok := assignmentsByPair(t, e.rc)["C1/0000000001"]; !ok {
				t.Fatalf("assignment after the customer came back: %v", assignmentsByPair(t, e.rc))
			}
		})
	}
}

func TestAckByKeyReportsUnknownKeys(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	st := p.state("ackkeys")
	for _, k := range []string{"A", "B"} {
		if _, err := st.LogDeletion(ctx, state.DeletionEntry{Kind: "customers", ERPKey: k, RemoteID: k, Reason: state.ReasonERPDeleted}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := AckDeletions(ctx, st, nil, AckOptions{Keys: []state.EntityKey{{Kind: "customers", ERPKey: "A"}, {Kind: "customers", ERPKey: "Z"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 1 || len(rep.NotFound) != 1 || rep.NotFound[0].ERPKey != "Z" {
		t.Fatalf("ack: %+v", rep)
	}
	if rep, err := AckDeletions(ctx, st, nil, AckOptions{All: true}); err != nil || rep.Acked != 1 {
		t.Fatalf("ack --all: %+v %v", rep, err)
	}
	if _, err := AckDeletions(ctx, st, nil, AckOptions{}); err == nil {
		t.Fatal("an ack of nothing was accepted")
	}
}

// TestMappingsPullAdoptsExistingCustomers runs pull against a populated tenant. Without ERP files it lists the
// tenant and adopts customers from the remote mapping records and from a key field; two customers claiming one
// key and a key already mapped elsewhere are conflicts. Given the customers of ERP files, it looks only those up,
// as import --adopt does: by the id they would have, by the key field, by e-mail address ignoring case, and the
// remote records of their keys. AdoptedIDs exposes only non-deterministic ids.
func TestMappingsPullAdoptsExistingCustomers(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rc, st := p.client("adopt"), p.state("adopt")
	put := func(id string, doc remote.Doc) {
		t.Helper()
		doc["lastName"] = "X"
		doc["contactEmail"] = id + "@example.com"
		if _, err := rc.UpsertCustomer(ctx, id, doc); err != nil {
			t.Fatal(err)
		}
	}
	put("shop-1", remote.Doc{"b2b": map[string]any{"companyRegistrationId": "0000100001"}})
	put("shop-2", remote.Doc{})
	put("shop-3", remote.Doc{"b2b": map[string]any{"companyRegistrationId": "0000100003"}})
	put("shop-4", remote.Doc{"b2b": map[string]any{"companyRegistrationId": "0000100003"}})
	put("0000100005", remote.Doc{})
	put("shop-6", remote.Doc{"b2b": map[string]any{"companyRegistrationId": "0000100006"}})
	put("shop-7", remote.Doc{})
	put("unrelated", remote.Doc{})
	if err := rc.CreateSDMapping(ctx, remote.SDMapping{CustomerNumber: "shop-2", SDCustomerNumber: "0000100002"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMappings(ctx, []state.SDMapping{{CustomerNumber: "0000100006", SDCustomerNumber: "0000100006"}}); err != nil {
		t.Fatal(err)
	}
	opts := PullOptions{Remote: true, KeyField: "b2b.companyRegistrationId"}

	dry, err := PullMappings(ctx, st, rc, PullOptions{Remote: opts.Remote, KeyField: opts.KeyField, DryRun: true})
	if err != nil || dry.Adopted != 2 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if n, _ := st.CountMappings(ctx); n.Total != 1 {
		t.Fatalf("the dry run wrote %d mappings", n.Total-1)
	}
	rep, err := PullMappings(ctx, st, rc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Listed != 8 || rep.Adopted != 2 || rep.Unchanged != 0 || len(rep.Conflicts) != 2 {
		t.Fatalf("pull: %+v", rep)
	}

	// From the ERP file: 0000100005 under its own number, 0000100010 by its e-mail address (another case),
	// 0000100003 claimed by two customers, 0000100009 nowhere, 0000100002 through its remote record.
	opts.Customers = []ERPCustomer{{Key: "0000100005", ID: "0000100005"}, {Key: "0000100009", ID: "0000100009"},
		{Key: "0000100010", ID: "0000100010", Email: "Shop-7@Example.com"}, {Key: "0000100003", ID: "0000100003"},
		{Key: "0000100002", ID: "0000100002"}}
	start := time.Now()
	rep, err = PullMappings(ctx, st, rc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Adopted != 2 || rep.Unchanged != 1 || len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0], "shop-3 and shop-4") {
		t.Fatalf("pull of the file's customers: %+v", rep)
	}
	for cn, sd := range map[string]string{"shop-1": "0000100001", "shop-2": "0000100002", "0000100005": "0000100005", "shop-7": "0000100010"} {
		if m, ok, _ := st.GetMapping(ctx, cn); !ok || m.SDCustomerNumber != sd {
			t.Errorf("mapping of %s: %+v", cn, m)
		}
	}
	for _, cn := range []string{"shop-3", "shop-4", "shop-6", "unrelated"} {
		if _, ok, _ := st.GetMapping(ctx, cn); ok {
			t.Errorf("%s was adopted despite a conflict or no key", cn)
		}
	}
	ids, err := AdoptedIDs(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids["0000100001"] != "shop-1" || ids["0000100002"] != "shop-2" || ids["0000100010"] != "shop-7" {
		t.Errorf("adopted ids %v", ids)
	}
	again, err := PullMappings(ctx, st, rc, opts)
	if err != nil || again.Adopted != 0 || again.Unchanged != 3 {
		t.Fatalf("second pull: %+v %v", again, err)
	}
	for _, r := range p.srv.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/customers") && !strings.Contains(r.RawQuery, "pageSize=1") &&
			r.Time.After(start) {
			t.Errorf("the pull of the file's customers listed the tenant: %s?%s", r.Path, r.RawQuery)
		}
	}
}

// TestMappingsPullByAMixinField adopts customers whose ERP number is in a mixin, which the platform returns
// only when the listing asks for mixins.
func TestMappingsPullByAMixinField(t *testing.T) {
	t.Parallel()
	p := newReconPlatform(t)
	ctx := context.Background()
	rc, st := p.client("mixinpull"), p.state("mixinpull")
	for id, erp := range map[string]any{"shop-1": "0000100001", "shop-2": "0000100002", "shop-3": nil} {
		doc := remote.Doc{"lastName": "X", "metadata": map[string]any{"mixins": map[string]any{"erp": "https://schema.example/erp.json"}}}
		if erp != nil {
			doc["mixins"] = map[string]any{"erp": map[string]any{"customerNumber": erp}}
		}
		if _, err := rc.UpsertCustomer(ctx, id, doc); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := PullMappings(ctx, st, rc, PullOptions{KeyField: "mixins.erp.customerNumber"})
	if err != nil || rep.Listed != 3 || rep.Adopted != 2 || len(rep.Conflicts) != 0 {
		t.Fatalf("pull: %+v %v", rep, err)
	}
	ids, err := AdoptedIDs(ctx, st, "")
	if err != nil || len(ids) != 2 || ids["0000100001"] != "shop-1" || ids["0000100002"] != "shop-2" {
		t.Fatalf("adopted ids %v %v", ids, err)
	}
}

// TestAckFileColumns reads `deletions ack` files: the kind and ERP key columns under any of their names, in
// any case and order, beside other columns; blank keys skipped; a file without the columns or with a row the
// reader cannot split is an input error.
func TestAckFileColumns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		want          []state.EntityKey
		err           string
	}{
		{"export.csv", "kind,erpKey,remoteId\ncustomers,0001,C1\n", []state.EntityKey{{Kind: "customers", ERPKey: "0001"}}, ""},
		{"german.csv", "Bemerkung;ENTITY;Erp_Key\nx;Customers; 0002 \ny;addresses;\n", []state.EntityKey{{Kind: "customers", ERPKey: "0002"}}, ""},
		{"reversed.csv", "Key,Kind\n0003,companies\n0004,locations\n", []state.EntityKey{{Kind: "companies", ERPKey: "0003"}, {Kind: "locations", ERPKey: "0004"}}, ""},
		{"nokey.csv", "kind,remoteId\ncustomers,C1\n", nil, "needs the columns kind and erpKey"},
		{"torn.csv", "kind,erpKey\ncustomers,0005\ncustomers,0006,extra,cells\n", nil, "torn.csv"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readAckFile(path, formats.Options{})
		if c.err != "" {
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want ErrInput saying %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

// TestAdoptedLookupAnswersAsAdoptedIDs: the planner's key-at-a-time lookup of adopted customers gives, for every
// key, what AdoptedIDs gives (adopted, template id, deleted, mapped to two numbers, unknown), both while it looks
// keys up one by one and after enough keys asked that it read every mapping; and a customer the run adopted
// keeps the number the run gave it across that switch.
func TestAdoptedLookupAnswersAsAdoptedIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "adopted.db"), state.Binding{APIURL: "http://127.0.0.1:1", Tenant: "adopted"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms := []state.SDMapping{
		{CustomerNumber: "shop-1", SDCustomerNumber: "K1"},                      // adopted
		{CustomerNumber: "K2", SDCustomerNumber: "K2"},                          // the template's id: not adopted
		{CustomerNumber: "shop-3a", SDCustomerNumber: "K3"},                     // two numbers: needs a person
		{CustomerNumber: "shop-3b", SDCustomerNumber: "K3"},                     //
		{CustomerNumber: "shop-4", SDCustomerNumber: "K4", DeletedInYaaS: true}, // deleted on the platform
		{CustomerNumber: "K5", SDCustomerNumber: "K5"},                          // the template's id and an adopted one
		{CustomerNumber: "shop-5", SDCustomerNumber: "K5"},
	}
	for i := range adoptedLookupsBeforeScan {
		ms = append(ms, state.SDMapping{CustomerNumber: fmt.Sprintf("shop-n%d", i), SDCustomerNumber: fmt.Sprintf("N%d", i)})
	}
	if err := st.PutMappings(ctx, ms); err != nil {
		t.Fatal(err)
	}
	want, err := AdoptedIDs(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	for k, id := range map[string]string{"K1": "shop-1", "K2": "", "K3": "", "K4": "", "K5": "shop-5"} {
		if want[k] != id {
			t.Fatalf("AdoptedIDs: %s = %q, want %q", k, want[k], id)
		}
	}
	keys := []string{"K1", "K2", "K3", "K4", "K5", "unknown"}
	a := newAdoptedLookup(ctx, st, mapping.DefaultIDTemplates[mapping.Customers])
	check := func(stage string) {
		t.Helper()
		for _, k := range keys {
			id, ok, err := a.get(k)
			wantID, wantOK := want[k]
			if err != nil || id != wantID || ok != wantOK {
				t.Errorf("%s: key %s = %q %v %v, AdoptedIDs says %q %v", stage, k, id, ok, err, wantID, wantOK)
			}
		}
	}
	check("looked up one by one")
	if a.scanned {
		t.Fatal("a few keys read every mapping")
	}
	a.set("adopted-now", "shop-run")
	for i := range adoptedLookupsBeforeScan {
		if id, ok, err := a.get(fmt.Sprintf("N%d", i)); err != nil || !ok || id != fmt.Sprintf("shop-n%d", i) {
			t.Fatalf("N%d = %q %v %v", i, id, ok, err)
		}
	}
	if !a.scanned {
		t.Fatalf("%d keys looked up one by one, no scan", adoptedLookupsBeforeScan+len(keys))
	}
	check("after reading every mapping")
	if id, ok, _ := a.get("adopted-now"); !ok || id != "shop-run" {
		t.Fatalf("the run's adoption after the scan: %q %v", id, ok)
	}
}
