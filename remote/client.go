package remote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Doc is a JSON object as the platform sends and accepts it. Numbers decode as json.Number so
// that exports write them exactly as the platform sent them.
type Doc = map[string]any

// The header values every request carries (see attempt).
var (
	acceptJSON      = []string{"application/json"}
	userAgentHeader = []string{userAgent}
	contentTypeJSON = []string{"application/json"}
)

const (
	userAgent = "custsync-remote/1"
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 64 << 10
	// maxBody bounds a successful answer; a page of 200 customers with addresses is far below.
	maxBody = 64 << 20
)

// Client talks to the platform. It is safe for concurrent use; share one per run so that all
// workers share its token, rate limiter, concurrency limits and pause gate.
type Client struct {
	cfg         Config
	baseURL     string
	mappingsURL string // "" when none is configured
	http        *http.Client
	logger      *slog.Logger
	randN       func(int64) int64
	limiter     *rate.Limiter
	writers     semaphore
	readers     semaphore
	gate        pauseGate
	tokens      *tokenSource
	// mappingTokens serves the mappings host, which issues its own tokens for the same
	// credentials; nil without a mappings URL.
	mappingTokens *tokenSource
	maxRetries    int
	baseBackoff   time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	timeout       time.Duration
	stats         counters

	// acceptedMu serialises Config.OnAccepted; accepted is set once it succeeded.
	acceptedMu sync.Mutex
	accepted   atomic.Bool

	// resetQuery is the encoded query of a customer's create: whether the platform mails a password reset.
	resetQuery string

	secretsMu sync.Mutex
	// secrets are strings scrubbed from every platform message: the client secret and the
	// most recent tokens.
	secrets []string
}

// New checks cfg and returns a Client. It makes no request: credentials are first used, and
// refused with ErrCredentialsRefused, by the first call.
func New(cfg Config) (*Client, error) {
	base, mappings, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:           cfg,
		baseURL:       base,
		mappingsURL:   mappings,
		http:          cfg.HTTPClient,
		logger:        cfg.Logger,
		randN:         randomInt64N,
		writers:       newSemaphore(cfg.Writers),
		readers:       newSemaphore(cfg.Readers),
		maxRetries:    cfg.MaxRetries,
		baseBackoff:   cmp.Or(max(cfg.BaseBackoff, 0), DefaultBaseBackoff),
		maxBackoff:    cmp.Or(max(cfg.MaxBackoff, 0), DefaultMaxBackoff),
		maxRetryAfter: cmp.Or(max(cfg.MaxRetryAfter, 0), DefaultMaxRetryAfter),
		timeout:       cmp.Or(max(cfg.RequestTimeout, 0), DefaultRequestTimeout),
		secrets:       []string{cfg.ClientSecret},
		resetQuery:    url.Values{"sendPasswordResetNotifications": {strconv.FormatBool(cfg.SendPasswordResetNotifications)}}.Encode(),
	}
	switch {
	case cfg.MaxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		c.maxRetries = 0
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TPS > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.TPS), max(cfg.Burst, 1))
	} else {
		c.limiter = rate.NewLimiter(rate.Inf, 1)
	}
	c.tokens = &tokenSource{c: c, base: base}
	switch mappings {
	case "":
	case base:
		c.mappingTokens = c.tokens
	default:
		c.mappingTokens = &tokenSource{c: c, base: mappings}
	}
	return c, nil
}

// defaultHTTPClient keeps enough idle connections per host for many workers; the standard
// transport keeps 2, which makes concurrent workers open and close connections constantly.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	return &http.Client{Transport: t}
}

// Tenant returns the configured tenant.
func (c *Client) Tenant() string { return c.cfg.Tenant }

// BaseURL returns the normalised API root.
func (c *Client) BaseURL() string { return c.baseURL }

// MappingsURL returns the normalised root of the SD customer mappings endpoint, "" if none is
// configured.
func (c *Client) MappingsURL() string { return c.mappingsURL }

