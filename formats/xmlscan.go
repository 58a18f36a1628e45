package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// xmlScanner is the pull tokenizer the XLSX reader runs over worksheet and
// shared-string parts, as they stream out of the zip archive. It exists for
// speed (encoding/xml allocates per token and was three quarters of the old
// reader's time) and for integrity: it is also the well-formedness check that
// makes a damaged part an error instead of a short read. It checks what a
// conforming XML parser rejects and a damaged or cut-off part produces:
// tags that do not nest, markup or entity references that are not well
// formed (a raw '&' in a cell), characters XML forbids, invalid UTF-8, a DTD,
// content outside the one root element, and a document that ends before its
// root element is closed. Anything it accepts, encoding/xml accepts too (the
// fuzz test checks this); it is stricter in a few places no spreadsheet
// program goes (non-ASCII element names, DOCTYPE, encodings other than
// UTF-8).
//
// Character data is returned in chunks with entities decoded and line ends
// normalised to "\n", so a cell of any length streams through a fixed buffer;
// markup (a tag, comment, processing instruction or CDATA section) must fit
// in xmlMaxMarkup.
type xmlScanner struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	end  int   // end of the data in buf
	base int64 // offset in the part of buf[0]
	rerr error // sticky read error, io.EOF at the end of the part
	err  error // sticky syntax or read error returned by next

	// The current token, valid until the next call to next. Names and
	// attributes are offsets into buf (see qname, local, attrs): no
	// pointers, so recording them costs no GC write barriers.
	nameAt, localAt, nameEnd int
	attrs                    []xmlAttr // tokStart
	selfClosing              bool      // tokStart: <name/>, no tokEnd follows
	text                     []byte    // tokText
	level                    int       // ancestors of the element (tokStart, tokEnd) or open elements (tokText)

	scratch []byte // decoded text
	attrBuf []byte // decoded attribute values

	open      []byte // names of the open elements, back to back
	openStart []int  // where each open element's name starts in open
	rootSeen  bool
	rootDone  bool
	// lax drops the checks that do not change what is read (nesting,
	// characters, UTF-8), for BenchmarkXLSXIntegrityCost to measure them.
	lax     bool
	plain   *[256]bool // xmlTextPlain, or xmlLaxPlain when lax
	rootEnd int64      // offset just after the root element, once rootDone
}

type xmlToken uint8

const (
	tokStart xmlToken = iota + 1
	tokEnd
	tokText
	tokEOF
)

// xmlAttr locates an attribute of the current start tag: its name in buf
// (localAt: after a namespace prefix) and its value in buf, or in attrBuf
// when it had to be decoded.
type xmlAttr struct {
	nameAt, localAt, nameEnd int32
	valAt, valEnd            int32
	decoded                  bool
}

// qname is the qualified name of the current start or end tag.
func (s *xmlScanner) qname() []byte { return s.buf[s.nameAt:s.nameEnd] }

// local is the name of the current start or end tag without its namespace
// prefix.
func (s *xmlScanner) local() []byte {
	if s.localAt < 0 { // an end tag that matched its start tag's name
		s.localAt = s.nameAt + bytes.IndexByte(s.buf[s.nameAt:s.nameEnd], ':') + 1
	}
	return s.buf[s.localAt:s.nameEnd]
}

// attrLocal is an attribute's name without its namespace prefix.
func (s *xmlScanner) attrLocal(a *xmlAttr) []byte { return s.buf[a.localAt:a.nameEnd] }

// attrValue is an attribute's decoded value.
func (s *xmlScanner) attrValue(a *xmlAttr) []byte {
	if a.decoded {
		return s.attrBuf[a.valAt:a.valEnd]
	}
	return s.buf[a.valAt:a.valEnd]
}

const (
	xmlReadBuffer = 64 << 10
	// xmlMaxMarkup bounds one tag, comment, processing instruction or CDATA
	// section (the buffer grows to hold it). Spreadsheet programs write tags
	// of a few hundred bytes.
	xmlMaxMarkup = 16 << 20
)

// xmlSyntaxError says why and where a part is not well-formed XML.
type xmlSyntaxError struct {
	Offset int64 // byte offset in the (inflated) part
	Msg    string
}

func (e *xmlSyntaxError) Error() string {
	return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset)
}

