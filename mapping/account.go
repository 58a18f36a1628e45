package mapping

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
)

// Account columns of customers: the login a tenant migration brings along (tag "Import and migration" of the
// tenant-managed Customer Service). A row with a password hash is created through the platform's bulk import
// with its login account; without one, as before.
const (
	// AccountEmailColumn is the e-mail address the customer logs in with; blank means contactEmail. The
	// platform requires it to equal contactEmail (case-insensitively).
	AccountEmailColumn = "accountEmail"
	// PasswordHashColumn is a password hash of the platform's own scheme.
	PasswordHashColumn = "passwordHash"
	// LegacyAlgorithmColumn and LegacyHashColumn are a password hash of another shop system and the name of its
	// verifier; the platform rehashes it at the customer's first login, while the tenant's retention window is
	// open.
	LegacyAlgorithmColumn = "legacyAuth.algorithm"
	LegacyHashColumn      = "legacyAuth.hash"
	// LegacyContextPrefix starts the columns of the verifier's data: legacyAuth.context.originalUid.
	LegacyContextPrefix = "legacyAuth.context."
)

// LegacyAlgorithms are the legacy password verifiers the platform knows (the spec's enum of
// legacyAuth.algorithm).
var LegacyAlgorithms = []string{"hybris-sha512-uid-salt"}

// MaskedSecret replaces a password hash or a legacy verifier's value in every file custsync writes (result
// files). A row that comes back with it (an error file fixed and imported again) is refused rather than
// sending the mask as a password.
const MaskedSecret = "(hidden by custsync)"

// LegacyAuth is a legacy password hash with its verifier. Hash and the Context values are secrets.
type LegacyAuth struct {
	Algorithm string
	Hash      string
	Context   map[string]string
}

// Account is the login account of a customer row: the e-mail address it logs in with and exactly one of
// PasswordHash or Legacy. It is not a field of the record: it is not in the payload, the row hash, the
// snapshot or a diff, so a changed password does not make a synced customer look changed (the platform's bulk
// import creates customers; it does not change the password of one that exists). Its String, GoString and
// LogValue redact the hashes.
type Account struct {
	Email        string
	PasswordHash string
	Legacy       *LegacyAuth
}

// String describes the account with its hashes redacted.
func (a Account) String() string {
	if a.Legacy != nil {
		return fmt.Sprintf("mapping.Account{Email:%q Legacy:{Algorithm:%q Hash:[REDACTED] Context:%d values}}",
			a.Email, a.Legacy.Algorithm, len(a.Legacy.Context))
	}
	return fmt.Sprintf("mapping.Account{Email:%q PasswordHash:[REDACTED]}", a.Email)
}

// GoString redacts like String.
func (a Account) GoString() string { return a.String() }

// LogValue makes slog log the account redacted.
func (a Account) LogValue() slog.Value { return slog.StringValue(a.String()) }

// accountDefs are the account columns of customers. They are accepted on input but not listed by Columns:
// an export never has them (the platform does not give hashes out).
var accountDefs = []fieldDef{
	{column: AccountEmailColumn, kind: KindString, role: roleAccount, check: checkEmail},
	{column: PasswordHashColumn, kind: KindString, role: roleAccount, secret: true},
	{column: LegacyAlgorithmColumn, kind: KindString, role: roleAccount},
	{column: LegacyHashColumn, kind: KindString, role: roleAccount, secret: true},
}

// AccountColumns lists the account columns a customers table may carry, with "legacyAuth.context.KEY" for the
// verifier's data.
func AccountColumns() []string {
	out := make([]string, 0, len(accountDefs)+1)
	for _, d := range accountDefs {
		out = append(out, d.column)
	}
	return append(out, LegacyContextPrefix+"KEY")
}

// legacyContextDef defines a legacyAuth.context.KEY column.
func legacyContextDef(column string) (fieldDef, bool) {
	if len(column) <= len(LegacyContextPrefix) || !strings.EqualFold(column[:len(LegacyContextPrefix)], LegacyContextPrefix) {
		return fieldDef{}, false
	}
	key := column[len(LegacyContextPrefix):]
	if strings.TrimSpace(key) != key || strings.Contains(key, ".") {
		return fieldDef{}, false
	}
	return fieldDef{column: LegacyContextPrefix + key, kind: KindString, role: roleAccount, secret: true}, true
}

// ReadsAccount reports whether the Mapper reads any account column.
func (m *Mapper) ReadsAccount() bool { return len(m.account) > 0 }

// ReadsLegacyAuth reports whether the Mapper reads a legacyAuth column: its rows may carry legacy hashes, which
// the platform imports only while the tenant's retention window is open.
func (m *Mapper) ReadsLegacyAuth() bool {
	return slices.ContainsFunc(m.account, func(c *colMapper) bool { return strings.HasPrefix(c.def.column, "legacyAuth.") })
}

