package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestLoadEntityIndexMatchesLoadEntities(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	outs := []Outcome{
		{Kind: "customers", ERPKey: "0001", Action: ActionCreate, RemoteID: "0001", RowHash: 1 << 63},
		{Kind: "customers", ERPKey: "0002", Action: ActionCreate, RemoteID: "C-2", RowHash: 7},
		{Kind: "addresses", ERPKey: "0001/A", Action: ActionCreate, RemoteID: "0001/A", RowHash: 9},
	}
	if err := s.Commit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	want, err := s.LoadEntities(ctx, "customers")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Len() != len(want) || idx.Len() != 2 {
		t.Fatalf("index has %d entities, want %d", idx.Len(), len(want))
	}
	for key, ref := range want {
		i, ok := idx.Lookup(key)
		if !ok || idx.Key(i) != key || idx.Ref(i) != ref {
			t.Fatalf("key %q: index %v %v %+v, want %+v", key, i, ok, idx.Ref(i), ref)
		}
	}
	if _, ok := idx.Lookup("0001/A"); ok {
		t.Fatal("an address leaked into the customer index")
	}
	var keys []string
	for k := range idx.Keys() {
		keys = append(keys, string(k))
	}
	if !slices.Equal(keys, []string{"0001", "0002"}) {
		t.Fatalf("Keys yielded %q, want the customers' keys in order", keys)
	}
	for k := range idx.Keys() {
		if string(k) != "0001" {
			t.Fatalf("Keys went on after the loop stopped: %q", k)
		}
		break
	}
}

func TestEntityIndexCacheFollowsEveryChange(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	commit := func(outs ...Outcome) {
		t.Helper()
		if err := s.Commit(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}
	load := func() *EntityIndex {
		t.Helper()
		x, err := s.LoadEntityIndex(ctx, "customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	commit(Outcome{Kind: "customers", ERPKey: "b", Action: ActionCreate, RemoteID: "b", RowHash: 1, RawHash: 10},
		Outcome{Kind: "customers", ERPKey: "a", Action: ActionCreate, RemoteID: "ID-a", RowHash: 2, RawHash: 20})
	first := load()  // from the table; writes the cache
	second := load() // from the cache
	for _, x := range []*EntityIndex{first, second} {
		if x.Len() != 2 || x.Key(0) != "a" || x.Ref(0).RemoteID != "ID-a" || x.Ref(1).RemoteID != "b" || x.RawHash(1) != 10 {
			t.Fatalf("index %+v", x)
		}
	}
	// Every kind of change reaches the next load (through the change log): update, insert, delete.
	commit(Outcome{Kind: "customers", ERPKey: "a", Action: ActionUpdate, RemoteID: "ID-a", RowHash: 3, RawHash: 30})
	if x := load(); x.Ref(0).RowHash != 3 || x.RawHash(0) != 30 {
		t.Fatalf("stale cache after an update: %+v", x)
	}
	commit(Outcome{Kind: "customers", ERPKey: "c", Action: ActionCreate, RemoteID: "c", RowHash: 4})
	if x := load(); x.Len() != 3 {
		t.Fatalf("stale cache after an insert: %+v", x)
	}
	if _, err := s.DeleteEntity(ctx, DeletionEntry{Kind: "customers", ERPKey: "b", Reason: ReasonDeletedInPlatform}); err != nil {
		t.Fatal(err)
	}
	x := load()
	if _, ok := x.Lookup("b"); ok || x.Len() != 2 {
		t.Fatalf("stale cache after a delete: %+v", x)
	}
	if i, ok := x.Lookup("c"); !ok || x.Key(i) != "c" {
		t.Fatalf("lookup of c: %d %v", i, ok)
	}
	// Another kind's changes leave this cache valid, and a damaged cache only means a reload from the table.
	if _, err := s.writer.ExecContext(ctx, `UPDATE entity_index SET data = x'0102' WHERE kind = 'customers'`); err != nil {
		t.Fatal(err)
	}
	if x := load(); x.Len() != 2 {
		t.Fatalf("after a damaged cache: %+v", x)
	}
}

// A change log that cannot be read stops the load with the reason, as any other failed read of the state
// file does; only a damaged cache falls back to the table.
func TestEntityIndexLoadReportsAnUnreadableChangeLog(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	createAndCache(t, s, 100)
	if err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: "0042", Action: ActionUpdate, RemoteID: "0042", RowHash: 42}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, `UPDATE entity_changes SET row_hash = 'not a number'`); err != nil {
		t.Fatal(err)
	}
	_, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err == nil || errors.Is(err, errBadIndex) || !strings.Contains(err.Error(), "change log") {
		t.Fatalf("load with an unreadable change log: error %v; want the log's error", err)
	}
}

