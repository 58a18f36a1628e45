package sync

import (
	"math"
	"os"
	"runtime/debug"
	stdsync "sync"
)

// heapHeadroom is what the soft memory limit leaves above the plan's structures while it holds them: room for
// the garbage a run makes between two collections. The structures hold no pointers, so a collection costs
// little however large they are (about 5 ms at 10M entities); what costs is a limit below them, under which
// the collector runs without pause: the no-op re-run of 10M rows, whose index and marks take 233 MB, took
// 49 s under the default 160 MiB and 10.6 s with the limit 40 MiB above them (24 MiB was not enough once the
// index came from the table: the runtime's own overhead took most of it); the planning of a 10M-row first
// import, whose new keys take about 150 MB, made 4,245 collections under the default limit and 2,095 above
// them (231 s against 153 s).
const heapHeadroom = 40 << 20

// heapHold keeps the soft memory limit (debug.SetMemoryLimit) heapHeadroom above the long-lived structures of
// a plan while they grow and shrink: the checkpoint's index and claim marks (told by the loader) and the new
// keys of a first import (told by freshKeys). It only ever raises the limit above the one it found, and gives
// that back on release. A limit the user set (GOMEMLIMIT) is theirs, and without a limit (tests) there is
// nothing to raise. A nil *heapHold holds nothing. Its methods may be called from several goroutines.
type heapHold struct {
	mu     stdsync.Mutex
	active bool
	base   int64 // the limit found
	held   int64 // bytes of structures
}

// newHeapHold starts holding nothing; the limit moves with the first grow that passes it.
func newHeapHold() *heapHold {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return &heapHold{}
	}
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 {
		return &heapHold{}
	}
	return &heapHold{active: true, base: limit}
}

// grow adds delta bytes (negative when a structure is dropped) to what is held and moves the limit.
func (h *heapHold) grow(delta int64) {
	if h == nil || delta == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.active {
		return
	}
	h.held += delta
	debug.SetMemoryLimit(max(h.base, h.held+heapHeadroom))
}

// release gives back the limit it found; later grows change nothing.
func (h *heapHold) release() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active {
		debug.SetMemoryLimit(h.base)
	}
	h.active, h.held = false, 0
}

// heapShare is one structure's part of a heapHold, which it tells of every change of its size. It is used by
// one goroutine at a time.
type heapShare struct {
	hold  *heapHold
	bytes int64
}

// add counts delta more bytes (fewer when negative).
func (s *heapShare) add(delta int64) {
	s.bytes += delta
	s.hold.grow(delta)
}

// set makes the share n bytes.
func (s *heapShare) set(n int64) { s.add(n - s.bytes) }

// drop gives the whole share back.
func (s *heapShare) drop() { s.add(-s.bytes) }
