package main

import (
	"testing"
	"time"
)

func TestMedianKeepsEveryFigureExact(t *testing.T) {
	t.Parallel()
	durations := []time.Duration{3 * time.Second, time.Second, 2 * time.Second}
	if got := median(durations); got != 2*time.Second {
		t.Errorf("median of durations = %v, want 2s", got)
	}
	if durations[0] != 3*time.Second {
		t.Errorf("median reordered its argument: %v", durations)
	}
	// Ratios and rates must not pass through nanoseconds: a ratio below 1e-9 used to come out as 0, and a
	// rate's fraction below a nanosecond was cut off.
	if got := median([]float64{4e-10, 2.5e-10, 1e-10}); got != 2.5e-10 {
		t.Errorf("median of small ratios = %g, want 2.5e-10", got)
	}
	if got := median([]float64{12748.0000000004, 13027.25, 6201.5}); got != 12748.0000000004 {
		t.Errorf("median of rates = %.10f, want 12748.0000000004", got)
	}
	if got := median([]float64{1, 4, 3, 2}); got != 3 {
		t.Errorf("median of an even count = %g, want the upper middle value 3", got)
	}
}
