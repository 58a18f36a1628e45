package mapping_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"custsync/formats"
	"custsync/mapping"
)

func TestRemoteID(t *testing.T) {
	t.Parallel()
	plain := []struct{ tmpl, key, want string }{
		{"{key}", "0000100080", "0000100080"},
		{"LE-{key}", "C1000", "LE-C1000"},
		{"{key}", "LOC-1100-HQ", "LOC-1100-HQ"},
		{"{key}", strings.Repeat("a", 66), strings.Repeat("a", 66)},
	}
	for _, p := range plain {
		got, err := mapping.RemoteID(p.tmpl, p.key)
		if err != nil || got != p.want {
			t.Errorf("RemoteID(%q, %q) = %q, %v; want %q", p.tmpl, p.key, got, err, p.want)
		}
	}
	odd := []string{"Müller & Co", "a b", "x/y", strings.Repeat("a", 67), "ä", "C-1000.1", strings.Repeat("ü", 80)}
	seen := map[string]string{}
	for _, k := range odd {
		id, err := mapping.RemoteID("{key}", k)
		if err != nil || !mapping.IsValidID(id) {
			t.Errorf("RemoteID(%q) = %q, %v: invalid", k, id, err)
		}
		again, _ := mapping.RemoteID("{key}", k)
		if again != id {
			t.Errorf("not deterministic: %q vs %q", id, again)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("%q and %q share id %q", prev, k, id)
		}
		seen[id] = k
	}
	if id, _ := mapping.RemoteID("{key}", "Müller & Co"); !strings.HasPrefix(id, "M_ller___Co_") {
		t.Errorf("readable prefix lost: %q", id)
	}
	// Keys differing only in characters outside the id alphabet stay apart.
	a, _ := mapping.RemoteID("{key}", "a b")
	b, _ := mapping.RemoteID("{key}", "a.b")
	if a == b {
		t.Errorf("a b and a.b collide: %q", a)
	}
	// With several placeholders a "-" inside a value would be ambiguous, so it forces the hashed form.
	x, _ := mapping.RemoteIDFor("{customer}-{key}", map[string]string{"customer": "A-1", "key": "2"})
	y, _ := mapping.RemoteIDFor("{customer}-{key}", map[string]string{"customer": "A", "key": "1-2"})
	if x == y || !mapping.IsValidID(x) || !mapping.IsValidID(y) {
		t.Errorf("composite ids collide or are invalid: %q %q", x, y)
	}
	if z, _ := mapping.RemoteIDFor("{customer}-{key}", map[string]string{"customer": "0001", "key": "main"}); z != "0001-main" {
		t.Errorf("plain composite id %q", z)
	}
	for _, bad := range []struct{ tmpl, key string }{{"{key}", ""}, {"static", "k"}, {"{key", "k"}, {"a}{key}", "k"}, {"{key}.x", "k"}, {"{other}", "k"}} {
		if id, err := mapping.RemoteID(bad.tmpl, bad.key); err == nil {
			t.Errorf("RemoteID(%q, %q) = %q, want error", bad.tmpl, bad.key, id)
		}
	}
}

// TestRemoteIDCollisionSafety maps many random keys, half of them needing the hashed form, and expects
// distinct valid ids.
func TestRemoteIDCollisionSafety(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcXYZ019_-äö &/.")
	n := 50000
	if testing.Short() {
		n = 5000
	}
	ids := make(map[string]string, n)
	for len(ids) < n {
		k := make([]rune, 1+r.IntN(90))
		for i := range k {
			k[i] = alphabet[r.IntN(len(alphabet))]
		}
		key := string(k)
		id, err := mapping.RemoteID("{key}", key)
		if err != nil || !mapping.IsValidID(id) {
			t.Fatalf("%q -> %q %v", key, id, err)
		}
		if prev, ok := ids[id]; ok && prev != key {
			t.Fatalf("collision: %q and %q -> %q", prev, key, id)
		}
		ids[id] = key
	}
}

