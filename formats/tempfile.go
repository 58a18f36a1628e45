package formats

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CreateUnlinkedTemp creates a temporary file in dir (os.TempDir when empty) with os.CreateTemp's pattern,
// private (0600), and unlinks it at once where the system allows it (not on Windows): it is written and read
// back through f alone, and a process killed with SIGKILL then leaves no file of customer data behind. path
// is what CloseUnlinkedTemp deletes: the file's name where it could not be unlinked while open, else "".
//
// Files of the same pattern that an earlier run left behind in dir (killed on Windows, or by a version that did
// not unlink them) are removed first: they hold customer data that nothing reads any more.
func CreateUnlinkedTemp(dir, pattern string) (f *os.File, path string, err error) {
	RemoveLeftoverTemps(dir, pattern)
	if f, err = os.CreateTemp(dir, pattern); err != nil {
		return nil, "", err
	}
	if os.Remove(f.Name()) == nil {
		return f, "", nil
	}
	return f, f.Name(), nil
}

// CloseUnlinkedTemp closes a file of CreateUnlinkedTemp and deletes it if it still has a name.
func CloseUnlinkedTemp(f *os.File, path string) error {
	err := f.Close()
	if path != "" {
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
	}
	return err
}

// leftoverAge is how old a file of a temporary pattern must be to count as left behind. A file in use has no
// name where files are unlinked while open, except for the instant between its creation and its unlinking,
// and cannot be removed while open on Windows; the age keeps even that instant out of reach.
const leftoverAge = time.Minute

// RemoveLeftoverTemps removes the regular files in dir (os.TempDir when empty) whose names os.CreateTemp could
// have made from pattern (its last "*" stands for the random digits) and that are older than leftoverAge. It
// is best effort: a file that cannot be removed stays.
func RemoveLeftoverTemps(dir, pattern string) {
	if dir == "" {
		dir = os.TempDir()
	}
	star := strings.LastIndexByte(pattern, '*')
	if star < 0 {
		return
	}
	prefix, suffix := pattern[:star], pattern[star+1:]
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || len(name) <= len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		if strings.Trim(name[len(prefix):len(name)-len(suffix)], "0123456789") != "" {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) >= leftoverAge {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
}
