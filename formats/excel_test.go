package formats

import "testing"

func TestLooksExcelMangled(t *testing.T) {
	mangled := []string{"1.23E+15", "1,23E+15", "1.23457E+18", "1E+15", "4.00638E+12", " 1.2e+10 ", "-1.5E-05", "9,99999E+20"}
	intact := []string{"", "0000123", "12E45", "1.23E15", "E+15", "1.E+15", "1.23E+", "ABC1.2E+5", "1.2E+5x", "4006381333931", "1e", "1.5", "#N/A", "1,234"}
	for _, s := range mangled {
		if !LooksExcelMangled(s) {
			t.Errorf("LooksExcelMangled(%q) = false, want true", s)
		}
	}
	for _, s := range intact {
		if LooksExcelMangled(s) {
			t.Errorf("LooksExcelMangled(%q) = true, want false", s)
		}
	}
}

func FuzzLooksExcelMangled(f *testing.F) {
	f.Add("1.23E+15")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_ = LooksExcelMangled(s) // must not panic on any input
	})
}
