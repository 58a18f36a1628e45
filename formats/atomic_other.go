//go:build !unix

package formats

import "os"

// lockTemp has nothing to do where the system has no advisory file locks.
func lockTemp(*os.File) {}

// removeStaleTemps leaves the temporary files alone: without a lock, a file being written by another
// process cannot be told from one a killed writer left.
func removeStaleTemps(dir, base string) {}
