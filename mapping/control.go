package mapping

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// ControlCharAt returns the byte offset of the first C0 control character of a cell other than tab, CR and
// LF (a NUL, a form feed, an escape), -1 if there is none. No ERP field holds one; it is the trace of a binary
// file or a damaged export, and the platform would store it as text. Input reading applies it to every cell a
// mapper reads, and Map to the strings a JSON cell decodes to, so that one rule decides what is never sent.
func ControlCharAt(cell string) int {
	// Eight bytes at a time first: every cell is scanned, and nearly none holds a byte below 0x20 at all.
	const highs, spaces = 0x8080808080808080, 0x2020202020202020
	i := 0
	for ; i+8 <= len(cell); i += 8 {
		w := uint64(cell[i]) | uint64(cell[i+1])<<8 | uint64(cell[i+2])<<16 | uint64(cell[i+3])<<24 |
			uint64(cell[i+4])<<32 | uint64(cell[i+5])<<40 | uint64(cell[i+6])<<48 | uint64(cell[i+7])<<56
		if (w-spaces)&^w&highs != 0 {
			break // a byte below 0x20 in this word: the loop below finds which, and whether it is allowed
		}
	}
	for ; i < len(cell); i++ {
		if c := cell[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return -1
}

// decodedControlChar says why a JSON cell whose decoded strings (object keys and strings nested in objects
// and arrays included) hold a control character ControlCharAt refuses cannot be sent, or "" when none does.
// The cell itself passed ControlCharAt, so only an escape (\u001b, \b, \f) can produce one, and a cell
// without a backslash is not walked.
func decodedControlChar(cell string, decoded any) string {
	if !strings.Contains(cell, `\`) {
		return ""
	}
	s, i := firstControlString(decoded)
	if i < 0 {
		return ""
	}
	return fmt.Sprintf("the JSON value decodes to a control character U+%04X at position %d of a string; no field may hold one (tab, CR and LF are allowed)",
		s[i], utf8.RuneCountInString(s[:i])+1)
}

// firstControlString returns the first string inside a decoded JSON value that holds a control character and
// the character's byte offset in it, or -1 when none does.
func firstControlString(v any) (string, int) {
	switch x := v.(type) {
	case string:
		return x, ControlCharAt(x)
	case []any:
		for _, e := range x {
			if s, i := firstControlString(e); i >= 0 {
				return s, i
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) { // sorted, so that a row always fails with the same message
			if i := ControlCharAt(k); i >= 0 {
				return k, i
			}
			if s, i := firstControlString(x[k]); i >= 0 {
				return s, i
			}
		}
	}
	return "", -1
}