func TestDecodeEntityIndexRejectsGarbage(t *testing.T) {
	t.Parallel()
	good := indexBlob([]string{"a", "b"}, []EntityRef{{RemoteID: "a"}, {RemoteID: "X"}}, []uint64{1, 2})
	if _, err := decodeEntityIndex(good); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i++ {
		if _, err := decodeEntityIndex(good[:i]); err == nil {
			t.Fatalf("a blob cut at %d bytes decoded", i)
		}
	}
}

func FuzzDecodeEntityIndex(f *testing.F) {
	f.Add(indexBlob([]string{"0001", "0002"}, []EntityRef{{RemoteID: "0001"}, {RemoteID: "C-2"}}, []uint64{1, 2}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := decodeEntityIndex(data)
		if err != nil {
			return
		}
		for i := 0; i < x.Len(); i++ {
			_, _ = x.Ref(i), x.RawHash(i)
			if j, ok := x.Lookup(x.Key(i)); !ok || j != i {
				t.Fatalf("inconsistent index: entity %d (%q) found at %d, %v", i, x.Key(i), j, ok)
			}
		}
	})
}

// indexBlob is the cache blob of the given entities (keys sorted), written here as its format says.
func indexBlob(keys []string, refs []EntityRef, raws []uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(keys)))
	for i, k := range keys {
		id := refs[i].RemoteID
		if id == k {
			id = ""
		}
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.LittleEndian.AppendUint64(b, refs[i].RowHash)
		b = binary.LittleEndian.AppendUint64(b, raws[i])
	}
	return b
}

