package mapping_test

import (
	"strings"
	"testing"

	"custsync/mapping"
)

// TestRowValidation feeds one bad cell at a time and expects exactly one error naming the column with a
// reason containing the given text; a good row of the same entity must map without errors.
func TestRowValidation(t *testing.T) {
	t.Parallel()
	type tc struct {
		name   string
		entity mapping.Entity
		header string
		row    string
		column string // "" = expect no error
		reason string
	}
	cases := []tc{
		{"customer ok", mapping.Customers, "sdCustomerNumber,contactEmail,preferredCurrency,type,active", "0001,a@b.de,EUR,CUSTOMER,true", "", ""},
		{"missing key", mapping.Customers, "sdCustomerNumber,firstName", " ,Anna", "sdCustomerNumber", "missing key"},
		{"cleared key", mapping.Customers, "sdCustomerNumber,firstName", "#N/A,Anna", "sdCustomerNumber", "cannot be cleared"},
		{"error text key", mapping.Customers, "sdCustomerNumber,firstName", "#REF!,Anna", "sdCustomerNumber", "spreadsheet error #REF!; the export wrote a formula's error as text"},
		{"error text key part", mapping.Addresses, "sdCustomerNumber,addressKey", "1,#name?", "addressKey", "spreadsheet error #name?"},
		{"error text field", mapping.Customers, "sdCustomerNumber,lastName", "1,#VALUE!", "lastName", "spreadsheet error #VALUE!"},
		{"error text reference", mapping.Companies, "companyKey,parentCompanyKey", "C1,#DIV/0!", "parentCompanyKey", "spreadsheet error #DIV/0!"},
		{"clear sentinel field", mapping.Customers, "sdCustomerNumber,lastName", "1,#N/A", "", ""},
		{"bad email", mapping.Customers, "sdCustomerNumber,contactEmail", "1,anna.example.com", "contactEmail", "e-mail"},
		{"email two @", mapping.Customers, "sdCustomerNumber,contactEmail", "1,a@b@c.de", "contactEmail", "e-mail"},
		{"email clear", mapping.Customers, "sdCustomerNumber,contactEmail", "1,#N/A", "contactEmail", "cannot unset"},
		{"currency 2 letters", mapping.Customers, "sdCustomerNumber,preferredCurrency", "1,EU", "preferredCurrency", "ISO 4217"},
		{"currency unknown", mapping.Customers, "sdCustomerNumber,preferredCurrency", "1,ABC", "preferredCurrency", "ISO 4217"},
		{"customer type", mapping.Customers, "sdCustomerNumber,type", "1,PERSON", "type", "CUSTOMER, CONTACT"},
		{"bad boolean", mapping.Customers, "sdCustomerNumber,active", "1,maybe", "active", "not a boolean"},
		{"bad locale", mapping.Customers, "sdCustomerNumber,preferredLanguage", "1,German", "preferredLanguage", "language tag"},
		{"excel key", mapping.Customers, "sdCustomerNumber,firstName", "1.23457E+15,Anna", "sdCustomerNumber", "scientific notation"},
		{"excel phone", mapping.Customers, "sdCustomerNumber,contactPhone", "1,4.98912E+11", "contactPhone", "scientific notation"},
		{"excel customerNumber", mapping.Customers, "sdCustomerNumber,customerNumber", "1,1E+15", "customerNumber", "scientific notation"},
		{"invalid customerNumber", mapping.Customers, "sdCustomerNumber,customerNumber", "1,a b", "customerNumber", "valid platform id"},
		{"unknown command", mapping.Customers, "sdCustomerNumber,command", "1,MERGE", "command", "UPSERT, DELETE or IGNORE"},
		{"bad deletion flag", mapping.Customers, "sdCustomerNumber,deleted", "1,later", "deleted", "deletion flag"},
		{"address ok", mapping.Addresses, "sdCustomerNumber,addressKey,country,isDefault,tags", "1,A,de,yes,\"BILLING, SHIPPING\"", "", ""},
		{"country 3 letters", mapping.Addresses, "sdCustomerNumber,addressKey,country", "1,A,DEU", "country", "ISO 3166-1"},
		{"country unassigned", mapping.Addresses, "sdCustomerNumber,addressKey,country", "1,A,XX", "country", "ISO 3166-1"},
		{"address key missing", mapping.Addresses, "sdCustomerNumber,addressKey,city", "1,,Berlin", "addressKey", "missing key"},
		{"excel zip", mapping.Addresses, "sdCustomerNumber,addressKey,zipCode", "1,A,8.0331E+4", "zipCode", "scientific notation"},
		{"company ok", mapping.Companies, "companyKey,name,type,parentCompanyKey,accountLimit.value,legalInfo.registrationDate", "C2,X,subsidiary,C1,1000.5,2020-04-30T04:00:00.000Z", "", ""},
		{"company type", mapping.Companies, "companyKey,type", "C1,GROUP", "type", "COMPANY, SUBSIDIARY"},
		{"subsidiary without parent", mapping.Companies, "companyKey,type,parentCompanyKey", "C1,SUBSIDIARY,", "parentCompanyKey", "needs a parent"},
		{"own parent", mapping.Companies, "companyKey,parentCompanyKey", "C1,C1", "parentCompanyKey", "own parent"},
		{"bad number", mapping.Companies, "companyKey,accountLimit.value", "C1,12a", "accountLimit.value", "not a number"},
		{"comma without option", mapping.Companies, "companyKey,accountLimit.value", "C1,\"1000,50\"", "accountLimit.value", "decimalComma"},
		{"negative limit", mapping.Companies, "companyKey,accountLimit.value", "C1,-5", "accountLimit.value", "negative"},
		{"bad date", mapping.Companies, "companyKey,legalInfo.registrationDate", "C1,31.04.2020", "legalInfo.registrationDate", "ISO 8601"},
		{"date serial", mapping.Companies, "companyKey,legalInfo.registrationDate", "C1,45627", "legalInfo.registrationDate", "format the column as text or as an ISO date"},
		{"number with a decimal point", mapping.Companies, "companyKey,accountLimit.value", "C1,12.50", "", ""},
		{"limit currency", mapping.Companies, "companyKey,accountLimit.currency", "C1,Euro", "accountLimit.currency", "ISO 4217"},
		{"location type", mapping.Locations, "locationKey,type", "L1,SHOP", "type", "HEADQUARTER, WAREHOUSE, OFFICE"},
		{"location email list", mapping.Locations, "locationKey,contactDetails.emails", "L1,\"a@b.de,nope\"", "contactDetails.emails", "\"nope\" is not an e-mail"},
		{"excel phone list", mapping.Locations, "locationKey,contactDetails.phones", "L1,\"+49 1,4.98912E+11\"", "contactDetails.phones", "scientific notation"},
		{"location country", mapping.Locations, "locationKey,contactDetails.countryCode", "L1,Germany", "contactDetails.countryCode", "ISO 3166-1"},
		{"location company clear", mapping.Locations, "locationKey,companyKey", "L1,#N/A", "companyKey", "cannot be cleared"},
		{"contact type", mapping.Contacts, "companyKey,sdCustomerNumber,type", "C1,1,OWNER", "type", "PRIMARY, BILLING, LOGISTICS, CONTACT"},
		{"contact primary", mapping.Contacts, "companyKey,sdCustomerNumber,primary", "C1,1,sometimes", "primary", "not a boolean"},
		{"contact missing customer", mapping.Contacts, "companyKey,sdCustomerNumber", "C1,", "sdCustomerNumber", "missing key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header, rows, _ := readCSVBytes(t, []byte(c.header+"\n"+c.row+"\n"), ',')
			_, errs := mapOne(t, c.entity, header, rows[0])
			if c.column == "" {
				if len(errs) != 0 {
					t.Fatalf("want no errors, got:\n%s", errText(errs))
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %d:\n%s", len(errs), errText(errs))
			}
			e := errs[0]
			if e.Column != c.column || !strings.Contains(e.Reason, c.reason) {
				t.Fatalf("got %v; want column %s and reason containing %q", e, c.column, c.reason)
			}
			if e.Pos.Line != 2 || e.Pos.File == "" || !strings.Contains(e.Error(), c.column) {
				t.Fatalf("error lacks position or column: %v", e)
			}
		})
	}
}

