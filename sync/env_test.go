package sync

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

const testTenant = "synctest"

// env is a sandbox served over real HTTP, a real state file and a client, as an import sees them.
type env struct {
	t     *testing.T
	srv   *sandbox.Server
	http  *httptest.Server
	st    *state.Store
	rc    *remote.Client
	dir   string
	state string
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith serves the sandbox through wrap (nil: directly), e.g. to interleave another writer's requests.
func newEnvWith(t *testing.T, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return newEnvFor(t, sandbox.Options{}, wrap)
}

// newEnvFor is newEnvWith for a sandbox with opts.
func newEnvFor(t *testing.T, opts sandbox.Options, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	srv, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	e := &env{t: t, srv: srv, http: hs, dir: t.TempDir()}
	e.state = filepath.Join(e.dir, "state.db")
	e.open()
	return e
}

// open (re)opens the state file and a fresh client, as a new process would.
func (e *env) open() {
	e.t.Helper()
	if e.st != nil {
		e.st.Close()
	}
	st, err := state.Open(context.Background(), e.state, state.Binding{APIURL: e.http.URL, Tenant: testTenant})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	e.st = st
	rc, err := remote.New(remote.Config{BaseURL: e.http.URL, MappingsURL: e.http.URL, Tenant: testTenant, ClientID: sandbox.DemoClientID,
		ClientSecret: sandbox.DemoClientSecret, Writers: 8, Readers: 8, BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		MaxRetryAfter: 50 * time.Millisecond, MaxRetries: 12})
	if err != nil {
		e.t.Fatal(err)
	}
	e.rc = rc
}

func (e *env) run(ctx context.Context, opts Options, files ...string) (*Report, error) {
	e.t.Helper()
	opts.Files = files
	return Import(ctx, e.st, e.rc, opts)
}

// writes counts the write requests the sandbox received since the last reset (token calls and searches, which
// are POSTs that read, excluded).
func (e *env) writes() map[string]int {
	out := map[string]int{}
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodGet || strings.HasPrefix(r.Path, "/oauth/") || strings.HasSuffix(r.Path, "/search") {
			continue
		}
		out[r.Method]++
	}
	return out
}

func (e *env) file(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// customersCSV renders n customers; change maps a row index to an altered first name.
func customersCSV(n int, change map[int]string) string {
	var b strings.Builder
	b.WriteString("sdCustomerNumber,firstName,lastName,contactEmail,preferredCurrency,active\n")
	for i := 0; i < n; i++ {
		first := fmt.Sprintf("First%d", i)
		if c, ok := change[i]; ok {
			first = c
		}
		fmt.Fprintf(&b, "%010d,%s,Last%d,c%d@example.com,EUR,true\n", 100000+i, first, i, i)
	}
	return b.String()
}

// platformCustomers lists every customer on the sandbox by id.
func (e *env) platformCustomers() map[string]remote.Doc {
	e.t.Helper()
	out := map[string]remote.Doc{}
	for doc, err := range e.rc.Customers(context.Background(), remote.ListOptions{PageSize: remote.CustomersPageSize}) {
		if err != nil {
			e.t.Fatal(err)
		}
		id, _ := doc["id"].(string)
		if _, dup := out[id]; dup {
			e.t.Fatalf("customer %s listed twice", id)
		}
		out[id] = doc
	}
	return out
}
