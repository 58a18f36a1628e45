// Package bench holds the evidence that custsync is fast and loses nothing: a generator of customer data
// sets, a checkpoint seeder for the no-op benchmark, the benchmark driver (cmd/benchtool, run by run.sh) and
// the kill -9 torture test (torture_test.go).
package bench

import (
	"fmt"
	"strconv"
	"strings"

	"custsync/formats"
)

// CustomerHeader is the default customer layout (see samples/customers.csv).
var CustomerHeader = []string{
	"sdCustomerNumber", "customerNumber", "title", "firstName", "middleName", "lastName", "contactEmail",
	"contactPhone", "company", "preferredLanguage", "preferredCurrency", "preferredSite", "active", "onHold",
	"type", "b2b.companyRegistrationId", "restriction",
}

var (
	titles     = []string{"MR", "MRS", "MS", "DR"}
	firstNames = []string{"Stefan", "Katrin", "Markus", "Sabine", "Jonas", "Lea", "Tobias", "Miriam", "Felix", "Anna"}
	lastNames  = []string{"Huber", "Bauer", "Lechner", "Wagner", "Gruber", "Moser", "Hofer", "Berger", "Fuchs", "Eder"}
	languages  = []string{"de_DE", "en_US", "fr_FR", "it_IT"}
	currencies = []string{"EUR", "USD", "CHF"}
)

// CustomerKey is the ERP key of generated row i: ten digits with leading zeros, as SAP SD numbers are.
func CustomerKey(i int) string { return fmt.Sprintf("%010d", i+1) }

// Dataset describes a generated customer data set. The rows are deterministic: the same Dataset always
// yields the same file.
type Dataset struct {
	Rows int
	// Revision chooses each row's revision; nil means revision 0 everywhere. A row of revision r > 0 has a
	// different last name and phone than revision 0, so re-importing it is a real update.
	Revision func(i int) int
	// NoEmail leaves the contact e-mail blank (benchtool suite -no-email), to see what the platform's e-mail
	// uniqueness check costs.
	NoEmail bool
	// Logins adds a passwordHash column (a made-up native hash per row): a tenant migration with logins, which
	// import creates through the bulk endpoint.
	Logins bool
}

// Header is the data set's header: CustomerHeader, plus passwordHash with Logins.
func (d Dataset) Header() []string {
	if d.Logins {
		return append(append([]string(nil), CustomerHeader...), "passwordHash")
	}
	return CustomerHeader
}

// PasswordHash is the made-up native password hash of row i (the platform's form: iterations, salt, hash).
func PasswordHash(i int) string {
	return fmt.Sprintf("1:10000:%016x:%032x", uint64(i)*0x9E3779B97F4A7C15, uint64(i+1)*0xBF58476D1CE4E5B9)
}

// EveryNth returns a revision function giving every n-th row (0, n, 2n, ...) revision rev: exactly
// ceil(rows/n) rows differ from revision 0.
func EveryNth(n, rev int) func(int) int {
	return func(i int) int {
		if i%n == 0 {
			return rev
		}
		return 0
	}
}

// revision is row i's revision (0 without a Revision function).
func (d Dataset) revision(i int) int {
	if d.Revision == nil {
		return 0
	}
	return d.Revision(i)
}

// Row fills cells (reusing its storage) with row i.
func (d Dataset) Row(cells []string, i int) []string {
	rev := d.revision(i)
	cells = cells[:0]
	last := lastNames[(i/7)%len(lastNames)]
	phone := "+49 89 " + strconv.Itoa(1000000+i)
	if rev > 0 {
		last += "-R" + strconv.Itoa(rev)
		phone += " " + strconv.Itoa(rev)
	}
	middle := ""
	if i%5 == 0 {
		middle = "Maria"
	}
	email := ""
	if !d.NoEmail {
		email = fmt.Sprintf("customer%08d@bench.example", i+1)
	}
	typ := "CUSTOMER"
	if i%9 == 0 {
		typ = "CONTACT"
	}
	regID := ""
	if i%4 == 0 {
		regID = fmt.Sprintf("HRB%07d", i%9999991)
	}
	cells = append(cells,
		CustomerKey(i), "", titles[i%len(titles)], firstNames[i%len(firstNames)], middle, last, email, phone,
		"Company "+strconv.Itoa(i%5000), languages[i%len(languages)], currencies[i%len(currencies)], "main",
		strconv.FormatBool(i%13 != 0), strconv.FormatBool(i%11 == 0), typ, regID, "")
	if d.Logins {
		cells = append(cells, PasswordHash(i))
	}
	return cells
}

// Write writes the data set to path as CSV or XLSX (by extension; the XLSX sheet is named "customers" so
// the entity is detected).
func (d Dataset) Write(path string) error {
	w, err := formats.Create(path, FormatOf(path), "customers")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	header := d.Header()
	if err := w.WriteHeader(header); err != nil {
		_ = w.Abort()
		return fmt.Errorf("write header of %s: %w", path, err)
	}
	cells := make([]string, 0, len(header))
	for i := 0; i < d.Rows; i++ {
		if err := w.Write(d.Row(cells, i)); err != nil {
			_ = w.Abort()
			return fmt.Errorf("write row %d of %s: %w", i+1, path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// FormatOf is the writer format of a file name: xlsx for .xlsx, csv otherwise.
func FormatOf(path string) string {
	if strings.HasSuffix(strings.ToLower(path), ".xlsx") {
		return "xlsx"
	}
	return "csv"
}
