package formats

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// ErrEncoding is wrapped by the errors reported for text that is not valid in
// the file's encoding.
var ErrEncoding = errors.New("invalid text encoding")

// decodeInput strips a byte-order mark and returns a reader producing UTF-8
// and a function naming the encoding in use.
func decodeInput(br *bufio.Reader, encoding string) (io.Reader, func() string, error) {
	fixed := func(name string) func() string { return func() string { return name } }
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
		return &utf8Checker{r: br, state: stateUTF8, forced: true}, fixed("utf-8"), nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		// UTF-16 always carries a BOM when Excel writes it; UseBOM consumes it.
		dec := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
		return transform.NewReader(br, dec), fixed("utf-16"), nil
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "auto":
		c := &utf8Checker{r: br, state: stateUndecided}
		return c, c.encoding, nil
	case "utf-8", "utf8":
		return &utf8Checker{r: br, state: stateUTF8, forced: true}, fixed("utf-8"), nil
	case "windows-1252", "cp1252", "win1252":
		return transform.NewReader(br, charmap.Windows1252.NewDecoder()), fixed("windows-1252"), nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		return transform.NewReader(br, charmap.ISO8859_1.NewDecoder()), fixed("iso-8859-1"), nil
	}
	return nil, nil, fmt.Errorf("unknown encoding %q (use auto, utf-8, windows-1252 or iso-8859-1)", encoding)
}

// encoding names what auto-detection has decided so far.
func (c *utf8Checker) encoding() string {
	switch c.state {
	case stateUTF8:
		return "utf-8"
	case stateCP1252:
		return "windows-1252"
	}
	return "ascii"
}

const (
	stateUndecided = iota // only ASCII seen so far
	stateUTF8
	stateCP1252
)

// utf8Checker passes UTF-8 through unchanged while validating it. Undecided,
// it switches to Windows-1252 when the first non-ASCII byte of the input is
// not valid UTF-8: everything before was ASCII, which both encodings share,
// so the switch is exact. Invalid UTF-8 after valid non-ASCII UTF-8 means a
// mixed file and is an error, since guessing would corrupt names silently.
type utf8Checker struct {
	r      io.Reader
	state  int
	forced bool              // UTF-8 by BOM or by option, not by detection
	carry  [utf8.UTFMax]byte // an incomplete rune held back from the last read
	ncarry int
	offset int64 // bytes returned so far
	cp     io.Reader

	err        error  // sticky: an encoding error ends the stream
	pending    []byte // decoded bytes a too-small p could not take
	pendingErr error  // the error to return once pending is drained
}

func (c *utf8Checker) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			return n, c.pendingErr
		}
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.state == stateCP1252 {
		return c.cp.Read(p)
	}
	if len(p) < 2*utf8.UTFMax {
		// Room for a carried rune plus progress is needed; decode into a
		// scratch buffer and hand it out piecewise.
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		k := copy(p, buf[:n])
		if k < n {
			c.pending, c.pendingErr = buf[k:n], err
			return k, nil
		}
		return k, err
	}
	copy(p, c.carry[:c.ncarry])
	n, err := c.r.Read(p[c.ncarry:])
	total := c.ncarry + n
	c.ncarry = 0
	data := p[:total]
	hold := 0
	if err == nil {
		hold = incompleteTail(data)
	}
	body := data[:total-hold]
	bad := -1
	if c.state == stateUTF8 {
		if !utf8.Valid(body) {
			bad = firstInvalid(body)
		}
	} else if first := indexNonASCII(body); first >= 0 {
		if utf8.Valid(body[first:]) {
			c.state = stateUTF8
		} else if bad = first + firstInvalid(body[first:]); bad == first {
			// The file's first non-ASCII byte is not UTF-8: decode the rest
			// as Windows-1252, the encoding of most non-UTF-8 ERP exports.
			return c.switchToCP1252(p, data, first, err)
		}
	}
	if bad >= 0 {
		// Deliver the valid text before the bad byte first, so the reader
		// stops at the record that holds it.
		if c.forced {
			c.err = fmt.Errorf("%w: byte 0x%02X at byte offset %d is not valid UTF-8 (if the file is not UTF-8, pass its encoding, e.g. windows-1252)",
				ErrEncoding, body[bad], c.offset+int64(bad))
		}
		if !c.forced {
			c.err = fmt.Errorf("%w: byte 0x%02X at byte offset %d is not valid UTF-8 although the text before it is; the file mixes encodings (re-export it as UTF-8 or pass the encoding explicitly)",
				ErrEncoding, body[bad], c.offset+int64(bad))
		}
		c.offset += int64(bad)
		if bad == 0 {
			return 0, c.err
		}
		return bad, nil
	}
	c.ncarry = copy(c.carry[:], data[total-hold:])
	c.offset += int64(len(body))
	return len(body), err
}

func (c *utf8Checker) switchToCP1252(p, data []byte, first int, readErr error) (int, error) {
	var tail io.Reader = bytes.NewReader(append([]byte(nil), data[first:]...))
	if readErr == nil {
		tail = io.MultiReader(tail, c.r)
	}
	c.cp = transform.NewReader(tail, charmap.Windows1252.NewDecoder())
	c.state = stateCP1252
	c.offset += int64(first)
	if first == 0 {
		return c.cp.Read(p)
	}
	return first, nil
}

// incompleteTail returns how many trailing bytes form the start of a rune
// whose remaining bytes have not been read yet.
func incompleteTail(b []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		x := b[len(b)-k]
		if x < utf8.RuneSelf {
			return 0
		}
		if x >= 0xC0 { // a start byte
			need := 2
			switch {
			case x >= 0xF0:
				need = 4
			case x >= 0xE0:
				need = 3
			}
			if need > k {
				return k
			}
			return 0
		}
	}
	return 0
}

// indexNonASCII returns the index of the first byte >= 0x80, or -1. It scans
// eight bytes at a time because it runs over every byte of ASCII input.
func indexNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return i
		}
	}
	return -1
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
