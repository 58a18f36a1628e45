package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// loginHash is the password hash of customer i: unusual enough that a leak is found by a substring search.
func loginHash(i int) string { return fmt.Sprintf("1:10000:s4lt%04d:h4sh-leakcheck-%04d", i, i) }

// loginsCSV renders n customers with native password hashes; every tenth is inactive, which the bulk import
// cannot set (it takes no active), so those need their flag afterwards.
func loginsCSV(n int) string {
	var b strings.Builder
	b.WriteString("sdCustomerNumber,firstName,contactEmail,active,passwordHash\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%07d,First%d,login%d@example.com,%t,%s\n", 300000+i, i, i, i%10 != 0, loginHash(i))
	}
	return b.String()
}

// importRequests counts the bulk import requests the sandbox received.
func (e *env) importRequests() int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/customers/import") {
			n++
		}
	}
	return n
}

// assertNoLoginHash fails when any file under the paths (files or directories), or text, holds one of the first
// n hashes.
func assertNoLoginHash(t *testing.T, n int, texts map[string]string, paths ...string) {
	t.Helper()
	for _, dir := range paths {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			texts[path] = string(data)
			return nil
		})
	}
	for name, text := range texts {
		for i := 0; i < n; i++ {
			if strings.Contains(text, fmt.Sprintf("h4sh-leakcheck-%04d", i)) {
				t.Fatalf("%s holds the password hash of customer %d", name, i)
			}
		}
	}
}

func TestImportCreatesCustomersWithLoginsInBulk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 450
	path := e.file("customers.csv", loginsCSV(n))
	results := filepath.Join(e.dir, "results")
	rep, err := e.run(context.Background(), Options{ResultsDir: results}, path)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, rep.Summary())
	}
	if rep.Created != n || rep.LoginsImported != n || rep.Failed != 0 {
		t.Fatalf("report: %s (logins %d)", rep.Summary(), rep.LoginsImported)
	}
	if got := e.importRequests(); got != 3 {
		t.Errorf("%d bulk import requests for %d customers, want 3", got, n)
	}
	// One PATCH per inactive customer (the tenant makes new customers active), no per-customer PUT.
	if w := e.writes(); w["PUT"] != 0 || w["PATCH"] != n/10 {
		t.Errorf("writes %v, want no PUT and %d PATCH", w, n/10)
	}
	platform := e.platformCustomers()
	for _, i := range []int{0, 1, 449} {
		id := fmt.Sprintf("%07d", 300000+i)
		acc, ok := e.srv.Account(testTenant, id)
		if !ok || acc.PasswordHash != loginHash(i) || acc.Email != fmt.Sprintf("login%d@example.com", i) {
			t.Errorf("account of %s: %+v %v", id, acc, ok)
		}
		if c := platform[id]; c["firstName"] != fmt.Sprintf("First%d", i) || c["active"] != (i%10 != 0) {
			t.Errorf("customer %s on the platform: %v", id, c)
		}
		if m, ok, err := e.st.GetMapping(context.Background(), id); err != nil || !ok || m.SDCustomerNumber != id {
			t.Errorf("SD mapping of %s: %+v %v %v", id, m, ok, err)
		}
	}
	success, err := os.ReadFile(filepath.Join(results, "customers.success.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(success), mapping.MaskedSecret) {
		t.Errorf("the success file does not mask the hashes:\n%.300s", success)
	}
	report, _ := json.Marshal(rep)
	e.st.Close()
	stateFiles, _ := filepath.Glob(e.state + "*") // the state file with its -wal and -shm
	if len(stateFiles) == 0 {
		t.Fatal("no state file")
	}
	assertNoLoginHash(t, n, map[string]string{"the report": string(report), "the summary": rep.Summary()}, append(stateFiles, results)...)

	// A re-run with every password changed sends nothing: a login belongs to creating the customer.
	e.open()
	e.srv.ResetRequests()
	e.file("customers.csv", strings.ReplaceAll(loginsCSV(n), "s4lt", "n3w"))
	rep, err = e.run(context.Background(), Options{}, path)
	if err != nil || rep.Unchanged != n {
		t.Fatalf("re-run: %v %s", err, rep.Summary())
	}
	if w := e.writes(); len(w) != 0 {
		t.Errorf("the re-run sent %v", w)
	}
}