// A checkpoint whose index cache takes several parts loads from them as it was built.
func TestEntityIndexCacheInParts(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	const n = 200_000 // about 7 MB of index: two parts
	seedEntities(t, s, n)
	// The loader learns the index's size as it grows, from the table and from the cache alike.
	var grown []int
	grow := func(n int) { grown = append(grown, n) }
	built, err := s.LoadEntityIndex(ctx, "customers", grow)
	if err != nil {
		t.Fatal(err)
	}
	if len(grown) < 3 || grown[len(grown)-1] != built.Bytes() {
		t.Fatalf("sizes told while building: %v, the index takes %d bytes", grown, built.Bytes())
	}
	var parts int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_index WHERE kind = 'customers'`).Scan(&parts); err != nil || parts < 2 {
		t.Fatalf("the cache has %d parts (%v), want several", parts, err)
	}
	grown = nil
	cached, err := s.LoadEntityIndex(ctx, "customers", grow)
	if err != nil {
		t.Fatal(err)
	}
	if len(grown) < 3 || grown[len(grown)-1] != cached.Bytes() {
		t.Fatalf("sizes told while decoding: %v, the index takes %d bytes", grown, cached.Bytes())
	}
	if built.Len() != n || cached.Len() != n || !bytes.Equal(blobOf(t, cached), blobOf(t, built)) {
		t.Fatalf("cached index of %d entities differs from the built one of %d", cached.Len(), built.Len())
	}
	checkIndex(t, cached)
	if i, ok := cached.Lookup("0000123456"); !ok || cached.Ref(i) != (EntityRef{RemoteID: "C-0000123456", RowHash: 123456}) {
		t.Fatalf("lookup in the cached index: %d %v %+v", i, ok, cached.Ref(i))
	}
}

// The parts of the cache are read while the ones before are decoded; a cache with a part missing, cut short,
// grown or of another generation, anywhere, is not used: the index comes from the table, as it is.
func TestEntityIndexCacheRejectsDamagedParts(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	const n = 300_000 // about 11 MB of index: three parts, read as 2 + 1
	seedEntities(t, s, n)
	built, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_index WHERE kind = 'customers'`).Scan(&parts); err != nil || parts != 3 {
		t.Fatalf("the cache has %d parts (%v), want 3", parts, err)
	}
	for _, damage := range []string{
		`DELETE FROM entity_index WHERE kind = 'customers' AND part = 2`,
		`DELETE FROM entity_index WHERE kind = 'customers' AND part = 0`,
		`UPDATE entity_index SET data = substr(data, 1, length(data) - 1) WHERE kind = 'customers' AND part = 1`,
		`UPDATE entity_index SET data = data || x'00' WHERE kind = 'customers' AND part = 0`,
		`UPDATE entity_index SET generation = generation + 1 WHERE kind = 'customers' AND part = 2`,
		`UPDATE entity_index SET part = 3 WHERE kind = 'customers' AND part = 2`,
	} {
		if _, err := s.writer.ExecContext(ctx, damage); err != nil {
			t.Fatal(err)
		}
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_index WHERE kind = 'customers'`).Scan(&parts); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadEntityIndex(ctx, "customers", nil)
		if err != nil {
			t.Fatalf("after %s: %v", damage, err)
		}
		if got.Len() != n || !bytes.Equal(blobOf(t, got), blobOf(t, built)) {
			t.Fatalf("after %s the index holds %d entities, not the table's %d", damage, got.Len(), n)
		}
		// The load rebuilt the cache: the next load reads it whole.
		if cached, err := s.LoadEntityIndex(ctx, "customers", nil); err != nil || !bytes.Equal(blobOf(t, cached), blobOf(t, built)) {
			t.Fatalf("the cache rebuilt after %s: %v", damage, err)
		}
	}
}

// seedEntities writes n customers straight into the entities table, keys 0000000000 up, and marks the kind
// changed so that the next load builds and caches its index.
func seedEntities(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	if err := s.prepareBatched(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 100 {
		args := make([]any, 0, 300)
		for k := i; k < i+100; k++ {
			key := fmt.Sprintf("%010d", k)
			args = append(args, key, "C-"+key, int64(k))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entities (kind, erp_key, remote_id, row_hash, updated_at) VALUES `+
			repeatTuple(`('customers', ?, ?, ?, '2026-01-01T00:00:00.000Z')`, 100), args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.recordChange(ctx, tx, "customers", nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// After the index is cached, every change is logged, and the next load brings the cache up to date from the log:
// whatever mix of creates, updates (with and without a new remote id), deletes and DeleteEntity calls, the
// loaded index is the table's.
func TestEntityIndexCatchesUpWithEveryKindOfChange(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 2026))
	live := map[string]bool{}
	caughtUp := 0
	for step := 0; step < 120; step++ {
		var outs []Outcome
		used := map[string]bool{}
		for range 1 + rng.IntN(30) {
			key := fmt.Sprintf("K%03d", rng.IntN(400))
			// Now and then a key twice in one batch: committed one by one, in order; the log keeps its last values.
			if used[key] && rng.IntN(3) != 0 {
				continue
			}
			used[key] = true
			o := Outcome{Kind: "customers", ERPKey: key, RowHash: rng.Uint64(), RawHash: rng.Uint64()}
			switch {
			case live[key] && rng.IntN(4) == 0:
				o.Action, o.Reason = ActionDelete, ReasonFullSnapshot
				delete(live, key)
			case live[key]:
				o.Action, o.RemoteID = ActionUpdate, "ID-"+key
				if rng.IntN(5) == 0 {
					o.RemoteID = fmt.Sprintf("ID-%s-%d", key, step) // the platform gave the record a new id
				}
			default:
				o.Action, o.RemoteID = ActionCreate, key
				live[key] = true
			}
			outs = append(outs, o)
		}
		if err := s.Commit(ctx, outs); err != nil {
			t.Fatal(err)
		}
		if step%7 == 3 {
			for key := range live {
				if _, err := s.DeleteEntity(ctx, DeletionEntry{Kind: "customers", ERPKey: key, Reason: ReasonDeletedInPlatform}); err != nil {
					t.Fatal(err)
				}
				delete(live, key)
				break
			}
		}
		var logged int
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_changes WHERE kind = 'customers'`).Scan(&logged); err != nil {
			t.Fatal(err)
		}
		if logged > 0 {
			caughtUp++
		}
		if step%3 != 0 && step != 1 { // several commits between loads, too
			continue
		}
		x, err := s.LoadEntityIndex(ctx, "customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.LoadEntities(ctx, "customers")
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() != len(want) || len(want) != len(live) {
			t.Fatalf("step %d: index of %d entities, table %d, expected %d", step, x.Len(), len(want), len(live))
		}
		for i := range x.Len() {
			if ref, ok := want[x.Key(i)]; !ok || ref != x.Ref(i) {
				t.Fatalf("step %d: %q in the index as %+v, in the table as %+v (%v)", step, x.Key(i), x.Ref(i), ref, ok)
			}
		}
	}
	if caughtUp < 50 {
		t.Fatalf("the change log was used on %d steps only", caughtUp)
	}
}

// createAndCache commits the creates of customers "0000"... (remote id = key, row hash 1) and loads their
// index, which caches it.
func createAndCache(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	var outs []Outcome
	for i := range n {
		key := fmt.Sprintf("%04d", i)
		outs = append(outs, Outcome{Kind: "customers", ERPKey: key, Action: ActionCreate, RemoteID: key, RowHash: 1})
	}
	if err := s.Commit(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadEntityIndex(ctx, "customers", nil); err != nil {
		t.Fatal(err)
	}
}

// A cache a few changes behind is brought up to date from the entities logged as changed, not rebuilt from the
// table; one whose log misses a generation (written by a binary that logged nothing) is rebuilt.
func TestEntityIndexCatchUpReadsOnlyTheLoggedChanges(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	createAndCache(t, s, 100)
	// A change behind the log's back (no generation, no log entry) shows whether the table was read again.
	if _, err := s.writer.ExecContext(ctx, `UPDATE entities SET row_hash = 99 WHERE erp_key = '0050'`); err != nil {
		t.Fatal(err)
	}
	update := func(key string, hash uint64) {
		t.Helper()
		err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: key, Action: ActionUpdate, RemoteID: key, RowHash: hash}})
		if err != nil {
			t.Fatal(err)
		}
	}
	update("0007", 7)
	update("0008", 8)
	// The log carries the values: a logged key is not looked up in the table either.
	if _, err := s.writer.ExecContext(ctx, `UPDATE entities SET row_hash = 77 WHERE erp_key = '0007'`); err != nil {
		t.Fatal(err)
	}
	x, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := func(x *EntityIndex, key string) uint64 {
		i, ok := x.Lookup(key)
		if !ok {
			t.Fatalf("%q missing", key)
		}
		return x.Ref(i).RowHash
	}
	if hash(x, "0007") != 7 || hash(x, "0008") != 8 || hash(x, "0050") != 1 {
		t.Fatalf("caught up: 0007=%d 0008=%d 0050=%d, want the logged 7 and 8 and the cached 1", hash(x, "0007"), hash(x, "0008"), hash(x, "0050"))
	}
	// A generation without a log entry: the log cannot be trusted, the table is read.
	if _, err := s.writer.ExecContext(ctx, `UPDATE entity_generation SET generation = generation + 1 WHERE kind = 'customers'`); err != nil {
		t.Fatal(err)
	}
	update("0009", 9)
	if x, err = s.LoadEntityIndex(ctx, "customers", nil); err != nil {
		t.Fatal(err)
	}
	if hash(x, "0009") != 9 || hash(x, "0050") != 99 || hash(x, "0007") != 77 {
		t.Fatalf("rebuilt: 0009=%d 0050=%d 0007=%d, want 9 and the table's 99 and 77", hash(x, "0009"), hash(x, "0050"), hash(x, "0007"))
	}
	var logged int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_changes`).Scan(&logged); err != nil || logged != 0 {
		t.Fatalf("%d changes left in the log after the cache was rewritten (%v)", logged, err)
	}
}

