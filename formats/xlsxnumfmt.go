package formats

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// zeroPadFormat is a number format that shows an integer padded with zeros to
// a fixed width, possibly between literal text: 0000000000, 00000,
// "DE"000000, \K00000. ERP keys (SAP's KUNNR, zip codes) that a spreadsheet
// program turned into numbers keep their leading zeros only through such a
// format, so the reader yields the text the spreadsheet shows, "0008000002",
// not the stored number 8000002. The General format shows a number in its
// shortest form (appendGeneral); every other number format keeps the stored
// value: dates stay serial numbers and decimals stay full precision, for the
// mapping layer to interpret.
type zeroPadFormat struct {
	width          int
	prefix, suffix string
	// sections is the number of ';'-separated sections; negative numbers
	// (and zero, with three) have their own section when there are several,
	// which is not applied: such values keep their stored text.
	sections int
}

// builtinZeroPadFormats are the built-in number formats (those without a
// numFmt element) that are zero formats: only 1, "0".
var builtinZeroPadFormats = map[int]*zeroPadFormat{1: {width: 1, sections: 1}}

// numberStyles is what the reader applies of each cell style's number format (by the s attribute of a cell,
// an index into cellXfs).
type numberStyles struct {
	// pads holds a style's zero-padded number format, nil for other formats.
	pads []*zeroPadFormat
	// general says a style's format is General, which shows a number in its shortest form (appendGeneral).
	general []bool
}

// pad returns the zero-padded format of style, nil if it has none.
func (n numberStyles) pad(style int) *zeroPadFormat {
	if style < len(n.pads) {
		return n.pads[style]
	}
	return nil
}

// isGeneral reports whether style shows numbers in the General format: a style that says so, or any cell of a
// workbook without styles, whose every cell is General.
func (n numberStyles) isGeneral(style int) bool {
	if style < len(n.general) {
		return n.general[style]
	}
	return n.general == nil
}

// cellNumberStyles reads the number format of every cell style of f.
func cellNumberStyles(f *excelize.File) numberStyles {
	if f.Styles == nil || f.Styles.CellXfs == nil {
		return numberStyles{}
	}
	custom := map[int]*zeroPadFormat{}
	customGeneral := map[int]bool{}
	customIDs := map[int]bool{}
	if f.Styles.NumFmts != nil {
		for _, nf := range f.Styles.NumFmts.NumFmt {
			if nf == nil {
				continue
			}
			customIDs[nf.NumFmtID] = true
			if z := parseZeroPadFormat(nf.FormatCode); z != nil {
				custom[nf.NumFmtID] = z
			}
			customGeneral[nf.NumFmtID] = strings.EqualFold(strings.TrimSpace(nf.FormatCode), "General")
		}
	}
	styles := numberStyles{pads: make([]*zeroPadFormat, len(f.Styles.CellXfs.Xf)), general: make([]bool, len(f.Styles.CellXfs.Xf))}
	for i, xf := range f.Styles.CellXfs.Xf {
		id := 0 // a style without a numFmtId shows General
		if xf.NumFmtID != nil {
			id = *xf.NumFmtID
		}
		if customIDs[id] {
			styles.pads[i], styles.general[i] = custom[id], customGeneral[id] // a numFmt element overrides a built-in id
		} else {
			styles.pads[i], styles.general[i] = builtinZeroPadFormats[id], id == 0
		}
	}
	return styles
}

