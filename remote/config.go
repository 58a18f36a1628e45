package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults applied by New when the corresponding Config field is zero.
const (
	DefaultMaxRetries     = 6
	DefaultBaseBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 2 * time.Minute
	DefaultRequestTimeout = 60 * time.Second
)

// Config configures a Client. BaseURL, Tenant, ClientID and ClientSecret are required; every
// other field has a usable zero value.
//
// ClientID and ClientSecret are never printed: String, GoString and LogValue redact them.
type Config struct {
	// BaseURL is the API root, e.g. https://api.emporix.io. A trailing slash is ignored.
	BaseURL string
	// MappingsURL is the root of the SD customer mappings endpoint
	// ({MappingsURL}/{tenant}/sdCustomerMappings). Empty means BaseURL. When it differs
	// from BaseURL, tokens for it are requested at {MappingsURL}/oauth/token with the same
	// client credentials.
	MappingsURL string
	// Tenant is the lowercase tenant name used in every path.
	Tenant string

	// ClientID and ClientSecret are the OAuth2 client credentials of the tenant's API key.
	ClientID, ClientSecret string
	// Scopes, when set, is sent as the space-separated scope of the token request. Empty asks
	// for every scope the client holds.
	Scopes []string

	// TPS is the rate limit in requests per second shared by all requests of the Client.
	// Zero or negative means unlimited.
	TPS float64
	// Burst is the rate limiter's bucket size. Zero means 1, which spreads requests evenly and
	// never overshoots a server-side limit equal to TPS.
	Burst int
	// Writers limits concurrent write requests (PUT, PATCH, DELETE, POST creates) and Readers
	// concurrent reads (GET, POST searches). Zero or negative means no limit beyond the
	// callers' own concurrency.
	Writers, Readers int

	// MaxRetries is how many times a temporary failure is retried (so at most MaxRetries+1
	// attempts). Zero means DefaultMaxRetries; negative means no retries.
	MaxRetries int
	// BaseBackoff is the cap of the first retry's random delay; each further retry doubles it.
	// Zero means DefaultBaseBackoff.
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff delay. Zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// MaxRetryAfter caps how long a Retry-After answer may pause the client. Zero means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// RequestTimeout bounds one attempt (connect, send, read the body). A timed-out attempt
	// is retried like a network error. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration

	// SendPasswordResetNotifications is passed to the customer PUT. The platform defaults it
	// to true, which e-mails a password-reset link for every customer an upsert creates; a
	// master-data sync must not do that unless asked, so the zero value sends false.
	SendPasswordResetNotifications bool

	// HTTPClient sends the requests. Nil means a client with a connection pool sized for
	// many concurrent workers. Its Timeout, if any, applies on top of RequestTimeout.
	HTTPClient *http.Client
	// Logger receives pauses (429, Retry-After) at Warn, token refreshes at Info, and every
	// attempt and retry at Debug; Stats counts them all. Nil discards. Log lines carry method,
	// path, status and the platform's message, never headers, query strings or bodies.
	Logger *slog.Logger
	// Clock tells time and sleeps. Nil means the real clock. Tests inject a fake one so
	// backoff and Retry-After waits take no real time.
	Clock Clock
}

// tenantPattern is the platform's tenant rule (lowercase letters and digits, starting with a
// letter); the length limits of the spec are not enforced so that odd legacy tenants still work.
var tenantPattern = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid remote configuration")

// validate checks the required fields and returns the normalised base URLs.
func (c Config) validate() (base, mappings string, err error) {
	base, err = normaliseBaseURL("base URL", c.BaseURL)
	if err != nil {
		return "", "", err
	}
	mappings = base
	if c.MappingsURL != "" {
		if mappings, err = normaliseBaseURL("mappings URL", c.MappingsURL); err != nil {
			return "", "", err
		}
	}
	if !tenantPattern.MatchString(c.Tenant) {
		return "", "", fmt.Errorf("%w: tenant %q must be lowercase letters and digits starting with a letter", ErrInvalidConfig, c.Tenant)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return "", "", fmt.Errorf("%w: %w", ErrInvalidConfig, ErrMissingCredentials)
	}
	return base, mappings, nil
}

func normaliseBaseURL(what, raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrInvalidConfig, what, raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: %s must not carry user info", ErrInvalidConfig, what)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %s must not carry a query or fragment", ErrInvalidConfig, what)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// String describes the configuration with the credentials redacted.
func (c Config) String() string {
	return fmt.Sprintf("remote.Config{BaseURL:%q MappingsURL:%q Tenant:%q ClientID:%s ClientSecret:%s TPS:%g Burst:%d Writers:%d Readers:%d MaxRetries:%d}",
		c.BaseURL, c.MappingsURL, c.Tenant, redacted(c.ClientID), redacted(c.ClientSecret),
		c.TPS, c.Burst, c.Writers, c.Readers, c.MaxRetries)
}

// GoString redacts like String, so %#v cannot leak the credentials either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog log the configuration with the credentials redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("mappings_url", c.MappingsURL),
		slog.String("tenant", c.Tenant),
		slog.String("client_id", redacted(c.ClientID)),
		slog.String("client_secret", redacted(c.ClientSecret)),
		slog.Float64("tps", c.TPS),
		slog.Int("burst", c.Burst),
		slog.Int("writers", c.Writers),
		slog.Int("readers", c.Readers),
	)
}

func redacted(s string) string {
	if s == "" {
		return "unset"
	}
	return "[REDACTED]"
}

// Clock is the time source of a Client.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and returns ctx.Err()
	// in the latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
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
