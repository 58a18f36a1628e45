package query

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SyntaxError reports a malformed `q` or `sort` parameter: which parameter, the 1-based column (in
// characters) where the problem was found, and what is wrong. Its message is meant to be returned to the
// API caller in a 400 body.
type SyntaxError struct {
	// Param is "q" or "sort".
	Param string
	// Column is the 1-based character position of the problem in the parameter.
	Column int
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid %s parameter at column %d: %s", e.Param, e.Column, e.Msg)
}

// Expr is a parsed `q` expression: a conjunction of terms. The zero value and a nil *Expr match every
// document.
type Expr struct {
	terms []term
}

// term is one `field:condition` of the query.
type term struct {
	path      string
	predicate predicate
}

// literal is one value written in a query.
type literal struct {
	text   string
	quoted bool
	// isNumber and number are set for unquoted values that read as a decimal number.
	isNumber bool
	number   float64
	// isTime and instant are set when the text is an RFC 3339 timestamp.
	isTime  bool
	instant time.Time
}

// numberPattern is deliberately narrower than strconv.ParseFloat, which would also accept "Inf", "NaN",
// hex floats and underscores.
var numberPattern = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func newLiteral(text string, quoted bool) literal {
	lit := literal{text: text, quoted: quoted}
	if !quoted && numberPattern.MatchString(text) {
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			lit.isNumber, lit.number = true, f
		}
	}
	if instant, ok := parseTime(text); ok {
		lit.isTime, lit.instant = true, instant
	}
	return lit
}

func parseTime(text string) (time.Time, bool) {
	// Cheap pre-check: timestamps start with a four-digit year and a dash.
	if len(text) < 20 || text[4] != '-' {
		return time.Time{}, false
	}
	instant, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, false
	}
	return instant, true
}

// Parse parses a `q` expression. An empty or blank q gives an Expr that matches everything. Errors are
// *SyntaxError values naming the column and the problem; Parse never panics.
func Parse(q string) (*Expr, error) {
	p := &parser{src: q, end: len(q)}
	expr := &Expr{}
	for {
		p.skipSpace()
		if p.atEnd() {
			return expr, nil
		}
		t, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		expr.terms = append(expr.terms, t)
	}
}

// parser scans src[pos:end]; groups in parentheses are parsed by a parser over the same src with a
// narrower end, so that columns in errors always refer to the whole query.
type parser struct {
	src string
	pos int
	end int
}

func (p *parser) fail(offset int, format string, args ...any) error {
	if offset > len(p.src) {
		offset = len(p.src)
	}
	return &SyntaxError{Param: "q", Column: utf8.RuneCountInString(p.src[:offset]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) atEnd() bool { return p.pos >= p.end }

func (p *parser) peek() byte {
	if p.atEnd() {
		return 0
	}
	return p.src[p.pos]
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func (p *parser) skipSpace() {
	for !p.atEnd() && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// isFieldRune accepts what field names in the platform's documents are made of; anything else (quotes,
// parentheses, operators) is a syntax error rather than part of a strange field name.
func isFieldRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '$' || r == '@' || r == '.'
}

// validatePath checks a dotted field path and returns a description of the problem, or "".
func validatePath(path string) string {
	if path == "" {
		return "missing field name"
	}
	for _, segment := range strings.Split(path, ".") {
		if segment == "" {
			return fmt.Sprintf("field %q has an empty path segment", path)
		}
	}
	return ""
}

// snippet shortens user input quoted in error messages.
func snippet(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	return string(runes[:max]) + "…"
}

func (p *parser) parseTerm() (term, error) {
	start := p.pos
	for !p.atEnd() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:p.end])
		if !isFieldRune(r) {
			break
		}
		p.pos += size
	}
	field := p.src[start:p.pos]
	if p.peek() != ':' {
		return term{}, p.termWithoutColon(start, field)
	}
	if problem := validatePath(field); problem != "" {
		return term{}, p.fail(start, "%s", problem)
	}
	if field == "compoundLogicalQuery" {
		return term{}, p.fail(start, "compoundLogicalQuery (OR) is not supported by the customer services; terms separated by spaces are ANDed")
	}
	p.pos++ // the ':'
	pred, err := p.parseCondition(field)
	if err != nil {
		return term{}, err
	}
	if !p.atEnd() && !isSpace(p.peek()) {
		return term{}, p.fail(p.pos, "unexpected %q after the value of %q; separate terms with a space", snippet(p.rest()), field)
	}
	return term{path: field, predicate: pred}, nil
}

// rest is the remainder of the current token, for error messages.
func (p *parser) rest() string {
	end := p.pos
	for end < p.end && !isSpace(p.src[end]) {
		end++
	}
	return p.src[p.pos:end]
}

