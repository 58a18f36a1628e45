package remote

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrCredentialsRefused means the platform refused the client credentials: the token
	// endpoint answered 400/401, or an API call answered 401 again after a fresh token, or
	// 403 (the client lacks a scope). The CLI maps it to exit code 4.
	ErrCredentialsRefused = errors.New("credentials refused")
	// ErrRetriesExhausted means every attempt failed temporarily (429/502/503/504 or network).
	// The error also wraps the last failure, so errors.As finds its *APIError. The CLI maps it
	// to exit code 5.
	ErrRetriesExhausted = errors.New("retries exhausted")
	// ErrNotFound matches an *APIError with status 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict matches an *APIError with status 409 (id in use, duplicate, stale version).
	ErrConflict = errors.New("conflict")
	// ErrNotPlatform means the server at the configured URL does not answer like the
	// platform's OAuth service (HTML, a 404 or 501, a JSON answer without a token): a
	// configuration error, not a failure to retry. The CLI maps it to exit code 2.
	ErrNotPlatform = errors.New("not the platform")
	// ErrNoMappingsURL is returned, before any request, by the SD mapping calls of a client
	// configured without a MappingsURL.
	ErrNoMappingsURL = errors.New("no SD customer mappings URL is configured")
)

// TokenError is a token request that failed for good: refused credentials
// (ErrCredentialsRefused), a server that is not the platform (ErrNotPlatform), or temporary
// failures until the retries ran out (ErrRetriesExhausted). Every call of the client that
// needs a token then fails with it, without asking the endpoint again, so a run stops once
// instead of failing each record on its own token request.
type TokenError struct {
	// Endpoint is the token endpoint's URL.
	Endpoint string
	// Status is the last answer's HTTP status; 0 if there was none.
	Status int
	// Answer is a one-line excerpt of the last answer or the transport error.
	Answer string
	// Attempts is how many requests were made.
	Attempts int
	// Err wraps the class sentinel and the last failure.
	Err error
}

// Error names the endpoint, what went wrong, the answer's status and excerpt, and what to do.
func (e *TokenError) Error() string {
	var b strings.Builder
	switch {
	case errors.Is(e.Err, ErrNotPlatform):
		fmt.Fprintf(&b, "%s does not answer like the platform's OAuth token endpoint (check the API URL)", e.Endpoint)
	case errors.Is(e.Err, ErrCredentialsRefused):
		fmt.Fprintf(&b, "the platform refused the client credentials at %s", e.Endpoint)
	case errors.Is(e.Err, ErrRetriesExhausted):
		fmt.Fprintf(&b, "no access token from %s after %d attempts; re-run later", e.Endpoint, e.Attempts)
	default:
		fmt.Fprintf(&b, "token request to %s failed", e.Endpoint)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Answer != "" {
		if !strings.HasPrefix(e.Answer, "(") {
			b.WriteString(":")
		}
		b.WriteString(" ")
		b.WriteString(e.Answer)
	}
	return b.String()
}

// Unwrap returns the class sentinel and the last failure.
func (e *TokenError) Unwrap() error { return e.Err }

// retriesExhausted is the error of a call whose every attempt failed temporarily.
type retriesExhausted struct {
	attempts int
	last     error
}

func (e *retriesExhausted) Error() string {
	return fmt.Sprintf("%v after %d attempts: %v", ErrRetriesExhausted, e.attempts, e.last)
}

// Unwrap makes errors.Is(err, ErrRetriesExhausted) true and exposes the last failure.
func (e *retriesExhausted) Unwrap() []error { return []error{ErrRetriesExhausted, e.last} }

// APIError is a non-2xx answer of the platform. It is decoded from any of the platform's
// error bodies: the Customer Service shape {status,type,message,moreInfo,details[{field,type,
// message}]}, the Customer Management shape {code,status,message,resourceId,details[string]},
// the gateway fault {fault:{faultstring,detail:{errorcode}}} of 401s and the OAuth shape
// {error,error_description}.
type APIError struct {
	// Method and Path identify the request; Path carries no query string.
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Type is the Customer Service error type (e.g. "conflict_resource") or, for Customer
	// Management, the reason phrase it sends in "status".
	Type string
	// Code is the gateway or OAuth error code (e.g. "oauth.v2.InvalidAccessToken",
	// "invalid_client").
	Code string
	// Message is the platform's human-readable message, or a snippet of a non-JSON body.
	Message string
	// Details lists field errors ("field: message") or Customer Management detail strings.
	Details []string
	// ResourceID is the Customer Management "resourceId", if any.
	ResourceID string
	// RequestID is the platform's request id from the response headers, if any.
	RequestID string
	// RetryAfter is the parsed Retry-After header, zero if none.
	RetryAfter time.Duration
	// Attempts is how many attempts the call made, this answer's included.
	Attempts int
	// AfterUnknownOutcome is true when an earlier attempt of the same call may have reached
	// the platform without an answer (connection dropped, timeout). A 409 on a write is then
	// often the trace of that earlier attempt having been applied.
	AfterUnknownOutcome bool

	// fromJSON is true when the body was a JSON object, as the platform's error bodies are.
	fromJSON bool
}

// Error describes the failure with method, path, status and the platform's message.
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if d := e.describe(); d != "" {
		if !strings.HasPrefix(d, "(") {
			s += ":"
		}
		s += " " + d
	}
	return s
}

