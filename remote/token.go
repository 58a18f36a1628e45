package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenPath is the OAuth token endpoint, relative to BaseURL.
const tokenPath = "/oauth/token"

// token is a cached access token.
type token struct {
	value string
	// scope is the answer's space-separated scope (granted scopes and tenant=...).
	scope string
	// refreshAt is when the token is replaced proactively; zero means only after a 401.
	refreshAt time.Time
}

// tokenSource caches the client-credentials token of one host and fetches a new one when it
// is due, with concurrent callers sharing a single request.
type tokenSource struct {
	c *Client
	// base is the root of the host that issues the tokens.
	base  string
	group singleflight.Group

	mu      sync.Mutex
	current token
	// failed is the *TokenError of a fetch that failed for good; every later get returns it.
	failed error
}

// get returns a valid token, fetching one if none is cached or the cached one is due.
func (ts *tokenSource) get(ctx context.Context) (string, error) {
	if tok, err, ok := ts.cached(); ok {
		return tok, err
	}
	ch := ts.group.DoChan("token", func() (any, error) {
		// Another caller may have stored a fresh token between our check and this call.
		if tok, err, ok := ts.cached(); ok {
			return tok, err
		}
		// The fetch is shared by every waiting worker, so it does not end with the context of
		// the one that happened to start it; its attempts are bounded by the retry policy.
		tok, err := ts.fetch(context.WithoutCancel(ctx))
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if err != nil {
			ts.failed = err
			return "", err
		}
		ts.current = tok
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

// cached returns the cached token, or the failure that ended fetching, if either applies.
func (ts *tokenSource) cached() (string, error, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.failed != nil {
		return "", ts.failed, true
	}
	cur := ts.current
	if cur.value != "" && (cur.refreshAt.IsZero() || time.Now().Before(cur.refreshAt)) {
		return cur.value, nil, true
	}
	return "", nil, false
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

// tokenResponse is the OAuth service's answer.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       string          `json:"scope"`
}

// fetch requests a token through the client's retry loop and rate limiter, like any other
// call: a token request has no side effect, so it is always safe to repeat. Every failure is
// a *TokenError naming the endpoint. Errors never contain the secret or the token: the secret
// travels only in the form body, which nothing logs or quotes, and platform messages are
// scrubbed of both.
func (ts *tokenSource) fetch(ctx context.Context) (token, error) {
	c := ts.c
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	var tr tokenResponse
	issuedAt := time.Now()
	r := &request{method: http.MethodPost, base: ts.base, path: tokenPath, form: form, anonymous: true, repeatable: true,
		check: func(resp *response) error { return decodeTokenAnswer(resp, &tr) }}
	_, err := c.do(ctx, r)
	if err != nil {
		return token{}, ts.failure(err)
	}
	c.rememberToken(tr.AccessToken)
	return token{value: tr.AccessToken, scope: tr.Scope, refreshAt: refreshTime(issuedAt, parseExpiresIn(tr.ExpiresIn))}, nil
}

// decodeTokenAnswer reads a 200 answer of the token endpoint into tr. JSON cut short is a
// transient failure (a proxy or the network lost the end); anything else without a bearer
// token did not come from the platform's OAuth service. The body may hold a token, so
// nothing of it is quoted.
func decodeTokenAnswer(resp *response, tr *tokenResponse) error {
	bad := func(reason string, temporary bool) error {
		return &badAnswer{method: http.MethodPost, path: tokenPath, status: resp.status, reason: reason, temporary: temporary}
	}
	body := bytes.TrimSpace(resp.body)
	if len(body) == 0 {
		return bad("with an empty body", true)
	}
	if body[0] != '{' {
		return bad("that is not JSON", false)
	}
	if err := json.Unmarshal(body, tr); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &syntaxErr) && int(syntaxErr.Offset) >= len(body)) {
			return bad("cut short (incomplete JSON)", true)
		}
		return bad("that is not the JSON of a token", false)
	}
	if tr.AccessToken == "" {
		return bad("without an access_token", false)
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return bad(fmt.Sprintf("with the unsupported token type %q", tr.TokenType), false)
	}
	return nil
}

// failure turns the error of a token request into a *TokenError of the right class.
func (ts *tokenSource) failure(err error) error {
	te := &TokenError{Endpoint: ts.base + tokenPath}
	var (
		apiErr *APIError
		netErr *NetworkError
		bad    *badAnswer
	)
	switch {
	case errors.As(err, &apiErr):
		te.Status, te.Answer, te.Attempts = apiErr.Status, apiErr.describe(), apiErr.Attempts
	case errors.As(err, &bad):
		te.Status, te.Answer = bad.status, "an answer "+bad.reason
	case errors.As(err, &netErr):
		te.Answer = netErr.Err.Error()
	default:
		te.Answer = ts.c.scrub(err.Error())
	}
	var exhausted *retriesExhausted
	if errors.As(err, &exhausted) {
		te.Attempts = exhausted.attempts
	}
	te.Attempts = max(te.Attempts, 1)
	class := ErrNotPlatform
	switch {
	case errors.Is(err, ErrRetriesExhausted):
		class = ErrRetriesExhausted
	case apiErr != nil && apiErr.Status == http.StatusNotImplemented:
	case apiErr != nil && apiErr.Status >= 500, apiErr != nil && apiErr.Status == http.StatusTooManyRequests, netErr != nil:
		class = ErrRetriesExhausted // not retried: retries are switched off
	case apiErr != nil && apiErr.fromJSON && (apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden):
		class = ErrCredentialsRefused
	}
	if class == ErrNotPlatform {
		// Only the class: a 401 page of a web server must not read as refused credentials.
		te.Err = class
	} else {
		te.Err = fmt.Errorf("%w: %w", class, err)
	}
	return te
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
