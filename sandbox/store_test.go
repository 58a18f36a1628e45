package sandbox

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
)

func TestOrderIndexMatchesASortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var o orderIndex
	var want []int64
	next := int64(0)
	for step := 0; step < 20000; step++ {
		if len(want) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(want))
			o.remove(want[i])
			want = slices.Delete(want, i, i+1)
		} else {
			next += 1 + int64(rng.IntN(3))
			o.add(next)
			want = append(want, next)
		}
		o.remove(next + 100) // absent ranks are ignored
		if o.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, o.len(), len(want))
		}
		if step%97 == 0 {
			for pos, seq := range want {
				if got, ok := o.at(pos); !ok || got != seq {
					t.Fatalf("step %d: at(%d) = %d %v, want %d", step, pos, got, ok, seq)
				}
			}
			if _, ok := o.at(len(want)); ok {
				t.Fatalf("step %d: a position past the end", step)
			}
		}
	}
}

func TestStoreRollsBackAFailedRequest(t *testing.T) {
	st, err := openStore("")
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for i := range 5 {
		st.put("acme", kindCustomer, fmt.Sprintf("C%d", i), map[string]any{"id": fmt.Sprintf("C%d", i), "contactEmail": fmt.Sprintf("c%d@x.com", i)})
	}
	if err := st.commit(); err != nil {
		t.Fatal(err)
	}
	if n := st.count("acme", kindCustomer); n != 5 {
		t.Fatalf("count %d", n)
	}
	st.put("acme", kindCustomer, "NEW", map[string]any{"id": "NEW"})
	st.del("acme", kindCustomer, "C0")
	st.put("acme", kindCustomer, "C1", map[string]any{"id": "C1", "contactEmail": "changed@x.com"})
	st.rollback()
	if _, ok := st.get("acme", kindCustomer, "NEW"); ok {
		t.Fatal("rolled-back insert is stored")
	}
	if ids := st.customersWithEmail("acme", "C1@X.com"); len(ids) != 1 || ids[0] != "C1" {
		t.Fatalf("rolled-back update: %v", ids)
	}
	if got := ids(st.page("acme", kindCustomer, 1, 10)); fmt.Sprint(got) != "[C0 C1 C2 C3 C4]" || st.count("acme", kindCustomer) != 5 {
		t.Fatalf("after rollback: %v", got)
	}
	// A committed insert and delete reach the position index; a re-put keeps its rank.
	st.put("acme", kindCustomer, "C5", map[string]any{"id": "C5"})
	st.del("acme", kindCustomer, "C2")
	st.put("acme", kindCustomer, "C0", map[string]any{"id": "C0", "lastName": "again"})
	if err := st.commit(); err != nil {
		t.Fatal(err)
	}
	if got := ids(st.page("acme", kindCustomer, 2, 2)); fmt.Sprint(got) != "[C3 C4]" {
		t.Fatalf("page 2 of 2: %v", got)
	}
	if got := ids(st.page("acme", kindCustomer, 3, 2)); fmt.Sprint(got) != "[C5]" {
		t.Fatalf("page 3 of 2: %v", got)
	}
	if got := st.page("acme", kindCustomer, 4, 2); len(got) != 0 {
		t.Fatalf("past the end: %v", got)
	}
}

// A data file written by the sandbox before records moved to SQLite has no secondary keys; opening it
// fills them, so e-mail uniqueness and the customers' legal entities work on the old data.
func TestDataFileOfAnEarlierSandbox(t *testing.T) {
	file := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE docs (tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (tenant, kind, id))`,
		`INSERT INTO docs VALUES ('acme', 'customer', 'C1', 1, '{"id":"C1","customerNumber":"C1","contactEmail":"Old@x.com","metadata":{"version":1}}')`,
		`INSERT INTO docs VALUES ('acme', 'legal-entity', 'le', 2, '{"id":"le","name":"LE","type":"COMPANY","metadata":{"version":1}}')`,
		`INSERT INTO docs VALUES ('acme', 'contact-assignment', 'as', 3, '{"id":"as","type":"CONTACT","primary":false,"legalEntity":{"id":"le"},"customer":{"id":"C1"},"metadata":{"version":1}}')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	srv, err := New(Options{DataFile: file})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(specWrap(t, srv))
	t.Cleanup(func() { hs.Close(); srv.Close() })
	a := &testAPI{t: t, srv: srv, http: hs}
	a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	customerErr(t, a.must(409, "PUT", cust+"/C2", map[string]any{"contactEmail": "OLD@x.com"}), 409, "conflict_resource")
	if got := a.must(200, "GET", cust+"/C1", nil).obj(t); got["businessModel"] != "B2B" {
		t.Fatalf("assignment of the old file not found: %v", got)
	}
	if l := a.must(200, "GET", cust+"?q=contactEmail:Old@x.com", nil).list(t); len(l) != 1 {
		t.Fatalf("e-mail lookup on the old file: %v", l)
	}
	a.must(201, "PUT", cust+"/C3", map[string]any{})
	if got := ids(a.must(200, "GET", cust, nil).list(t)); fmt.Sprint(got) != "[C1 C3]" {
		t.Fatalf("order after the upgrade: %v", got)
	}
}

