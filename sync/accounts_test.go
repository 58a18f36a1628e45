package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"custsync/mapping"
)

const accountsCSV = "sdCustomerNumber,contactEmail,passwordHash,legacyAuth.context.originalUid\n" +
	"100,a@example.com,1:10000:s4lt:h4sh-leakcheck,\n" +
	"101,b@example.com,,\n"

// Until import creates customers through the bulk endpoint, a file with logins is refused before anything is
// sent: a customer created without the password its row has would be a silent loss.
func TestImportRefusesAccountColumnsItCannotSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file("customers.csv", accountsCSV)
	_, err := e.run(context.Background(), Options{}, path)
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "passwordHash") {
		t.Fatalf("import: %v, want an input error naming the account columns", err)
	}
	if strings.Contains(err.Error(), "h4sh-leakcheck") {
		t.Errorf("the error quotes the hash: %v", err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Result files never hold a hash: the secret columns of a row are masked, blank cells stay blank.
func TestResultCellsMaskSecretColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in, err := OpenInput(InputOptions{Files: []string{e.file("customers.csv", accountsCSV)}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src := in.Tables[0]
	got := masked(src, fit([]string{"100", "a@example.com", "1:10000:s4lt:h4sh-leakcheck", "uid-1"}, len(src.Header)))
	want := []string{"100", "a@example.com", mapping.MaskedSecret, mapping.MaskedSecret}
	if !slices.Equal(got, want) {
		t.Errorf("masked %q, want %q", got, want)
	}
	if got := masked(src, fit([]string{"101", "b@example.com"}, len(src.Header))); !slices.Equal(got, []string{"101", "b@example.com", "", ""}) {
		t.Errorf("masked blank cells %q", got)
	}
}
