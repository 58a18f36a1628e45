package sync

import (
	"math"
	"os"
	"runtime/debug"
)

// heapHeadroom is what the soft memory limit leaves above the checkpoint's structures while a plan holds them:
// room for the garbage a run makes between two collections. The structures hold no pointers, so a collection
// costs little however large they are (about 5 ms at 10M entities); what costs is a limit below them, under
// which the collector runs without pause: the no-op re-run of 10M rows, whose index and marks take 233 MB,
// took 49 s under the default 160 MiB and 10.6 s with the limit 40 MiB above them (24 MiB was not enough
// once the index came from the table: the runtime's own overhead took most of it).
const heapHeadroom = 40 << 20

// holdHeap raises the soft memory limit (debug.SetMemoryLimit) to n bytes of long-lived structures plus
// heapHeadroom, if it is lower, and returns what restores it. A limit the user set (GOMEMLIMIT) is theirs, and
// without a limit (tests) there is nothing to raise.
func holdHeap(n int64) (release func()) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return func() {}
	}
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 || n+heapHeadroom <= limit {
		return func() {}
	}
	debug.SetMemoryLimit(n + heapHeadroom)
	return func() { debug.SetMemoryLimit(limit) }
}
