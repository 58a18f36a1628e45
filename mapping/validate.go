package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// iso3166Alpha2 holds the 249 officially assigned ISO 3166-1 alpha-2 codes. User-assigned codes such as XK
// (Kosovo) are not included, because the platform's Country Service decides what it accepts.
const iso3166Alpha2 = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW`

// iso4217 holds the active ISO 4217 alphabetic codes (list one, 2026), including funds and precious-metal
// codes. Withdrawn codes (HRK, ANG, SLL, CUC, ZWL, ...) are rejected on purpose: the platform would store
// a currency no price list uses.
const iso4217 = `AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR
PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB
XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG`

var (
	countryCodes  = codeSet(iso3166Alpha2)
	currencyCodes = codeSet(iso4217)
)

func codeSet(s string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, c := range strings.Fields(s) {
		m[c] = struct{}{}
	}
	return m
}

// IsCountryCode reports whether s is an officially assigned ISO 3166-1 alpha-2 code (upper case).
func IsCountryCode(s string) bool { _, ok := countryCodes[s]; return ok }

// IsCurrencyCode reports whether s is an active ISO 4217 code (upper case).
func IsCurrencyCode(s string) bool { _, ok := currencyCodes[s]; return ok }

// IsEmail is a deliberately plain check: one @, a non-empty local part, a dotted domain, no spaces, no
// control characters, at most 254 bytes. The platform has the final word.
func IsEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;\"") {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s, '@') != at {
		return false
	}
	domain := s[at+1:]
	dot := strings.IndexByte(domain, '.')
	if dot <= 0 || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// spreadsheetErrors are the error values a spreadsheet shows for a formula that failed; an export that writes
// what the cells show puts them in a CSV file as text.
var spreadsheetErrors = []string{"#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#N/A",
	"#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"}

// isSpreadsheetError reports whether a cell's text is a spreadsheet error value, in any case.
func isSpreadsheetError(s string) bool {
	if len(s) < 4 || s[0] != '#' {
		return false
	}
	for _, e := range spreadsheetErrors {
		if strings.EqualFold(s, e) {
			return true
		}
	}
	return false
}

// spreadsheetErrorReason says why a cell holding a spreadsheet error as text fails its row.
func spreadsheetErrorReason(s string) string {
	return "the cell holds the spreadsheet error " + s + "; the export wrote a formula's error as text"
}

// looksLikeExcelScientific reports cells like 1.23E+15 or 4,5E+12 that Excel produces from long numbers.
func looksLikeExcelScientific(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i <= 0 || i == len(s)-1 {
		return false
	}
	mant, exp := s[:i], s[i+1:]
	if exp[0] == '+' || exp[0] == '-' {
		exp = exp[1:]
	}
	if exp == "" || !allDigits(exp) {
		return false
	}
	mant = strings.TrimPrefix(mant, "-")
	intPart, frac, hasSep := strings.Cut(strings.ReplaceAll(mant, ",", "."), ".")
	if intPart == "" || !allDigits(intPart) {
		return false
	}
	return !hasSep || (frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

const excelScientificReason = "looks like a number Excel converted to scientific notation; export the column as text"

// ParseBool reads a boolean cell: true/false, 1/0, yes/no, y/n, x (true), in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "x":
		return true, nil
	case "false", "0", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean %q: use true/false, 1/0, yes/no or X", s)
}

// ParseNumber reads a number cell. With decimalComma the cell uses "," as decimal separator and "." or
// spaces as thousands separators ("1.234,56"); a dot counts only where it separates thousands (1 to 3 leading
// digits, then groups of exactly 3, all before the comma), so a file written with a decimal point fails
// instead of 1.5 turning into 15. Without it "." is the decimal separator and a comma is an error, because
// guessing would turn 1,234 into 1.234 in one locale or the other.
func ParseNumber(s string, decimalComma bool) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.NewReplacer(" ", "", "\u00a0", "", "'", "").Replace(t)
	if decimalComma {
		if reason := misplacedDot(t); reason != "" {
			return 0, fmt.Errorf("with decimal comma (--decimal-comma or the mapping's decimalComma) %s, so %s is not a number; did the file use a decimal point?", reason, s)
		}
		t = strings.ReplaceAll(t, ".", "")
		t = strings.Replace(t, ",", ".", 1)
	} else if strings.Contains(t, ",") {
		return 0, fmt.Errorf("not a number %q: a comma needs the decimalComma option", s)
	}
	// ParseFloat also reads hex floats, underscores, Inf and NaN, none of which an ERP number cell means.
	lower := strings.ToLower(t)
	if t == "" || strings.ContainsAny(lower, "xp_") || strings.Contains(lower, "nan") || strings.Contains(lower, "inf") {
		return 0, fmt.Errorf("not a number %q", s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number %q", s)
	}
	return f, nil
}

// misplacedDot says why the dots of a decimal-comma number do not separate thousands, "" when they do (or
// there are none).
func misplacedDot(t string) string {
	intPart, frac, _ := strings.Cut(t, ",")
	if strings.Contains(frac, ".") {
		return "a dot cannot follow the decimal comma"
	}
	if !strings.Contains(intPart, ".") {
		return ""
	}
	groups := strings.Split(strings.TrimLeft(intPart, "+-"), ".")
	if len(groups[0]) < 1 || len(groups[0]) > 3 || !allDigits(groups[0]) {
		return "a dot separates thousands after 1 to 3 leading digits"
	}
	for _, g := range groups[1:] {
		if len(g) != 3 || !allDigits(g) {
			return "a dot separates thousands into groups of 3 digits"
		}
	}
	return ""
}

// DateLayout converts a date pattern from a mapping file to a Go time layout. Patterns use YYYY, YY, MM,
// DD, M and D (e.g. "DD.MM.YYYY", "YYYYMMDD", "MM/DD/YYYY"); a string that already contains Go's reference
// year 2006 is taken as a Go layout.
func DateLayout(pattern string) (string, error) {
	if strings.Contains(pattern, "2006") {
		return pattern, nil
	}
	if pattern == "" {
		return "", errors.New("empty date pattern")
	}
	var b strings.Builder
	p := pattern
	var year, month, day bool
	for p != "" {
		switch {
		case strings.HasPrefix(p, "YYYY"):
			b.WriteString("2006")
			p, year = p[4:], true
		case strings.HasPrefix(p, "YY"):
			b.WriteString("06")
			p, year = p[2:], true
		case strings.HasPrefix(p, "MM"):
			b.WriteString("01")
			p, month = p[2:], true
		case strings.HasPrefix(p, "DD"):
			b.WriteString("02")
			p, day = p[2:], true
		case strings.HasPrefix(p, "M"):
			b.WriteString("1")
			p, month = p[1:], true
		case strings.HasPrefix(p, "D"):
			b.WriteString("2")
			p, day = p[1:], true
		default:
			c := p[0]
			if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
				return "", fmt.Errorf("date pattern %q: unexpected %q (use YYYY, YY, MM, DD, M, D and separators)", pattern, string(c))
			}
			b.WriteByte(c)
			p = p[1:]
		}
	}
	if !year || !month || !day {
		return "", fmt.Errorf("date pattern %q needs a year, a month and a day", pattern)
	}
	return b.String(), nil
}

// normalizeDate converts a cell to ISO 8601. With a layout the cell must match it and becomes yyyy-mm-dd;
// without one the cell must already be yyyy-mm-dd or an RFC 3339 timestamp and is kept as written.
func normalizeDate(s, layout string) (string, error) {
	if layout != "" {
		t, err := time.Parse(layout, s)
		if err != nil && looksLikeDateSerial(s) {
			return "", errors.New(dateSerialReason)
		}
		if err != nil {
			return "", fmt.Errorf("not a date in the layout %q", layout)
		}
		return t.Format("2006-01-02"), nil
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return s, nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return s, nil
	}
	if looksLikeDateSerial(s) {
		return "", errors.New(dateSerialReason)
	}
	return "", errors.New("not an ISO 8601 date (yyyy-mm-dd or yyyy-mm-ddThh:mm:ssZ); set a date layout in the mapping")
}

// dateSerialReason explains a date cell that holds a spreadsheet's day count: no date layout reads one.
const dateSerialReason = "looks like a spreadsheet date serial number (days since 1900), which no date layout reads; " +
	"format the column as text or as an ISO date (yyyy-mm-dd) in the spreadsheet"

// looksLikeDateSerial reports cells like 45627 or 45627.5: how a spreadsheet stores a date (or a date and
// time) whose column is not formatted as text.
func looksLikeDateSerial(s string) bool {
	days, frac, hasFrac := strings.Cut(s, ".")
	return len(days) <= 6 && allDigits(days) && (!hasFrac || allDigits(frac))
}

// isLocale accepts language tags as the platform's examples use them ("de", "en_US", "en-US", "zh_Hans_CN"): a
// well-formed BCP 47 tag of a known language, "_" standing for "-", with at most two subtags after the language.
func isLocale(s string) bool {
	tag := strings.ReplaceAll(s, "_", "-")
	lang, _, _ := strings.Cut(tag, "-")
	if len(lang) < 2 || len(lang) > 3 || strings.Count(tag, "-") > 2 {
		return false
	}
	_, err := language.Parse(tag)
	return err == nil
}
