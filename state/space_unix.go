//go:build unix

package state

import (
	"os"
	"syscall"
)

// checkVacuumSpace checks that VACUUM of a file holding data bytes fits: the log it writes beside the file in
// dir, and its temporary copy in SQLite's temporary directory (sqliteTempDir), each about data bytes; twice that
// in dir when both are on one file system.
func checkVacuumSpace(dir string, data int64) error {
	need := map[string]int64{}
	devs := map[uint64]string{}
	for _, d := range []string{dir, sqliteTempDir()} {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			continue // no such directory: SQLite would not use it either
		}
		key := d
		if first, ok := devs[uint64(st.Dev)]; ok {
			key = first
		} else {
			devs[uint64(st.Dev)] = d
		}
		need[key] += data
	}
	for d, n := range need {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(d, &fs); err != nil {
			continue // cannot tell: let SQLite try, it fails cleanly with SQLITE_FULL
		}
		if free := int64(fs.Bavail) * int64(fs.Bsize); free < n {
			return &NoSpaceError{Dir: d, Need: n, Free: free}
		}
	}
	return nil
}

// sqliteTempDir is the directory SQLite's unix build puts temporary files in: the first of SQLITE_TMPDIR,
// TMPDIR, /var/tmp, /usr/tmp and /tmp that is a directory.
func sqliteTempDir() string {
	for _, d := range []string{os.Getenv("SQLITE_TMPDIR"), os.Getenv("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp"} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return "."
}
