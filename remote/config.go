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
	// ServerErrorRetries bounds the retries of a 500 answer to an idempotent request. A
	// gateway's 500 passes, but on this platform a 500 is as often a deterministic failure of
	// one record, which no number of retries mends.
	ServerErrorRetries = 2
)

// Config configures a Client. BaseURL, Tenant, ClientID and ClientSecret are required; every
// other field has a usable zero value.
//
// ClientID and ClientSecret are never printed: String, GoString and LogValue redact them.
type Config struct {
	// BaseURL is the API root, e.g. https://api.emporix.io. A trailing slash is ignored.
	BaseURL string
	// MappingsURL is the root of the SD customer mappings endpoint
	// ({MappingsURL}/{tenant}/sdCustomerMappings), an Engagement Center (YaaS) service the
	// platform itself does not have. Empty means none: the SD mapping calls then fail with
	// ErrNoMappingsURL before sending anything. Tokens for it are requested at
	// {MappingsURL}/oauth/token with the same client credentials.
	MappingsURL string
	// Tenant is the tenant name used in every path; it must follow the platform's rule
	// (TenantRule).
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
	// attempts); a 500 answer to an idempotent request is retried at most
	// ServerErrorRetries times of these. Zero means DefaultMaxRetries; negative means no
	// retries.
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

	// OnAccepted, if set, is called once, when the platform first answers a request that
	// carried an access token with 2xx: the moment the platform has accepted the credentials
	// for this tenant (custsync binds its state file to the tenant then). The call that
	// triggered it waits for it; if it fails, that call fails with its error and the next
	// successful call tries again.
	OnAccepted func(context.Context) error
}

// TenantRule is the platform's rule for tenant names (the specs' tenant path parameter:
// ^[a-z][a-z0-9]+$, 3 to 16 characters).
const TenantRule = "3 to 16 lowercase letters and digits, starting with a letter"

var tenantPattern = regexp.MustCompile(`^[a-z][a-z0-9]{2,15}$`)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid remote configuration")

// Validate reports what New would refuse, without creating a client.
func (c Config) Validate() error {
	_, _, err := c.validate()
	return err
}

// validate checks the required fields and returns the normalised base URLs.
func (c Config) validate() (base, mappings string, err error) {
	base, err = normaliseBaseURL("base URL", c.BaseURL)
	if err != nil {
		return "", "", err
	}
	if c.MappingsURL != "" {
		if mappings, err = normaliseBaseURL("mappings URL", c.MappingsURL); err != nil {
			return "", "", err
		}
	}
	if !tenantPattern.MatchString(c.Tenant) {
		return "", "", fmt.Errorf("%w: tenant %q is not a platform tenant name (%s)", ErrInvalidConfig, c.Tenant, TenantRule)
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
