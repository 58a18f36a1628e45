package state

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const benchRows = 1_000_000

// journalRows is the plan size of BenchmarkJournal1M; a smaller one keeps callgrind runs short.
var journalRows = flag.Int("state.journal-rows", benchRows, "ops journaled per iteration of BenchmarkJournal1M")

// benchPlan builds n create ops once per benchmark; payload, if positive, is the size of each op's JSON payload,
// record the size of its engine record (the streamed customers of an import carry one of about 300 bytes and no
// payload).
func benchPlan(n, payload, record int) []PlannedOp {
	filler := strings.Repeat("x", max(payload-40, 0))
	ops := make([]PlannedOp, n)
	for i := range ops {
		key := fmt.Sprintf("%010d", i)
		ops[i] = PlannedOp{Kind: "customer", ERPKey: key, RemoteID: "C-" + key, Action: ActionCreate,
			NewHash: uint64(i) * 0x9E3779B97F4A7C15}
		if payload > 0 {
			ops[i].Payload = json.RawMessage(`{"customerNumber":"` + key + `","note":"` + filler + `"}`)
		}
		if record > 0 {
			rec := make([]byte, record)
			for k := range rec {
				rec[k] = byte(i + k*7) // not one repeated byte: the record's bytes vary like a real one's
			}
			ops[i].Record = rec
		}
	}
	return ops
}

