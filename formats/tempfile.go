package formats

import (
	"errors"
	"os"
)

// CreateUnlinkedTemp creates a temporary file in dir (os.TempDir when empty) with os.CreateTemp's pattern,
// private (0600), and unlinks it at once where the system allows it (not on Windows): it is written and read
// back through f alone, and a process killed with SIGKILL then leaves no file of customer data behind. path
// is what CloseUnlinkedTemp deletes: the file's name where it could not be unlinked while open, else "".
func CreateUnlinkedTemp(dir, pattern string) (f *os.File, path string, err error) {
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
		err = errors.Join(err, os.Remove(path))
	}
	return err
}