// xmlReadError is a failure to read the part itself: for a zip member, data
// that does not inflate or does not match its checksum.
type xmlReadError struct{ err error }

func (e *xmlReadError) Error() string { return e.err.Error() }
func (e *xmlReadError) Unwrap() error { return e.err }

// errXMLTruncated is wrapped by the error for a part that ends before its
// root element is closed: the typical damage of a cut-off file.
var errXMLTruncated = errors.New("ends early")

var (
	// xmlTextPlain marks the bytes that stand for themselves in character
	// data and attribute values: everything but markup, references, CR,
	// non-ASCII (validated as UTF-8) and the control characters XML forbids.
	xmlTextPlain = func() (t [256]bool) {
		for c := 0x20; c < 0x80; c++ {
			t[c] = true
		}
		t['\t'], t['\n'] = true, true
		t['<'], t['&'], t[0x7f] = false, false, true
		return t
	}()
	// xmlLaxPlain is xmlTextPlain without the character checks.
	xmlLaxPlain = func() (t [256]bool) {
		for c := range t {
			t[c] = c != '<' && c != '&' && c != '\r'
		}
		return t
	}()
	// The plain bytes of attribute values in double and single quotes.
	xmlAttrPlain = [2][2][256]bool{
		{without(xmlTextPlain, '"'), without(xmlTextPlain, '\'')},
		{without(xmlLaxPlain, '"'), without(xmlLaxPlain, '\'')},
	}
	xmlSpaceByte = func() (t [256]bool) {
		t[' '], t['\n'], t['\t'], t['\r'] = true, true, true, true
		return t
	}()
	xmlNameStart = func() (t [256]bool) {
		for c := 'a'; c <= 'z'; c++ {
			t[c], t[c-'a'+'A'] = true, true
		}
		t['_'], t[':'] = true, true
		return t
	}()
	xmlNameCharNoColon = func() (t [256]bool) {
		t = xmlNameStart
		for c := '0'; c <= '9'; c++ {
			t[c] = true
		}
		t['-'], t['.'], t[':'] = true, true, false
		return t
	}()
)

func isXMLSpace(c byte) bool { return xmlSpaceByte[c] }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func without(t [256]bool, c byte) [256]bool {
	t[c] = false
	return t
}

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{r: r, buf: make([]byte, xmlReadBuffer), plain: &xmlTextPlain}
}

func (s *xmlScanner) syntaxError(at int, format string, args ...any) error {
	return &xmlSyntaxError{Offset: s.base + int64(at), Msg: fmt.Sprintf(format, args...)}
}

