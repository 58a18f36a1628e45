package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxIDLength is the platform's limit for caller-chosen ids (1-66 characters of [A-Za-z0-9_-]).
const MaxIDLength = 66

// idHashLen is the number of hex digits of the hash suffix (64 bits).
const idHashLen = 16

// DefaultIDTemplates are the id templates used when a mapping file does not set its own:
//
//	customers  {key}                the SD customer number itself, leading zeros kept (0000100080)
//	addresses  {customer}-{key}     unique across customers, whether or not the platform scopes address ids
//	companies  {key}
//	locations  {key}
//	contacts   {company}-{customer} one assignment per customer and legal entity, as the platform demands
//
// Templates may use the placeholders returned by IDTemplateVars and literal characters of [A-Za-z0-9_-].
var DefaultIDTemplates = map[Entity]string{
	Customers: "{key}",
	Addresses: "{customer}-{key}",
	Companies: "{key}",
	Locations: "{key}",
	Contacts:  "{company}-{customer}",
}

func isIDChar(c byte, allowDash bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (allowDash && c == '-')
}

// IsValidID reports whether s is a valid caller-chosen platform id: 1-66 characters of [A-Za-z0-9_-].
func IsValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i], true) {
			return false
		}
	}
	return true
}

type idTemplate struct {
	literals []string // len(vars)+1 literal pieces around the placeholders
	vars     []string
}

func parseIDTemplate(t string, allowed []string) (idTemplate, error) {
	var out idTemplate
	rest := t
	for {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if strings.IndexByte(lit, '}') >= 0 {
			return out, fmt.Errorf("id template %q: unbalanced }", t)
		}
		for i := 0; i < len(lit); i++ {
			if !isIDChar(lit[i], true) {
				return out, fmt.Errorf("id template %q: literal character %q is not allowed in ids ([A-Za-z0-9_-])", t, string(lit[i]))
			}
		}
		out.literals = append(out.literals, lit)
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return out, fmt.Errorf("id template %q: unclosed {", t)
		}
		name := rest[open+1 : open+end]
		if allowed != nil && !containsFold(allowed, name) {
			return out, fmt.Errorf("id template %q: unknown placeholder {%s} (use %s)", t, name, "{"+strings.Join(allowed, "}, {")+"}")
		}
		out.vars = append(out.vars, name)
		rest = rest[open+end+1:]
	}
	if len(out.vars) == 0 {
		return out, fmt.Errorf("id template %q has no placeholder, so every row would get the same id", t)
	}
	return out, nil
}

// RemoteID applies an id template with the single placeholder {key}. See RemoteIDFor.
func RemoteID(template, key string) (string, error) {
	return RemoteIDFor(template, map[string]string{"key": key})
}

// RemoteIDFor applies an id template to the values of its placeholders and returns a valid platform id.
// The same template and values always give the same id.
//
// When every value consists of [A-Za-z0-9_-] (only [A-Za-z0-9_] when the template has several placeholders,
// so that "-" between them stays unambiguous) and the result fits 66 characters, the id is the plain
// substitution: customer 0000100080 gets id 0000100080. Otherwise the id is a readable prefix (the
// substitution with other characters replaced by "_", at most 49 characters) plus "_" and 16 hex digits of
// the SHA-256 of the template and values: "Müller & Co" becomes "M_ller___Co_3f0c...". Two different keys
// can then only meet with a 64-bit hash collision. An empty value is an error.
func RemoteIDFor(template string, vars map[string]string) (string, error) {
	t, err := parseIDTemplate(template, nil)
	if err != nil {
		return "", err
	}
	return t.apply(template, vars)
}

func (t idTemplate) apply(template string, vars map[string]string) (string, error) {
	multi := len(t.vars) > 1
	plain := true
	values := make([]string, len(t.vars))
	for i, name := range t.vars {
		v, ok := vars[name]
		if !ok {
			for k, x := range vars {
				if strings.EqualFold(k, name) {
					v, ok = x, true
				}
			}
		}
		if !ok || v == "" {
			return "", fmt.Errorf("id template %q: empty value for {%s}", template, name)
		}
		values[i] = v
		for j := 0; j < len(v) && plain; j++ {
			plain = isIDChar(v[j], !multi)
		}
	}
	var b strings.Builder
	for i, lit := range t.literals {
		b.WriteString(lit)
		if i < len(values) {
			b.WriteString(values[i])
		}
	}
	id := b.String()
	if plain && len(id) <= MaxIDLength {
		return id, nil
	}
	sum := sha256.New()
	sum.Write([]byte(template))
	for _, v := range values {
		sum.Write([]byte{0})
		sum.Write([]byte(v))
	}
	suffix := hex.EncodeToString(sum.Sum(nil))[:idHashLen]
	prefix := make([]byte, 0, MaxIDLength)
	for i := 0; i < len(id) && len(prefix) < MaxIDLength-idHashLen-1; i++ {
		c := id[i]
		if c >= 0x80 {
			// one "_" per UTF-8 sequence, not per byte, keeps prefixes readable
			for i+1 < len(id) && id[i+1]&0xC0 == 0x80 {
				i++
			}
		}
		if !isIDChar(c, true) {
			c = '_'
		}
		prefix = append(prefix, c)
	}
	out := string(prefix) + "_" + suffix
	if !IsValidID(out) {
		return "", errors.New("internal error: generated id is invalid")
	}
	return out, nil
}
