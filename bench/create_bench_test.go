package bench

import (
	"context"
	"flag"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
	syncer "custsync/sync"
)

var createRows = flag.Int("bench.create-rows", 20_000, "rows of BenchmarkFirstImport")

// BenchmarkFirstImport is a first import at --tps 0 in-process, against the sandbox's handler on loopback, so
// that the write path can be profiled (go test ./bench -run '^$' -bench FirstImport -cpuprofile cpu.out, then
// pprof -focus 'custsync/(sync|remote|state)' to leave the sandbox's share out). Each iteration imports
// into a new tenant and a new state file.
func BenchmarkFirstImport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	csv := filepath.Join(dir, "customers.csv")
	if err := (Dataset{Rows: *createRows}).Write(csv); err != nil {
		b.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Options{DataFile: filepath.Join(dir, "sandbox.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		tenant := "first" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		st, err := state.Open(ctx, filepath.Join(dir, tenant+".db"), state.Binding{APIURL: hs.URL, Tenant: tenant})
		if err != nil {
			b.Fatal(err)
		}
		rc, err := remote.New(remote.Config{BaseURL: hs.URL, Tenant: tenant, ClientID: SandboxClientID, ClientSecret: SandboxClientSecret})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := syncer.Import(ctx, st, rc, syncer.Options{Files: []string{csv}, Writers: 8})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Created != *createRows {
			b.Fatalf("created %d of %d", rep.Created, *createRows)
		}
		st.Close()
	}
	b.ReportMetric(float64(*createRows), "rows/op")
}