// TestBadRowsDoNotStopGoodRows maps a file mixing bad and good rows: every good row yields a clean record.
func TestBadRowsDoNotStopGoodRows(t *testing.T) {
	t.Parallel()
	header, rows, lines := readCSVBytes(t, []byte("sdCustomerNumber,contactEmail,preferredCurrency\n1,a@b.de,EUR\n,x@y.de,EUR\n3,bad,EUR\n4,d@e.de,EURO\n5,e@f.de,usd\n"), ',')
	recs, errs := mapTable(t, mapping.DefaultSpec(), mapping.Table{File: "customers.csv"}, header, rows, lines)
	if len(recs) != 5 || len(errs) != 3 {
		t.Fatalf("records %d errors %d:\n%s", len(recs), len(errs), errText(errs))
	}
	bad := map[int]bool{}
	for _, e := range errs {
		bad[e.Pos.Line] = true
	}
	for i, r := range recs {
		if !bad[lines[i]] && (r.Key == "" || len(r.Fields) != 2) {
			t.Errorf("good row %d not mapped: %+v", lines[i], r)
		}
	}
	if !bad[3] || !bad[4] || !bad[5] || bad[2] || bad[6] {
		t.Errorf("wrong rows flagged: %v", bad)
	}
}

func TestCommandAndDeletionFlag(t *testing.T) {
	t.Parallel()
	cases := []struct {
		command, deleted string
		want             mapping.Command
	}{
		{"", "", mapping.Upsert},
		{"upsert", "", mapping.Upsert},
		{"Delete", "", mapping.Delete},
		{"IGNORE", "X", mapping.Ignore},
		{"", "X", mapping.Delete},
		{"", "x", mapping.Delete},
		{"", "1", mapping.Delete},
		{"", "true", mapping.Delete},
		{"", "YES", mapping.Delete},
		{"", "0", mapping.Upsert},
		{"", "no", mapping.Upsert},
		{"UPSERT", "no", mapping.Upsert},
		{"DELETE", "no", mapping.Delete}, // an explicit command wins over a flag that keeps
	}
	for _, c := range cases {
		rec, errs := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "command", "deleted", "contactEmail"}, []string{"7", c.command, c.deleted, "not-an-email"})
		if rec.Command != c.want {
			t.Errorf("command %q deleted %q: got %v want %v", c.command, c.deleted, rec.Command, c.want)
		}
		// Only upserts validate fields: a row being deleted or ignored is not held back by a bad e-mail.
		if (len(errs) > 0) != (c.want == mapping.Upsert) {
			t.Errorf("command %q deleted %q: errors %v", c.command, c.deleted, errs)
		}
	}
}

