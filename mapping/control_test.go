package mapping_test

import (
	"slices"
	"strings"
	"testing"

	"custsync/mapping"
)

// TestControlCharAtFindsEveryControlByte: the word-at-a-time scan finds the first byte below 0x20 other than
// tab, CR and LF at every offset, after a tab or a multi-byte letter, and nothing in text without one.
func TestControlCharAtFindsEveryControlByte(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "\t", "ü", "line\r\nbreak"} {
		for n := 0; n < 20; n++ {
			base := prefix + strings.Repeat("x", n)
			if got := mapping.ControlCharAt(base + "ÿ\u007f~ "); got != -1 {
				t.Fatalf("%q: %d, want -1", base, got)
			}
			for c := byte(0); c < 0x20; c++ {
				cell := base + string(c) + strings.Repeat("y", 9)
				want := len(base)
				if c == '\t' || c == '\n' || c == '\r' {
					want = -1
				}
				if got := mapping.ControlCharAt(cell); got != want {
					t.Fatalf("%q: %d, want %d", cell, got, want)
				}
			}
		}
	}
}

// TestJSONCellDecodingToAControlCharacterFails: an escape in a FIELD:json or a mixin :json cell that decodes
// to a control character import refuses in a plain cell (in a string nested in objects and arrays, or in an
// object key, too) fails the row naming the character; tab, CR and LF escapes stay text.
func TestJSONCellDecodingToAControlCharacterFails(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "lastName:json", "mixins.erp.note:json", "mixins.erp:json"}
	for _, c := range []struct {
		column, cell, want string // want: the error, "" for none
	}{
		{"lastName:json", `"a\u001bb"`, "control character U+001B at position 2"},
		{"lastName:json", `"\f"`, "control character U+000C at position 1"},
		{"mixins.erp.note:json", `"n\u0000x"`, "control character U+0000 at position 2"},
		{"mixins.erp.note:json", `{"a":[1,{"b":"ok","c":"\bz"}]}`, "control character U+0008 at position 1"},
		{"mixins.erp:json", `{"k\u0001":"v"}`, "control character U+0001 at position 2"},
		{"lastName:json", `"a\tb\r\nc"`, ""},
		{"mixins.erp.note:json", `["a\tb","\r\n","\u00e9"]`, ""},
	} {
		row := make([]string, len(header))
		row[0] = "1"
		row[slices.Index(header, c.column)] = c.cell
		_, errs := mapOne(t, mapping.Customers, header, row)
		got := errText(errs)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) || c.want != "" && !strings.Contains(got, c.column) {
			t.Errorf("%s %s: got %q, want %q", c.column, c.cell, got, c.want)
		}
	}
}
