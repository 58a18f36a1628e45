package sync

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// Claim marks keep each entity's first position, in 32 bits while the lines fit and in 64 after the first
// that does not, for one table and for many.
func TestClaimMarksKeepPositions(t *testing.T) {
	t.Parallel()
	for _, tables := range []int{1, 2, 3, 200} {
		rng := rand.New(rand.NewPCG(uint64(tables), 2026))
		const n = 1000
		m := newClaimMarks(n, tables)
		want := make([]uint64, n)
		limit := uint64(1) << (32 - bits.Len(uint(tables)))
		for step := range 3 * n {
			i := rng.IntN(n)
			line := rng.Uint64N(limit)
			if step == 2*n {
				same(t, tables, m, want)
				if m.wide != nil {
					t.Fatalf("%d tables: wide before a line past %d", tables, limit)
				}
				line = limit + rng.Uint64N(1<<20) // past what 32 bits hold with the table id
			}
			f := uint64(1+rng.IntN(tables))<<32 | line
			m.set(i, f)
			want[i] = f
			if step == 2*n && m.wide == nil {
				t.Fatalf("%d tables: line %d kept in 32 bits", tables, line)
			}
		}
		same(t, tables, m, want)
	}
}

func same(t *testing.T, tables int, m claimMarks, want []uint64) {
	t.Helper()
	for i := range want {
		if got := m.get(i); got != want[i] {
			t.Fatalf("%d tables: entity %d: mark %x, want %x", tables, i, got, want[i])
		}
	}
}