func TestHashStability(t *testing.T) {
	t.Parallel()
	base, errs := mapOne(t, mapping.Customers,
		[]string{"sdCustomerNumber", "firstName", "active", "preferredCurrency", "middleName", "lastName"},
		[]string{"0001", "Anna", "true", "EUR", "#N/A", ""})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	same := []struct {
		name   string
		header []string
		row    []string
	}{
		{"column order", []string{"lastName", "middleName", "preferredCurrency", "active", "firstName", "sdCustomerNumber"}, []string{"", "#N/A", "EUR", "true", "Anna", "0001"}},
		{"whitespace and case of typed values", []string{"sdCustomerNumber", "firstName", "active", "preferredCurrency", "middleName"}, []string{" 0001 ", "Anna  ", "TRUE", "eur", " #N/A"}},
		{"xlsx-style boolean", []string{"sdCustomerNumber", "firstName", "active", "preferredCurrency", "middleName"}, []string{"0001", "Anna", "1", "EUR", "#N/A"}},
	}
	for _, s := range same {
		rec, errs := mapOne(t, mapping.Customers, s.header, s.row)
		if len(errs) > 0 {
			t.Fatal(errText(errs))
		}
		if rec.Hash() != base.Hash() {
			t.Errorf("%s: hash changed", s.name)
		}
	}
	// Mapping-file column names do not matter.
	spec, err := mapping.ParseMapping([]byte("entity: customers\nfields: {sdCustomerNumber: KNR, firstName: VORNAME, active: AKTIV, preferredCurrency: WAEHRUNG, middleName: ZWEIT}\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mapping.Resolve(spec, mapping.Table{File: "kunden.csv"}, []string{"WAEHRUNG", "ZWEIT", "KNR", "AKTIV", "VORNAME"})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := ms[0].Map(formats.Position{}, []string{"EUR", "#N/A", "0001", "yes", "Anna"})
	if rec.Hash() != base.Hash() {
		t.Error("mapping names changed the hash")
	}
	differ := [][]string{
		{"0001", "Anna", "true", "EUR", "", ""},      // middleName absent instead of cleared
		{"0001", "Anna", "true", "EUR", "#N/A", "x"}, // lastName set
		{"0001", "Anna", "false", "EUR", "#N/A", ""}, // value change
		{"001", "Anna", "true", "EUR", "#N/A", ""},   // key change (zeros matter)
		{"0001", "Anna ", "true", "EUR", "#N/A", "#N/A"},
	}
	for i, row := range differ {
		rec, _ := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "firstName", "active", "preferredCurrency", "middleName", "lastName"}, row)
		if rec.Hash() == base.Hash() {
			t.Errorf("variant %d hashes like the base", i)
		}
	}
	// Clear, absent and "" are three different states (a "" can only come from a constant with trim off).
	emptySpec, err := mapping.ParseMapping([]byte("entity: customers\nfields:\n  sdCustomerNumber: K\n  title: {const: \" \", trim: false}\n"), "e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ms, _ = mapping.Resolve(emptySpec, mapping.Table{File: "c.csv"}, []string{"K"})
	withBlank, _ := ms[0].Map(formats.Position{}, []string{"1"})
	absent, _ := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "title"}, []string{"1", ""})
	cleared, _ := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "title"}, []string{"1", "#N/A"})
	if withBlank.Hash() == absent.Hash() || absent.Hash() == cleared.Hash() || withBlank.Hash() == cleared.Hash() {
		t.Error("clear, absent and blank string must hash differently")
	}
	// The algorithm is persisted: pin one value so an accidental change fails loudly.
	if got := base.Hash(); got != pinnedBaseHash {
		t.Errorf("row hash of the reference row changed to %#x (was %#x): bump HashVersion deliberately, a change forces a full re-sync", got, uint64(pinnedBaseHash))
	}
}

func TestPayloadGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		entity mapping.Entity
		header string
		row    string
		want   string
	}{
		{mapping.Customers,
			"sdCustomerNumber,firstName,lastName,middleName,active,onHold,preferredCurrency,mixins.loyalty.level,metadata.mixins.loyalty,b2b.companyRegistrationId",
			"0042,Anna,Huber,#N/A,yes,0,chf,GOLD,https://schemas.example/loyalty.json,HRB 1",
			`{"active":true,"b2b":{"companyRegistrationId":"HRB 1"},"firstName":"Anna","lastName":"Huber","metadata":{"mixins":{"loyalty":"https://schemas.example/loyalty.json"}},"middleName":null,"mixins":{"loyalty":{"level":"GOLD"}},"onHold":false,"preferredCurrency":"CHF"}`},
		{mapping.Addresses,
			"sdCustomerNumber,addressKey,contactName,country,isDefault,tags,streetAppendix",
			"0042,A1,Anna Huber,at,true,\"BILLING, SHIPPING,\",#N/A",
			`{"contactName":"Anna Huber","country":"AT","isDefault":true,"streetAppendix":null,"tags":["BILLING","SHIPPING"]}`},
		{mapping.Companies,
			"companyKey,name,type,parentCompanyKey,accountLimit.value,accountLimit.currency,customerGroups,locationKeys,legalInfo.countryOfRegistration,restrictions",
			"C2,Sub,SUBSIDIARY,C1,1000.99,eur,G1,\"L1,L2\",de,#N/A",
			`{"accountLimit":{"currency":"EUR","value":1000.99},"customerGroups":[{"id":"G1"}],"entitiesAddresses":[{"id":"L1"},{"id":"L2"}],"legalInfo":{"countryOfRegistration":"DE"},"name":"Sub","parentId":"C1","restrictions":[],"type":"SUBSIDIARY"}`},
		{mapping.Companies,
			"companyKey,parentCompanyKey,locationKeys",
			"C2,#N/A,#N/A",
			`{"entitiesAddresses":[],"parentId":null}`},
		{mapping.Locations,
			"locationKey,name,type,contactDetails.emails,contactDetails.phones,contactDetails.countryCode,companyKey",
			"L1,HQ,headquarter,\"a@x.de, b@x.de\",+49 1,de,C1",
			`{"contactDetails":{"countryCode":"DE","emails":["a@x.de","b@x.de"],"phones":["+49 1"]},"name":"HQ","type":"HEADQUARTER"}`},
		{mapping.Contacts,
			"companyKey,sdCustomerNumber,type,primary",
			"C1,0042,billing,X",
			`{"customer":{"id":"0042"},"legalEntity":{"id":"C1"},"primary":true,"type":"BILLING"}`},
	}
	for _, c := range cases {
		header, rows, _ := readCSVBytes(t, []byte(c.header+"\n"+c.row+"\n"), ',')
		rec, errs := mapOne(t, c.entity, header, rows[0])
		if len(errs) > 0 {
			t.Fatalf("%s: %s", c.entity, errText(errs))
		}
		got, err := json.Marshal(rec.Payload())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s payload\n got %s\nwant %s", c.entity, got, c.want)
		}
	}
}