// The cache is rewritten once the log is long, even when it names a few keys many times (a nightly delta that
// changes the same customers every night): the catch-up reads every log row.
func TestEntityIndexCacheRewrittenWhenOneKeyFillsTheLog(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	const n = 160 // rewritten after n/rewriteCacheAfter = 10 logged keys
	createAndCache(t, s, n)
	logRows := func() int {
		t.Helper()
		var rows int
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_changes`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	for night := 1; night <= n/rewriteCacheAfter; night++ {
		err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: "0007", Action: ActionUpdate, RemoteID: "0007", RowHash: uint64(night)}})
		if err != nil {
			t.Fatal(err)
		}
		x, err := s.LoadEntityIndex(ctx, "customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		if i, ok := x.Lookup("0007"); !ok || x.Ref(i).RowHash != uint64(night) {
			t.Fatalf("night %d: 0007 not caught up (found %v)", night, ok)
		}
		want := night
		if night == n/rewriteCacheAfter {
			want = 0
		}
		if got := logRows(); got != want {
			t.Fatalf("night %d: %d rows in the change log, want %d", night, got, want)
		}
	}
}

// Before the first cache nothing is logged, and the log of a cache stops at its budget: a first import, whose
// own load cached the empty checkpoint, logs a thousand keys rather than every create, and the next load
// rebuilds the index from the table and starts a new log.
func TestChangeLogIsBounded(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	logged := func() (n, cached int) {
		t.Helper()
		if err := s.reader.QueryRow(`SELECT (SELECT COUNT(*) FROM entity_changes),
			COALESCE((SELECT cached FROM entity_generation WHERE kind = 'customers'), 0)`).Scan(&n, &cached); err != nil {
			t.Fatal(err)
		}
		return n, cached
	}
	create := func(from, to int) {
		t.Helper()
		for i := from; i < to; i += 100 {
			var outs []Outcome
			for k := i; k < min(i+100, to); k++ {
				key := fmt.Sprintf("%05d", k)
				outs = append(outs, Outcome{Kind: "customers", ERPKey: key, Action: ActionCreate, RemoteID: key, RowHash: 1})
			}
			if err := s.Commit(ctx, outs); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(0, 100)
	if n, _ := logged(); n != 0 {
		t.Fatalf("%d changes logged without a cache", n)
	}
	if _, err := s.LoadEntityIndex(ctx, "customers", nil); err != nil { // caches 100 entities: budget 1025
		t.Fatal(err)
	}
	create(100, 3100)
	if n, cached := logged(); n > 1025 || cached != 0 {
		t.Fatalf("after 3000 creates over a cache of 100: %d changes logged, cached %d; want at most 1025 and logging stopped", n, cached)
	}
	x, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 3100 {
		t.Fatalf("index of %d entities after the log stopped, want 3100", x.Len())
	}
	if n, cached := logged(); n != 0 || cached != 1 {
		t.Fatalf("after the rebuild: %d changes logged, cached %d; want an empty log of a new cache", n, cached)
	}
	create(3100, 3150)
	if n, _ := logged(); n != 50 {
		t.Fatalf("%d changes logged for 50 creates under the new budget", n)
	}
	if x, err := s.LoadEntityIndex(ctx, "customers", nil); err != nil || x.Len() != 3150 {
		t.Fatalf("caught up: %v entities, %v", x.Len(), err)
	}
}

// A log longer than its cache's budget (one written before the budget existed: migration 0011 gives such a
// cache a budget of 0) is not read: the index is rebuilt from the table.
func TestChangeLogPastItsBudgetIsNotRead(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	commit := func(key string, hash uint64) {
		t.Helper()
		err := s.Commit(ctx, []Outcome{{Kind: "customers", ERPKey: key, Action: ActionCreate, RemoteID: key, RowHash: hash}})
		if err != nil {
			t.Fatal(err)
		}
	}
	commit("a", 1)
	if _, err := s.LoadEntityIndex(ctx, "customers", nil); err != nil {
		t.Fatal(err)
	}
	commit("b", 2)
	// A change behind the log's back shows whether the table was read; the budget of 0 marks an old log.
	if _, err := s.writer.ExecContext(ctx, `UPDATE entities SET row_hash = 9 WHERE erp_key = 'a'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, `UPDATE entity_generation SET log_budget = 0`); err != nil {
		t.Fatal(err)
	}
	x, err := s.LoadEntityIndex(ctx, "customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := x.Lookup("a"); !ok || x.Ref(i).RowHash != 9 || x.Len() != 2 {
		t.Fatalf("index of %d entities, a = %+v: the log past its budget was read instead of the table", x.Len(), x.Ref(i))
	}
}

