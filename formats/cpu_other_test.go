//go:build !unix

package formats

import "time"

// processCPU is not measured on this platform; rows/cpu-s reads +Inf.
func processCPU() time.Duration { return 0 }
