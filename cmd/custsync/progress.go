package main

import (
	"fmt"
	"io"
	"os"
	stdsync "sync"
	"time"

	"golang.org/x/term"
)

// lineProgress shows progress on stderr: a redrawn line on a terminal, a plain line every 10 s otherwise.
type lineProgress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	mu    stdsync.Mutex
	drawn bool
}

func newLineProgress(w io.Writer) *lineProgress {
	p := &lineProgress{w: w, every: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.every = true, 500*time.Millisecond
	}
	return p
}

func (p *lineProgress) show(line string, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if !done {
		fmt.Fprintf(p.w, "progress: %s\n", line)
	}
}

func (p *lineProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