// fill reads more input, keeping buf[pos:end] (moved to the front). It
// returns false at the end of the input or on a read error (in s.rerr).
func (s *xmlScanner) fill() bool {
	if s.rerr != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= xmlMaxMarkup {
			s.rerr = s.syntaxError(0, "markup longer than %d MiB (a tag, comment or CDATA section)", xmlMaxMarkup>>20)
			return false
		}
		grown := make([]byte, min(2*len(s.buf), xmlMaxMarkup))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			if err != io.EOF {
				err = &xmlReadError{err}
			}
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// next returns the next token. Errors are sticky; at the end of a complete
// document it returns tokEOF, only after the input reader reported io.EOF
// (so a zip member's checksum has been verified).
func (s *xmlScanner) next() (xmlToken, error) {
	if s.err != nil {
		return 0, s.err
	}
	tok, err := s.scan()
	if err != nil {
		s.err = err
	}
	return tok, err
}

func (s *xmlScanner) scan() (xmlToken, error) {
	for {
		if s.pos == s.end && !s.fill() {
			return s.atEOF()
		}
		if s.buf[s.pos] != '<' {
			if len(s.openStart) == 0 {
				if err := s.skipOutsideRoot(); err != nil {
					return 0, err
				}
				continue
			}
			return s.scanText()
		}
		tok, done, err := s.scanMarkup()
		if err != nil || done {
			return tok, err
		}
		// A comment or processing instruction: nothing to return.
	}
}

func (s *xmlScanner) atEOF() (xmlToken, error) {
	if s.rerr != io.EOF {
		return 0, s.rerr
	}
	switch {
	case !s.rootSeen:
		return 0, fmt.Errorf("%w: it holds no XML element", errXMLTruncated)
	case !s.rootDone:
		return 0, fmt.Errorf("%w, inside <%s> (at byte %d)", errXMLTruncated, s.openName(), s.base+int64(s.end))
	}
	return tokEOF, nil
}

// openName is the name of the innermost open element.
func (s *xmlScanner) openName() string {
	if len(s.openStart) == 0 {
		return ""
	}
	return string(s.open[s.openStart[len(s.openStart)-1]:])
}

// skipOutsideRoot consumes character data before or after the root element,
// where XML allows only white space (and a UTF-8 byte-order mark at the very
// start).
func (s *xmlScanner) skipOutsideRoot() error {
	if s.base == 0 && s.pos == 0 && !s.rootSeen {
		for s.end < 3 && s.fill() {
		}
		if bytes.HasPrefix(s.buf[:s.end], []byte("\xEF\xBB\xBF")) {
			s.pos = 3
			return nil
		}
		if s.end >= 2 && (s.buf[0] == 0xFE && s.buf[1] == 0xFF || s.buf[0] == 0xFF && s.buf[1] == 0xFE) {
			return s.syntaxError(0, "the part is UTF-16 encoded; only UTF-8 is supported")
		}
	}
	for s.pos < s.end && s.buf[s.pos] != '<' {
		if !isXMLSpace(s.buf[s.pos]) {
			if s.rootDone {
				return s.syntaxError(s.pos, "content after the end of the root element")
			}
			return s.syntaxError(s.pos, "content before the first element")
		}
		s.pos++
	}
	return nil
}

// scanText returns character data up to the next '<' or the end of the
// buffer, whichever comes first, decoded. It never splits a reference, a
// CR LF pair or a UTF-8 sequence.
func (s *xmlScanner) scanText() (xmlToken, error) {
	for {
		i, mark := s.pos, s.pos
		out := s.scratch[:0]
		decoded := false
		plain := s.plain
		b := s.buf[:s.end]
		for {
			for i < len(b) && plain[b[i]] {
				i++
			}
			if i == s.end {
				break
			}
			c := s.buf[i]
			if c == '<' {
				break
			}
			if c == '&' {
				r, n, err := s.reference(i)
				if err != nil {
					return 0, err
				}
				if n == 0 { // the reference continues past the buffer
					break
				}
				out = append(out, s.buf[mark:i]...)
				out = utf8.AppendRune(out, r)
				i += n
				mark, decoded = i, true
				continue
			}
			if c == '\r' {
				if i+1 == s.end && s.rerr == nil {
					break // is it CR LF? read on first
				}
				out = append(out, s.buf[mark:i]...)
				out = append(out, '\n')
				i++
				if i < s.end && s.buf[i] == '\n' {
					i++
				}
				mark, decoded = i, true
				continue
			}
			n, err := s.checkChar(i)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				break
			}
			i += n
		}
		if i > s.pos {
			if decoded {
				s.text = append(out, s.buf[mark:i]...)
				s.scratch = s.text
			} else {
				s.text = s.buf[s.pos:i]
			}
			s.pos = i
			s.level = len(s.openStart)
			return tokText, nil
		}
		// Nothing complete in the buffer: read on.
		if !s.fill() {
			if s.rerr == io.EOF && s.pos < s.end {
				return 0, fmt.Errorf("%w, in the text of <%s> (at byte %d)", errXMLTruncated, s.openName(), s.base+int64(s.end))
			}
			return s.atEOF()
		}
	}
}

// checkChar validates the character at buf[i] that is not plain ASCII. It
// returns its length, or 0 when the buffer ends inside it.
func (s *xmlScanner) checkChar(i int) (int, error) {
	c := s.buf[i]
	if c < 0x80 {
		return 0, s.syntaxError(i, "control character %#02x, which XML does not allow", c)
	}
	r, n := utf8.DecodeRune(s.buf[i:s.end])
	if r == utf8.RuneError && n <= 1 {
		if !utf8.FullRune(s.buf[i:s.end]) && s.rerr == nil {
			return 0, nil
		}
		return 0, s.syntaxError(i, "invalid UTF-8")
	}
	if r == 0xFFFE || r == 0xFFFF {
		return 0, s.syntaxError(i, "character U+%04X, which XML does not allow", r)
	}
	return n, nil
}