// describe is what the answer said: type and code, message, details and request id.
func (e *APIError) describe() string {
	var b strings.Builder
	switch {
	case e.Type != "" && e.Code != "":
		fmt.Fprintf(&b, "(%s, %s)", e.Type, e.Code)
	case e.Type != "":
		fmt.Fprintf(&b, "(%s)", e.Type)
	case e.Code != "":
		fmt.Fprintf(&b, "(%s)", e.Code)
	}
	if e.Message != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	if len(e.Details) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(e.Details, "; "))
		b.WriteString("]")
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return strings.TrimSpace(b.String())
}

// Is lets errors.Is match the sentinels: ErrNotFound (404), ErrConflict (409) and
// ErrCredentialsRefused (401, 403).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrCredentialsRefused:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// NetworkError is a failed attempt that got no HTTP answer: connection refused or reset, the
// connection closed before the response, a timeout. Its message names method and path but not
// the URL, whose query may carry user data.
type NetworkError struct {
	Method, Path string
	Err          error
	// UnknownOutcome is true when the request may have reached the platform (it was sent, or
	// the failure cannot tell), so a non-idempotent call may or may not have been applied.
	UnknownOutcome bool
}

// Error describes the failure without the URL.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns the underlying transport error.
func (e *NetworkError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is a 409 answer.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsAuth reports whether err is an authentication or authorisation failure (401, 403, or a
// refused token request).
func IsAuth(err error) bool { return errors.Is(err, ErrCredentialsRefused) }

// IsTemporary reports whether err may go away by itself: a network error, a 408, 429 or
// 5xx answer, or exhausted retries of those. A later run may succeed.
func IsTemporary(err error) bool {
	if err == nil || errors.Is(err, ErrNotPlatform) || errors.Is(err, ErrCredentialsRefused) {
		return false
	}
	if errors.Is(err, ErrRetriesExhausted) {
		return true
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return temporaryStatus(apiErr.Status)
	}
	var netErr *NetworkError
	return errors.As(err, &netErr)
}

// IsFinal reports whether err is an answer the platform will give again to the same request:
// a 4xx other than 408 and 429, refused credentials, or a server that is not the platform.
func IsFinal(err error) bool {
	if err == nil || IsTemporary(err) {
		return false
	}
	if errors.Is(err, ErrCredentialsRefused) || errors.Is(err, ErrNotPlatform) {
		return true
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500
}

func temporaryStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// retryableStatus lists the answers retried up to MaxRetries times. A 500 is retried only
// ServerErrorRetries times, and 501 never: it says the server lacks the operation.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// errorBody is the union of the platform's error body shapes. "status" is an int in the
// Customer Service shape and a reason phrase in the Customer Management one, hence RawMessage.
type errorBody struct {
	Status     json.RawMessage   `json:"status"`
	Code       json.RawMessage   `json:"code"`
	Type       string            `json:"type"`
	Message    string            `json:"message"`
	MoreInfo   string            `json:"moreInfo"`
	ResourceID string            `json:"resourceId"`
	Details    []json.RawMessage `json:"details"`
	Fault      *struct {
		FaultString string `json:"faultstring"`
		Detail      struct {
			ErrorCode string `json:"errorcode"`
		} `json:"detail"`
	} `json:"fault"`
	OAuthError       string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

type fieldError struct {
	Field   string `json:"field"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// maxMessageLen bounds what a non-JSON body contributes to an error message: a failure line
// quotes the answer, it does not reproduce a proxy's error page.
const maxMessageLen = 120

// decodeErrorBody fills the platform fields of e from an error body of any known shape.
// Bodies that are not JSON (a proxy's HTML page) contribute a one-line excerpt.
func decodeErrorBody(e *APIError, body []byte) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return
	}
	var eb errorBody
	if err := json.Unmarshal([]byte(trimmed), &eb); err != nil || !strings.HasPrefix(trimmed, "{") {
		e.Message = excerpt(trimmed)
		return
	}
	e.fromJSON = true
	switch {
	case eb.Fault != nil:
		e.Message = eb.Fault.FaultString
		e.Code = eb.Fault.Detail.ErrorCode
	case eb.OAuthError != "":
		e.Code = eb.OAuthError
		e.Message = eb.ErrorDescription
	default:
		e.Message = eb.Message
		e.Type = eb.Type
		if e.Type == "" {
			// Customer Management: "status" is the reason phrase.
			var phrase string
			if json.Unmarshal(eb.Status, &phrase) == nil {
				e.Type = phrase
			}
		}
		e.ResourceID = eb.ResourceID
		if e.Message == "" && eb.MoreInfo != "" {
			e.Message = eb.MoreInfo
		}
	}
	for _, raw := range eb.Details {
		if d := decodeDetail(raw); d != "" {
			e.Details = append(e.Details, d)
		}
	}
}

func decodeDetail(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var fe fieldError
	if json.Unmarshal(raw, &fe) != nil {
		return ""
	}
	switch {
	case fe.Field != "" && fe.Message != "":
		return fe.Field + ": " + fe.Message
	case fe.Message != "":
		return fe.Message
	case fe.Field != "":
		return fe.Field + ": " + fe.Type
	}
	return fe.Type
}

// excerpt is a one-line quote of an answer that is not JSON. Of an HTML page it keeps the title
// (or else the text without the markup), which is what a gateway's error page has to say.
func excerpt(body string) string {
	if looksLikeHTML(body) {
		text := htmlTitle(body)
		if text == "" {
			text = htmlTagPattern.ReplaceAllString(body, " ")
		}
		return fmt.Sprintf("HTML page %q", shorten(html.UnescapeString(text)))
	}
	return shorten(body)
}

// shorten joins s into one line of at most maxMessageLen bytes.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var (
	htmlTagPattern   = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	htmlTitlePattern = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
)

func looksLikeHTML(body string) bool {
	head := strings.ToLower(body[:min(len(body), 512)])
	return strings.HasPrefix(head, "<") && (strings.Contains(head, "<html") || strings.Contains(head, "<!doctype") ||
		strings.Contains(head, "<body") || strings.Contains(head, "<head") || strings.Contains(head, "<h1") || strings.Contains(head, "<title"))
}

func htmlTitle(body string) string {
	if m := htmlTitlePattern.FindStringSubmatch(body); m != nil {
		return strings.TrimSpace(htmlTagPattern.ReplaceAllString(m[1], " "))
	}
	return ""
}

// requestIDHeaders are the headers the platform, its gateway or a proxy use for a request id,
// most specific first.
var requestIDHeaders = []string{
	"X-Request-Id", "X-Correlation-Id", "X-Emporix-Request-Id", "Request-Id",
	"X-Amzn-Requestid", "X-Amz-Cf-Id", "X-Cloud-Trace-Context", "Traceparent",
}

func requestID(h http.Header) string {
	for _, name := range requestIDHeaders {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// newAPIError builds the error for a non-2xx answer.
func newAPIError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode, RequestID: requestID(resp.Header)}
	decodeErrorBody(e, body)
	return e
}

// classifyTransportError wraps an error of http.Client.Do, or of reading the body, as a
// *NetworkError when retrying may help; otherwise (certificate problems, unknown host) it
// returns a plain error naming method and path, which do does not retry. The *url.Error
// wrapper, which prints the full URL with its query, is dropped.
func classifyTransportError(method, path string, err error) error {
	inner := err
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		inner = urlErr.Err
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(inner, &certErr), errors.As(inner, &unknownAuthority), errors.As(inner, &hostErr),
		// An https:// URL of a server that does not speak TLS there (plain HTTP, another protocol) answers
		// the same way every time: the URL is wrong, and the token request says so (ErrNotPlatform).
		errors.Is(inner, http.ErrSchemeMismatch), errors.As(inner, &recordErr):
		return fmt.Errorf("%s %s: %w", method, path, inner)
	case errors.As(inner, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("%s %s: %w", method, path, inner)
	}
	return &NetworkError{Method: method, Path: path, Err: inner, UnknownOutcome: !isConnectError(inner)}
}

// isConnectError reports a failure to open the connection: the request cannot have reached
// the server.
func isConnectError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