// rememberToken adds a token to the strings scrubbed from messages, keeping the last few.
func (c *Client) rememberToken(tok string) {
	c.secretsMu.Lock()
	defer c.secretsMu.Unlock()
	const keep = 4
	c.secrets = append(c.secrets, tok)
	if len(c.secrets) > keep+1 {
		// Index 0 is the client secret and always stays.
		c.secrets = append(c.secrets[:1], c.secrets[len(c.secrets)-keep:]...)
	}
}

// scrub removes the client secret, known tokens and the request's own secrets (extra: the password hashes of
// a bulk import) from s, in every form an answer may quote them (see secretForms), and any bearer token or
// client_secret parameter. Platform messages are not expected to echo them, but a validation message may quote
// a value and a misconfigured proxy may echo anything, the token request's form body included, and the rule is
// absolute.
func (c *Client) scrub(s string, extra ...string) string {
	return scrubForms(s, c.secretForms(extra))
}

// scrubForms is scrub with the secrets' forms listed already (secretForms), for a caller that scrubs several
// texts of one answer.
func scrubForms(s string, forms []string) string {
	for _, form := range forms {
		s = strings.ReplaceAll(s, form, redactedText)
	}
	for _, re := range credentialPatterns {
		s = re.ReplaceAllString(s, "${1}"+redactedText)
	}
	return s
}

// scrubBody scrubs an error answer as a whole, before anything quotes a part of it: a quote cut to its first
// bytes must not keep the head of a secret. The answer was read up to limit bytes and one more, so when it is
// longer it is cut, and a secret the read cut off part of is dropped from the end.
func (c *Client) scrubBody(body []byte, limit int, extra []string) []byte {
	forms := c.secretForms(extra)
	s := scrubForms(string(body), forms)
	if len(body) <= limit {
		return []byte(s)
	}
	s = s[:min(len(s), limit)]
	for _, form := range forms {
		for n := min(len(form)-1, len(s)); n > 0; n-- {
			if strings.HasSuffix(s, form[:n]) {
				s = s[:len(s)-n]
				break
			}
		}
	}
	return []byte(s)
}

// secretForms lists the forms of the client secret, the known tokens and extra, longest first so that a form
// holding a shorter one as a part goes whole.
func (c *Client) secretForms(extra []string) []string {
	c.secretsMu.Lock()
	values := append(slices.Clone(c.secrets), extra...)
	c.secretsMu.Unlock()
	forms := secretForms(values)
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return forms
}

// redactedText replaces a secret in a message.
const redactedText = "[REDACTED]"