// reference decodes the entity or character reference at buf[i] ('&'). It
// returns the character and the reference's length, or n == 0 when the
// buffer ends before the reference does.
func (s *xmlScanner) reference(i int) (r rune, n int, err error) {
	const maxRef = 32
	semi := bytes.IndexByte(s.buf[i+1:min(s.end, i+maxRef)], ';')
	if semi < 0 {
		if s.end-i < maxRef && s.rerr == nil {
			return 0, 0, nil
		}
		return 0, 0, s.syntaxError(i, "'&' that does not start an entity reference (a raw '&' must be written &amp;)")
	}
	ref := s.buf[i+1 : i+1+semi]
	n = semi + 2
	switch string(ref) {
	case "amp":
		return '&', n, nil
	case "lt":
		return '<', n, nil
	case "gt":
		return '>', n, nil
	case "quot":
		return '"', n, nil
	case "apos":
		return '\'', n, nil
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, 0, s.syntaxError(i, "unknown entity reference &%s; (a raw '&' must be written &amp;)", ref)
	}
	var v uint64
	var perr error
	if ref[1] == 'x' {
		v, perr = strconv.ParseUint(string(ref[2:]), 16, 32)
	} else {
		v, perr = strconv.ParseUint(string(ref[1:]), 10, 32)
	}
	if perr != nil || !isXMLChar(rune(v)) {
		return 0, 0, s.syntaxError(i, "invalid character reference &%s;", ref)
	}
	return rune(v), n, nil
}

// isXMLChar reports whether XML 1.0 allows the character.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// scanMarkup handles the construct at buf[pos] == '<'. done is false for
// comments and processing instructions, which yield no token.
func (s *xmlScanner) scanMarkup() (tok xmlToken, done bool, err error) {
	for {
		if s.pos+1 < s.end {
			switch c := s.buf[s.pos+1]; {
			case c == '/':
				n, err := s.endTag()
				if n > 0 || err != nil {
					return tokEnd, true, err
				}
			case c == '?':
				n, err := s.procInst()
				if n > 0 || err != nil {
					return 0, false, err
				}
			case c == '!':
				tok, n, err := s.bang()
				if n > 0 || err != nil {
					return tok, tok != 0, err
				}
			case xmlNameStart[c]:
				n, err := s.startTag()
				if n > 0 || err != nil {
					return tokStart, true, err
				}
			default:
				if c >= 0x80 {
					return 0, false, s.syntaxError(s.pos, "element names outside ASCII are not supported")
				}
				return 0, false, s.syntaxError(s.pos, "'<' that does not start a tag (a raw '<' must be written &lt;)")
			}
		}
		// The construct continues past the buffer.
		if !s.fill() {
			if s.rerr == io.EOF {
				return 0, false, fmt.Errorf("%w, inside a tag (at byte %d)", errXMLTruncated, s.base+int64(s.end))
			}
			return 0, false, s.rerr
		}
	}
}

// scanName scans an XML name at buf[i]. It returns its end and where its
// local part starts (after a namespace prefix), or end == 0 when the buffer
// ends inside it.
func (s *xmlScanner) scanName(i int) (end, local int, err error) {
	if i >= s.end {
		return 0, 0, nil
	}
	if !xmlNameStart[s.buf[i]] {
		if s.buf[i] >= 0x80 {
			return 0, 0, s.syntaxError(i, "names outside ASCII are not supported")
		}
		return 0, 0, s.syntaxError(i, "expected a name, found %q", s.buf[i])
	}
	local = i
	j := i + 1
	b := s.buf[:s.end]
	for {
		for j < len(b) && xmlNameCharNoColon[b[j]] {
			j++
		}
		if j == len(b) || b[j] != ':' {
			break
		}
		if local == i {
			local = j + 1
		}
		j++
	}
	if j == s.end {
		return 0, 0, nil
	}
	if s.buf[j] >= 0x80 {
		return 0, 0, s.syntaxError(j, "names outside ASCII are not supported")
	}
	if local == j || s.buf[i] == ':' {
		local = i // "a:" or ":a": no prefix to strip
	}
	return j, local, nil
}

