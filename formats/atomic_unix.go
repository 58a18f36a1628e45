//go:build unix

package formats

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// staleTempAge is how old a temporary file must be before another run may take it for a killed run's: a
// writer creates its file and locks it in the next statement, and a file this fresh may be between the two.
const staleTempAge = time.Minute

// lockTemp marks a temporary file as being written: the lock lasts while the file is open in this process,
// and the kernel drops it when the process dies, however it dies.
func lockTemp(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// removeStaleTemps deletes the temporary files that writers of target left when they were killed before
// they could commit or abort (SIGKILL, a power cut): they hold customer data and nobody would find them,
// named with a leading dot. A file that a live writer still holds is left alone.
func removeStaleTemps(dir, base string) {
	// By prefix, not filepath.Glob: a target's name may hold the pattern characters * ? [.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "."+base+".tmp-") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := os.Lstat(p)
		if err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < staleTempAge {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.Remove(p)
		}
		_ = f.Close()
	}
}
