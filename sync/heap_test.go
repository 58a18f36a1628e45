package sync

import (
	"math"
	"runtime/debug"
	"testing"
)

// The limit rises above what a plan holds and comes back after; it stays where it is when it is already
// higher, when there is none, and when the user set it.
func TestHoldHeapRaisesTheLimitAboveTheHeldBytes(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	const limit = 100 << 20
	debug.SetMemoryLimit(limit)
	release := holdHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != 200<<20+heapHeadroom {
		t.Fatalf("limit while held: %d, want %d", got, 200<<20+heapHeadroom)
	}
	release()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("limit after release: %d, want %d", got, limit)
	}
	holdHeap(10 << 20)()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("a small hold changed the limit to %d", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	holdHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("a hold set a limit where there was none: %d", got)
	}
	debug.SetMemoryLimit(limit)
	t.Setenv("GOMEMLIMIT", "100MiB")
	holdHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("a hold changed the user's limit to %d", got)
	}
}
