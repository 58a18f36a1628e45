package state

import (
	"context"
	"testing"
)

func TestLoadEntityIndexMatchesLoadEntities(t *testing.T) {
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
		if !ok || idx.Keys[i] != key || idx.Refs[i] != ref {
			t.Fatalf("key %q: index %v %v %+v, want %+v", key, i, ok, idx.Refs[i], ref)
		}
	}
	if _, ok := idx.Lookup("0001/A"); ok {
		t.Fatal("an address leaked into the customer index")
	}
}
