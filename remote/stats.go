package remote

import (
	"sync/atomic"
	"time"
)

// Stats are the client's counters since it was created, for the run summary.
type Stats struct {
	// Requests counts HTTP attempts to the platform, retries and token requests included: Retries counts
	// repeated token requests too.
	Requests int64
	// Retries counts attempts repeated after a temporary failure (token refreshes after a
	// 401 excluded).
	Retries int64
	// Throttled counts 429 answers.
	Throttled int64
	// ServerErrors counts 5xx answers.
	ServerErrors int64
	// NetworkErrors counts attempts that got no HTTP answer.
	NetworkErrors int64
	// TokenFetches counts token requests.
	TokenFetches int64
	// PausedTime is the wall time the shared pause gate was closed by 429s and Retry-After.
	PausedTime time.Duration
	// LimiterWait is the time requests spent waiting for the rate limiter, summed over
	// workers; it shows how much the configured TPS held the run back.
	LimiterWait time.Duration
}

type counters struct {
	requests, retries, throttled, serverErrors, networkErrors, tokenFetches atomic.Int64
	limiterWait                                                             atomic.Int64
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:      c.stats.requests.Load(),
		Retries:       c.stats.retries.Load(),
		Throttled:     c.stats.throttled.Load(),
		ServerErrors:  c.stats.serverErrors.Load(),
		NetworkErrors: c.stats.networkErrors.Load(),
		TokenFetches:  c.stats.tokenFetches.Load(),
		PausedTime:    c.gate.pausedTotal(),
		LimiterWait:   time.Duration(c.stats.limiterWait.Load()),
	}
}
