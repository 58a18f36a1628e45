// Command custsync synchronises ERP customer master data with the commerce platform's customer APIs.
package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the soft limit of the Go heap unless GOMEMLIMIT sets one. The large structures of a
// run (the checkpoint index of a re-run, the new keys of a first import) are long-lived, and with the
// runtime's default the heap grows to twice them before a collection: 360 MB for the no-op re-run of 3M rows
// instead of 300. A plan that holds more raises it above that (sync's heapHold).
const defaultMemoryLimit = 160 << 20

// defaultGCPercent is the collector's GOGC unless the variable sets one. A run's live heap is small next to
// what its writes allocate (request, body, snapshot and statement arguments per row), so with Go's default of
// 100 the collector ran every few megabytes: about a fifth of an import's instructions at --tps 0. At 200 it
// runs half as often (8% fewer instructions per create under callgrind) for some 20 MB more on a small
// run; the memory limit above still bounds the heap of a large one.
const defaultGCPercent = 200

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(Main(os.Args, Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