// credentialPatterns catch credentials that are not known to the client: a bearer token and a client_secret
// parameter, quoted from a request by a proxy or a gateway.
var credentialPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`),
	regexp.MustCompile(`(?i)(client_secret["']?\s*[:=]\s*["']?)[^\s"'&,}]+`),
}

// percentHex matches the escapes of a form-encoded value, which servers also write in lower case.
var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// secretForms returns the values with every form a message may quote them in: as sent, JSON-escaped (Go
// escapes <, > and &), with "/" escaped (as some JSON writers do), form-encoded (the token request's body,
// echoed) with upper- or lower-case escapes, and path-escaped.
func secretForms(values []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		if v == "" {
			continue
		}
		forms := []string{v}
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		query := url.QueryEscape(v)
		forms = append(forms, strings.ReplaceAll(v, "/", `\/`), query, percentHex.ReplaceAllStringFunc(query, strings.ToLower),
			url.PathEscape(v))
		for _, f := range forms {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func (c *Client) scrubAPIError(e *APIError, extra []string) {
	forms := c.secretForms(extra)
	e.Message = scrubForms(e.Message, forms)
	e.Type = scrubForms(e.Type, forms)
	e.Code = scrubForms(e.Code, forms)
	e.ResourceID = scrubForms(e.ResourceID, forms)
	for i, d := range e.Details {
		e.Details[i] = scrubForms(d, forms)
	}
}

// request describes one logical call; do sends it, with retries.
type request struct {
	method string
	// base is the API root to use (baseURL or mappingsURL).
	base string
	// path is the escaped path below base.
	path  string
	query url.Values
	// rawQuery, if set, is the query already encoded, sent instead of query.
	rawQuery string
	// header is only read: requests may share one.
	header http.Header
	// body is encoded as JSON, except a json.RawMessage, which is sent as it is.
	body any
	// form, if set, is sent form-encoded instead of body. It may carry the client secret, so
	// nothing ever logs or quotes it.
	form url.Values
	// read selects the readers' concurrency limit (GET, POST searches); otherwise writers'.
	read bool
	// repeatable allows retrying a POST after a 5xx or a network failure.
	repeatable bool
	// anonymous marks the token request itself: it carries no bearer token, and it skips
	// the concurrency limits so that it never waits for the workers that wait for it.
	anonymous bool
	// check, if set, inspects a 2xx answer inside the retry loop; a *badAnswer it returns is
	// retried when temporary.
	check func(*response) error
	// secrets are values of the body that must never be shown (password hashes): scrubbed from
	// every error and log line of the request, like the client secret.
	secrets []string
}

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
	// replayed is set when an earlier attempt of the request may have reached the platform
	// without an answer (dropped connection, timeout, 5xx): the platform may have applied it.
	replayed bool
}

// badAnswer is a 2xx answer that check refused. A temporary one (cut short) is retried.
type badAnswer struct {
	method, path string
	status       int
	reason       string
	temporary    bool
}

func (e *badAnswer) Error() string {
	return fmt.Sprintf("%s %s: %d answer %s", e.method, e.path, e.status, e.reason)
}

// idempotent reports whether the request may be repeated after an unknown outcome.
//
// PATCH is treated as idempotent: custsync's PATCH bodies are merge patches that set absolute
// values (never increments or list appends), so applying one twice leaves the same state.
// A body carrying metadata.version is the exception in effect: the replay then meets the
// version the first attempt produced and gets a 409 marked AfterUnknownOutcome.
func (r *request) idempotent() bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return r.repeatable
}

// retryable reports whether an error answer to attempt number attempt is worth another try, of at most
// maxRetries.
func (r *request) retryable(status, attempt, maxRetries int) bool {
	switch {
	case status == http.StatusTooManyRequests:
		// Refused before processing, so safe for every method.
		return true
	case !r.idempotent():
		return false
	case status == http.StatusInternalServerError:
		// The token endpoint has no records to fail on: its 500 passes like a 503. A record's 500 not
		// repeated fails the record, however few retries are allowed: it is no reason to stop the run.
		return r.anonymous || attempt <= min(ServerErrorRetries, maxRetries)
	}
	return retryableStatus(status)
}

// do sends r and returns its 2xx answer. It is the one retry loop of the client, token
// requests included: it retries per the package's policy and returns an *APIError for a final
// answer, an error wrapping ErrRetriesExhausted when every attempt failed temporarily, a
// *TokenError when no token could be had, or the context's error when ctx ends first.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	var payload []byte
	switch {
	case r.form != nil:
		payload = []byte(r.form.Encode())
	case r.body != nil:
		if raw, ok := r.body.(json.RawMessage); ok {
			payload = raw // encoded by the caller
			break
		}
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", r.method, r.path, err)
		}
	}
	var (
		lastErr        error
		unknownOutcome bool
		refreshed      bool
		// mayHaveApplied: an earlier attempt may have been applied without our knowing it.
		mayHaveApplied bool
	)
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, r, payload)
		if err == nil && r.check != nil {
			err = r.check(resp)
		}
		if err == nil {
			if !r.anonymous && r.base == c.baseURL {
				if err := c.markAccepted(ctx); err != nil {
					return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
				}
			}
			resp.replayed = mayHaveApplied
			return resp, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctxErr)
		}
		var (
			apiErr  *APIError
			netErr  *NetworkError
			authErr *refusedToken
			bad     *badAnswer
			tokErr  *TokenError
		)
		switch {
		case errors.As(err, &tokErr):
			// The token request has been through this loop already.
			return nil, tokErr
		case errors.As(err, &authErr):
			// The token was refused: fetch a new one and repeat once. The request was not
			// processed, so this is safe for every method and is not counted as a retry.
			if !refreshed {
				refreshed = true
				authErr.source.invalidate(authErr.token)
				c.logger.Info("access token refused, fetching a new one", slog.String("method", r.method), slog.String("path", r.path))
				attempt--
				continue
			}
			authErr.apiErr.Attempts = attempt
			authErr.apiErr.AfterUnknownOutcome = unknownOutcome
			return nil, authErr.apiErr
		case errors.As(err, &apiErr):
			apiErr.Attempts = attempt
			apiErr.AfterUnknownOutcome = unknownOutcome
			if !r.retryable(apiErr.Status, attempt, c.maxRetries) {
				return nil, apiErr
			}
			mayHaveApplied = mayHaveApplied || apiErr.Status >= 500
		case errors.As(err, &netErr):
			if netErr.UnknownOutcome {
				unknownOutcome = true
				mayHaveApplied = true
			}
			if netErr.UnknownOutcome && !r.idempotent() {
				return nil, err
			}
		case errors.As(err, &bad):
			if !bad.temporary {
				return nil, err
			}
		default:
			return nil, err
		}
		lastErr = err
		if attempt > c.maxRetries {
			return nil, &retriesExhausted{attempts: attempt, last: lastErr}
		}
		delay := backoffDelay(attempt, c.baseBackoff, c.maxBackoff, c.randN)
		if apiErr != nil && (apiErr.Status == http.StatusTooManyRequests || apiErr.RetryAfter > 0) {
			// Too many requests concern the whole tenant: pause every worker, for the time
			// the platform asked for or else for our own backoff delay.
			pause := delay
			if apiErr.RetryAfter > 0 {
				pause = min(apiErr.RetryAfter, c.maxRetryAfter)
			}
			now := time.Now()
			if extended := c.gate.pauseUntil(now, now.Add(pause)); extended > 0 {
				c.logger.Warn("platform asked to slow down, pausing all requests",
					slog.String("method", r.method), slog.String("path", r.path),
					slog.Int("status", apiErr.Status), slog.Duration("pause", pause))
			}
			delay = 0 // the gate does the waiting
		}
		c.stats.retries.Add(1)
		c.logger.Debug("retrying", slog.String("method", r.method), slog.String("path", r.path),
			slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.String("error", c.scrub(err.Error(), r.secrets...)))
		if err := sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("%s %s: %w (last failure: %w)", r.method, r.path, err, lastErr)
		}
	}
}

// markAccepted calls Config.OnAccepted after the first 2xx answer to an authenticated request.
func (c *Client) markAccepted(ctx context.Context) error {
	if c.cfg.OnAccepted == nil || c.accepted.Load() {
		return nil
	}
	c.acceptedMu.Lock()
	defer c.acceptedMu.Unlock()
	if c.accepted.Load() {
		return nil
	}
	if err := c.cfg.OnAccepted(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	c.accepted.Store(true)
	return nil
}

// refusedToken is an internal marker: the API answered 401 to the given token.
type refusedToken struct {
	source *tokenSource
	token  string
	apiErr *APIError
}

func (e *refusedToken) Error() string { return e.apiErr.Error() }

// attempt makes one try: token, concurrency slot, pause gate, rate limiter, HTTP exchange.
func (c *Client) attempt(ctx context.Context, r *request, payload []byte) (*response, error) {
	var (
		tokens *tokenSource
		tok    string
	)
	if !r.anonymous {
		tokens = c.tokens
		if r.base != c.baseURL {
			tokens = c.mappingTokens
		}
		// Before taking a slot: a worker waiting for the shared token fetch holds none.
		var err error
		if tok, err = tokens.get(ctx); err != nil {
			return nil, err
		}
		sem := c.writers
		if r.read {
			sem = c.readers
		}
		if err := sem.acquire(ctx); err != nil {
			return nil, err
		}
		defer sem.release()
	}
	for {
		if err := c.gate.wait(ctx); err != nil {
			return nil, err
		}
		if c.limiter.Limit() != rate.Inf {
			start := time.Now()
			if err := c.limiter.Wait(ctx); err != nil {
				return nil, limiterStop(ctx, err)
			}
			c.stats.limiterWait.Add(int64(time.Since(start)))
		}
		// The gate may have closed while we waited for the limiter; a token spent here is
		// the smaller evil than a request sent into a pause.
		if !c.gate.openAt().After(time.Now()) {
			break
		}
	}

	attemptCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := r.base + r.path
	switch {
	case r.rawQuery != "":
		u += "?" + r.rawQuery
	case len(r.query) > 0:
		u += "?" + r.query.Encode()
	}
	var bodyReader io.Reader
	if payload != nil {
		bodyReader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(attemptCtx, r.method, u, bodyReader)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if !r.anonymous {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// The fixed values are shared, read-only slices under canonical keys: Header.Set would canonicalise the key
	// and allocate a slice for every request.
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgentHeader
	switch _, typed := req.Header["Content-Type"]; {
	case r.form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case payload != nil && !typed:
		req.Header["Content-Type"] = contentTypeJSON
	}

	c.stats.requests.Add(1)
	if r.anonymous {
		c.stats.tokenFetches.Add(1)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.stats.networkErrors.Add(1)
		if attemptCtx.Err() != nil && ctx.Err() == nil {
			// This attempt's own timeout: a network failure to retry, not the caller's deadline.
			err = fmt.Errorf("no answer within %s", c.timeout)
		}
		wrapped := classifyTransportError(r.method, r.path, err)
		c.logger.Debug("request failed", slog.String("method", r.method), slog.String("path", r.path), slog.String("error", wrapped.Error()))
		return nil, wrapped
	}
	defer resp.Body.Close()
	limit := int64(maxBody)
	if resp.StatusCode >= 300 {
		limit = maxErrorBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		c.stats.networkErrors.Add(1)
		if attemptCtx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("answer not complete within %s", c.timeout)
		}
		wrapped := classifyTransportError(r.method, r.path, err)
		return nil, wrapped
	}
	c.logger.Debug("request", slog.String("method", r.method), slog.String("path", r.path),
		slog.Int("status", resp.StatusCode), slog.Duration("duration", time.Since(start)))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if int64(len(body)) > limit {
			return nil, fmt.Errorf("%s %s: answer larger than %d bytes", r.method, r.path, limit)
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
	}
	apiErr := newAPIError(r.method, r.path, resp, c.scrubBody(body, int(limit), r.secrets))
	// Again after decoding: a JSON escape (\u0026) decodes into a form scrubBody could not see.
	c.scrubAPIError(apiErr, r.secrets)
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		apiErr.RetryAfter = d
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		c.stats.throttled.Add(1)
	case resp.StatusCode >= 500:
		c.stats.serverErrors.Add(1)
	case resp.StatusCode == http.StatusUnauthorized && !r.anonymous:
		return nil, &refusedToken{source: tokens, token: tok, apiErr: apiErr}
	}
	return nil, apiErr
}

// limiterStop is the error of a rate limiter wait that failed. The limiter refuses at once, with an error of
// its own, a wait that would pass ctx's deadline: the call then waits for the deadline and ends with it, as
// the run's deadline (--max-duration) ends every other wait, so that nothing takes the refusal for a failure
// of the request.
func limiterStop(ctx context.Context, err error) error {
	if _, ok := ctx.Deadline(); ok {
		<-ctx.Done()
		return fmt.Errorf("rate limiter: %w", ctx.Err())
	}
	return fmt.Errorf("rate limiter: %w", err)
}

// decodeDoc decodes a JSON object answer (see docDecoder).
func decodeDoc(r *request, body []byte) (Doc, error) {
	d, err := decodeOneDoc(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
	}
	return d, nil
}

// decodeDocs decodes a JSON array answer (see docDecoder).
func decodeDocs(r *request, body []byte) ([]Doc, error) {
	ds, err := decodeDocList(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
	}
	return ds, nil
}

func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}
