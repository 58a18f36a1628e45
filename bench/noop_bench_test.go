package bench

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"custsync/remote"
	"custsync/state"
	syncer "custsync/sync"
)

var noopRows = flag.Int("bench.noop-rows", 100_000, "rows of BenchmarkNoopImport (1000000 for the issue's target)")

// BenchmarkNoopImport is the engine part of the no-op re-run benchmark, in-process so that it can be profiled
// (go test ./bench -run '^$' -bench NoopImport -bench.noop-rows 1000000 -cpuprofile cpu.out): an unchanged
// file re-imported over a checkpoint that already holds every row. It sends no request; the client points
// at a port nothing listens on, so a request would fail the run.
func BenchmarkNoopImport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	csv, statePath := filepath.Join(dir, "customers.csv"), filepath.Join(dir, "state.db")
	const apiURL, tenant = "http://127.0.0.1:9", "noop"
	if err := (Dataset{Rows: *noopRows}).Write(csv); err != nil {
		b.Fatal(err)
	}
	if _, err := SeedState(ctx, csv, statePath, apiURL, tenant); err != nil {
		b.Fatal(err)
	}
	st, err := state.Open(ctx, statePath, state.Binding{APIURL: apiURL, Tenant: tenant})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rc, err := remote.New(remote.Config{BaseURL: apiURL, Tenant: tenant, ClientID: SandboxClientID, ClientSecret: SandboxClientSecret, MaxRetries: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := syncer.Import(ctx, st, rc, syncer.Options{Files: []string{csv}})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Unchanged != *noopRows || rep.Requests != 0 {
			b.Fatalf("not a no-op: %+v", rep.Counts)
		}
	}
	b.ReportMetric(float64(*noopRows), "rows/op")
}
