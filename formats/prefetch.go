package formats

import (
	"fmt"
	"io"
)

// prefetchReader reads ahead of its consumer on its own goroutine, in a few
// fixed chunks. The XLSX reader inflates each sheet through one, so that
// inflating (compress/flate, about two thirds of the work) and tokenising
// run on two cores instead of one after the other.
type prefetchReader struct {
	full    chan prefetchChunk
	free    chan []byte
	stop    chan struct{}
	done    chan struct{}
	cur     []byte // unread part of the chunk being consumed
	held    []byte // the chunk being consumed, returned to free when done
	err     error  // the error that ended the source, once reached
	stopped bool
}

type prefetchChunk struct {
	b   []byte
	err error
}

// Each open sheet holds prefetchDepth+1 chunks (512 KiB), a workbook of
// many sheets one set per sheet while they are open.
const (
	prefetchChunkSize = 128 << 10
	prefetchDepth     = 3 // chunks filled ahead of the consumer
)

func newPrefetchReader(src io.Reader) *prefetchReader {
	p := &prefetchReader{
		full: make(chan prefetchChunk, prefetchDepth),
		free: make(chan []byte, prefetchDepth+1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range prefetchDepth + 1 {
		p.free <- make([]byte, prefetchChunkSize)
	}
	go p.run(src)
	return p
}

func (p *prefetchReader) run(src io.Reader) {
	defer close(p.done)
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			return
		}
		n, err := fillChunk(src, buf)
		select {
		case p.full <- prefetchChunk{buf[:n], err}:
		case <-p.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// fillChunk reads until buf is full or src fails; a panic of the source (a
// decompressor fed hostile data) becomes an error.
func fillChunk(src io.Reader, buf []byte) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reading failed: %v", p)
		}
	}()
	for n < len(buf) && err == nil {
		var m int
		m, err = src.Read(buf[n:])
		n += m
	}
	return n, err
}

func (p *prefetchReader) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if p.held != nil {
			p.free <- p.held[:cap(p.held)]
			p.held = nil
		}
		c := <-p.full
		p.cur, p.held, p.err = c.b, c.b, c.err
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits for it, so the source may be closed
// afterwards.
func (p *prefetchReader) Close() error {
	if !p.stopped {
		p.stopped = true
		close(p.stop)
		<-p.done
	}
	return nil
}
