package mapping

import (
	"testing"

	"custsync/formats"
)

func resolveDefault(t *testing.T, file string, header []string) *Mapper {
	t.Helper()
	ms, err := Resolve(nil, Table{File: file}, header)
	if err != nil {
		t.Fatal(err)
	}
	return ms[0]
}

func TestKeyMatchesMap(t *testing.T) {
	t.Parallel()
	addr := resolveDefault(t, "addresses.csv", []string{"sdCustomerNumber", "addressKey", "contactName"})
	cust := resolveDefault(t, "customers.csv", []string{"sdCustomerNumber", "firstName"})
	cases := []struct {
		m     *Mapper
		cells []string
	}{
		{cust, []string{" 0000100080 ", "Ann"}},
		{cust, []string{"", "No key"}},
		{cust, []string{"#N/A", "Cleared key"}},
		{cust, []string{"1.23E+15", "Mangled"}},
		{addr, []string{"0001", "A/1", "Ann"}},
		{addr, []string{"0001", "", "Ann"}},
	}
	for _, tc := range cases {
		rec, errs := tc.m.Map(formats.Position{File: "f", Line: 2}, tc.cells)
		key, ok := tc.m.Key(tc.cells)
		if ok != (rec.Key != "") || key != rec.Key {
			t.Errorf("cells %q: Key() = %q, %v; Map gave key %q (errors %v)", tc.cells, key, ok, rec.Key, errs)
		}
	}
}

func TestRawHash(t *testing.T) {
	t.Parallel()
	m := resolveDefault(t, "customers.csv", []string{"sdCustomerNumber", "firstName", "lastName"})
	a := m.RawHash([]string{"1", "Ann", "Lee"})
	if a != m.RawHash([]string{"1", "Ann", "Lee"}) {
		t.Fatal("raw hash is not deterministic")
	}
	for _, other := range [][]string{{"1", "Ann", "Le"}, {"1", "AnnL", "ee"}, {"1", "Ann", "Lee "}, {"1", "Ann", ""}} {
		if m.RawHash(other) == a {
			t.Errorf("cells %q hash like the original", other)
		}
	}
	// The same cells under another column order (a different mapping of the cells) hash differently.
	swapped := resolveDefault(t, "customers.csv", []string{"sdCustomerNumber", "lastName", "firstName"})
	if swapped.RawHash([]string{"1", "Ann", "Lee"}) == a {
		t.Error("the raw hash ignores how the cells are mapped")
	}
	// A fresh Mapper of the same table in another run gives the same hash: it is persisted.
	if resolveDefault(t, "customers.csv", []string{"sdCustomerNumber", "firstName", "lastName"}).RawHash([]string{"1", "Ann", "Lee"}) != a {
		t.Error("the raw hash depends on the Mapper instance")
	}
}