// appendGeneral appends the text the General number format shows for the stored number raw, as far as it
// differs from the stored text in what a value means: Excel stores 1004 as "1004", but other writers store
// "1004.0", "1.50" or "1E+3", which a spreadsheet shows as 1004, 1.5 and 1000. Such a number below 10^15 (where
// float64 still holds every integer) reads in its shortest form that is the same number, so a key stored as
// 1004.0 reads as the 1004 it showed. Every other stored text is kept as it is: a number in its shortest form
// already (nearly all), and one General would show in scientific notation or rounded (a magnitude of 10^15
// or more, a fraction below 10^-4), which means something only as stored.
func appendGeneral(dst, raw []byte) []byte {
	if !generalWouldChange(raw) {
		return append(dst, raw...)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if a := math.Abs(v); err != nil || math.IsInf(v, 0) || math.IsNaN(v) || a >= 1e15 || (a < 1e-4 && v != math.Trunc(v)) {
		return append(dst, raw...)
	}
	if v == 0 {
		v = 0 // -0 shows as 0
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// generalWouldChange reports whether raw has an exponent or a fraction ending in a zero: the only stored texts
// that General shows otherwise. It spares the parse of every other number.
func generalWouldChange(raw []byte) bool {
	dot := false
	for _, c := range raw {
		switch c {
		case 'e', 'E':
			return true
		case '.':
			dot = true
		}
	}
	return dot && raw[len(raw)-1] == '0'
}

// parseZeroPadFormat recognises a zero-padded integer format code; it returns
// nil for any other code.
func parseZeroPadFormat(code string) *zeroPadFormat {
	var (
		z         zeroPadFormat
		lit       strings.Builder
		seenZeros bool
		afterZero bool // zeros ended: no more zeros may follow
	)
	z.sections = 1
	i := 0
	for i < len(code) && code[i] != ';' {
		c := code[i]
		switch {
		case c == '0':
			if afterZero {
				return nil // 000-000 places digits around literals: not a plain padding
			}
			if !seenZeros {
				z.prefix = lit.String()
				lit.Reset()
			}
			seenZeros = true
			z.width++
			i++
			if i < len(code) && code[i] != '0' {
				afterZero = true
			}
			continue
		case c == '"':
			end := strings.IndexByte(code[i+1:], '"')
			if end < 0 {
				return nil
			}
			lit.WriteString(code[i+1 : i+1+end])
			i += end + 2
			continue
		case c == '\\':
			if i+1 >= len(code) {
				return nil
			}
			_, n := utf8.DecodeRuneInString(code[i+1:])
			lit.WriteString(code[i+1 : i+1+n])
			i += 1 + n
			continue
		case c == '[':
			end := strings.IndexByte(code[i:], ']')
			if end < 0 {
				return nil
			}
			text, ok := bracketLiteral(code[i+1 : i+end])
			if !ok {
				return nil
			}
			lit.WriteString(text)
			i += end + 1
			continue
		case strings.IndexByte("$-+/():!^&'~{}<>= ", c) >= 0:
			lit.WriteByte(c)
		default:
			return nil // #, ?, ., %, E, @, date and time letters, _ and * fills
		}
		i++
	}
	if !seenZeros {
		return nil
	}
	z.suffix = lit.String()
	if i < len(code) {
		z.sections += strings.Count(code[i:], ";") // quotes in later sections do not matter for the count's use
	}
	return &z
}

// bracketLiteral interprets [..] in a format code: a colour shows nothing, a
// currency or locale [$€-407] shows its symbol; anything else (conditions,
// elapsed time) is not part of a plain padded format.
func bracketLiteral(s string) (string, bool) {
	if strings.HasPrefix(s, "$") {
		sym := s[1:]
		if k := strings.IndexByte(sym, '-'); k >= 0 {
			sym = sym[:k]
		}
		return sym, true
	}
	switch strings.ToLower(s) {
	case "black", "blue", "cyan", "green", "magenta", "red", "white", "yellow":
		return "", true
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "color"); ok {
		if _, err := strconv.Atoi(rest); err == nil {
			return "", true
		}
	}
	return "", false
}

// appendDisplay appends the text the spreadsheet shows for the stored number
// raw. ok is false (nothing appended) when the format does not apply: the
// value is not an integer below 10^15, or is negative (or zero) where the
// format has a section of its own for it.
func (z *zeroPadFormat) appendDisplay(dst, raw []byte) (out []byte, ok bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v != math.Trunc(v) || math.Abs(v) >= 1e15 {
		return dst, false
	}
	if v < 0 && z.sections > 1 || v == 0 && z.sections > 2 {
		return dst, false
	}
	n := int64(v)
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	dst = append(dst, z.prefix...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	for pad := z.width - len(d); pad > 0; pad-- {
		dst = append(dst, '0')
	}
	dst = append(dst, d...)
	return append(dst, z.suffix...), true
}