// Customer lists read only what a request needs (a page at its position, the customers a q names, or
// the tenant in batches); every path must answer what a filter over the whole tenant would.
func TestCustomerListPathsAgree(t *testing.T) {
	a := newTestAPI(t, Options{})
	var all []string
	for i := range 30 {
		id := fmt.Sprintf("K%02d", i)
		body := map[string]any{"lastName": fmt.Sprintf("L%d", i%4)}
		if i%3 != 0 {
			body["contactEmail"] = fmt.Sprintf("Mail%02d@X.com", i)
		}
		a.must(201, "PUT", cust+"/"+id, body)
		all = append(all, id)
	}
	a.must(202, "DELETE", cust+"/K04", nil)
	all = slices.DeleteFunc(all, func(id string) bool { return id == "K04" })
	for _, tc := range []struct{ query, want string }{
		{"pageSize=5&pageNumber=2", "[K06 K07 K08 K09 K10]"},
		{"pageSize=5&pageNumber=6", "[K26 K27 K28 K29]"},
		{"pageSize=5&pageNumber=7", "[]"},
		{"q=id:K05", "[K05]"},
		{"q=customerNumber:(K09,K01,NOPE,K04)", "[K01 K09]"},
		{"q=id:(K09,K01)&sort=id:desc", "[K09 K01]"},
		{"q=contactEmail:Mail05@X.com", "[K05]"},
		{"q=contactEmail:mail05@x.com", "[]"}, // equality is exact, the index only narrows
		{"q=email:(Mail01@X.com,Mail02@X.com)%20lastName:L2", "[K02]"},
		{"q=id:K00%20contactEmail:exists", "[]"},
		{"q=contactEmail:~mail1&pageSize=3&pageNumber=2", "[K14 K16 K17]"},
		{"q=lastName:L1&sort=contactEmail:desc&pageSize=3", "[K29 K25 K17]"},
		{"sort=lastName,id:desc&pageSize=4&pageNumber=2", "[K12 K08 K00 K29]"},
		{"q=contactEmail:missing&pageSize=100", "[K00 K03 K06 K09 K12 K15 K18 K21 K24 K27]"},
	} {
		r := a.must(200, "GET", cust+"?"+tc.query, nil)
		if got := fmt.Sprint(ids(r.list(t))); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.query, got, tc.want)
		}
	}
	if got := ids(a.must(200, "GET", cust+"?pageSize=100", nil).list(t)); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Errorf("whole tenant: %v", got)
	}
}

// A default-order page splices most customers' stored JSON instead of building views; every customer
// must read the same in a page as on its own.
func TestCustomerPageReadsLikeTheCustomer(t *testing.T) {
	a := newTestAPI(t, Options{})
	a.must(201, "PUT", cust+"/plain", map[string]any{"firstName": "Plain", "contactEmail": "P<&>@x.com"})
	a.must(201, "PUT", cust+"/bare", map[string]any{})
	a.must(201, "PUT", cust+"/quoted", map[string]any{"contactEmail": `q"u\o"te\@x.com`, "company": `"contactEmail":"no"`})
	a.must(201, "PUT", cust+"/addr", map[string]any{"lastName": "A", "b2b": map[string]any{"companyRegistrationId": 7}})
	a.must(201, "PUT", cust+"/addr/addresses/a1", map[string]any{"contactName": "A1"})
	a.must(201, "PUT", cust+"/addr/addresses/a2", map[string]any{"contactName": "A2", "isDefault": true})
	a.must(201, "PUT", cust+"/mix", map[string]any{"mixins": map[string]any{"loyalty": map[string]any{"level": "gold"}},
		"metadata": map[string]any{"mixins": map[string]any{"loyalty": "https://x/loyalty.json"}}})
	a.must(201, "PUT", cust+"/emptyb2b", map[string]any{"b2b": map[string]any{}})
	a.must(201, "PUT", cust+"/b2b", map[string]any{"contactEmail": "b@x.com"})
	a.must(201, "POST", cm+"/legal-entities", map[string]any{"id": "le", "name": "LE"})
	a.must(201, "POST", cm+"/contact-assignments", map[string]any{"id": "as", "legalEntity": map[string]any{"id": "le"}, "customer": map[string]any{"id": "b2b"}})
	for _, expand := range []string{"", "addresses", "accounts,addresses", "mixin:*", "mixin:loyalty,accounts"} {
		page := a.must(200, "GET", cust+"?pageSize=10&expand="+expand, nil).list(t)
		if len(page) != 7 {
			t.Fatalf("expand %q: %d customers", expand, len(page))
		}
		for _, got := range page {
			id := got["id"].(string)
			want := a.must(200, "GET", cust+"/"+id+"?expand="+expand, nil).obj(t)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("expand %q, %s:\npage   %v\nitself %v", expand, id, got, want)
			}
		}
	}
}
