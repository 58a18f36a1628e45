// Command custsync synchronises ERP customer master data with the commerce platform's customer APIs.
package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the soft limit of the Go heap unless GOMEMLIMIT sets one. The large structures of a
// run (the checkpoint index of a re-run, the new keys of a first import) are long-lived, and with the
// runtime's default the heap grows to twice them before a collection: 360 MB for the no-op re-run of 3M rows
// instead of 300. A run whose live heap exceeds the limit still runs; the collector then works harder.
const defaultMemoryLimit = 160 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(Main(os.Args, Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
