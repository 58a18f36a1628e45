package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchServer starts a sandbox without spec validation (its cost would dominate) and returns the
// base URL and a token.
func benchServer(b *testing.B, opts Options) (string, string) {
	b.Helper()
	srv, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL, benchToken(b, hs.URL)
}

func benchDo(b *testing.B, method, u, token string, body []byte, want int) {
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d", method, u, resp.StatusCode)
	}
}

func benchmarkUpsert(b *testing.B, opts Options) {
	base, token := benchServer(b, opts)
	body := []byte(`{"firstName":"Bench","lastName":"Mark","contactPhone":"123","company":"ACME"}`)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		benchDo(b, "PUT", fmt.Sprintf("%s/customer/bench/customers/B%07d", base, i), token, body, 201)
	}
}

// BenchmarkUpsertCustomerMemory measures a PUT-create round trip with the in-memory store.
func BenchmarkUpsertCustomerMemory(b *testing.B) { benchmarkUpsert(b, Options{}) }

// BenchmarkUpsertCustomerSQLite measures the same with every write committed to SQLite first.
func BenchmarkUpsertCustomerSQLite(b *testing.B) {
	benchmarkUpsert(b, Options{DataFile: filepath.Join(b.TempDir(), "bench.db")})
}

// BenchmarkListCustomers pages through 2,000 customers 60 at a time with a query.
func BenchmarkListCustomers(b *testing.B) {
	base, token := benchServer(b, Options{})
	for i := 0; i < 2000; i++ {
		benchDo(b, "PUT", fmt.Sprintf("%s/customer/bench/customers/L%05d", base, i), token,
			[]byte(fmt.Sprintf(`{"firstName":"N%d","company":"C%d"}`, i, i%10)), 201)
	}
	b.ResetTimer()
	for b.Loop() {
		benchDo(b, "GET", base+"/customer/bench/customers?q=company:C3&sort=firstName:desc&pageNumber=2&pageSize=60", token, nil, 200)
	}
}

var benchTenantSize = flag.Int("sandbox.customers", 3_000_000, "customers in the tenant BenchmarkPageLargeTenant pages through")

// benchCustomer is customer i of the large benchmark tenant, shaped like what custsync's import stores.
func benchCustomer(i int) (string, map[string]any) {
	id := fmt.Sprintf("C%08d", i+1)
	return id, map[string]any{
		"id": id, "customerNumber": id, "title": "MR", "firstName": []string{"Stefan", "Katrin", "Markus", "Sabine"}[i%4],
		"lastName": []string{"Huber", "Bauer", "Lechner", "Wagner", "Gruber"}[(i/7)%5], "contactEmail": fmt.Sprintf("customer%08d@bench.example", i+1),
		"contactPhone": fmt.Sprintf("+49 89 %d", 1000000+i), "company": fmt.Sprintf("Firma %d", i%1000), "preferredLanguage": "de_DE",
		"preferredCurrency": "EUR", "preferredSite": "main", "active": true, "onHold": false, "type": "CUSTOMER",
		"b2b": map[string]any{"companyRegistrationId": fmt.Sprintf("DE%d", 100000+i)}, "metadata": map[string]any{"version": 1.0},
		"metadataCreatedAt": "2026-11-30T10:00:00.000Z",
	}
}

