package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
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
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}}
	resp, err := http.Post(hs.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		b.Fatal(err)
	}
	return hs.URL, tok["access_token"].(string)
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
