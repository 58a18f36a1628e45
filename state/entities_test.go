package state

import (
	"context"
	"encoding/binary"
	"fmt"
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
	idx, err := s.LoadEntityIndex(ctx, "customers")
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
		x, err := s.LoadEntityIndex(ctx, "customers")
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
	// Every kind of change invalidates the cache: update, insert, delete.
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

// indexBlob is the cache blob of the given entities (keys sorted).
func indexBlob(keys []string, refs []EntityRef, raws []uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(keys)))
	for i, k := range keys {
		b = appendIndexEntry(b, k, refs[i], raws[i])
	}
	return b
}

// A checkpoint whose index cache takes several parts loads from them as it was built.
func TestEntityIndexCacheInParts(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t)
	ctx := context.Background()
	const n = 200_000 // about 7 MB of index: two parts
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
	if err := bumpGeneration(ctx, tx, "customers"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	built, err := s.LoadEntityIndex(ctx, "customers")
	if err != nil {
		t.Fatal(err)
	}
	var parts int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM entity_index WHERE kind = 'customers'`).Scan(&parts); err != nil || parts < 2 {
		t.Fatalf("the cache has %d parts (%v), want several", parts, err)
	}
	cached, err := s.LoadEntityIndex(ctx, "customers")
	if err != nil {
		t.Fatal(err)
	}
	if built.Len() != n || cached.Len() != n || cached.data != built.data {
		t.Fatalf("cached index of %d entities differs from the built one of %d", cached.Len(), built.Len())
	}
	if i, ok := cached.Lookup("0000123456"); !ok || cached.Ref(i) != (EntityRef{RemoteID: "C-0000123456", RowHash: 123456}) {
		t.Fatalf("lookup in the cached index: %d %v %+v", i, ok, cached.Ref(i))
	}
}
