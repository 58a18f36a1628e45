package mapping_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"custsync/formats"
	"custsync/mapping"
)

const (
	testHash       = "1:10000:s4lt:h4sh-leakcheck"
	testLegacyHash = "tBRzNZ+h9FRRm8K1qzDz3a-LEGACY-leakcheck=="
	testUID        = "uid-leakcheck-61359"
)

func TestAccountColumnsMakeAnAccountThatIsNoField(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "firstName", "contactEmail", "passwordHash"}
	with, errs := mapOne(t, mapping.Customers, header, []string{"100", "Ann", "ann@example.com", testHash})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	if with.Account == nil || with.Account.Email != "ann@example.com" || with.Account.PasswordHash != testHash || with.Account.Legacy != nil {
		t.Fatalf("account %v", with.Account)
	}
	without, errs := mapOne(t, mapping.Customers, header, []string{"100", "Ann", "ann@example.com", ""})
	if len(errs) > 0 || without.Account != nil {
		t.Fatalf("a row without a hash: account %v, %s", without.Account, errText(errs))
	}
	// The account is not part of the record's payload, hash, or anything derived from the cells.
	if with.Hash() != without.Hash() {
		t.Error("the row hash depends on the password hash")
	}
	if p := fmt.Sprint(with.Payload()); strings.Contains(p, testHash) || strings.Contains(p, "account") {
		t.Errorf("payload %s", p)
	}
	mappers, err := mapping.Resolve(mapping.DefaultSpec(), mapping.Table{File: "customers.csv"}, header)
	if err != nil {
		t.Fatal(err)
	}
	m := mappers[0]
	if !slices.Equal(m.SecretColumns(), []int{3}) {
		t.Errorf("secret columns %v, want [3]", m.SecretColumns())
	}
	if m.RawHash([]string{"100", "Ann", "ann@example.com", testHash}) != m.RawHash([]string{"100", "Ann", "ann@example.com", "other"}) {
		t.Error("the raw hash depends on the password hash")
	}
	if m.RawHash([]string{"100", "Ann", "ann@example.com", testHash}) == m.RawHash([]string{"100", "Bob", "ann@example.com", testHash}) {
		t.Error("the raw hash ignores the other cells")
	}
	for _, text := range []string{fmt.Sprintf("%v %+v %#v", with, with, with), fmt.Sprintf("%v %#v", *with.Account, *with.Account), slog.AnyValue(*with.Account).Resolve().String()} {
		if strings.Contains(text, testHash) {
			t.Errorf("printed record holds the hash: %s", text)
		}
	}
	if slices.ContainsFunc(mapping.Columns(mapping.Customers), func(c string) bool { return strings.EqualFold(c, "passwordHash") }) {
		t.Error("Columns lists the account columns, so exports would write them")
	}
}

func TestLegacyAccountFromAMappingFile(t *testing.T) {
	t.Parallel()
	spec, err := mapping.ParseMapping([]byte(`
entity: customers
fields:
  sdCustomerNumber: KUNNR
  contactEmail: MAIL
  accountEmail: LOGIN
  legacyAuth.algorithm: { const: HYBRIS-SHA512-UID-SALT }
  legacyAuth.hash: PWD
  legacyAuth.context.originalUid: UID
`), "hybris.yaml")
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"KUNNR", "MAIL", "LOGIN", "PWD", "UID"}
	mappers, err := mapping.Resolve(spec, mapping.Table{File: "kna1.csv"}, header)
	if err != nil {
		t.Fatal(err)
	}
	// The login alone fills contactEmail, as the platform would.
	rec, errs := mappers[0].Map(formats.Position{File: "kna1.csv", Line: 2}, []string{"100", "", "Ann@Example.com", testLegacyHash, testUID})
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	a := rec.Account
	if a == nil || a.Email != "Ann@Example.com" || a.PasswordHash != "" || a.Legacy == nil || a.Legacy.Algorithm != "hybris-sha512-uid-salt" ||
		a.Legacy.Hash != testLegacyHash || a.Legacy.Context["originalUid"] != testUID {
		t.Fatalf("account %#v %+v", a, a.Legacy)
	}
	if v, ok := rec.Get("contactEmail"); !ok || v.String() != "Ann@Example.com" {
		t.Errorf("contactEmail %v %v, want the login's address", v, ok)
	}
	if !slices.Equal(mappers[0].SecretColumns(), []int{3, 4}) {
		t.Errorf("secret columns %v", mappers[0].SecretColumns())
	}
}

