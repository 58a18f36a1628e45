//go:build !linux

package state

import "os"

// memoryAvailable is not known here, so WarmPageCache reads nothing: reading a state file larger than the memory
// free for it would push out pages the run needs.
func memoryAvailable() (int64, bool) { return 0, false }

// residentFraction is not known here.
func residentFraction(*os.File, int64) (float64, bool) { return 0, false }
