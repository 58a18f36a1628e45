package remote

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"custsync/sandbox"
)

// BenchmarkUnlimited measures requests per second against the sandbox over loopback HTTP
// with no rate limit: GETs of existing customers from 8 workers.
func BenchmarkUnlimited(b *testing.B) {
	p := startPlatform(b, sandbox.Options{})
	c := newTestClient(b, testConfig(p))
	const customers = 100
	seedCustomers(b, c, customers)
	ctx := context.Background()
	var next atomic.Int64

	// RunParallel starts parallelism×GOMAXPROCS goroutines; aim for 8.
	b.SetParallelism(max(1, (8+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % customers
			if _, err := c.GetCustomer(ctx, customerID(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRateLimited200 runs 32 workers for 10 s against a client limited to 200 requests
// per second and reports the achieved rate as a percentage of the configured one. The sandbox
// enforces 205 req/s itself, so a client that bursts above its limit meets 429s; the busiest
// one-second window of the sandbox's request log shows any overshoot directly.
func BenchmarkRateLimited200(b *testing.B) {
	const (
		tps      = 200.0
		duration = 10 * time.Second
		workers  = 32
	)
	p := startPlatform(b, sandbox.Options{RateLimit: 205})
	seeder := newTestClient(b, testConfig(p))
	const customers = 50
	seedCustomers(b, seeder, customers)

	for range b.N {
		cfg := testConfig(p)
		cfg.TPS = tps
		c := newTestClient(b, cfg)
		// Take the token before the clock starts: the measured window holds API requests only.
		if _, err := c.GetCustomer(context.Background(), customerID(0)); err != nil {
			b.Fatal(err)
		}
		p.srv.ResetRequests()
		base := c.Stats()

		ctx, cancel := context.WithTimeout(context.Background(), duration)
		start := time.Now()
		var wg sync.WaitGroup
		var done atomic.Int64
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; ctx.Err() == nil; i += workers {
					if _, err := c.GetCustomer(ctx, customerID(i%customers)); err == nil {
						done.Add(1)
					} else if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		cancel()

		s := c.Stats()
		achieved := float64(done.Load()) / elapsed.Seconds()
		var times []time.Time
		serverThrottled := 0
		for _, r := range p.srv.Requests() {
			if r.Method == http.MethodGet {
				times = append(times, r.Time)
			}
			if r.Fault == "ratelimit" {
				serverThrottled++
			}
		}
		b.ReportMetric(achieved, "req/s")
		b.ReportMetric(100*achieved/tps, "%-of-tps")
		b.ReportMetric(float64(s.Throttled-base.Throttled), "429s")
		b.ReportMetric(float64(serverThrottled), "server-429s")
		b.ReportMetric(float64(busiestSecond(times)), "max-req-in-1s")
	}
}

// busiestSecond returns the largest number of requests logged within any one-second window.
func busiestSecond(times []time.Time) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
