//go:build unix

package state

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The state file holds names, e-mails and addresses: it and its -wal and -shm files are 0600 whatever the
// umask. Not parallel: the umask is the process's.
func TestStateFilesArePrivateWhateverTheUmask(t *testing.T) {
	// Not t.Parallel(): the umask is the process's, and parallel tests would create their files under it.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path)
	if err := s.PutMappings(context.Background(), []SDMapping{{CustomerNumber: "C1", SDCustomerNumber: "1"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
}