func (s *xmlScanner) skipSpace(i int) int {
	b := s.buf[:s.end]
	for i < len(b) && xmlSpaceByte[b[i]] {
		i++
	}
	return i
}

// startTag parses <name attr="v"...> or <name .../> at buf[pos]. It returns
// the tag's length, or 0 when the buffer ends inside it.
func (s *xmlScanner) startTag() (int, error) {
	if s.rootDone {
		return 0, s.syntaxError(s.pos, "a second root element")
	}
	if len(s.openStart) >= xmlMaxDepth {
		return 0, s.syntaxError(s.pos, "elements nested more than %d deep", xmlMaxDepth)
	}
	nameEnd, nameLocal, err := s.scanName(s.pos + 1)
	if nameEnd == 0 {
		return 0, err
	}
	s.attrs = s.attrs[:0]
	s.attrBuf = s.attrBuf[:0]
	i := nameEnd
	for {
		j := s.skipSpace(i)
		if j == s.end {
			return 0, nil
		}
		switch s.buf[j] {
		case '>':
			s.finishStart(nameLocal, nameEnd, false)
			return s.consume(j + 1), nil
		case '/':
			if j+1 == s.end {
				return 0, nil
			}
			if s.buf[j+1] != '>' {
				return 0, s.syntaxError(j, "'/' not followed by '>' in a tag")
			}
			s.finishStart(nameLocal, nameEnd, true)
			n := s.consume(j + 2)
			if s.rootDone && s.level == 0 {
				s.rootEnd = s.base + int64(s.pos)
			}
			return n, nil
		}
		if j == i {
			return 0, s.syntaxError(j, "expected white space, '>' or '/>' after <%s", s.buf[s.pos+1:nameEnd])
		}
		attrEnd, attrLocal, err := s.scanName(j)
		if attrEnd == 0 {
			return 0, err
		}
		k := s.skipSpace(attrEnd)
		if k == s.end {
			return 0, nil
		}
		if s.buf[k] != '=' {
			return 0, s.syntaxError(k, "attribute %s without a value", s.buf[j:attrEnd])
		}
		k = s.skipSpace(k + 1)
		if k == s.end {
			return 0, nil
		}
		a := xmlAttr{nameAt: int32(j), localAt: int32(attrLocal), nameEnd: int32(attrEnd)}
		next, err := s.scanAttrValue(k, &a)
		if next == 0 {
			return 0, err
		}
		s.attrs = append(s.attrs, a)
		i = next
	}
}

// consume moves past a construct of n bytes ending at end and returns n.
func (s *xmlScanner) consume(end int) int {
	n := end - s.pos
	s.pos = end
	return n
}

func (s *xmlScanner) finishStart(nameLocal, nameEnd int, selfClosing bool) {
	s.nameAt, s.localAt, s.nameEnd = s.pos+1, nameLocal, nameEnd
	s.selfClosing = selfClosing
	s.level = len(s.openStart)
	s.rootSeen = true
	if selfClosing {
		if s.level == 0 {
			s.rootDone = true
		}
		return
	}
	s.openStart = append(s.openStart, len(s.open))
	if !s.lax {
		s.open = append(s.open, s.buf[s.nameAt:s.nameEnd]...)
	}
}

func (s *xmlScanner) pop() {
	s.open = s.open[:s.openStart[len(s.openStart)-1]]
	s.openStart = s.openStart[:len(s.openStart)-1]
	s.level = len(s.openStart)
}

// xmlMaxDepth bounds element nesting; worksheets nest about ten deep.
const xmlMaxDepth = 256