func TestAccountRules(t *testing.T) {
	t.Parallel()
	header := []string{"sdCustomerNumber", "contactEmail", "accountEmail", "passwordHash", "legacyAuth.algorithm", "legacyAuth.hash", "legacyAuth.context.originalUid"}
	cases := []struct {
		name string
		row  []string // contactEmail, accountEmail, passwordHash, algorithm, legacy hash, uid
		want string   // a part of the error; "" for none
	}{
		{"native hash", []string{"a@example.com", "", testHash, "", "", ""}, ""},
		{"login equals contact in another case", []string{"a@example.com", "A@Example.com", testHash, "", "", ""}, ""},
		{"legacy", []string{"a@example.com", "", "", "hybris-sha512-uid-salt", testLegacyHash, testUID}, ""},
		{"no account at all", []string{"a@example.com", "", "", "", "", ""}, ""},
		{"both hashes", []string{"a@example.com", "", testHash, "hybris-sha512-uid-salt", testLegacyHash, ""}, "not both"},
		{"legacy without algorithm", []string{"a@example.com", "", "", "", testLegacyHash, ""}, "needs legacyAuth.algorithm"},
		{"legacy without hash", []string{"a@example.com", "", "", "hybris-sha512-uid-salt", "", testUID}, "needs legacyAuth.hash"},
		{"context alone", []string{"a@example.com", "", "", "", "", testUID}, "needs legacyAuth.hash"},
		{"unknown algorithm", []string{"a@example.com", "", "", "md5", testLegacyHash, ""}, "unknown legacy password algorithm"},
		{"login differs from contact", []string{"a@example.com", "b@example.com", testHash, "", "", ""}, "differs from contactEmail"},
		{"login without a password", []string{"a@example.com", "a@example.com", "", "", "", ""}, "needs passwordHash or legacyAuth.hash"},
		{"no e-mail address", []string{"", "", testHash, "", "", ""}, "needs an e-mail address"},
		{"login not an address", []string{"", "nobody", testHash, "", "", ""}, "not an e-mail address"},
		{"a result file's mask", []string{"a@example.com", "", mapping.MaskedSecret, "", "", ""}, "custsync's mask"},
		{"cleared hash", []string{"a@example.com", "", "#N/A", "", "", ""}, "cannot be cleared"},
	}
	for _, tc := range cases {
		rec, errs := mapOne(t, mapping.Customers, header, append([]string{"100"}, tc.row...))
		text := errText(errs)
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: %s", tc.name, text)
		case tc.want != "" && !strings.Contains(text, tc.want):
			t.Errorf("%s: errors %q, want %q", tc.name, text, tc.want)
		case tc.want != "" && rec.Account != nil:
			t.Errorf("%s: an invalid row has an account", tc.name)
		}
		for _, secret := range []string{testHash, testLegacyHash, testUID} {
			if strings.Contains(text, secret) {
				t.Errorf("%s: an error quotes a secret: %s", tc.name, text)
			}
		}
	}
	// A row to delete carries no account and is not judged by it.
	rec, errs := mapOne(t, mapping.Customers, append(header, "command"), []string{"100", "", "", testHash, "md5", "", "", "DELETE"})
	if len(errs) > 0 || rec.Account != nil {
		t.Errorf("delete row: %v %s", rec.Account, errText(errs))
	}
}