// TestUpsertCommandWithDeletionFlagFails: a row that says UPSERT and deleted=TRUE contradicts itself; taking
// either word would be a guess (an upsert keeps a record the ERP deleted), so the row fails saying so.
func TestUpsertCommandWithDeletionFlagFails(t *testing.T) {
	t.Parallel()
	for _, deleted := range []string{"TRUE", "X", "1"} {
		_, errs := mapOne(t, mapping.Customers, []string{"sdCustomerNumber", "command", "deleted", "contactEmail"}, []string{"7", "UPSERT", deleted, "ann@example.com"})
		if len(errs) != 1 || errs[0].Column != "deleted" || !strings.Contains(errs[0].Error(), "deleted is TRUE but command is UPSERT; say one thing") {
			t.Errorf("UPSERT with deleted %q: errors %v, want one naming the conflict", deleted, errs)
		}
	}
}

func TestCountryAndCurrencyLists(t *testing.T) {
	t.Parallel()
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if mapping.IsCountryCode(string([]rune{a, b})) {
				n++
			}
		}
	}
	if n != 249 {
		t.Errorf("ISO 3166-1 alpha-2 list has %d codes, want the 249 officially assigned", n)
	}
	for _, c := range []string{"DE", "AT", "CH", "US", "GB", "SS", "BQ", "CW"} {
		if !mapping.IsCountryCode(c) {
			t.Errorf("%s should be a country", c)
		}
	}
	for _, c := range []string{"UK", "EU", "XK", "de", "DEU"} {
		if mapping.IsCountryCode(c) {
			t.Errorf("%s should not be a country", c)
		}
	}
	for _, c := range []string{"EUR", "USD", "CHF", "GBP", "JPY", "PLN", "XCG", "SLE", "ZWG"} {
		if !mapping.IsCurrencyCode(c) {
			t.Errorf("%s should be a currency", c)
		}
	}
	for _, c := range []string{"HRK", "DEM", "EU", "eur", "XYZ"} {
		if mapping.IsCurrencyCode(c) {
			t.Errorf("%s should not be a currency", c)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	t.Parallel()
	nums := []struct {
		in    string
		comma bool
		want  float64
		ok    bool
	}{
		{"1000.5", false, 1000.5, true},
		{"1000,5", true, 1000.5, true},
		{"1.234,56", true, 1234.56, true},
		{"1 234,56", true, 1234.56, true},
		{"-12.345.678,5", true, -12345678.5, true},
		{"1.234", true, 1234, true},
		{"1.5", true, 0, false},
		{"12.50", true, 0, false},
		{"1,234.50", true, 0, false},
		{"1..2", true, 0, false},
		{".5", true, 0, false},
		{"1.2345.6", true, 0, false},
		{"1234.567,8", true, 0, false},
		{"1,234.56", false, 0, false},
		{"NaN", false, 0, false},
		{"Inf", false, 0, false},
		{"0x10", false, 0, false},
		{"", false, 0, false},
	}
	for _, n := range nums {
		got, err := mapping.ParseNumber(n.in, n.comma)
		if (err == nil) != n.ok || got != n.want {
			t.Errorf("ParseNumber(%q, %v) = %v, %v", n.in, n.comma, got, err)
		}
	}
	layouts := map[string]string{"DD.MM.YYYY": "02.01.2006", "YYYYMMDD": "20060102", "M/D/YY": "1/2/06", "2006-01-02": "2006-01-02"}
	for in, want := range layouts {
		if got, err := mapping.DateLayout(in); err != nil || got != want {
			t.Errorf("DateLayout(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "DD.MM", "hh:mm", "YYYY-WW"} {
		if _, err := mapping.DateLayout(bad); err == nil {
			t.Errorf("DateLayout(%q) accepted", bad)
		}
	}
}
