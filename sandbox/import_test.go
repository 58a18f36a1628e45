package sandbox

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	importPath    = "/customer/acme/customers/import"
	retentionPath = "/customer/acme/config/password-migration-retention"
	nativeHash    = "1:10000:abcdefgh:ijklmnop"
	legacyHash    = "tBRzNZ+h9FRRm8K1qzDz3aWMgyTlgBihHviEdr+9T82BEODJakLPogHkhkGKF4FGzrhFWMYh6aZ6g5XNN1pmrg=="
)

func legacyAccount(email string) map[string]any {
	return map[string]any{"email": email, "legacyAuth": map[string]any{
		"algorithm": "hybris-sha512-uid-salt", "hash": legacyHash, "context": map[string]any{"originalUid": "15TE2000007AE9TOUEILLE 61359"}}}
}

// importResults posts a batch and returns its 207 items, checking that each answers its own index.
func importResults(t *testing.T, a *testAPI, items []any) []map[string]any {
	t.Helper()
	res := a.must(207, "POST", importPath, items).list(t)
	if len(res) != len(items) {
		t.Fatalf("%d results for %d items", len(res), len(items))
	}
	for i, r := range res {
		if r["index"] != float64(i) {
			t.Fatalf("result %d has index %v", i, r["index"])
		}
	}
	return res
}

