package formats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// atomicFile is a temporary file that replaces its target only on commit.
type atomicFile struct {
	*os.File
	target string
	done   bool
}

func createAtomic(target string) (*atomicFile, error) {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", target)
	}
	removeStaleTemps(dir, base)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file next to %s: %w", target, err)
	}
	lockTemp(f)
	return &atomicFile{File: f, target: target}, nil
}

// fileMode is the mode of every file the writers create: they hold customer
// data (result files, exports, check reports), so only their owner reads them,
// whatever the umask and whatever mode a file they replace had.
const fileMode = os.FileMode(0o600)

// commit syncs the temporary file, makes it private (fileMode) and renames it
// over the target, then syncs the directory so the rename survives a crash.
func (a *atomicFile) commit() error {
	if a.done {
		return errors.New("already closed")
	}
	a.done = true
	tmp := a.Name()
	fail := func(err error) error {
		_ = a.File.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := a.Chmod(fileMode); err != nil {
		return fail(fmt.Errorf("setting permissions: %w", err))
	}
	if err := a.Sync(); err != nil {
		return fail(fmt.Errorf("syncing %s: %w", tmp, err))
	}
	if err := a.File.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, a.target); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replacing %s: %w", a.target, err)
	}
	if runtime.GOOS != "windows" { // directories cannot be synced there
		if d, err := os.Open(filepath.Dir(a.target)); err == nil {
			serr := d.Sync()
			_ = d.Close()
			if serr != nil {
				return fmt.Errorf("syncing the directory of %s: %w", a.target, serr)
			}
		}
	}
	return nil
}

// abort removes the temporary file; the target is left as it was.
func (a *atomicFile) abort() error {
	if a.done {
		return nil
	}
	a.done = true
	_ = a.File.Close()
	if err := os.Remove(a.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