// BenchmarkJournal1M journals a plan of one million creates into a fresh state file.
func BenchmarkJournal1M(b *testing.B) {
	for _, size := range []struct {
		name            string
		payload, record int
	}{{"payload=0B", 0, 0}, {"payload=200B", 200, 0}, {"record=300B", 0, 300}} {
		b.Run(size.name, func(b *testing.B) {
			ops := benchPlan(*journalRows, size.payload, size.record)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"), testBinding)
				if err != nil {
					b.Fatal(err)
				}
				runID, err := s.BeginRun(ctx, "import", nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpuStart := processCPUTime()
				j, err := s.BeginJournal(ctx, runID)
				if err != nil {
					b.Fatal(err)
				}
				for _, op := range ops {
					if _, err := j.Add(op); err != nil {
						b.Fatal(err)
					}
				}
				if err := j.Close(); err != nil {
					b.Fatal(err)
				}
				cpu += processCPUTime() - cpuStart
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*journalRows), "ns/row")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// fillEntities writes n customer entities straight into the table, the fastest way to a big checkpoint.
func fillEntities(b *testing.B, s *Store, n int) {
	b.Helper()
	fillKind(b, s, "customer", n, 0, func(i int) string { return fmt.Sprintf("%010d", i) })
}

// fillKind writes n entities of kind straight into the table, the i-th under keyOf(i), each with a snapshot
// of snapshot bytes (none if 0), as a synced row of that size holds.
func fillKind(b *testing.B, s *Store, kind string, n, snapshot int, keyOf func(i int) string) {
	b.Helper()
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	const perInsert = 100
	stmt, err := tx.Prepare(`INSERT INTO entities (kind, erp_key, remote_id, row_hash, updated_at, snapshot) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, '2026-01-01T00:00:00.000Z', ?), `, perInsert), ", "))
	if err != nil {
		b.Fatal(err)
	}
	var snap any // NULL: no snapshot
	if snapshot > 0 {
		snap = `{"note":"` + strings.Repeat("x", max(snapshot-11, 0)) + `"}`
	}
	args := make([]any, 0, perInsert*5)
	for i := 0; i < n; i++ {
		key := keyOf(i)
		args = append(args, kind, key, "R-"+key, int64(uint64(i)*0x9E3779B97F4A7C15), snap)
		if len(args) == cap(args) {
			if _, err := stmt.Exec(args...); err != nil {
				b.Fatal(err)
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		b.Fatalf("fillKind writes multiples of %d rows, not %d", perInsert, n)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoadEntities1M loads a checkpoint of one million entities into memory.
func BenchmarkLoadEntities1M(b *testing.B) {
	s, _ := openTestStore(b)
	fillEntities(b, s, benchRows)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	defer func() { b.ReportMetric((processCPUTime()-cpuStart).Seconds()/float64(b.N), "cpu-s/op") }()
	for i := 0; i < b.N; i++ {
		m, err := s.LoadEntities(ctx, "customer")
		if err != nil {
			b.Fatal(err)
		}
		if len(m) != benchRows {
			b.Fatalf("loaded %d", len(m))
		}
	}
}

// BenchmarkScanEntities1M streams a checkpoint of one million entities in key order.
func BenchmarkScanEntities1M(b *testing.B) {
	s, _ := openTestStore(b)
	fillEntities(b, s, benchRows)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	defer func() { b.ReportMetric((processCPUTime()-cpuStart).Seconds()/float64(b.N), "cpu-s/op") }()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := s.ScanEntities(ctx, "customer", func(Entity) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != benchRows {
			b.Fatalf("scanned %d", n)
		}
	}
}

// BenchmarkCommitBatch100 commits batches of 100 create outcomes (op, entity, snapshot, mapping), each batch one
// synchronous=FULL transaction.
func BenchmarkCommitBatch100(b *testing.B) {
	const batch = 100
	s, _ := openTestStore(b)
	ctx := context.Background()
	ops := benchPlan(batch*max(b.N, 1), 200, 0)
	runID, seqs := journalPlan(b, s, ops)
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	defer func() { b.ReportMetric((processCPUTime()-cpuStart).Seconds()*1e3/float64(b.N), "cpu-ms/op") }()
	for i := 0; i < b.N; i++ {
		outs := make([]Outcome, batch)
		for k := range outs {
			n := i*batch + k
			outs[k] = doneOutcome(runID, seqs[n], ops[n])
		}
		if err := s.Commit(ctx, outs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPruneJournal1M prunes the journal of a completed run of one million streamed creates (records of
// 300 bytes), as the nightly import does once that run falls out of the retention; it reports the file's
// size with the journal, after the prune and after a vacuum.
func BenchmarkPruneJournal1M(b *testing.B) {
	ops := benchPlan(*journalRows, 0, 300)
	ctx := context.Background()
	var full, pruned, vacuumed int64
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openAt(b, filepath.Join(b.TempDir(), "state.db"))
		for _, n := range []int{len(ops), 1} { // the big run, then a newer one the retention keeps
			runID, _ := journalPlan(b, s, ops[:n])
			if err := s.FinishRun(ctx, runID, RunCompleted, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.TruncateWAL(ctx); err != nil {
			b.Fatal(err)
		}
		full, _ = s.FileSize()
		b.StartTimer()
		cpuStart := processCPUTime()
		res, err := s.PruneJournals(ctx, JournalRetention{KeepRuns: 1}, false)
		if err != nil || res.Ops != int64(len(ops)) {
			b.Fatalf("prune: %+v, %v", res, err)
		}
		if err := s.TruncateWAL(ctx); err != nil {
			b.Fatal(err)
		}
		cpu += processCPUTime() - cpuStart
		b.StopTimer()
		pruned, _ = s.FileSize()
		if err := s.Vacuum(ctx); err != nil {
			b.Fatal(err)
		}
		vacuumed, _ = s.FileSize()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(full)/1e6, "MB-journaled")
	b.ReportMetric(float64(pruned)/1e6, "MB-pruned")
	b.ReportMetric(float64(vacuumed)/1e6, "MB-vacuumed")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

var indexEntities = flag.Int("state.index-entities", 1_000_000, "entities of BenchmarkEntityIndex (10000000 for the long benchmark's size)")

// BenchmarkEntityIndex builds the in-memory index of -state.index-entities customers with the benchmark
// data's 10-digit keys (their remote id the key) as LoadEntityIndex does, and reports its bytes per entity
// and the time of a lookup of a random key.
func BenchmarkEntityIndex(b *testing.B) {
	n := *indexEntities
	rng := rand.New(rand.NewPCG(1, 2))
	var ib indexBuilder
	ib.expect(n)
	for i := range n {
		key := fmt.Sprintf("%010d", i+1)
		ib.add(key, key, rng.Uint64(), rng.Uint64())
	}
	x, err := ib.finish()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("%010d", rng.IntN(n)+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := x.Lookup(keys[i&(len(keys)-1)]); !ok {
			b.Fatal("a key is missing")
		}
		i++
	}
	b.ReportMetric(float64(x.Bytes())/float64(n), "B/entity")
}

// BenchmarkCommitCustomerDeletes commits the deletes of -state.deleted-customers customers, in the batches
// of 200 sync's committer writes, on a checkpoint of 200,000 customers with an address and a contact
// assignment each (keys as mapping.JoinKey gives them: an address "customer/address", an assignment
// "company/customer"). Each delete names its dependents as sync does: the addresses by the prefix of their key,
// the assignments by its suffix, the selection that has no range of the primary key.
func BenchmarkCommitCustomerDeletes(b *testing.B) {
	const customers, batch = 200_000, 200
	deleted := *deletedCustomers
	ctx := context.Background()
	customerKey := func(i int) string { return fmt.Sprintf("%010d", i) }
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := openTestStore(b)
		fillKind(b, s, "customers", customers, 300, customerKey)
		fillKind(b, s, "addresses", customers, 200, func(i int) string { return customerKey(i) + "/A" })
		fillKind(b, s, "contacts", customers, 60, func(i int) string { return fmt.Sprintf("C%05d/%s", i%10_000, customerKey(i)) })
		var outs []Outcome
		for k := range deleted {
			key := customerKey(k * (customers / deleted))
			outs = append(outs, Outcome{Kind: "customers", ERPKey: key, Action: ActionDelete, Reason: ReasonERPDeleted,
				Dependents: []Dependents{{Kind: "addresses", KeyPrefix: key + "/"}, {Kind: "contacts", KeySuffix: "/" + key}}})
		}
		b.StartTimer()
		cpuStart := processCPUTime()
		for chunk := range slices.Chunk(outs, batch) {
			if err := s.Commit(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		cpu += processCPUTime() - cpuStart
		b.StopTimer()
		for kind, want := range map[string]int{"customers": customers - deleted, "addresses": customers - deleted, "contacts": customers - deleted} {
			var n int
			if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM entities WHERE kind = ?`, kind).Scan(&n); err != nil || n != want {
				b.Fatalf("%s left: %d (%v), want %d", kind, n, err, want)
			}
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

var deletedCustomers = flag.Int("state.deleted-customers", 2_000, "customers deleted by BenchmarkCommitCustomerDeletes")