func TestBulkImportAnswersPerItem(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	a.must(201, "PUT", cust+"/TAKEN", map[string]any{"contactEmail": "taken@x.com"})
	items := []any{
		map[string]any{"id": "M1", "firstName": "John", "account": map[string]any{"email": "john@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "M2", "account": map[string]any{"email": "two@x.com", "passwordHash": nativeHash, "legacyAuth": legacyAccount("two@x.com")["legacyAuth"]}},
		map[string]any{"id": "M3", "account": map[string]any{"email": "three@x.com"}},
		map[string]any{"id": "M4", "account": legacyAccount("four@x.com")},
		map[string]any{"id": "TAKEN", "account": map[string]any{"email": "five@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "M6", "account": map[string]any{"email": "JOHN@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "M7", "contactEmail": "other@x.com", "account": map[string]any{"email": "seven@x.com", "passwordHash": nativeHash}},
		map[string]any{"lastName": "Generated", "contactEmail": "EIGHT@x.com", "account": map[string]any{"email": "eight@x.com", "passwordHash": nativeHash}},
		"not an object",
		map[string]any{"id": "M10"},
		map[string]any{"id": "M1", "account": map[string]any{"email": "again@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "M12", "account": map[string]any{"email": "taken@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "bad id!", "account": map[string]any{"email": "thirteen@x.com", "passwordHash": nativeHash}},
		map[string]any{"id": "M14", "account": map[string]any{"email": "fourteen@x.com", "legacyAuth": map[string]any{"algorithm": "md5", "hash": "x"}}},
	}
	res := importResults(t, a, items)
	wantCodes := []float64{201, 400, 400, 400, 409, 409, 400, 201, 400, 400, 409, 409, 400, 400}
	for i, want := range wantCodes {
		if res[i]["code"] != want {
			t.Errorf("item %d: %v, want code %v", i, res[i], want)
		}
		if (want == 201) != (res[i]["id"] != nil) || res[i]["status"] == nil {
			t.Errorf("item %d: %v", i, res[i])
		}
	}
	for _, i := range []int{1, 2} {
		if res[i]["message"] != "Exactly one of 'passwordHash' or 'legacyAuth' must be provided in the account" || res[i]["status"] != "Bad Request" {
			t.Errorf("item %d: %v", i, res[i])
		}
	}
	if !strings.Contains(res[3]["message"].(string), "retention") {
		t.Errorf("legacyAuth without retention: %v", res[3])
	}
	if res[5]["message"] != "Duplicate account 'JOHN@x.com' for tenant 'acme'." || res[11]["message"] != "Duplicate account 'taken@x.com' for tenant 'acme'." {
		t.Errorf("duplicates: %v / %v", res[5], res[11])
	}
	if res[0]["id"] != "M1" {
		t.Errorf("custom id: %v", res[0])
	}

	// The imported customers read like any other; their accounts show only the e-mail.
	m1 := a.must(200, "GET", cust+"/M1?expand=accounts", nil)
	if got := m1.obj(t); got["contactEmail"] != "john@x.com" || got["firstName"] != "John" ||
		fmt.Sprint(got["accounts"]) != "[map[id:john@x.com]]" {
		t.Errorf("M1: %v", got)
	}
	generated := res[7]["id"].(string)
	if got := a.must(200, "GET", cust+"/"+generated, nil).obj(t); got["contactEmail"] != "EIGHT@x.com" || got["lastName"] != "Generated" {
		t.Errorf("generated: %v", got)
	}
	list := a.must(200, "GET", cust+"?expand=accounts,addresses,mixin:*&pageSize=100", nil)
	for _, raw := range [][]byte{m1.raw, list.raw} {
		if strings.Contains(string(raw), "10000:abcdefgh") || strings.Contains(string(raw), "passwordHash") {
			t.Fatalf("hash in a response: %s", raw)
		}
	}
	if n := len(list.list(t)); n != 3 {
		t.Errorf("%d customers, want TAKEN, M1 and the generated one", n)
	}
	for _, id := range []string{"M2", "M3", "M4", "M6", "M7", "M10", "M12"} {
		a.must(404, "GET", cust+"/"+id, nil)
	}
	if acc, ok := a.srv.Account("acme", "M1"); !ok || acc.PasswordHash != nativeHash || acc.Email != "john@x.com" || acc.LegacyHash != "" {
		t.Errorf("stored account %+v %v", acc, ok)
	}
	if _, ok := a.srv.Account("acme", "TAKEN"); ok {
		t.Errorf("a customer created without import has an imported account")
	}
	// Deleting the customer deletes its account.
	a.must(202, "DELETE", cust+"/M1", nil)
	if _, ok := a.srv.Account("acme", "M1"); ok {
		t.Errorf("account survived its customer")
	}
}

func TestBulkImportRequestLimits(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	batch := make([]any, maxImportBatch+1)
	for i := range batch {
		batch[i] = map[string]any{"id": fmt.Sprintf("B%03d", i), "account": map[string]any{"email": fmt.Sprintf("b%d@x.com", i), "passwordHash": nativeHash}}
	}
	customerErr(t, a.must(400, "POST", importPath, batch), 400, "bad_request")
	if l := a.must(200, "GET", cust, nil).list(t); len(l) != 0 {
		t.Fatalf("an oversize batch stored %d customers", len(l))
	}
	res := importResults(t, a, batch[:maxImportBatch])
	for _, r := range res {
		if r["code"] != float64(201) {
			t.Fatalf("full batch: %v", r)
		}
	}
	customerErr(t, a.must(400, "POST", importPath, map[string]any{"id": "x"}), 400, "bad_request")
	customerErr(t, a.must(400, "POST", importPath, "[{"), 400, "bad_request")
	if res := a.must(207, "POST", importPath, []any{}).list(t); len(res) != 0 {
		t.Errorf("empty batch: %v", res)
	}

	// The scopes are the spec's: import_manage imports and configures, import_read only reads.
	b := newTestAPI(t, Options{Clients: []Client{
		{ID: "manager", Secret: "m", Scopes: []string{scopeCustomerManage, scopeCustomerRead}},
		{ID: "reader", Secret: "r", Scopes: []string{scopeImportRead}},
	}})
	b.token = b.fetchToken("manager", "m", "")
	customerErr(t, b.must(403, "POST", importPath, batch[:1]), 403, "forbidden")
	customerErr(t, b.must(403, "GET", retentionPath, nil), 403, "forbidden")
	b.token = b.fetchToken("reader", "r", "")
	customerErr(t, b.must(404, "GET", retentionPath, nil), 404, "resource_not_found")
	customerErr(t, b.must(403, "POST", retentionPath, map[string]any{"retentionEndDate": "2099-01-01"}), 403, "forbidden")
	customerErr(t, b.must(403, "DELETE", retentionPath, nil), 403, "forbidden")
	customerErr(t, b.must(403, "POST", importPath, batch[:1]), 403, "forbidden")
}

func TestPasswordMigrationRetention(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)}
	a := newTestAPI(t, Options{Now: clock.Now})
	customerErr(t, a.must(404, "GET", retentionPath, nil), 404, "resource_not_found")
	a.must(204, "DELETE", retentionPath, nil) // nothing to remove

	for _, bad := range []map[string]any{
		{}, {"retentionEndDate": "2026-03-01"}, {"retentionEndDate": "2026-02-01"}, {"retentionEndDate": "31.01.2027"},
		{"retentionEndDate": "2027-01-31", "emailReminderDate": "2027-01-31"},
		{"retentionEndDate": "2027-01-31", "emailReminderDate": "2026-02-28"},
		{"retentionEndDate": "2027-01-31", "emailNotificationsEnabled": "yes"},
	} {
		customerErr(t, a.must(400, "POST", retentionPath, bad), 400, "")
	}
	customerErr(t, a.must(404, "GET", retentionPath, nil), 404, "")

	// Defaults: reminder 7 days before the end (or tomorrow when that is not after today), notifications on.
	got := a.must(200, "POST", retentionPath, map[string]any{"retentionEndDate": "2026-03-05"}).obj(t)
	if got["emailReminderDate"] != "2026-03-02" || got["emailNotificationsEnabled"] != true {
		t.Errorf("near end: %v", got)
	}
	set := map[string]any{"retentionEndDate": "2026-04-30", "emailNotificationsEnabled": false}
	got = a.must(200, "POST", retentionPath, set).obj(t)
	want := map[string]any{"retentionEndDate": "2026-04-30", "emailReminderDate": "2026-04-23", "emailNotificationsEnabled": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("saved %v, want %v", got, want)
	}
	if got := a.must(200, "GET", retentionPath, nil).obj(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back %v", got)
	}

	res := importResults(t, a, []any{map[string]any{"id": "L1", "account": legacyAccount("l1@x.com")}})
	if res[0]["code"] != float64(201) {
		t.Fatalf("legacy import with an active window: %v", res[0])
	}
	if acc, _ := a.srv.Account("acme", "L1"); acc.LegacyHash != legacyHash || acc.LegacyAlgorithm != "hybris-sha512-uid-salt" ||
		acc.LegacyContext["originalUid"] != "15TE2000007AE9TOUEILLE 61359" || acc.PasswordHash != "" {
		t.Errorf("legacy account %+v", acc)
	}
	if raw := a.must(200, "GET", cust+"/L1?expand=accounts", nil).raw; strings.Contains(string(raw), legacyHash) || strings.Contains(string(raw), "legacyAuth") {
		t.Fatalf("legacy hash in a response: %s", raw)
	}
	del := customerErr(t, a.must(400, "DELETE", retentionPath, nil), 400, "validation_failure")
	if del["message"] != "Configuration removal is not possible until password migration is concluded." {
		t.Errorf("delete refusal: %v", del)
	}

	// On the end date the window is closed: legacy imports are refused, the unmigrated legacy hashes are
	// cleared, and the configuration can be removed.
	clock.now = time.Date(2026, 4, 30, 0, 0, 1, 0, time.UTC)
	a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	res = importResults(t, a, []any{map[string]any{"id": "L2", "account": legacyAccount("l2@x.com")}})
	if res[0]["code"] != float64(400) {
		t.Errorf("legacy import after the window: %v", res[0])
	}
	a.must(204, "DELETE", retentionPath, nil)
	if acc, _ := a.srv.Account("acme", "L1"); acc.LegacyHash != "" || !acc.ResetRequired {
		t.Errorf("after the window: %+v", acc)
	}
	customerErr(t, a.must(404, "GET", retentionPath, nil), 404, "")
	a.must(200, "GET", cust+"/L1", nil)
}
