package sync

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"custsync/mapping"
)

type collectRows struct{ rows []string }

func (c *collectRows) Write(row []string) error {
	c.rows = append(c.rows, strings.Join(row, "|"))
	return nil
}

// TestSpillReplaysInKeyOrderWithTheMixinColumns: rows added out of order come back sorted by key, their mixin
// cells under the sorted mixin columns, inserted before the tail of fixed cells.
func TestSpillReplaysInKeyOrderWithTheMixinColumns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sp, err := newSpill(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	// The export's rows go to a file without a name where the system allows it: a killed export leaves
	// none of them behind.
	if entries, _ := os.ReadDir(dir); runtime.GOOS != "windows" && len(entries) != 0 {
		t.Fatalf("the open temporary file has a name: %v", entries)
	}
	add := func(key string, mixins ...mapping.MixinCell) {
		if err := sp.add(key, []string{key, "x", "", ""}, mixins); err != nil {
			t.Fatal(err)
		}
	}
	add("b", mapping.MixinCell{Column: "mixins.z.a", Text: "bz"})
	add("c")
	add("a", mapping.MixinCell{Column: "mixins.y.a:number", Text: "1"}, mapping.MixinCell{Column: "mixins.z.a", Text: "az"})
	if got := strings.Join(sp.mixinColumns(), ","); got != "mixins.y.a:number,mixins.z.a" {
		t.Fatalf("mixin columns %s", got)
	}
	var out collectRows
	if err := sp.replay(2, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out.rows, "\n"); got != "a|x|1|az||\nb|x||bz||\nc|x||||" {
		t.Fatalf("replayed:\n%s", got)
	}
}

type discardRows struct{ n int }

func (d *discardRows) Write(row []string) error { d.n += len(row); return nil }

// BenchmarkSpill100k spills and replays 100k customer-like rows with three mixin cells each, in key order
// (read back in one pass) and in reverse order (one read per row).
func BenchmarkSpill100k(b *testing.B) {
	for _, order := range []string{"sorted", "reversed"} {
		b.Run(order, func(b *testing.B) {
			fixed := make([]string, len(mapping.Columns(mapping.Customers)))
			mixins := []mapping.MixinCell{{Column: "metadata.mixins.loyalty", Text: "https://schema.example/l.json"},
				{Column: "mixins.loyalty.level", Text: "L1"}, {Column: "mixins.loyalty.points:number", Text: "123"}}
			for b.Loop() {
				sp, err := newSpill(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < 100000; i++ {
					n := i
					if order == "reversed" {
						n = 100000 - i
					}
					key := fmt.Sprintf("%010d", 1000000+n)
					fixed[0], fixed[1], fixed[3], fixed[5] = key, key, "First", "Last"
					if err := sp.add(key, fixed, mixins); err != nil {
						b.Fatal(err)
					}
				}
				if err := sp.replay(len(fixed)-2, &discardRows{}); err != nil {
					b.Fatal(err)
				}
				sp.remove()
			}
		})
	}
}
