package remote

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// testClock is a Clock for tests. In auto mode every Sleep returns at once and moves the
// clock forward, so backoff and Retry-After waits cost no real time. In manual mode a Sleep
// blocks until the test calls Advance, which lets a test observe who is waiting, and until when.
type testClock struct {
	mu       sync.Mutex
	now      time.Time
	auto     bool
	sleepers []*sleeper
	slept    []time.Duration
	changed  chan struct{} // closed and replaced whenever sleepers change
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

func newTestClock(auto bool) *testClock {
	return &testClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), auto: auto, changed: make(chan struct{})}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	c.slept = append(c.slept, d)
	if c.auto {
		c.now = c.now.Add(d)
		c.mu.Unlock()
		return nil
	}
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, other := range c.sleepers {
			if other == s {
				c.sleepers = append(c.sleepers[:i], c.sleepers[i+1:]...)
				break
			}
		}
		c.notifyLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

func (c *testClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock and wakes the sleepers that are due.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if !s.until.After(c.now) {
			close(s.wake)
		} else {
			kept = append(kept, s)
		}
	}
	c.sleepers = kept
	c.notifyLocked()
}

// waitSleepers blocks until n goroutines sleep on the clock and returns their wake-up times,
// sorted. The deadline only keeps a broken client from hanging the test run.
func (c *testClock) waitSleepers(t *testing.T, n int) []time.Time {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.sleepers) >= n {
			var until []time.Time
			for _, s := range c.sleepers {
				until = append(until, s.until)
			}
			c.mu.Unlock()
			sort.Slice(until, func(i, j int) bool { return until[i].Before(until[j]) })
			return until
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %d sleepers on the clock after 20s", n)
		}
	}
}

func (c *testClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