// termWithoutColon explains the most likely mistake when a term has no `field:`.
func (p *parser) termWithoutColon(start int, field string) error {
	p.pos = start
	token := p.rest()
	switch {
	case strings.EqualFold(token, "OR"):
		return p.fail(start, "OR is not supported by the customer services; terms separated by spaces are ANDed")
	case strings.EqualFold(token, "AND"):
		return p.fail(start, "AND between terms is not supported; separate terms with a space (they are ANDed)")
	case strings.HasPrefix(token, "("):
		return p.fail(start, "parenthesised groups of terms are not supported; write field:value terms separated by spaces")
	case field == "":
		return p.fail(start, "expected field:value, found %q", snippet(token))
	default:
		return p.fail(start, "expected ':' after field %q in %q", field, snippet(token))
	}
}

// parseCondition parses what follows `field:` up to the end of the term.
func (p *parser) parseCondition(field string) (predicate, error) {
	if p.atEnd() || isSpace(p.peek()) {
		return nil, p.fail(p.pos, "missing value after %q", field+":")
	}
	switch c := p.peek(); c {
	case '(':
		inner, err := p.readGroup()
		if err != nil {
			return nil, err
		}
		return inner.parseGroup()
	case '~':
		p.pos++
		if p.peek() == '(' {
			inner, err := p.readGroup()
			if err != nil {
				return nil, err
			}
			return inner.parseContainsBody(inner.pos - 1)
		}
		lit, err := p.readValue(field + ":~")
		if err != nil {
			return nil, err
		}
		return containsPredicate{needle: strings.ToLower(lit.text)}, nil
	case '>', '<':
		return p.parseComparison(field)
	case '"':
		lit, err := p.readQuoted()
		if err != nil {
			return nil, err
		}
		return equalsPredicate{value: lit}, nil
	default:
		valueStart := p.pos
		lit, err := p.readBare()
		if err != nil {
			return nil, err
		}
		switch lit.text {
		case "null":
			return nullPredicate{}, nil
		case "exists":
			return existsPredicate{}, nil
		case "missing":
			return missingPredicate{}, nil
		}
		if lit.text == "" {
			return nil, p.fail(valueStart, "missing value after %q", field+":")
		}
		return equalsPredicate{value: lit}, nil
	}
}

// parseComparison parses `>N`, `>=N`, `<N`, `<=N` with a bare or quoted value.
func (p *parser) parseComparison(context string) (predicate, error) {
	opStart := p.pos
	op := string(p.src[p.pos])
	p.pos++
	if p.peek() == '=' {
		op += "="
		p.pos++
	}
	if p.peek() == '>' || p.peek() == '<' || p.peek() == '=' {
		return nil, p.fail(opStart, "unknown comparison operator %q; use >, >=, < or <=", snippet(p.src[opStart:p.pos+1]))
	}
	lit, err := p.readValue(context + ":" + op)
	if err != nil {
		return nil, err
	}
	return comparePredicate{op: op, bound: lit}, nil
}

// readValue reads a quoted or bare value that must not be empty.
func (p *parser) readValue(context string) (literal, error) {
	if p.atEnd() || isSpace(p.peek()) {
		return literal{}, p.fail(p.pos, "missing value after %q", context)
	}
	if p.peek() == '"' {
		return p.readQuoted()
	}
	start := p.pos
	lit, err := p.readBare()
	if err != nil {
		return literal{}, err
	}
	if lit.text == "" {
		return literal{}, p.fail(start, "missing value after %q", context)
	}
	return lit, nil
}

