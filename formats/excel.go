package formats

// LooksExcelMangled reports whether s looks like a number Excel has already
// rewritten in scientific notation, such as "1.23457E+15" or, in locales with
// a decimal comma, "1,23457E+15". Excel does this to long numeric identifiers
// (customer numbers, GTINs) when a CSV is opened and saved again; the
// original digits are lost, so such values must be rejected rather than
// imported. The exponent sign is required, which keeps ordinary alphanumeric
// keys like "12E45" from matching.
func LooksExcelMangled(s string) bool {
	i, n := 0, len(s)
	for i < n && s[i] == ' ' {
		i++
	}
	for n > i && s[n-1] == ' ' {
		n--
	}
	if i < n && (s[i] == '-' || s[i] == '+') {
		i++
	}
	start := i
	for i < n && isDigit(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	if i < n && (s[i] == '.' || s[i] == ',') {
		i++
		frac := i
		for i < n && isDigit(s[i]) {
			i++
		}
		if i == frac {
			return false
		}
	}
	if i >= n || (s[i] != 'E' && s[i] != 'e') {
		return false
	}
	i++
	if i >= n || (s[i] != '+' && s[i] != '-') {
		return false
	}
	i++
	exp := i
	for i < n && isDigit(s[i]) {
		i++
	}
	return i > exp && i == n
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