// SecretColumns returns the header indexes of the columns holding password hashes or verifier data: result
// files mask them (MaskedSecret), and RawHash leaves them out.
func (m *Mapper) SecretColumns() []int {
	var out []int
	for i, s := range m.secret {
		if s {
			out = append(out, i)
		}
	}
	return out
}

// mapAccount reads the account columns of a customer row into rec.Account, by the spec's account rules:
// exactly one of passwordHash or legacyAuth (algorithm and hash, the algorithm one the platform knows), an
// e-mail address (accountEmail, else contactEmail) that equals contactEmail. A row with accountEmail but no
// contactEmail gets it as contactEmail, as the platform does. No error quotes a hash.
func (m *Mapper) mapAccount(rec *Record, cells []string) []FieldError {
	if len(m.account) == 0 {
		return nil
	}
	var (
		errs    []FieldError
		email   string
		hash    string
		legacy  LegacyAuth
		cols    = map[string]string{} // target column -> the source column it came from
		anyHash bool
	)
	fail := func(c *colMapper, col, value, reason string) {
		if col == "" {
			col = c.def.column
		}
		if c.def.secret {
			value = ""
		}
		errs = append(errs, FieldError{Pos: rec.Pos, Column: col, Field: c.def.column, Value: value, Reason: reason})
	}
	for _, c := range m.account {
		v, col, st := m.raw(c, cells)
		switch st {
		case cellAbsent:
			continue
		case cellClear:
			fail(c, col, v, "an account cannot be cleared; leave the cell blank")
			continue
		}
		v, reason := m.text(c, v)
		switch {
		case reason != "":
			fail(c, col, v, reason)
			continue
		case c.def.secret && v == MaskedSecret:
			fail(c, col, "", "the cell holds custsync's mask from a result file, not a hash: put the value of the original file back")
			continue
		}
		cols[c.def.column] = col
		switch c.def.column {
		case AccountEmailColumn:
			if !IsEmail(v) {
				fail(c, col, v, "not an e-mail address")
				continue
			}
			email = v
		case PasswordHashColumn:
			hash, anyHash = v, true
		case LegacyAlgorithmColumn:
			i := slices.IndexFunc(LegacyAlgorithms, func(a string) bool { return strings.EqualFold(a, v) })
			if i < 0 {
				fail(c, col, v, "unknown legacy password algorithm: the platform knows "+strings.Join(LegacyAlgorithms, ", "))
				continue
			}
			legacy.Algorithm = LegacyAlgorithms[i]
		case LegacyHashColumn:
			legacy.Hash, anyHash = v, true
		default:
			if legacy.Context == nil {
				legacy.Context = map[string]string{}
			}
			legacy.Context[c.def.column[len(LegacyContextPrefix):]] = v
		}
	}
	colFor := func(target string) string { return cmp.Or(cols[target], target) }
	usesLegacy := legacy.Hash != "" || legacy.Algorithm != "" || len(legacy.Context) > 0
	problem := func(target, reason string) {
		errs = append(errs, FieldError{Pos: rec.Pos, Column: colFor(target), Field: target, Reason: reason})
	}
	switch {
	case hash != "" && usesLegacy:
		problem(PasswordHashColumn, "give either passwordHash or legacyAuth, not both: the platform takes exactly one")
	case usesLegacy && legacy.Hash == "":
		problem(LegacyHashColumn, "legacyAuth needs legacyAuth.hash")
	case usesLegacy && legacy.Algorithm == "" && cols[LegacyAlgorithmColumn] == "":
		problem(LegacyAlgorithmColumn, "legacyAuth.hash needs legacyAuth.algorithm ("+strings.Join(LegacyAlgorithms, ", ")+")")
	case !anyHash && email != "":
		problem(AccountEmailColumn, "accountEmail needs passwordHash or legacyAuth.hash: the platform imports a login only with its password")
	}
	if !anyHash || len(errs) > 0 {
		return errs
	}
	contact, hasContact := rec.Get("contactEmail")
	switch {
	case hasContact && !contact.IsClear() && email != "" && !strings.EqualFold(contact.String(), email):
		problem(AccountEmailColumn, "accountEmail differs from contactEmail: the platform requires the login's e-mail address as contact e-mail")
		return errs
	case email == "" && hasContact && !contact.IsClear():
		email = contact.String()
	case email == "":
		problem(AccountEmailColumn, "a login needs an e-mail address: fill accountEmail or contactEmail")
		return errs
	case !hasContact:
		i := sort.Search(len(rec.Fields), func(i int) bool { return rec.Fields[i].Path >= "contactEmail" })
		rec.Fields = slices.Insert(rec.Fields, i, Field{Path: "contactEmail", Value: StringValue(email)})
	}
	acc := &Account{Email: email, PasswordHash: hash}
	if usesLegacy {
		acc.PasswordHash, acc.Legacy = "", &legacy
	}
	rec.Account = acc
	return errs
}