// dropImportAnswers serves the sandbox, but lets the platform apply the first n bulk imports and then closes
// the connection instead of answering.
func dropImportAnswers(n int32) func(http.Handler) http.Handler {
	var dropped atomic.Int32
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/customers/import") && dropped.Add(1) <= n {
				h.ServeHTTP(httptest.NewRecorder(), r)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close()
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// The answer to a bulk import is lost after the platform created the customers: the repeat adopts them.
func TestImportLoginsReplayAfterALostAnswerAdopts(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, dropImportAnswers(1))
	path := e.file("customers.csv", loginsCSV(30))
	rep, err := e.run(context.Background(), Options{}, path)
	if err != nil || rep.Created != 30 || rep.LoginsImported != 30 || rep.Failed != 0 {
		t.Fatalf("import: %v %s", err, rep.Summary())
	}
	if got := e.importRequests(); got != 2 {
		t.Errorf("%d bulk import requests, want 2 (the lost one and its repeat)", got)
	}
	if got := len(e.platformCustomers()); got != 30 {
		t.Errorf("%d customers on the platform, want 30", got)
	}
	if acc, _ := e.srv.Account(testTenant, "0300029"); acc.PasswordHash != loginHash(29) {
		t.Errorf("account %+v", acc)
	}
}

// A run whose every bulk import answer is lost stops (retries exhausted) with the customers created but not
// recorded; the next run imports them again, adopts them and records them, with nothing duplicated.
func TestImportLoginsResumeAfterAStoppedRunAdopts(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, dropImportAnswers(13)) // the client's 12 retries and the first attempt
	path := e.file("customers.csv", loginsCSV(20))
	rep, err := e.run(context.Background(), Options{}, path)
	if !errors.Is(err, remote.ErrRetriesExhausted) || rep.Created != 0 || rep.Pending != 20 {
		t.Fatalf("first run: %v %s", err, rep.Summary())
	}
	if got := len(e.platformCustomers()); got != 20 {
		t.Fatalf("the platform holds %d customers after the lost answers, want 20", got)
	}
	e.open()
	rep, err = e.run(context.Background(), Options{}, path)
	if err != nil || rep.Created != 20 || rep.LoginsImported != 20 || rep.Failed != 0 || rep.ResumedPending != 20 {
		t.Fatalf("second run: %v %s", err, rep.Summary())
	}
	if got := len(e.platformCustomers()); got != 20 {
		t.Errorf("%d customers on the platform, want 20", got)
	}
	// The adopted customers got their rows' flags as any create.
	if c := e.platformCustomers()["0300010"]; c["active"] != false {
		t.Errorf("customer 0300010: %v", c)
	}
}

func TestImportLoginsItemFailuresAndExistingCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A customer synced before: its row's login is not sent. Another taken e-mail address fails one item.
	if _, err := e.run(context.Background(), Options{}, e.file("first.csv", "sdCustomerNumber,firstName,contactEmail\n0300000,Old,login0@example.com\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rc.UpsertCustomer(context.Background(), "SOMEONE", remote.Doc{"contactEmail": "login2@example.com"}); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(e.dir, "results")
	rep, err := e.run(context.Background(), Options{ResultsDir: results}, e.file("customers.csv", loginsCSV(4)))
	if !errors.Is(err, ErrPartial) || rep.Created != 2 || rep.Updated != 1 || rep.Failed != 1 || rep.LoginsImported != 2 {
		t.Fatalf("import: %v %s", err, rep.Summary())
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "1 rows carry a login for a customer custsync synced before") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	if _, ok := e.srv.Account(testTenant, "0300000"); ok {
		t.Error("the existing customer got an imported account")
	}
	errFile, err := os.ReadFile(filepath.Join(results, "customers.errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(errFile), "0300002") || !strings.Contains(string(errFile), "409") || !strings.Contains(string(errFile), mapping.MaskedSecret) {
		t.Errorf("error file:\n%s", errFile)
	}
	report, _ := json.Marshal(rep)
	assertNoLoginHash(t, 4, map[string]string{"the report": string(report)}, results)
}

const legacyCSV = "sdCustomerNumber,contactEmail,legacyAuth.algorithm,legacyAuth.hash,legacyAuth.context.originalUid\n" +
	"0400001,hybris1@example.com,hybris-sha512-uid-salt,bGVnYWN5LWxlYWtjaGVjay0x,uid-0400001\n" +
	"0400002,hybris2@example.com,,,\n"

func TestImportLegacyLoginsNeedAnOpenRetentionWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file("customers.csv", legacyCSV)
	rep, err := e.run(context.Background(), Options{}, path)
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "no password migration retention configuration") ||
		!strings.Contains(err.Error(), "customers.csv:2") || strings.Contains(err.Error(), "bGVnYWN5") {
		t.Fatalf("import without a window: %v", err)
	}
	if w := e.writes(); len(w) != 0 || rep.Created != 0 {
		t.Fatalf("sent %v before refusing", w)
	}
	if n := len(e.srv.Requests()); n != 2 { // the token and the one GET of the configuration
		t.Errorf("%d requests, want the token and one GET", n)
	}

	if _, err := e.rc.SetRetention(context.Background(), remote.RetentionSettings{EndDate: time.Now().UTC().AddDate(0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	rep, err = e.run(context.Background(), Options{}, path)
	if err != nil || rep.Created != 2 || rep.LoginsImported != 1 {
		t.Fatalf("import with a window: %v %s", err, rep.Summary())
	}
	acc, ok := e.srv.Account(testTenant, "0400001")
	if !ok || acc.LegacyAlgorithm != "hybris-sha512-uid-salt" || acc.LegacyHash != "bGVnYWN5LWxlYWtjaGVjay0x" || acc.LegacyContext["originalUid"] != "uid-0400001" {
		t.Errorf("legacy account %+v %v", acc, ok)
	}
	if _, ok := e.srv.Account(testTenant, "0400002"); ok {
		t.Error("the row without a login got an imported account")
	}
}

// TestDamagedLegacyFileSendsNothing: the retention window is read only once the input was read and judged, and
// only for rows that carry a legacy hash, so a file with legacy hashes that is not what its control total
// says stops with no request, and a file whose rows carry none needs no read of the window.
func TestDamagedLegacyFileSendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// Two rows where the control total says three: found only once the file was read to its end.
	short := e.file("customers.csv", legacyCSV)
	if _, err := e.run(ctx, Options{ExpectRows: []RowCount{{Rows: 3}}}, short); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "--expect-rows says 3") {
		t.Fatalf("import of a file short of its control total: %v", err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests for a damaged file, want none", n)
	}
	none := e.file("customers.csv", "sdCustomerNumber,contactEmail,legacyAuth.algorithm,legacyAuth.hash\n0400004,plain@example.com,,\n")
	if rep, err := e.run(ctx, Options{}, none); err != nil || rep.Created != 1 {
		t.Fatalf("import without a legacy hash: %v", err)
	}
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.Path, "retention") {
			t.Errorf("a file without legacy hashes read the retention window: %s %s", r.Method, r.Path)
		}
	}
}

