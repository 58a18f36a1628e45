package sync

import (
	"fmt"
	"math"
	"runtime/debug"
	"testing"
)

// limitNow is the soft memory limit, unchanged.
func limitNow() int64 { return debug.SetMemoryLimit(-1) }

// setLimit sets the soft memory limit for the test and puts the one before back after it.
func setLimit(t *testing.T, limit int64) {
	t.Helper()
	before := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}

// The limit follows what a plan holds, heapHeadroom above it while that passes the limit found, and comes
// back after; it stays where it is when there is none, and when the user set it.
func TestHeapHoldFollowsTheHeldBytes(t *testing.T) {
	const limit = 100 << 20
	setLimit(t, limit)
	h := newHeapHold()
	a, b := heapShare{hold: h}, heapShare{hold: h}
	a.set(10 << 20)
	if got := limitNow(); got != limit {
		t.Fatalf("a small hold changed the limit to %d", got)
	}
	a.set(150 << 20)
	b.add(50 << 20)
	if got, want := limitNow(), int64(200<<20+heapHeadroom); got != want {
		t.Fatalf("limit while 200 MiB are held: %d, want %d", got, want)
	}
	b.drop()
	if got, want := limitNow(), int64(150<<20+heapHeadroom); got != want {
		t.Fatalf("limit after a share was dropped: %d, want %d", got, want)
	}
	a.set(20 << 20)
	if got := limitNow(); got != limit {
		t.Fatalf("limit after the held bytes fell below it: %d, want %d", got, limit)
	}
	a.set(300 << 20)
	h.release()
	if got := limitNow(); got != limit {
		t.Fatalf("limit after release: %d, want %d", got, limit)
	}
	a.add(100 << 20)
	if got := limitNow(); got != limit {
		t.Fatalf("a released hold moved the limit to %d", got)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	(&heapShare{hold: newHeapHold()}).set(500 << 20)
	if got := limitNow(); got != math.MaxInt64 {
		t.Fatalf("a hold set a limit where there was none: %d", got)
	}
	debug.SetMemoryLimit(limit)
	t.Setenv("GOMEMLIMIT", "100MiB")
	(&heapShare{hold: newHeapHold()}).set(500 << 20)
	if got := limitNow(); got != limit {
		t.Fatalf("a hold changed the user's limit to %d", got)
	}
	var none *heapHold
	(&heapShare{hold: none}).set(1 << 30) // a set without a plan holds nothing
	none.release()
}

// freshFootprint is what a key set keeps alive, counted from its parts.
func freshFootprint(s *freshKeys) int64 {
	var n int64
	for i := range s.shards {
		n += 8 * int64(len(s.shards[i].table))
	}
	for _, b := range s.log.blocks {
		if b != nil {
			n += freshBlock
		}
	}
	if s.log.spare != nil {
		n += freshBlock
	}
	for _, c := range s.log.cache {
		if c.b != nil {
			n += freshBlock
		}
	}
	return n
}

// A key set tells the plan's hold what it keeps alive as its tables grow, as its log fills memory and moves
// to the file, and as the file's blocks are cached; closing it gives it all back. The limit follows.
func TestFreshKeysTellTheHeapWhatTheyHold(t *testing.T) {
	const limit = 64 << 20
	setLimit(t, limit)
	h := newHeapHold()
	s := newFreshKeys(t.TempDir(), h)
	s.log.memLog = 40 * freshBlock
	check := func(when string) {
		t.Helper()
		want := freshFootprint(s)
		if s.mem.bytes != want || h.held != want {
			t.Fatalf("%s: the set counts %d bytes and the hold %d; its parts take %d", when, s.mem.bytes, h.held, want)
		}
		if got := limitNow(); want+heapHeadroom > limit && got != want+heapHeadroom {
			t.Fatalf("%s: limit %d with %d bytes held, want %d", when, got, want, want+heapHeadroom)
		}
	}
	for i := range 3_000_000 {
		s.Add(fmt.Sprintf("%012d", i), uint64(i))
		if i%500_000 == 0 {
			check(fmt.Sprintf("after %d keys", i+1))
		}
	}
	if s.log.file == nil {
		t.Fatal("the log stayed in memory")
	}
	check("with the log in the file")
	for i := 0; i < 3_000_000; i += 1_111 {
		if _, ok := s.Get(fmt.Sprintf("%012d", i)); !ok {
			t.Fatalf("key %d lost", i)
		}
	}
	check("with the file's blocks cached")
	if h.held <= limit-heapHeadroom {
		t.Fatalf("the set held only %d bytes: the limit was never raised", h.held)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if h.held != 0 || limitNow() != limit {
		t.Fatalf("after Close the hold keeps %d bytes and the limit is %d, want 0 and %d", h.held, limitNow(), limit)
	}
}