// Merging the changes into the cache as it is decoded gives the index a rebuild from the changed entities
// gives.
func TestCatchUpMatchesABuiltIndex(t *testing.T) {
	t.Parallel()
	keys := []string{"b", "d", "f", "h"}
	refs := []EntityRef{{RemoteID: "b", RowHash: 1}, {RemoteID: "ID-d", RowHash: 2}, {RemoteID: "f", RowHash: 3}, {RemoteID: "h", RowHash: 4}}
	raws := []uint64{10, 20, 30, 40}
	changes := []indexChange{
		{key: "a", ref: EntityRef{RemoteID: "a", RowHash: 5}, raw: 50}, // new, before the first
		{key: "d", gone: true}, // deleted
		{key: "e", gone: true}, // created and deleted since
		{key: "f", ref: EntityRef{RemoteID: "ID-f", RowHash: 6}, raw: 60}, // a new remote id
		{key: "i", ref: EntityRef{RemoteID: "i", RowHash: 7}, raw: 70},    // new, after the last
	}
	want := indexBlob([]string{"a", "b", "f", "h", "i"},
		[]EntityRef{changes[0].ref, refs[0], changes[3].ref, refs[3], changes[4].ref}, []uint64{50, 10, 60, 40, 70})
	if got := caughtUp(t, indexBlob(keys, refs, raws), changes); !bytes.Equal(got, want) {
		t.Fatalf("merged blob\n%q\nwant\n%q", got, want)
	}
	updates := []indexChange{{key: "d", ref: EntityRef{RemoteID: "ID-d", RowHash: 8}, raw: 80}, {key: "h", ref: EntityRef{RemoteID: "h", RowHash: 9}, raw: 90}}
	want = indexBlob(keys, []EntityRef{refs[0], updates[0].ref, refs[2], updates[1].ref}, []uint64{10, 80, 30, 90})
	if got := caughtUp(t, indexBlob(keys, refs, raws), updates); !bytes.Equal(got, want) {
		t.Fatalf("patched blob\n%q\nwant\n%q", got, want)
	}
}