// scanAttrValue parses a quoted attribute value at buf[i] into a. It returns
// the index after the closing quote, or 0 when the buffer ends inside the
// value. A value with references is decoded into attrBuf.
func (s *xmlScanner) scanAttrValue(i int, a *xmlAttr) (next int, err error) {
	q := s.buf[i]
	if q != '"' && q != '\'' {
		return 0, s.syntaxError(i, "attribute value not in quotes")
	}
	j := i + 1
	start := len(s.attrBuf)
	decoded := false
	mark := j
	tbl := &xmlAttrPlain[b2i(s.lax)][b2i(q == '\'')]
	b := s.buf[:s.end]
	for {
		for j < len(b) && tbl[b[j]] {
			j++
		}
		if j == s.end {
			return 0, nil
		}
		switch c := s.buf[j]; c {
		case q:
			if !decoded {
				a.valAt, a.valEnd = int32(i+1), int32(j)
				return j + 1, nil
			}
			s.attrBuf = append(s.attrBuf, s.buf[mark:j]...)
			a.valAt, a.valEnd, a.decoded = int32(start), int32(len(s.attrBuf)), true
			return j + 1, nil
		case '<':
			return 0, s.syntaxError(j, "'<' in an attribute value")
		case '&':
			r, n, err := s.reference(j)
			if n == 0 {
				return 0, err
			}
			s.attrBuf = append(s.attrBuf, s.buf[mark:j]...)
			s.attrBuf = utf8.AppendRune(s.attrBuf, r)
			decoded = true
			j += n
			mark = j
		case '\r':
			j++
		default:
			n, err := s.checkChar(j)
			if n == 0 {
				return 0, err
			}
			j += n
		}
	}
}

// endTag parses </name> at buf[pos]. It returns the tag's length, or 0 when
// the buffer ends inside it.
func (s *xmlScanner) endTag() (int, error) {
	if n := len(s.openStart); n > 0 && !s.lax {
		// Most end tags close what is open and end right after the name:
		// compare with that name first.
		name := s.open[s.openStart[n-1]:]
		k := s.pos + 2 + len(name)
		if k < s.end && s.buf[k] == '>' && string(s.buf[s.pos+2:k]) == string(name) {
			s.pop()
			s.nameAt, s.localAt, s.nameEnd = s.pos+2, -1, k
			s.pos = k + 1
			if s.level == 0 {
				s.rootDone, s.rootEnd = true, s.base+int64(s.pos)
			}
			return len(name) + 3, nil
		}
	}
	nameEnd, nameLocal, err := s.scanName(s.pos + 2)
	if nameEnd == 0 {
		return 0, err
	}
	j := s.skipSpace(nameEnd)
	if j == s.end {
		return 0, nil
	}
	if s.buf[j] != '>' {
		return 0, s.syntaxError(j, "expected '>' to end </%s", s.buf[s.pos+2:nameEnd])
	}
	name := s.buf[s.pos+2 : nameEnd]
	if len(s.openStart) == 0 {
		return 0, s.syntaxError(s.pos, "</%s> closes no open element", name)
	}
	if open := s.open[s.openStart[len(s.openStart)-1]:]; !s.lax && !bytes.Equal(open, name) {
		return 0, s.syntaxError(s.pos, "<%s> is closed by </%s>", open, name)
	}
	s.pop()
	s.nameAt, s.localAt, s.nameEnd = s.pos+2, nameLocal, nameEnd
	n := s.consume(j + 1)
	if s.level == 0 {
		s.rootDone, s.rootEnd = true, s.base+int64(s.pos)
	}
	return n, nil
}

// procInst skips <?target ...?>, checking an XML declaration.
func (s *xmlScanner) procInst() (int, error) {
	end := bytes.Index(s.buf[s.pos+2:s.end], []byte("?>"))
	if end < 0 {
		return 0, nil
	}
	body := s.buf[s.pos+2 : s.pos+2+end]
	if err := s.checkChars(s.pos+2, body); err != nil {
		return 0, err
	}
	target := body
	if k := bytes.IndexFunc(body, func(r rune) bool { return r < 0x80 && isXMLSpace(byte(r)) }); k >= 0 {
		target = body[:k]
	}
	if len(target) == 0 {
		return 0, s.syntaxError(s.pos, "processing instruction without a target")
	}
	if bytes.EqualFold(target, []byte("xml")) {
		if s.base+int64(s.pos) > 3 || s.rootSeen || string(target) != "xml" {
			return 0, s.syntaxError(s.pos, "an XML declaration that is not at the start of the part")
		}
		if err := s.checkDeclaration(body[len(target):]); err != nil {
			return 0, err
		}
	}
	return s.consume(s.pos + 2 + end + 2), nil
}

