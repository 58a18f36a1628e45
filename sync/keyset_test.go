package sync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestFreshKeysBeyondMemory fills the set past its in-memory log, so most records are read back from the
// file (through the cache and past it), and checks every answer against a map: keys of every length, some
// spanning two blocks, duplicates keeping the first value, and absent keys.
func TestFreshKeysBeyondMemory(t *testing.T) {
	dir := t.TempDir()
	s := newFreshKeys(dir, nil)
	s.log.memLog = 3 * freshBlock
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]uint64{}
	var order []string
	for i := range 200_000 {
		key := fmt.Sprintf("%08d", i)
		if i%997 == 0 {
			key += strings.Repeat("x", rng.IntN(3*freshBlock/2)) // longer than a block now and then
		}
		v := uint64(i)<<32 | uint64(rng.Uint32())
		got, dup := s.Add(key, v)
		if dup || got != v {
			t.Fatalf("Add(%q) of a new key = %d, %v", key, got, dup)
		}
		want[key] = v
		order = append(order, key)
	}
	if s.log.file == nil {
		t.Fatalf("the log of %d bytes stayed in memory (limit %d)", s.log.size, s.log.memLog)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 {
		t.Fatalf("the key file should be unlinked or alone in %s: %v", dir, entries)
	}
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	// Random order defeats the block cache; the file is read.
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, key := range order {
		if v, ok := s.Get(key); !ok || v != want[key] {
			t.Fatalf("Get(%q) = %d, %v; want %d", key[:min(len(key), 20)], v, ok, want[key])
		}
		if v, dup := s.Add(key, 1); !dup || v != want[key] {
			t.Fatalf("Add(%q) again = %d, %v; want the first value %d", key[:min(len(key), 20)], v, dup, want[key])
		}
	}
	for i := range 10_000 {
		for _, key := range []string{fmt.Sprintf("%08d", 200_000+i), fmt.Sprintf("%07d", i), fmt.Sprintf("%08dy", i)} {
			if v, ok := s.Get(key); ok {
				t.Fatalf("Get(%q) of an absent key = %d, true", key, v)
			}
		}
	}
	if s.Len() != len(want) {
		t.Fatalf("Len after duplicates = %d, want %d", s.Len(), len(want))
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFreshKeysReportsFileErrors: once the file cannot be read, Err says so (the planner then applies nothing).
func TestFreshKeysReportsFileErrors(t *testing.T) {
	s := newFreshKeys(t.TempDir(), nil)
	s.log.memLog = freshBlock
	for i := range 50_000 {
		s.Add(fmt.Sprintf("key-%d", i), uint64(i))
	}
	if s.log.file == nil {
		t.Fatal("the log stayed in memory")
	}
	if err := s.log.file.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50_000 && s.Err() == nil; i += 1000 {
		s.Get(fmt.Sprintf("key-%d", i))
	}
	if s.Err() == nil {
		t.Fatal("a read from a closed key file left no error")
	}
	if !strings.Contains(s.Err().Error(), "temporary file") {
		t.Fatalf("error %q does not say where", s.Err())
	}
}

// TestImportPlansTheSameWithKeysInAFile plans a first import whose keys outgrow the in-memory log (20k
// customers, 20k companies and a location of each, a duplicate customer row at the end, a location of a
// company nobody has) on a tenant that holds the first 100 customers and companies, twice, with the keys in
// memory and in the file: the reports must be the same, row for row. The duplicate is found by Add, the
// locations' companies by Get.
func TestImportPlansTheSameWithKeysInAFile(t *testing.T) {
	var customers, companies, locations strings.Builder
	customers.WriteString("sdCustomerNumber,firstName\n")
	companies.WriteString("companyKey,name,type\n")
	locations.WriteString("locationKey,name,type,companyKey\n")
	for i := range 20_000 {
		fmt.Fprintf(&customers, "%08d,Name %d\n", 10_000_000+i, i)
		fmt.Fprintf(&companies, "K%08d,Company %d,COMPANY\n", i, i)
		fmt.Fprintf(&locations, "L%d,Depot %d,WAREHOUSE,K%08d\n", i, i, 19_999-i)
	}
	customers.WriteString("10000005,Again\n")
	locations.WriteString("L-nobody,Depot,WAREHOUSE,K99999999\n")
	// One copy of the files, so that both reports name the same paths.
	dir := t.TempDir()
	var files []string
	for name, content := range map[string]string{"customers.csv": customers.String(), "companies.csv": companies.String(), "locations.csv": locations.String()} {
		files = append(files, filepath.Join(dir, name))
		if err := os.WriteFile(files[len(files)-1], []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(files)
	// The tenant already holds the first 100 customers and companies, so keys come from the checkpoint too.
	var synced []string
	for i, content := range []string{customers.String(), companies.String()} {
		lines := strings.SplitAfterN(content, "\n", 102)
		synced = append(synced, filepath.Join(dir, fmt.Sprintf("synced-%d.csv", i)))
		if err := os.WriteFile(synced[i], []byte(strings.Join(lines[:101], "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() *Report {
		e := newEnv(t)
		if _, err := e.run(context.Background(), Options{}, synced...); err != nil {
			t.Fatal(err)
		}
		rep, err := e.run(context.Background(), Options{DryRun: true}, files...)
		if !errors.Is(err, ErrPartial) {
			t.Fatalf("dry run: %v\n%s", err, rep.Summary())
		}
		rep.Duration = 0
		return rep
	}
	inMemory := plan()
	freshMemLog = freshBlock // 20k keys of each entity take about four times that
	defer func() { freshMemLog = freshMemLogDefault }()
	inFile := plan()
	if inMemory.Summary() != inFile.Summary() || !slices.Equal(inMemory.Failures, inFile.Failures) {
		t.Fatalf("keys in memory:\n%s\n%+v\nkeys in the file:\n%s\n%+v", inMemory.Summary(), inMemory.Failures, inFile.Summary(), inFile.Failures)
	}
	reasons := fmt.Sprint(inFile.Failures)
	if inFile.Failed != 2 || inFile.Unchanged != 200 || !strings.Contains(reasons, "first seen at") || !strings.Contains(reasons, "neither in the input nor synced before") {
		t.Fatalf("want the duplicate customer and the location of nobody failed:\n%s\n%+v", inFile.Summary(), inFile.Failures)
	}
}

// BenchmarkFreshKeys10M adds the keys of a 10M-row first import and reports the heap they hold per key (the
// table, the cache of the file's blocks and what stays of the log in memory) and the time per Add.
func BenchmarkFreshKeys10M(b *testing.B) {
	const n = 10_000_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := newFreshKeys(b.TempDir(), nil)
		for i := range n {
			s.Add(fmt.Sprintf("%010d", i), uint64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.Len() != n || s.Err() != nil {
			b.Fatalf("Len %d, Err %v", s.Len(), s.Err())
		}
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heapB/key")
		b.ReportMetric(float64(s.log.size)/n, "fileB/key")
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/add")
}