// caughtUp decodes blob with changes merged in, fed in pieces of random sizes as the parts of the cache are
// (entries cut anywhere), checks the index it gives and returns its blob.
func caughtUp(t *testing.T, blob []byte, changes []indexChange) []byte {
	t.Helper()
	d := &blobDecoder{changes: &sliceChanges{c: changes}, extra: len(changes), size: int64(len(blob))}
	for rest := blob; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(40))
		if err := d.feed(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	x, err := d.finish()
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, x)
	return blobOf(t, x)
}

// checkIndex finds every entity of x by its key, where it is, with the value each accessor gives, and puts keys
// near each one (a byte longer, a byte shorter, the last byte one less or one more) where a search of the sorted
// keys puts them.
func checkIndex(t *testing.T, x *EntityIndex) {
	t.Helper()
	var keys []string
	if err := x.each(func(key, _ []byte, _, _ uint64) error {
		keys = append(keys, string(key))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		near := []string{k + "\x00", k + "\xff"}
		if n := len(k); n > 0 {
			near = append(near, k[:n-1], k[:n-1]+string([]byte{k[n-1] - 1}), k[:n-1]+string([]byte{k[n-1] + 1}))
		}
		for _, probe := range near {
			want := sort.SearchStrings(keys, probe)
			if got, found := x.Lookup(probe); got != want || found != (want < len(keys) && keys[want] == probe) {
				t.Fatalf("Lookup(%q) = %d, %v; the sorted keys put it at %d", probe, got, found, want)
			}
		}
	}
	i := 0
	err := x.each(func(key, id []byte, row, raw uint64) error {
		k := string(key)
		want := EntityRef{RemoteID: string(id), RowHash: row}
		if len(id) == 0 {
			want.RemoteID = k
		}
		if j, ok := x.Lookup(k); !ok || j != i || x.Key(i) != k || x.Ref(i) != want || x.RawHash(i) != raw {
			return fmt.Errorf("entity %d (%q): found at %d (%v), key %q, ref %+v, raw %d", i, k, j, ok, x.Key(i), x.Ref(i), x.RawHash(i))
		}
		if j, ok := x.Lookup(k + "\x00"); ok || j != i+1 {
			return fmt.Errorf("a key just after %q: found %v at %d, want %d", k, ok, j, i+1)
		}
		i++
		return nil
	})
	if err != nil || i != x.Len() {
		t.Fatalf("%v (%d of %d entities)", err, i, x.Len())
	}
}

// blobOf is the cache blob of x, as cacheIndex writes it.
func blobOf(t *testing.T, x *EntityIndex) []byte {
	t.Helper()
	var b []byte
	if err := x.writeBlob(func(p []byte) error {
		if len(p) > indexPartSize {
			return fmt.Errorf("a part of %d bytes", len(p))
		}
		b = append(b, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// Merging within the buffer never overwrites what it has still to read, whatever the mix and order of
// inserts, deletes and entries that grow or shrink (a new remote id): every result equals a built blob.
func TestCatchUpMergeInPlaceRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 2026))
	for round := range 300 {
		table := map[string]EntityRef{}
		raw := map[string]uint64{}
		for range rng.IntN(60) {
			k := fmt.Sprintf("k%03d", rng.IntN(200))
			table[k] = EntityRef{RemoteID: randomID(rng, k), RowHash: rng.Uint64()}
			raw[k] = rng.Uint64()
		}
		before := builtBlob(table, raw)
		var changes []indexChange
		for _, k := range rng.Perm(200)[:rng.IntN(40)] {
			key := fmt.Sprintf("k%03d", k)
			c := indexChange{key: key, gone: rng.IntN(3) == 0}
			if c.gone {
				delete(table, key)
			} else {
				c.ref, c.raw = EntityRef{RemoteID: randomID(rng, key), RowHash: rng.Uint64()}, rng.Uint64()
				table[key], raw[key] = c.ref, c.raw
			}
			changes = append(changes, c)
		}
		slices.SortFunc(changes, func(a, b indexChange) int { return strings.Compare(a.key, b.key) })
		if got, want := caughtUp(t, before, changes), builtBlob(table, raw); !bytes.Equal(got, want) {
			t.Fatalf("round %d: merged blob\n%q\nwant\n%q", round, got, want)
		}
	}
}

// randomID is the key itself (stored as empty), or an id of some length.
func randomID(rng *rand.Rand, key string) string {
	if rng.IntN(2) == 0 {
		return key
	}
	return strings.Repeat("X", rng.IntN(300)) + key
}

func builtBlob(table map[string]EntityRef, raw map[string]uint64) []byte {
	keys := slices.Sorted(maps.Keys(table))
	refs := make([]EntityRef, len(keys))
	raws := make([]uint64, len(keys))
	for i, k := range keys {
		refs[i], raws[i] = table[k], raw[k]
	}
	return indexBlob(keys, refs, raws)
}

// An update of an entity under its remote id finds the row by its key alone. SQLite's planner, with the
// remote id in the WHERE clause, prefers the covering remote-id index, and each row then cost a random read of
// that index's leaf before the one of the table's (a sixth of a delta import's page reads in the committer).
func TestEntityUpdatesSearchTheTableByKey(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	createAndCache(t, s, 500)
	for _, rows := range chunkSizes {
		plan, err := s.writer.QueryContext(ctx, `EXPLAIN QUERY PLAN `+updateEntitiesSQL.sql(rows), make([]any, 8*rows)...)
		if err != nil {
			t.Fatal(err)
		}
		var searches []string
		for plan.Next() {
			var id, parent, unused int
			var detail string
			if err := plan.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(detail, "entities") {
				searches = append(searches, detail)
			}
		}
		if err := errors.Join(plan.Err(), plan.Close()); err != nil {
			t.Fatal(err)
		}
		if len(searches) != 1 || !strings.Contains(searches[0], "USING PRIMARY KEY (kind=? AND erp_key=?)") {
			t.Errorf("update of %d entities searches %q, want the table by its primary key", rows, searches)
		}
	}
	// The search by key still updates only the rows whose remote id matched; the upsert settles the others.
	err := s.Commit(ctx, []Outcome{
		{Kind: "customers", ERPKey: "0001", Action: ActionUpdate, RemoteID: "0001", RowHash: 7},
		{Kind: "customers", ERPKey: "0002", Action: ActionUpdate, RemoteID: "C-0002", RowHash: 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]EntityRef{"0001": {RemoteID: "0001", RowHash: 7}, "0002": {RemoteID: "C-0002", RowHash: 8}} {
		e, ok, err := s.GetEntity(ctx, EntityKey{Kind: "customers", ERPKey: key})
		if err != nil || !ok {
			t.Fatalf("%s after the update: found %v, %v", key, ok, err)
		}
		if got := (EntityRef{RemoteID: e.RemoteID, RowHash: e.RowHash}); got != want {
			t.Errorf("%s after the update: %+v, want %+v", key, got, want)
		}
	}
}

// Entities of every size, some larger than a chunk, with long keys sharing long prefixes: the index finds each
// where it is, and its blob decodes to the same index.
func TestEntityIndexOfLargeEntries(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 2026))
	var b indexBuilder
	prefix := strings.Repeat("p", 100)
	for i := range 5000 {
		key := fmt.Sprintf("%s%06d", prefix[:rng.IntN(len(prefix))], i)
		if i > 0 && key <= string(b.prev) {
			key = string(b.prev) + "x"
		}
		id := ""
		switch r := rng.IntN(100); {
		case r == 0:
			id = strings.Repeat("L", indexChunkSize+rng.IntN(1000))
		case r < 50:
			id = strings.Repeat("I", rng.IntN(3000))
		}
		b.add(key, id, rng.Uint64(), rng.Uint64())
	}
	x, err := b.finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.chunks) < 50 {
		t.Fatalf("%d chunks: the test should span many", len(x.chunks))
	}
	checkIndex(t, x)
	blob := blobOf(t, x)
	y, err := decodeEntityIndex(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blobOf(t, y), blob) {
		t.Fatal("the decoded blob differs")
	}
	if got := caughtUp(t, blob, nil); !bytes.Equal(got, blob) {
		t.Fatal("the blob decoded in pieces differs")
	}
}
