package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Faults describes the misbehaviour the sandbox injects so clients' retry and resume paths can be
// exercised. Fractions are probabilities in [0,1] drawn per request.
type Faults struct {
	Error503 float64       // fraction of requests answered 503 before any effect
	Error429 float64       // fraction of requests answered 429 with Retry-After: 1 before any effect
	Drop     float64       // fraction of write requests (POST/PUT/PATCH/DELETE) applied and then answered by closing the connection
	Latency  time.Duration // added to every request
	Seed     int64         // makes the fault draws deterministic when non-zero
}

// ParseFaults parses a fault specification such as "503=0.05,429=0.02,drop=0.01,latency=20ms,seed=7".
// The empty string means no faults. An unknown key or a bad value is an error naming that part.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return f, nil
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return Faults{}, fmt.Errorf("fault spec part %q: want key=value", part)
		}
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		switch key {
		case "503", "429", "drop":
			p, err := strconv.ParseFloat(value, 64)
			if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
				return Faults{}, fmt.Errorf("fault spec part %q: want a fraction between 0 and 1", part)
			}
			switch key {
			case "503":
				f.Error503 = p
			case "429":
				f.Error429 = p
			default:
				f.Drop = p
			}
		case "latency":
			d, err := time.ParseDuration(value)
			if err != nil || d < 0 {
				return Faults{}, fmt.Errorf("fault spec part %q: want a non-negative duration such as 20ms", part)
			}
			f.Latency = d
		case "seed":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return Faults{}, fmt.Errorf("fault spec part %q: want an integer seed", part)
			}
			f.Seed = n
		default:
			return Faults{}, fmt.Errorf("fault spec part %q: unknown key %q (want 503, 429, drop, latency or seed)", part, key)
		}
	}
	if f.Error503+f.Error429 > 1 {
		return Faults{}, fmt.Errorf("fault spec %q: 503 and 429 fractions add up to more than 1", spec)
	}
	return f, nil
}

// faultPlan is what the injector decided for one request.
type faultPlan struct {
	status  int // 503 or 429, 0 for none
	drop    bool
	latency time.Duration
}

// faultInjector draws fault decisions from one random source so that a seeded run gives the same
// sequence of decisions for the same sequence of requests.
type faultInjector struct {
	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
}

func newFaultInjector(f Faults) *faultInjector {
	fi := &faultInjector{}
	fi.set(f)
	return fi
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.faults = f
	seed := uint64(f.Seed)
	if f.Seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fi.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (fi *faultInjector) plan(write bool) faultPlan {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.faults
	p := faultPlan{latency: f.Latency}
	if f.Error503 > 0 || f.Error429 > 0 {
		u := fi.rng.Float64()
		switch {
		case u < f.Error503:
			p.status = 503
		case u < f.Error503+f.Error429:
			p.status = 429
		}
	}
	if p.status == 0 && write && f.Drop > 0 {
		p.drop = fi.rng.Float64() < f.Drop
	}
	return p
}

// rateLimiter is the server-wide token bucket; nil means unlimited.
type rateLimiter struct{ lim *rate.Limiter }

func newRateLimiter(perSecond float64) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	burst := int(perSecond)
	if burst < 1 {
		burst = 1
	}
	return &rateLimiter{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow takes a token, or reports how many whole seconds (at least 1) the caller should wait.
func (rl *rateLimiter) allow() (ok bool, retryAfterSeconds int) {
	if rl == nil {
		return true, 0
	}
	now := time.Now()
	if rl.lim.AllowN(now, 1) {
		return true, 0
	}
	r := rl.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	r.CancelAt(now)
	secs := int(math.Ceil(delay.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return false, secs
}