// checkDeclaration checks the version and encoding of <?xml ...?>.
func (s *xmlScanner) checkDeclaration(attrs []byte) error {
	for _, key := range []string{"version", "encoding"} {
		v, ok := declAttr(attrs, key)
		switch {
		case !ok:
			if key == "version" {
				return s.syntaxError(s.pos, "XML declaration without a version")
			}
		case key == "version" && v != "1.0":
			return s.syntaxError(s.pos, "XML version %q is not supported", v)
		case key == "encoding" && !bytes.EqualFold([]byte(v), []byte("utf-8")):
			return s.syntaxError(s.pos, "the part is encoded in %q; only UTF-8 is supported", v)
		}
	}
	return nil
}

// declAttr finds key="value" in the pseudo-attributes of an XML declaration.
func declAttr(attrs []byte, key string) (string, bool) {
	i := bytes.Index(attrs, []byte(key))
	for i >= 0 {
		if i == 0 || isXMLSpace(attrs[i-1]) {
			rest := bytes.TrimLeft(attrs[i+len(key):], " \t\r\n")
			if len(rest) > 0 && rest[0] == '=' {
				rest = bytes.TrimLeft(rest[1:], " \t\r\n")
				if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
					if end := bytes.IndexByte(rest[1:], rest[0]); end >= 0 {
						return string(rest[1 : 1+end]), true
					}
				}
			}
			return "", true
		}
		next := bytes.Index(attrs[i+1:], []byte(key))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return "", false
}

// checkChars validates the characters of markup content (comments,
// processing instructions, CDATA).
func (s *xmlScanner) checkChars(at int, b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return s.syntaxError(at+i, "control character %#02x, which XML does not allow", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 || r == 0xFFFE || r == 0xFFFF {
			return s.syntaxError(at+i, "invalid UTF-8 or a character XML does not allow")
		}
		i += n
	}
	return nil
}

// bang handles <!-- comments -->, <![CDATA[...]]> and refuses DTDs.
func (s *xmlScanner) bang() (tok xmlToken, n int, err error) {
	rest := s.buf[s.pos:s.end]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		end := bytes.Index(rest[4:], []byte("--"))
		if end < 0 {
			return 0, 0, nil
		}
		if 4+end+2 == len(rest) {
			return 0, 0, nil
		}
		if rest[4+end+2] != '>' {
			return 0, 0, s.syntaxError(s.pos+4+end, `"--" inside a comment`)
		}
		if err := s.checkChars(s.pos+4, rest[4:4+end]); err != nil {
			return 0, 0, err
		}
		return 0, s.consume(s.pos + 4 + end + 3), nil
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		end := bytes.Index(rest[9:], []byte("]]>"))
		if end < 0 {
			return 0, 0, nil
		}
		if len(s.openStart) == 0 {
			return 0, 0, s.syntaxError(s.pos, "CDATA outside the root element")
		}
		data := rest[9 : 9+end]
		if err := s.checkChars(s.pos+9, data); err != nil {
			return 0, 0, err
		}
		if bytes.IndexByte(data, '\r') >= 0 {
			out := s.scratch[:0]
			for i := 0; i < len(data); i++ {
				if data[i] == '\r' {
					out = append(out, '\n')
					if i+1 < len(data) && data[i+1] == '\n' {
						i++
					}
					continue
				}
				out = append(out, data[i])
			}
			s.scratch, data = out, out
		}
		s.text = data
		s.level = len(s.openStart)
		return tokText, s.consume(s.pos + 9 + end + 3), nil
	case len(rest) < 9 && (bytes.HasPrefix([]byte("<![CDATA["), rest) || bytes.HasPrefix([]byte("<!--"), rest)):
		return 0, 0, nil
	case bytes.HasPrefix(rest, []byte("<!DOCTYPE")) || len(rest) < 9 && bytes.HasPrefix([]byte("<!DOCTYPE"), rest):
		if len(rest) < 9 {
			return 0, 0, nil
		}
		return 0, 0, s.syntaxError(s.pos, "a document type declaration (DTD), which workbook parts must not have")
	}
	return 0, 0, s.syntaxError(s.pos, "'<!' that starts neither a comment nor CDATA")
}

// attr returns the value of the current start tag's attribute with the given
// local name (prefixed attributes match too, e.g. r:id for "id").
func (s *xmlScanner) attr(local string) ([]byte, bool) {
	for i := range s.attrs {
		if string(s.attrLocal(&s.attrs[i])) == local {
			return s.attrValue(&s.attrs[i]), true
		}
	}
	return nil, false
}
