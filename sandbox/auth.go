package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"
)

// token is an issued access token. Tokens are opaque random strings and are not bound to a
// tenant: the sandbox accepts any well-formed tenant with any valid token.
type token struct {
	clientID string
	scopes   map[string]bool
	expires  time.Time
}

func (t token) hasAny(scopes []string) bool {
	for _, s := range scopes {
		if t.scopes[s] {
			return true
		}
	}
	return false
}

type authFault struct{ faultString, errorCode string }

var (
	faultInvalidToken = &authFault{"Invalid access token", "oauth.v2.InvalidAccessToken"}
	faultExpiredToken = &authFault{"Access Token expired", "keymanagement.service.access_token_expired"}
)

func (s *Server) authenticate(r *http.Request) (token, *authFault) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		return token{}, faultInvalidToken
	}
	value = strings.TrimSpace(value)
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	tok, ok := s.tokens[value]
	if !ok {
		return token{}, faultInvalidToken
	}
	if !s.now().Before(tok.expires) {
		return token{}, faultExpiredToken
	}
	return tok, nil
}

func newOpaqueToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// oauthError answers token-endpoint errors the OAuth 2.0 way (RFC 6749 §5.2); the Emporix spec
// documents no error responses for this endpoint.
func oauthError(c *reqCtx, status int, code, description string) *apiError {
	c.reply(status, map[string]any{"error": code, "error_description": description})
	return nil
}

// handleToken is POST /oauth/token (client_credentials only).
func (s *Server) handleToken(c *reqCtx) *apiError {
	r := c.r
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return oauthError(c, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(mbe.Limit)
		}
		return oauthError(c, http.StatusBadRequest, "invalid_request", "The form body could not be parsed.")
	}
	form := r.PostForm
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return oauthError(c, http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok && id == "" {
		id, secret = bid, bsecret
	}
	c.entry.ClientID = id
	client, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(client.Secret)) != 1 {
		c.header("Content-Type", "application/json")
		c.reply(http.StatusUnauthorized, map[string]any{"fault": map[string]any{
			"faultstring": "Invalid client identifier",
			"detail":      map[string]any{"errorcode": "oauth.v2.InvalidClientIdentifier"},
		}})
		return nil
	}
	held := map[string]bool{}
	for _, sc := range client.Scopes {
		held[sc] = true
	}
	granted := map[string]bool{}
	var order []string
	tenant := ""
	if requested := strings.Fields(form.Get("scope")); len(requested) > 0 {
		for _, sc := range requested {
			if t, ok := strings.CutPrefix(sc, "tenant="); ok {
				tenant = t
				continue
			}
			if !held[sc] {
				return oauthError(c, http.StatusBadRequest, "invalid_scope", "The client does not hold the scope "+sc+".")
			}
			if !granted[sc] {
				granted[sc] = true
				order = append(order, sc)
			}
		}
	}
	if len(order) == 0 {
		for _, sc := range client.Scopes {
			if !granted[sc] {
				granted[sc] = true
				order = append(order, sc)
			}
		}
	}
	if tenant == "" {
		// The platform binds a token to the client's tenant; the sandbox serves every tenant with
		// every token and reports the tenant requested in `scope`, else "sandbox".
		tenant = "sandbox"
	}
	value, err := newOpaqueToken()
	if err != nil {
		return newError(http.StatusInternalServerError, "internal_error", "Could not generate a token.")
	}
	s.tokMu.Lock()
	now := s.now()
	for v, t := range s.tokens { // forget expired tokens so long runs do not grow without bound
		if !now.Before(t.expires) && len(s.tokens) > 1024 {
			delete(s.tokens, v)
		}
	}
	s.tokens[value] = token{clientID: id, scopes: granted, expires: now.Add(s.opts.TokenTTL)}
	s.tokMu.Unlock()
	c.reply(http.StatusOK, map[string]any{
		"access_token":             value,
		"token_type":               "Bearer",
		"expires_in":               int64(s.opts.TokenTTL / time.Second),
		"session_idle_time":        120,
		"refresh_token":            "",
		"refresh_token_expires_in": 0,
		"scope":                    strings.TrimSpace(strings.Join(order, " ") + " tenant=" + tenant),
	})
	return nil
}
