package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryAvailableReadsMeminfoAndControlGroups(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const meminfo = "MemTotal:       24683628 kB\nMemFree:        20000000 kB\nMemAvailable:    8000000 kB\n"
	const machine = int64(8000000) * 1024
	for _, tc := range []struct {
		name, self string
		files      map[string]string
		want       int64
		ok         bool
	}{
		{name: "no control group", self: "", want: machine, ok: true},
		{name: "v2 with a limit", self: "0::/box\n", files: map[string]string{
			"box/memory.max": "536870912\n", "box/memory.current": "136870912\n"}, want: 400000000, ok: true},
		{name: "v2 without a limit", self: "0::/box\n", files: map[string]string{
			"box/memory.max": "max\n", "box/memory.current": "136870912\n"}, want: machine, ok: true},
		{name: "v2 limit above the machine's", self: "0::/box\n", files: map[string]string{
			"box/memory.max": "68719476736\n", "box/memory.current": "0\n"}, want: machine, ok: true},
		{name: "v2 over its limit", self: "0::/box\n", files: map[string]string{
			"box/memory.max": "100\n", "box/memory.current": "200\n"}, want: 0, ok: true},
		{name: "v1 with a limit", self: "12:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n", files: map[string]string{
			"memory/docker/x/memory.limit_in_bytes": "1073741824\n", "memory/docker/x/memory.usage_in_bytes": "73741824\n"},
			want: 1000000000, ok: true},
		{name: "v1 without a limit", self: "4:memory:/docker/x\n", files: map[string]string{
			"memory/docker/x/memory.limit_in_bytes": "9223372036854771712\n", "memory/docker/x/memory.usage_in_bytes": "1\n"},
			want: machine, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "meminfo"), meminfo)
			write(t, filepath.Join(dir, "self"), tc.self)
			for name, content := range tc.files {
				write(t, filepath.Join(dir, "cgroup", name), content)
			}
			got, ok := memoryAvailableIn(filepath.Join(dir, "meminfo"), filepath.Join(dir, "cgroup"), filepath.Join(dir, "self"))
			if got != tc.want || ok != tc.ok {
				t.Errorf("memoryAvailable = %d, %t; want %d, %t", got, ok, tc.want, tc.ok)
			}
		})
	}
	// Without a readable MemAvailable nothing is known, and nothing is read.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "meminfo"), "MemTotal: 1 kB\n")
	if _, ok := memoryAvailableIn(filepath.Join(dir, "meminfo"), dir, filepath.Join(dir, "self")); ok {
		t.Error("memoryAvailable without MemAvailable reported a figure")
	}
	if got, ok := memoryAvailable(); !ok || got <= 0 {
		t.Errorf("memoryAvailable on this machine = %d, %t", got, ok)
	}
}

// A file just written is in the page cache: it counts as resident, and the warming pass leaves it alone.
func TestWarmFileSkipsAFileInMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	size := int64(64 * os.Getpagesize())
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if share, ok := residentFraction(f, size); !ok || share < 0.9 {
		t.Fatalf("residentFraction of a file just written = %.2f, %t", share, ok)
	}
	if read, err := warmFile(context.Background(), path, size, warmResident); err != nil || read != 0 {
		t.Errorf("warmFile of a file in memory read %d bytes (%v), want none", read, err)
	}
}
