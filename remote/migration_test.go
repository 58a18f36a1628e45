package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"custsync/sandbox"
	"custsync/sandbox/faultproxy"
)

// importHash is the password hash of item i: unusual, so that a leak is found by a substring search, and with
// a "/" and a "+" so that escaped forms are exercised.
func importHash(i int) string { return fmt.Sprintf("1:10000:s4lt/%03d+Zq9:h4sh-%03d-leakcheck", i, i) }

func importItems(n int) []ImportItem {
	items := make([]ImportItem, n)
	for i := range items {
		items[i] = ImportItem{
			ID:       fmt.Sprintf("M%05d", i),
			Customer: Doc{"firstName": fmt.Sprintf("First%03d", i), "lastName": "Migrated", "mixins": Doc{"loyalty": Doc{"level": "gold"}}},
			Account:  ImportAccount{Email: fmt.Sprintf("m%03d@example.com", i), PasswordHash: importHash(i)},
		}
	}
	return items
}

// assertNoHash fails when text holds any hash of the items, in any form a JSON writer may quote it.
func assertNoHash(t *testing.T, what, text string, items []ImportItem) {
	t.Helper()
	for _, it := range items {
		for _, s := range secretForms(it.Account.secrets()) {
			if strings.Contains(text, s) {
				t.Fatalf("%s holds the hash of %s: %s", what, it.ID, text)
			}
		}
	}
}

func TestImportCustomersBatchesAndMapsItemsByIndex(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	items := importItems(450)
	// Item 7 takes item 3's e-mail address (refused, 409), item 201 contradicts its own account (400): the
	// items around them are imported all the same.
	items[7].Account.Email = items[3].Account.Email
	items[201].Customer["contactEmail"] = "someone.else@example.com"

	results, err := c.ImportCustomers(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.countRequests(http.MethodPost, "/customer/"+testTenant+"/customers/import"); n != 3 {
		t.Errorf("%d import requests for 450 customers, want 3 (200, 200, 50)", n)
	}
	for i, r := range results {
		switch i {
		case 7:
			if r.Outcome != ImportFailed || r.Err == nil || r.Err.Status != http.StatusConflict {
				t.Errorf("item 7: %+v, want failed with 409", r)
			}
		case 201:
			if r.Outcome != ImportFailed || r.Err == nil || r.Err.Status != http.StatusBadRequest {
				t.Errorf("item 201: %+v, want failed with 400", r)
			}
		default:
			if r.Outcome != ImportCreated || r.ID != items[i].ID || r.Replayed {
				t.Fatalf("item %d: %+v, want created as %s", i, r, items[i].ID)
			}
		}
	}
	acc, ok := p.srv.Account(testTenant, items[449].ID)
	if !ok || acc.PasswordHash != importHash(449) || acc.Email != items[449].Account.Email {
		t.Fatalf("account of the last item: %+v %v", acc, ok)
	}
	doc, err := c.GetCustomer(ctx, items[449].ID, "mixin:*")
	if err != nil {
		t.Fatal(err)
	}
	if doc["contactEmail"] != items[449].Account.Email || fmt.Sprint(doc["mixins"]) != "map[loyalty:map[level:gold]]" {
		t.Errorf("imported customer %v", doc)
	}
	if _, ok := p.srv.Account(testTenant, items[7].ID); ok {
		t.Error("the refused item has an account")
	}
}

// An import whose answer is lost after the platform created the customers is repeated, and the repeat adopts
// them: nothing fails, nothing is created twice.
func TestImportCustomersReplayAfterALostAnswerAdopts(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	proxy := startProxy(t, p)
	importPath := "/customer/" + testTenant + "/customers/import"
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: importPath, Times: 1, Forward: true, Answer: faultproxy.Drop()})
	var logs bytes.Buffer
	cfg := proxiedConfig(p, proxy)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, cfg)
	items := importItems(5)
	// Item 4 was never created: its e-mail address belongs to another customer already.
	if _, err := c.UpsertCustomer(context.Background(), "OTHER", Doc{"contactEmail": items[4].Account.Email}); err != nil {
		t.Fatal(err)
	}

	results, err := c.ImportCustomers(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if n := proxy.Requests(http.MethodPost, importPath); n != 2 {
		t.Errorf("%d import requests, want 2 (the lost one and its repeat)", n)
	}
	for i, r := range results[:4] {
		if r.Outcome != ImportAdopted || r.ID != items[i].ID || !r.Replayed {
			t.Errorf("item %d: %+v, want adopted on the replay", i, r)
		}
		if acc, ok := p.srv.Account(testTenant, items[i].ID); !ok || acc.PasswordHash != importHash(i) {
			t.Errorf("item %d: account %+v %v", i, acc, ok)
		}
	}
	if r := results[4]; r.Outcome != ImportFailed || r.Err == nil || r.Err.Status != http.StatusConflict {
		t.Errorf("item 4: %+v, want failed with 409 (the address is another customer's)", r)
	}
	assertNoHash(t, "the debug log", logs.String(), items)
}

