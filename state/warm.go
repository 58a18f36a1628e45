package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// warmChunk is the size of one read of WarmPageCache.
const warmChunk = 1 << 20

// WarmPageCache reads the state file once from start to end in the background, so that the operating system
// has its pages in memory before a run needs them. A nightly run finds its state file out of the page cache
// (the night's other work has pushed it out), and then every entity, snapshot and SD mapping a delta reads or
// commits is a random read from disk: a 1% delta of 1M rows took 7.1-9.3 s that way against 4.4 s warm, and 4.8-5.2 s
// with the file read through beside it, since one sequential pass costs the disk less than a few ten thousand
// random reads. A file whose pages are nearly all in memory already (residentFraction) is not read again,
// which would cost a tenth of a second of CPU per GB. The file is read only where it fits in half the memory
// that is free for it (the machine's, or the container's limit; see memoryAvailable), so that it never
// pushes out what the run reads itself, and not at all where that cannot be told. The pass ends early when
// ctx is done; it holds no lock and reads through its own descriptor, so it never delays a writer. Errors are
// ignored: the pass only saves time.
func (s *Store) WarmPageCache(ctx context.Context) {
	avail, ok := memoryAvailable()
	if !ok {
		return
	}
	go func() { _, _ = warmFile(ctx, s.path, avail/2, warmResident) }()
}

// warmResident is the share of a file's pages in memory from which WarmPageCache leaves it alone.
const warmResident = 0.9

// warmFile reads path to its end, unless it is larger than budget bytes or at least maxResident of its pages
// are in memory already, and returns how much it read.
func warmFile(ctx context.Context, path string, budget int64, maxResident float64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if info.Size() > budget {
		return 0, fmt.Errorf("%s: %d bytes, more than the %d to spare for it", path, info.Size(), budget)
	}
	if share, ok := residentFraction(f, info.Size()); ok && share >= maxResident {
		return 0, nil
	}
	buf := make([]byte, warmChunk)
	var read int64
	for ctx.Err() == nil {
		n, err := f.Read(buf)
		read += int64(n)
		if errors.Is(err, io.EOF) {
			return read, nil
		}
		if err != nil {
			return read, err
		}
	}
	return read, ctx.Err()
}
