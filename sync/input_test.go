package sync

import (
	"strings"
	"testing"
)

// TestControlCharAtFindsEveryControlByte: the word-at-a-time scan finds the first byte below 0x20 other than
// tab, CR and LF at every offset, after a tab or a multi-byte letter, and nothing in text without one.
func TestControlCharAtFindsEveryControlByte(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "\t", "ü", "line\r\nbreak"} {
		for n := 0; n < 20; n++ {
			base := prefix + strings.Repeat("x", n)
			if got := controlCharAt(base + "ÿ\u007f~ "); got != -1 {
				t.Fatalf("%q: %d, want -1", base, got)
			}
			for c := byte(0); c < 0x20; c++ {
				cell := base + string(c) + strings.Repeat("y", 9)
				want := len(base)
				if c == '\t' || c == '\n' || c == '\r' {
					want = -1
				}
				if got := controlCharAt(cell); got != want {
					t.Fatalf("%q: %d, want %d", cell, got, want)
				}
			}
		}
	}
}