// readQuoted reads a double-quoted string starting at p.pos; backslash escapes the next character.
func (p *parser) readQuoted() (literal, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for !p.atEnd() {
		c := p.src[p.pos]
		switch c {
		case '\\':
			if p.pos+1 >= p.end {
				return literal{}, p.fail(start, "unterminated quoted value")
			}
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case '"':
			p.pos++
			return newLiteral(b.String(), true), nil
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return literal{}, p.fail(start, "unterminated quoted value (missing closing '\"')")
}

// readBare reads an unquoted value up to white space. Quotes and parentheses inside it are rejected
// because they almost always mean a typo in a quoted or grouped value.
func (p *parser) readBare() (literal, error) {
	start := p.pos
	for !p.atEnd() && !isSpace(p.peek()) {
		switch p.peek() {
		case '"', '(', ')':
			return literal{}, p.fail(p.pos, "unexpected %q in unquoted value %q; quote the value", string(p.peek()), snippet(p.src[start:p.pos]+p.rest()))
		}
		p.pos++
	}
	return newLiteral(p.src[start:p.pos], false), nil
}

// readGroup reads a parenthesised group starting at p.pos and returns a parser over its content.
// Quoted strings may contain parentheses.
func (p *parser) readGroup() (*parser, error) {
	start := p.pos
	p.pos++
	inQuotes := false
	for ; !p.atEnd(); p.pos++ {
		c := p.src[p.pos]
		switch {
		case inQuotes && c == '\\':
			p.pos++
		case c == '"':
			inQuotes = !inQuotes
		case !inQuotes && c == '(':
			return nil, p.fail(p.pos, "nested parentheses are not supported")
		case !inQuotes && c == ')':
			inner := &parser{src: p.src, pos: start + 1, end: p.pos}
			p.pos++
			return inner, nil
		}
	}
	if inQuotes {
		return nil, p.fail(start, "unterminated quoted value inside parentheses")
	}
	return nil, p.fail(start, "unclosed '('")
}

// parseGroup parses the content of `field:( ... )`: a contains value, a range, or an IN-list.
func (p *parser) parseGroup() (predicate, error) {
	groupStart := p.pos - 1
	p.skipSpace()
	if p.atEnd() {
		return nil, p.fail(groupStart, "empty parentheses")
	}
	switch p.peek() {
	case '~':
		p.pos++
		return p.parseContainsBody(groupStart)
	case '>', '<':
		return p.parseRange()
	default:
		return p.parseList()
	}
}

// parseContainsBody parses the value of `(~value)` or `~(value)`: the whole rest, spaces included, or
// one quoted string.
func (p *parser) parseContainsBody(groupStart int) (predicate, error) {
	p.skipSpace()
	if p.peek() == '"' {
		lit, err := p.readQuoted()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if !p.atEnd() {
			return nil, p.fail(p.pos, "unexpected %q after the quoted contains value", snippet(p.src[p.pos:p.end]))
		}
		return containsPredicate{needle: strings.ToLower(lit.text)}, nil
	}
	text := strings.TrimSpace(p.src[p.pos:p.end])
	if text == "" {
		return nil, p.fail(groupStart, "missing value after '~'")
	}
	if i := strings.IndexByte(text, '"'); i >= 0 {
		return nil, p.fail(p.pos, "unexpected '\"' in contains value %q; quote the whole value", snippet(text))
	}
	return containsPredicate{needle: strings.ToLower(text)}, nil
}

// parseRange parses `>=a AND <=b` (any number of conditions joined by AND).
func (p *parser) parseRange() (predicate, error) {
	var bounds []comparePredicate
	for {
		p.skipSpace()
		if p.peek() != '>' && p.peek() != '<' {
			if p.atEnd() {
				return nil, p.fail(p.pos, "missing condition after AND")
			}
			return nil, p.fail(p.pos, "range conditions start with >, >=, < or <=, found %q", snippet(p.rest()))
		}
		pred, err := p.parseComparison("range")
		if err != nil {
			return nil, err
		}
		bounds = append(bounds, pred.(comparePredicate))
		p.skipSpace()
		if p.atEnd() {
			return rangePredicate{bounds: bounds}, nil
		}
		word := p.rest()
		switch {
		case strings.EqualFold(word, "AND"):
			p.pos += len(word)
		case strings.EqualFold(word, "OR"):
			return nil, p.fail(p.pos, "OR is not supported in ranges; use (>=a AND <=b)")
		default:
			return nil, p.fail(p.pos, "expected AND between range conditions, found %q", snippet(word))
		}
	}
}

// parseList parses `v1,v2,"v 3"`. Bare items are trimmed and may contain inner spaces.
func (p *parser) parseList() (predicate, error) {
	var values []literal
	for {
		p.skipSpace()
		itemStart := p.pos
		if p.peek() == '"' {
			lit, err := p.readQuoted()
			if err != nil {
				return nil, err
			}
			values = append(values, lit)
			p.skipSpace()
		} else {
			for !p.atEnd() && p.peek() != ',' {
				if c := p.peek(); c == '"' || c == '(' || c == ')' {
					return nil, p.fail(p.pos, "unexpected %q in list value; quote the value", string(c))
				}
				p.pos++
			}
			text := strings.TrimSpace(p.src[itemStart:p.pos])
			if text == "" {
				return nil, p.fail(itemStart, "empty value in list")
			}
			values = append(values, newLiteral(text, false))
		}
		if p.atEnd() {
			return inPredicate{values: values}, nil
		}
		if p.peek() != ',' {
			return nil, p.fail(p.pos, "expected ',' between list values, found %q", snippet(p.rest()))
		}
		p.pos++
		if p.skipSpace(); p.atEnd() {
			return nil, p.fail(p.pos, "empty value in list (trailing ',')")
		}
	}
}
