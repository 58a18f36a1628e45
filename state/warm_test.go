package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestWarmFileReadsAFileThatFits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	size := int64(3*warmChunk + 123)
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	// 1.1: read however much of it is in memory.
	if read, err := warmFile(context.Background(), path, size, 1.1); err != nil || read != size {
		t.Errorf("warmFile within the budget read %d bytes (%v), want the whole %d", read, err, size)
	}
	// A file larger than the memory to spare is not read at all.
	if read, err := warmFile(context.Background(), path, size-1, 1.1); err == nil || read != 0 {
		t.Errorf("warmFile over the budget read %d bytes (%v), want none and an error", read, err)
	}
	// The run is over: the pass stops.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if read, err := warmFile(ctx, path, size, 1.1); err == nil || read != 0 {
		t.Errorf("warmFile after the run read %d bytes (%v), want none", read, err)
	}
	if _, err := warmFile(context.Background(), filepath.Join(t.TempDir(), "missing.db"), size, 1.1); err == nil {
		t.Error("warmFile of a missing file reported no error")
	}
}

// WarmPageCache on a real store returns at once and leaves the store usable.
func TestWarmPageCacheOnAnOpenStore(t *testing.T) {
	s, _ := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.WarmPageCache(ctx)
	if got := queryInt(t, s.writer, `SELECT count(*) FROM entities`); got != 0 {
		t.Fatalf("entities of a new store = %d", got)
	}
}