// A customer that has the item's id but another e-mail address is someone else's: it is not adopted.
func TestImportCustomersDoesNotAdoptAnotherCustomer(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	items := importItems(2)
	if _, err := c.UpsertCustomer(context.Background(), items[1].ID, Doc{"contactEmail": "owner@example.com"}); err != nil {
		t.Fatal(err)
	}
	results, err := c.ImportCustomers(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Outcome != ImportCreated {
		t.Errorf("item 0: %+v", results[0])
	}
	r := results[1]
	if r.Outcome != ImportFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "exists with another e-mail address") {
		t.Fatalf("item 1: %+v", r)
	}
	if acc, ok := p.srv.Account(testTenant, items[1].ID); ok {
		t.Errorf("the other customer got an account: %+v", acc)
	}
}

// The platform (or a proxy) quoting the hashes back in any refusal: neither the error, nor an item's error,
// nor the log holds one.
func TestImportCustomersErrorsHoldNoHash(t *testing.T) {
	t.Parallel()
	items := importItems(3)
	items[1].Account = ImportAccount{Email: items[1].Account.Email, Legacy: &LegacyAuth{
		Algorithm: "hybris-sha512-uid-salt", Hash: "tBRzNZ+h9FRRm8K1q/zDz3a<&>LEGACY==", Context: map[string]string{"originalUid": "uid-leakcheck-77"}}}
	echo := func(status int) string {
		var quoted []string
		for _, it := range items {
			quoted = append(quoted, strings.Join(secretForms(it.Account.secrets()), " "))
		}
		return fmt.Sprintf(`{"status":%d,"type":"validation_failure","message":"bad hash %s","details":[{"field":"account","message":"%s"}]}`,
			status, strings.ReplaceAll(quoted[0], `\`, `\\`), strings.ReplaceAll(strings.Join(quoted, ","), `\`, `\\`))
	}
	importPath := "/customer/" + testTenant + "/customers/import"
	for _, tc := range []struct {
		name   string
		answer faultproxy.Answer
		fatal  bool // the call fails (retries exhausted) rather than its items
	}{
		{"400 for the batch", faultproxy.Body(http.StatusBadRequest, "application/json", echo(400)), false},
		{"500 for the batch", faultproxy.Body(http.StatusInternalServerError, "application/json", echo(500)), false},
		{"503 until retries run out", faultproxy.Body(http.StatusServiceUnavailable, "application/json", echo(503)), true},
		{"207 quoting the hash per item", faultproxy.Body(http.StatusMultiStatus, "application/json",
			fmt.Sprintf(`[{"index":0,"code":400,"status":"Bad Request","message":"hash %s refused","details":[{"message":"%s"}]},{"index":1,"code":400,"status":"Bad Request","message":"legacy %s %s"},{"index":2,"code":201,"status":"Created","id":"M00002"}]`,
				importHash(0), importHash(0), strings.ReplaceAll(secretForms([]string{items[1].Account.Legacy.Hash})[1], `\`, `\\`), "uid-leakcheck-77")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPlatform(t, sandbox.Options{})
			proxy := startProxy(t, p)
			proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: importPath, Answer: tc.answer})
			var logs bytes.Buffer
			cfg := proxiedConfig(p, proxy)
			cfg.MaxRetries = 2
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := newTestClient(t, cfg)
			results, err := c.ImportCustomers(context.Background(), items)
			if tc.fatal != (err != nil) {
				t.Fatalf("error %v, want one: %v", err, tc.fatal)
			}
			var texts []string
			if err != nil {
				if !errors.Is(err, ErrRetriesExhausted) {
					t.Errorf("error %v, want retries exhausted", err)
				}
				texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
			}
			failed := 0
			for _, r := range results {
				if tc.fatal && r.Outcome != ImportPending {
					t.Errorf("item %+v after a failed call, want pending", r)
				}
				if r.Err != nil {
					failed++
					texts = append(texts, r.Err.Error(), fmt.Sprintf("%#v", r.Err))
				}
			}
			if !tc.fatal && failed < 2 {
				t.Errorf("%d failed items: %+v", failed, results)
			}
			texts = append(texts, logs.String(), fmt.Sprintf("%v %#v %+v", items[0].Account, items[1].Account, items[1].Account))
			for _, text := range texts {
				assertNoHash(t, "output", text, items)
			}
			if !strings.Contains(strings.Join(texts, "\n"), "[REDACTED]") && !tc.fatal {
				t.Errorf("no redaction marker: the test's echo did not reach the errors: %v", texts)
			}
		})
	}
}

func TestImportCustomersChecksAccountsBeforeSending(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	both := importItems(1)
	both[0].Account.Legacy = &LegacyAuth{Algorithm: "hybris-sha512-uid-salt", Hash: "x"}
	noAlgorithm := importItems(1)
	noAlgorithm[0].Account = ImportAccount{Email: "a@example.com", Legacy: &LegacyAuth{Hash: "x"}}
	noID := importItems(1)
	noID[0].ID = ""
	for name, items := range map[string][]ImportItem{"both hashes": both, "legacy hash without algorithm": noAlgorithm, "no id": noID} {
		if _, err := c.ImportCustomers(context.Background(), items); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(p.apiRequests()); n != 0 {
		t.Errorf("%d requests sent for invalid items", n)
	}
}

func TestRetentionAndLegacyImport(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, sandbox.Options{})
	c := newTestClient(t, testConfig(p))
	ctx := context.Background()
	if _, ok, err := c.GetRetention(ctx); err != nil || ok {
		t.Fatalf("no configuration yet: ok %v, %v", ok, err)
	}
	items := importItems(1)
	items[0].Account = ImportAccount{Email: items[0].Account.Email, Legacy: &LegacyAuth{
		Algorithm: "hybris-sha512-uid-salt", Hash: "bGVnYWN5", Context: map[string]string{"originalUid": "U1"}}}
	results, err := c.ImportCustomers(ctx, items)
	if err != nil || results[0].Outcome != ImportFailed || results[0].Err.Status != http.StatusBadRequest {
		t.Fatalf("legacy hash without retention: %+v %v", results, err)
	}

	end := time.Now().UTC().AddDate(0, 2, 0).Truncate(24 * time.Hour)
	off := false
	set, err := c.SetRetention(ctx, RetentionSettings{EndDate: end, EmailNotifications: &off})
	if err != nil {
		t.Fatal(err)
	}
	if !set.EndDate.Equal(end) || set.EmailNotifications || !set.ReminderDate.Equal(end.AddDate(0, 0, -7)) || !set.Active(time.Now()) {
		t.Fatalf("saved %+v", set)
	}
	got, ok, err := c.GetRetention(ctx)
	if err != nil || !ok || got != set {
		t.Fatalf("GetRetention = %+v %v %v, want %+v", got, ok, err, set)
	}
	if got.Active(end) || !got.Active(end.AddDate(0, 0, -1)) {
		t.Error("the window is open until the day before its end date")
	}
	results, err = c.ImportCustomers(ctx, items)
	if err != nil || results[0].Outcome != ImportCreated {
		t.Fatalf("legacy hash with retention: %+v %v", results, err)
	}
	if acc, _ := p.srv.Account(testTenant, items[0].ID); acc.LegacyHash != "bGVnYWN5" || acc.LegacyContext["originalUid"] != "U1" {
		t.Errorf("account %+v", acc)
	}
	// The platform keeps the configuration while a legacy hash waits for its customer's login.
	if err := c.DeleteRetention(ctx); err == nil || !IsFinal(err) {
		t.Fatalf("delete during the migration: %v", err)
	}
	if _, err := c.SetRetention(ctx, RetentionSettings{EndDate: time.Now().UTC().AddDate(0, 0, -1)}); err == nil {
		t.Error("an end date in the past was accepted")
	}
}
