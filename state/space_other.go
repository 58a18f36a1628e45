//go:build !unix

package state

// checkVacuumSpace cannot tell the free space on this platform; SQLite fails cleanly with SQLITE_FULL.
func checkVacuumSpace(dir string, data int64) error { return nil }