// seedCustomers writes n customers straight into the store, many rows per INSERT and many INSERTs per
// transaction: creating millions over HTTP would take the better part of an hour.
func seedCustomers(b *testing.B, st *store, tenant string, n int) {
	const rowsPerInsert, rowsPerTx = 200, 100_000
	insert := `INSERT INTO docs (tenant, kind, id, seq, json, ref) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", rowsPerInsert), ", ")
	args := make([]any, 0, 6*rowsPerInsert)
	for i := 0; i < n; {
		st.write()
		stmt := st.stmt(insert)
		for end := min(n, i+rowsPerTx); i < end; {
			args = args[:0]
			for ; len(args) < cap(args) && i < n; i++ {
				id, doc := benchCustomer(i)
				raw, err := json.Marshal(doc)
				if err != nil {
					b.Fatal(err)
				}
				st.seq++
				args = append(args, tenant, kindCustomer, id, st.seq, string(raw), refOf(kindCustomer, doc))
			}
			var err error
			if len(args) < cap(args) { // the last, shorter batch
				_, err = st.conn.ExecContext(context.Background(), `INSERT INTO docs (tenant, kind, id, seq, json, ref) VALUES `+
					strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(args)/6), ", "), args...)
			} else {
				_, err = stmt.Exec(args...)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := st.commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPageLargeTenant seeds a tenant of -sandbox.customers customers (3M by default) into a data
// file and fetches random pages over HTTP the ways clients list customers: in the default order (the
// export's paging, 200 per page, and the API's default 60), and by q on id, customerNumber and e-mail.
// The seeding time and the data file's size are reported once; ns/op is one page round trip.
//
//	go test ./sandbox -run '^$' -bench PageLargeTenant -benchtime 2000x
func BenchmarkPageLargeTenant(b *testing.B) {
	n := *benchTenantSize
	file := filepath.Join(b.TempDir(), "large.db")
	srv, err := New(Options{DataFile: file})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	srv.mu.Lock()
	seedCustomers(b, srv.store, "bench", n)
	srv.mu.Unlock()
	seeding := time.Since(start)
	info, _ := os.Stat(file)
	b.Logf("seeded %d customers in %v (%.0f/s), data file %d MB", n, seeding.Round(time.Millisecond), float64(n)/seeding.Seconds(), info.Size()>>20)
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	token := benchToken(b, hs.URL)
	start = time.Now()
	benchList(b, hs.URL+"/customer/bench/customers?pageNumber=2", token)
	b.Logf("first page after start (reads the position index): %v", time.Since(start).Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(7, 13))
	for _, tc := range []struct {
		name string
		url  func() string
		want int // customers per page
	}{
		{"default-order-200", func() string {
			return fmt.Sprintf("?pageNumber=%d&pageSize=200", 1+rng.IntN(n/200))
		}, 200},
		{"default-order-60", func() string { return fmt.Sprintf("?pageNumber=%d", 1+rng.IntN(n/60)) }, 60},
		{"q-id", func() string { id, _ := benchCustomer(rng.IntN(n)); return "?q=id:" + id }, 1},
		{"q-customerNumber", func() string { id, _ := benchCustomer(rng.IntN(n)); return "?q=customerNumber:" + id }, 1},
		{"q-contactEmail", func() string {
			_, doc := benchCustomer(rng.IntN(n))
			return "?q=" + url.QueryEscape("contactEmail:"+doc["contactEmail"].(string))
		}, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cpu := processCPU()
			for b.Loop() {
				got := benchList(b, hs.URL+"/customer/bench/customers"+tc.url(), token)
				if got != tc.want {
					b.Fatalf("%d customers, want %d", got, tc.want)
				}
			}
			// On a shared machine wall time per page swings with the load; the CPU the process (client and
			// sandbox) spent per page does not.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

func benchToken(b *testing.B, base string) string {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}}
	resp, err := http.Post(base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		b.Fatal(err)
	}
	return tok["access_token"].(string)
}

// benchList fetches a customer list and returns how many customers it held.
func benchList(b *testing.B, u, token string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var list []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return len(list)
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchPatchTenantSize = flag.Int("sandbox.patch-customers", 1_000_000, "customers in the tenant BenchmarkPatchLargeTenant updates")

// BenchmarkPatchLargeTenant seeds a tenant of -sandbox.patch-customers customers (1M by default) into a data
// file and PATCHes random ones over HTTP, one field at a time as an import's 1% delta does: the sandbox's
// side of an update (read the record, write it back, commit). cpu-ns/op is the CPU of client and sandbox
// together per PATCH, which the machine's load moves less than the wall time.
//
//	go test ./sandbox -run '^$' -bench PatchLargeTenant -benchtime 10000x
func BenchmarkPatchLargeTenant(b *testing.B) {
	n := *benchPatchTenantSize
	srv, err := New(Options{DataFile: filepath.Join(b.TempDir(), "patch.db")})
	if err != nil {
		b.Fatal(err)
	}
	srv.mu.Lock()
	seedCustomers(b, srv.store, "bench", n)
	srv.mu.Unlock()
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	token := benchToken(b, hs.URL)
	rng := rand.New(rand.NewPCG(7, 13))
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		id, _ := benchCustomer(rng.IntN(n))
		benchDo(b, "PATCH", hs.URL+"/customer/bench/customers/"+id, token, []byte(fmt.Sprintf(`{"lastName":"Revision %d"}`, i)), 200)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
