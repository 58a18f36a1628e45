package remote

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// backoffDelay is the wait before retry number retry (1 for the first retry): "full jitter",
// a uniform random duration in [0, min(maxDelay, base·2^(retry-1))]. Full jitter spreads the
// retries of many workers that failed together, so they do not hit the platform in lockstep.
// randN returns a uniform value in [0, n) and is injected for tests.
func backoffDelay(retry int, base, maxDelay time.Duration, randN func(n int64) int64) time.Duration {
	if retry < 1 || base <= 0 || maxDelay <= 0 {
		return 0
	}
	ceiling := maxDelay
	// 2^62 overflows nothing and is far beyond any sensible cap.
	if shift := retry - 1; shift < 62 {
		if grown := float64(base) * math.Exp2(float64(shift)); grown < float64(maxDelay) {
			ceiling = time.Duration(grown)
		}
	}
	return time.Duration(randN(int64(ceiling) + 1))
}

func randomInt64N(n int64) int64 { return rand.Int64N(n) }

// parseRetryAfter reads a Retry-After header value: delay seconds (fractions tolerated) or an
// HTTP date, relative to now. A date in the past means "now" (0, true). Malformed values
// report false and are ignored by the caller, which then falls back to its own backoff.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(value, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		if secs > float64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	when, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	if d := when.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// pauseGate is the shared "not before" time of a Client. A 429 or a Retry-After answer moves
// it forward, and every request waits for it before taking a rate-limiter token, so one worker
// being told to slow down slows all of them (as rclone's pacer shares its sleep).
type pauseGate struct {
	mu    sync.Mutex
	until time.Time
	// paused accumulates the wall time the gate was closed, counting overlaps once.
	paused time.Duration
}

// pauseUntil closes the gate until t unless it is already closed longer. It returns how much
// the pause was extended.
func (g *pauseGate) pauseUntil(now, t time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	start := now
	if g.until.After(start) {
		start = g.until
	}
	if !t.After(start) {
		return 0
	}
	g.until = t
	g.paused += t.Sub(start)
	return t.Sub(start)
}

func (g *pauseGate) openAt() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

func (g *pauseGate) pausedTotal() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// wait blocks until the gate is open. The gate may be pushed further while waiting, hence
// the loop.
func (g *pauseGate) wait(ctx context.Context) error {
	for {
		until := g.openAt()
		now := time.Now()
		if !until.After(now) {
			return ctx.Err()
		}
		if err := sleep(ctx, until.Sub(now)); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx is done, and then returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// semaphore bounds concurrency; a nil semaphore does not.
type semaphore chan struct{}

func newSemaphore(n int) semaphore {
	if n <= 0 {
		return nil
	}
	return make(semaphore, n)
}

func (s semaphore) acquire(ctx context.Context) error {
	if s == nil {
		return ctx.Err()
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s semaphore) release() {
	if s != nil {
		<-s
	}
}