// The journal keeps a create's login sealed: another run's key cannot open it, and the cells it keeps for the
// result files are masked.
func TestJournaledLoginsAreSealedAndCellsMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := OpenInput(InputOptions{Files: []string{e.file("customers.csv", loginsCSV(1))}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src := in.Tables[0]
	row, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	rec, errs := src.MapRow(0, &row)
	if len(errs) > 0 || rec.Account == nil {
		t.Fatalf("map: %v %v", errs, rec.Account)
	}
	cells := maskedCells(src, row.Cells)
	if !slices.Equal(cells, []string{"0300000", "First0", "login0@example.com", "false", mapping.MaskedSecret}) || row.Cells[4] != loginHash(0) {
		t.Fatalf("masked cells %q (row %q)", cells, row.Cells)
	}
	sealer, _ := newAccountSealer()
	o := &op{rec: rec, cells: cells, account: rec.Account, entity: mapping.Customers}
	o.Kind, o.ERPKey, o.Action = string(mapping.Customers), rec.Key, "create"
	record := o.appendRecord(nil, false, sealer)
	if strings.Contains(string(record), "h4sh-leakcheck") {
		t.Fatal("the journal record holds the hash")
	}
	j := state.Op{Seq: 1, PlannedOp: o.PlannedOp}
	j.Record = record
	back, _, err := decodeOp(j, in.Tables, sealer)
	if err != nil || back.account == nil || back.account.PasswordHash != loginHash(0) || back.account.Email != "login0@example.com" {
		t.Fatalf("decoded %v %v", back, err)
	}
	other, _ := newAccountSealer()
	if _, _, err := decodeOp(j, in.Tables, other); !errors.Is(err, errSealedAccount) {
		t.Errorf("another run's key: %v", err)
	}
}

// A customer the bulk import created for one row is not adopted, with --adopt, by another row of the run that
// gives the same e-mail address and meets 409 Duplicate account on its create.
func TestRowSharingAnEmailDoesNotAdoptACustomerTheBulkImportCreated(t *testing.T) {
	t.Parallel()
	imported := make(chan struct{})
	var once stdsync.Once
	e := newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/customers/3000001") {
				select { // the create without a login goes second, once the bulk import was answered
				case <-imported:
				case <-r.Context().Done():
				}
			}
			h.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/customers/import") {
				once.Do(func() { close(imported) })
			}
		})
	})
	path := e.file("customers.csv", "sdCustomerNumber,firstName,contactEmail,passwordHash\n"+
		"3000000,Ann,shared@example.com,"+loginHash(0)+"\n3000001,Bob,shared@example.com,\n")
	rep, err := e.run(context.Background(), Options{Adopt: true}, path)
	if !errors.Is(err, ErrPartial) || rep.Created != 1 || rep.Adopted != 0 || rep.Failed != 1 ||
		len(rep.Failures) != 1 || rep.Failures[0].Key != "3000001" || !strings.Contains(rep.Failures[0].Reason, "was created in this run for another row") {
		t.Fatalf("%v\n%s\n%+v", err, rep.Summary(), rep.Failures)
	}
	if got := e.platformCustomers()["3000000"]["firstName"]; got != "Ann" {
		t.Fatalf("customer 3000000 holds firstName %v, want its own row's Ann", got)
	}
}