func TestApplyToAndDiff(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "firstName", "lastName", "middleName", "onHold", "contactPhone"}
	rec, errs := mapOne(t, mapping.Customers, header, []string{"7", "Anna", "", "#N/A", "true", "+49 1"})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	var remote map[string]any
	if err := json.Unmarshal([]byte(`{"id":"7","firstName":"Anne","lastName":"Huber","middleName":"M","onHold":true,"contactPhone":"+49 1","metadata":{"version":3}}`), &remote); err != nil {
		t.Fatal(err)
	}
	merged := rec.ApplyTo(remote)
	got, _ := json.Marshal(merged)
	want := `{"contactPhone":"+49 1","firstName":"Anna","id":"7","lastName":"Huber","metadata":{"version":3},"onHold":true}`
	if string(got) != want {
		t.Errorf("ApplyTo\n got %s\nwant %s", got, want)
	}
	if remote["firstName"] != "Anne" || remote["middleName"] != "M" {
		t.Error("ApplyTo modified its input")
	}
	changes := mapping.DiffRemote(remote, rec)
	if fmt.Sprint(changes) != `[firstName: "Anne" -> "Anna" middleName: "M" -> (none)]` {
		t.Errorf("DiffRemote: %v", changes)
	}
	if len(mapping.DiffRemote(merged, rec)) != 0 {
		t.Errorf("after ApplyTo nothing should differ: %v", mapping.DiffRemote(merged, rec))
	}

	prev, _ := mapOne(t, mapping.Customers, header, []string{"7", "Anne", "Huber", "M", "true", ""})
	changes = mapping.DiffFields(prev, rec)
	if fmt.Sprint(changes) != `[contactPhone: (none) -> "+49 1" firstName: "Anne" -> "Anna" middleName: "M" -> (none)]` {
		t.Errorf("DiffFields: %v", changes)
	}
	if len(mapping.DiffFields(rec, rec)) != 0 {
		t.Error("a record differs from itself")
	}

	// References and lists: compared by key (DiffFields) or by remote id and as sets (DiffRemote).
	ch := []string{"companyKey", "parentCompanyKey", "locationKeys", "accountLimit.value"}
	a, _ := mapOne(t, mapping.Companies, ch, []string{"C2", "C1", "L1,L2", "10"})
	b, _ := mapOne(t, mapping.Companies, ch, []string{"C2", "C9", "L2,L1", "10.0"})
	if fmt.Sprint(mapping.DiffFields(a, b)) != `[parentCompanyKey: "C1" -> "C9"]` {
		t.Errorf("DiffFields refs: %v", mapping.DiffFields(a, b))
	}
	var remoteCompany map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"name":"X","parentId":"C1","accountLimit":{"value":10},"entitiesAddresses":[{"id":"L2","name":"two"},{"id":"L1"}]}`))
	dec.UseNumber()
	if err := dec.Decode(&remoteCompany); err != nil {
		t.Fatal(err)
	}
	if d := mapping.DiffRemote(remoteCompany, a); len(d) != 0 {
		t.Errorf("DiffRemote of an equal company: %v", d)
	}
	if d := mapping.DiffRemote(remoteCompany, b); fmt.Sprint(d) != `[parentId: "C1" -> "C9"]` {
		t.Errorf("DiffRemote parent: %v", d)
	}

	// A patch sends what changed: the fields and the references the diff names, nothing else.
	patch := func(r mapping.Record, diff []mapping.FieldChange) string {
		got, err := json.Marshal(r.Changed(diff).Payload())
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	if got, want := patch(rec, mapping.DiffRemote(remote, rec)), `{"firstName":"Anna","middleName":null}`; got != want {
		t.Errorf("Changed of a customer's diff: %s, want %s", got, want)
	}
	if got, want := patch(b, mapping.DiffRemote(remoteCompany, b)), `{"parentId":"C9"}`; got != want {
		t.Errorf("Changed of a company's diff: %s, want %s", got, want)
	}
	if got := patch(b, nil); got != `{}` {
		t.Errorf("Changed of no change: %s", got)
	}
}

func TestKeySet(t *testing.T) {
	t.Parallel()
	s := mapping.NewKeySet(0)
	p1 := formats.Position{File: "a.xlsx", Sheet: "customers", Line: 2}
	p2 := formats.Position{File: "a.xlsx", Sheet: "customers", Line: 9}
	if _, dup := s.Add(mapping.Customers, "0001", p1); dup {
		t.Fatal("first add is a duplicate")
	}
	if _, dup := s.Add(mapping.Addresses, "0001", p1); dup {
		t.Fatal("same key of another entity is not a duplicate")
	}
	first, dup := s.Add(mapping.Customers, "0001", p2)
	if !dup || first != p1 {
		t.Fatalf("duplicate not reported with first position: %v %v", first, dup)
	}
	if _, dup := s.Add(mapping.Customers, "001", p2); dup {
		t.Fatal("leading zeros make a different key")
	}
	fe := s.Check(mapping.Record{Entity: mapping.Customers, Key: "0001", Pos: formats.Position{File: "a.xlsx", Sheet: "customers", Line: 12}})
	if fe == nil || !strings.Contains(fe.Error(), "a.xlsx[customers]:2") || !strings.Contains(fe.Error(), "a.xlsx[customers]:12") {
		t.Fatalf("Check: %v", fe)
	}
	if s.Len() != 3 {
		t.Errorf("Len %d", s.Len())
	}
}

// TestCellsAreCopied maps cells that alias a buffer the reader then overwrites.
func TestCellsAreCopied(t *testing.T) {
	t.Parallel()
	buf := []byte("0001Anna,B a@b.de")
	cells := []string{unsafe.String(&buf[0], 4), unsafe.String(&buf[4], 6), unsafe.String(&buf[11], 6)}
	rec, errs := mapOne(t, mapping.Addresses, []string{"sdCustomerNumber", "addressKey", "contactName"}, []string{cells[0], "A", cells[1]})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	for i := range buf {
		buf[i] = 'Z'
	}
	if rec.Key != "0001/A" || rec.KeyParts[0] != "0001" || rec.Refs[0].Key != "0001" {
		t.Errorf("key aliases the reader's buffer: %q %v", rec.Key, rec.Refs)
	}
	if v, _ := rec.Get("contactName"); v.String() != "Anna,B" {
		t.Errorf("value aliases the reader's buffer: %q", v)
	}
}

func TestSDMappingFor(t *testing.T) {
	t.Parallel()
	rec, _ := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "customerNumber"}, []string{"0000100080", ""})
	sd, ok := mapping.SDMappingFor(rec)
	if !ok || sd != (mapping.SDMapping{CustomerNumber: "0000100080", SDCustomerNumber: "0000100080"}) {
		t.Errorf("template: %+v", sd)
	}
	rec, _ = mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "customerNumber"}, []string{"0000100080", "13869000"})
	sd, ok = mapping.SDMappingFor(rec)
	if !ok || sd.CustomerNumber != "13869000" || sd.SDCustomerNumber != "0000100080" || rec.RemoteID != "13869000" {
		t.Errorf("explicit customerNumber: %+v", sd)
	}
	addr, _ := mapOne(t, mapping.Addresses, []string{"sdCustomerNumber", "addressKey"}, []string{"1", "A"})
	if _, ok := mapping.SDMappingFor(addr); ok {
		t.Error("an address has no SD mapping")
	}
}

func TestColumnsAndKeys(t *testing.T) {
	t.Parallel()
	for _, e := range mapping.Entities() {
		cols := mapping.Columns(e)
		keys := mapping.KeyColumns(e)
		for i, k := range keys {
			if cols[i] != k {
				t.Errorf("%s: columns do not start with the key: %v", e, cols)
			}
		}
		// A template header resolves to its own entity by shape alone.
		ms, err := mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: "template.csv"}, cols)
		if err != nil || ms[0].Entity() != e {
			t.Errorf("%s template header resolves to %v, %v", e, ms, err)
		}
		singular := map[mapping.Entity]string{mapping.Customers: "CUSTOMER", mapping.Addresses: "Address", mapping.Companies: "company", mapping.Locations: "Location", mapping.Contacts: "contact"}
		name, ok := mapping.EntityFromName(singular[e])
		if !ok || name != e {
			t.Errorf("singular %s not recognised", e)
		}
	}
	if mapping.Columns("orders") != nil {
		t.Error("unknown entity has columns")
	}
}

// pinnedBaseHash is the row hash of TestHashStability's reference row under HashVersion custsync-rowhash-v1.
const pinnedBaseHash = 0x67edf01334145d8

func TestJoinSplitKey(t *testing.T) {
	t.Parallel()
	cases := [][]string{{"0001", "A1"}, {"a/b", "c"}, {"a", "b/c"}, {"%2F", "/"}, {"", ""}}
	seen := map[string]bool{}
	for _, parts := range cases {
		k := mapping.JoinKey(parts...)
		if seen[k] {
			t.Errorf("JoinKey(%q) = %q collides", parts, k)
		}
		seen[k] = true
		if got := mapping.SplitKey(k, len(parts)); fmt.Sprint(got) != fmt.Sprint(parts) {
			t.Errorf("SplitKey(%q) = %q, want %q", k, got, parts)
		}
	}
	if mapping.JoinKey("a/b") != "a/b" {
		t.Error("a single part must stay unchanged")
	}
}
