package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenPath is the OAuth token endpoint, relative to BaseURL.
const tokenPath = "/oauth/token"

// tokenFetchTimeout bounds one token request. The fetch is shared by every waiting worker, so
// it runs detached from the context of the worker that happened to start it.
const tokenFetchTimeout = 30 * time.Second

// token is a cached access token.
type token struct {
	value string
	// scope is the answer's space-separated scope (granted scopes and tenant=...).
	scope string
	// refreshAt is when the token is replaced proactively; zero means only after a 401.
	refreshAt time.Time
}

// tokenSource caches the client-credentials token and fetches a new one when it is due,
// with concurrent callers sharing a single request.
type tokenSource struct {
	c *Client
	// url is the token endpoint.
	url   string
	group singleflight.Group

	mu      sync.Mutex
	current token
}

// get returns a valid token, fetching one if none is cached or the cached one is due.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	ts.mu.Lock()
	cur := ts.current
	ts.mu.Unlock()
	if cur.value != "" && (cur.refreshAt.IsZero() || ts.c.clock.Now().Before(cur.refreshAt)) {
		return cur.value, nil
	}
	ch := ts.group.DoChan("token", func() (any, error) {
		// Another caller may have stored a fresh token between our check and this call.
		ts.mu.Lock()
		cur := ts.current
		ts.mu.Unlock()
		if cur.value != "" && (cur.refreshAt.IsZero() || ts.c.clock.Now().Before(cur.refreshAt)) {
			return cur.value, nil
		}
		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		defer cancel()
		tok, err := ts.fetchWithRetries(fetchCtx)
		if err != nil {
			return "", err
		}
		ts.mu.Lock()
		ts.current = tok
		ts.mu.Unlock()
		return tok.value, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// invalidate drops the cached token if it is still the one that was refused, so that of
// many workers refused with the same token only the first causes a new fetch.
func (ts *tokenSource) invalidate(refused string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.current.value == refused {
		ts.current = token{}
	}
}

// fetchWithRetries requests a token, retrying temporary failures like any other call. A token
// request has no side effect, so it is always safe to repeat.
func (ts *tokenSource) fetchWithRetries(ctx context.Context) (token, error) {
	c := ts.c
	var lastErr error
	for attempt := 1; ; attempt++ {
		tok, retryAfter, err := ts.fetch(ctx)
		if err == nil {
			return tok, nil
		}
		lastErr = err
		var apiErr *APIError
		retryable := errors.As(err, &apiErr) && retryableStatus(apiErr.Status)
		var netErr *NetworkError
		if errors.As(err, &netErr) {
			retryable = true
		}
		if !retryable || ctx.Err() != nil {
			return token{}, err
		}
		if attempt > c.maxRetries {
			return token{}, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, lastErr)
		}
		delay := backoffDelay(attempt, c.baseBackoff, c.maxBackoff, c.randN)
		if retryAfter > delay {
			delay = retryAfter
		}
		c.stats.retries.Add(1)
		c.logger.Warn("token request failed, retrying", slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.String("error", c.scrub(err.Error())))
		if err := c.clock.Sleep(ctx, delay); err != nil {
			return token{}, fmt.Errorf("token request: %w (last failure: %w)", err, lastErr)
		}
	}
}

// tokenResponse is the OAuth service's answer.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       string          `json:"scope"`
}

// fetch makes one token request. Errors never contain the secret or the token: the secret
// travels only in the form body, which no error or log line includes, and platform messages
// are scrubbed of both.
func (ts *tokenSource) fetch(ctx context.Context) (token, time.Duration, error) {
	c := ts.c
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, 0, fmt.Errorf("POST %s: %w", tokenPath, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	c.stats.tokenFetches.Add(1)
	issuedAt := c.clock.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		wrapped := classifyTransportError(http.MethodPost, tokenPath, err)
		return token{}, 0, wrapped
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		wrapped := classifyTransportError(http.MethodPost, tokenPath, err)
		return token{}, 0, wrapped
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := newAPIError(http.MethodPost, tokenPath, resp, body)
		c.scrubAPIError(apiErr)
		retryAfter, _ := parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return token{}, 0, fmt.Errorf("token request: %w: %w", ErrCredentialsRefused, apiErr)
		}
		return token{}, min(retryAfter, c.maxRetryAfter), apiErr
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		// The body may hold a token; say nothing about its content.
		return token{}, 0, fmt.Errorf("POST %s: 200 answer without a usable access_token", tokenPath)
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return token{}, 0, fmt.Errorf("POST %s: unsupported token type %q", tokenPath, tr.TokenType)
	}
	c.rememberToken(tr.AccessToken)
	return token{value: tr.AccessToken, scope: tr.Scope, refreshAt: refreshTime(issuedAt, parseExpiresIn(tr.ExpiresIn))}, 0, nil
}

// parseExpiresIn accepts expires_in as a number or a numeric string (the platform's examples
// use both). Zero means unknown.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(strings.TrimSpace(s))
	}
	secs, err := n.Float64()
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// refreshTime is when a token issued at issuedAt and valid for ttl is replaced: a margin of
// 10% of its lifetime but at least a minute before expiry, so a request never starts with a
// token about to lapse; for lifetimes too short for that margin, halfway. A zero ttl (unknown)
// gives a zero time: the token is then replaced only after a 401.
func refreshTime(issuedAt time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	margin := max(ttl/10, time.Minute)
	margin = min(margin, ttl/2)
	return issuedAt.Add(ttl - margin)
}
