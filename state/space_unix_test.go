//go:build unix

package state

import (
	"errors"
	"strings"
	"testing"
)

// VACUUM is not started where a file system has less free space than it needs.
func TestVacuumSpaceCheckRefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var noSpace *NoSpaceError
	if err := checkVacuumSpace(dir, 1<<60); !errors.As(err, &noSpace) || noSpace.Need < 1<<60 ||
		!strings.Contains(err.Error(), "vacuum not started") {
		t.Fatalf("an exabyte vacuum: %v", err)
	}
	if err := checkVacuumSpace(dir, 1); err != nil {
		t.Fatalf("a one-byte vacuum: %v", err)
	}
}
