package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Bulk import and password migration (tag "Import and migration" of the tenant-managed Customer Service,
// digest §3.1 T16–T19): POST .../customers/import creates up to MaxImportBatch customers with their login
// accounts and answers 207 with one result per request index; the retention configuration must be active
// before customers with legacy hashes may be imported.

// MaxImportBatch is the platform's limit of customers per bulk import request (the spec's maxItems).
const MaxImportBatch = 200

// LegacyAuth is a password hash of another shop system, which the platform verifies with Algorithm on the
// customer's first login and then rehashes. Hash and the Context values are secrets: they never appear in an
// error, a log line or a String.
type LegacyAuth struct {
	Algorithm string
	Hash      string
	// Context is algorithm-specific data the verifier needs (hybris: originalUid).
	Context map[string]string
}

// ImportAccount is the login account of an imported customer: the e-mail it logs in with and exactly one of
// PasswordHash (a hash of the platform's own scheme) or Legacy. The hashes never appear in an error, a log
// line or a String.
type ImportAccount struct {
	Email        string
	PasswordHash string
	Legacy       *LegacyAuth
}

// secrets lists the values of the account that must never be shown.
func (a ImportAccount) secrets() []string {
	out := []string{a.PasswordHash}
	if a.Legacy != nil {
		out = append(out, a.Legacy.Hash)
		for _, v := range a.Legacy.Context {
			out = append(out, v)
		}
	}
	return out
}

// String describes the account with its hashes redacted.
func (a ImportAccount) String() string {
	if a.Legacy != nil {
		return fmt.Sprintf("remote.ImportAccount{Email:%q Legacy:{Algorithm:%q Hash:%s Context:%d values}}",
			a.Email, a.Legacy.Algorithm, redacted(a.Legacy.Hash), len(a.Legacy.Context))
	}
	return fmt.Sprintf("remote.ImportAccount{Email:%q PasswordHash:%s}", a.Email, redacted(a.PasswordHash))
}

// GoString redacts like String, so %#v cannot leak the hashes either.
func (a ImportAccount) GoString() string { return a.String() }

// LogValue makes slog log the account with its hashes redacted.
func (a ImportAccount) LogValue() slog.Value { return slog.StringValue(a.String()) }

// validate applies the spec's account rules, so that a caller's mistake is an error before any request.
func (a ImportAccount) validate() error {
	if strings.TrimSpace(a.Email) == "" {
		return errors.New("the account has no e-mail address")
	}
	if (a.PasswordHash != "") == (a.Legacy != nil) {
		return errors.New("the account needs exactly one of a password hash or a legacy hash")
	}
	if a.Legacy != nil {
		// Which algorithms the platform knows is its to judge (an item it refuses fails on its own).
		if a.Legacy.Hash == "" || a.Legacy.Algorithm == "" {
			return errors.New("a legacy hash needs its algorithm")
		}
	}
	return nil
}

func (a ImportAccount) doc() Doc {
	d := Doc{"email": a.Email}
	if a.Legacy != nil {
		legacy := Doc{"algorithm": a.Legacy.Algorithm, "hash": a.Legacy.Hash}
		if len(a.Legacy.Context) > 0 {
			ctx := Doc{}
			for k, v := range a.Legacy.Context {
				ctx[k] = v
			}
			legacy["context"] = ctx
		}
		d["legacyAuth"] = legacy
	} else {
		d["passwordHash"] = a.PasswordHash
	}
	return d
}

// ImportItem is one customer of a bulk import.
type ImportItem struct {
	// ID is the customer number to create. It is required: custsync creates every record under its
	// deterministic id, which is also what lets a replayed request recognise the customers it created.
	ID string
	// Customer is the create body (the customer's fields and mixins); its "id" and "account" are replaced by ID
	// and Account.
	Customer Doc
	Account  ImportAccount
}

func (it ImportItem) doc() Doc {
	d := make(Doc, len(it.Customer)+2)
	for k, v := range it.Customer {
		d[k] = v
	}
	d["id"] = it.ID
	d["account"] = it.Account.doc()
	return d
}

// ImportOutcome is what became of one item of a bulk import.
type ImportOutcome uint8

// The outcomes of ImportCustomers.
const (
	// ImportPending: no answer for the item, because its request was not sent or its answer never came (the
	// call returned an error). The customer may exist; importing it again adopts it.
	ImportPending ImportOutcome = iota
	// ImportCreated: the platform created the customer with its account.
	ImportCreated
	// ImportAdopted: the platform already had a customer with the item's id and e-mail address, which an
	// earlier request created whose answer was lost (a retried request, or a run that was stopped). It counts
	// as created; its password is the one that request sent, not changed by this one.
	ImportAdopted
	// ImportFailed: the platform refused the item; Err says why. Nothing was created for it.
	ImportFailed
)

// String names the outcome.
func (o ImportOutcome) String() string {
	switch o {
	case ImportCreated:
		return "created"
	case ImportAdopted:
		return "adopted"
	case ImportFailed:
		return "failed"
	}
	return "pending"
}

// ImportResult is the result of one item, at the item's index.
type ImportResult struct {
	Outcome ImportOutcome
	// ID is the customer number of a created or adopted customer.
	ID string
	// Replayed is set when the item's answer came to a repeat of a request whose earlier attempt may have
	// reached the platform without an answer (dropped connection, timeout, 5xx).
	Replayed bool
	// Err is the refusal of a failed item: the item's code, message and details (or the refusal of its whole
	// request), with no hash of any item in it.
	Err *APIError
}

// importAnswer is one entry of the 207 answer (CustomerBulkItemResponse).
type importAnswer struct {
	Index   *int   `json:"index"`
	ID      string `json:"id"`
	Code    int    `json:"code"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Details []struct {
		Message string `json:"message"`
	} `json:"details"`
}

// ImportCustomers creates customers with their login accounts through the bulk import endpoint, in requests of
// at most MaxImportBatch items, one after the other, each under the shared rate limit and retry loop. The
// results are at the items' indexes.
//
// A request is repeated after a failure that may have reached the platform (a dropped connection, a timeout, a
// 5xx): an item that the lost attempt created then answers "already exists" (409), and is adopted
// (ImportAdopted) when the platform's customer of that id has the item's e-mail address; a 409 for a customer
// that is not the item's stays a failure. Adoption is checked the same way when a request was answered at the
// first attempt, which covers a batch a stopped run sent without seeing the answer.
//
// A request the platform refused as a whole (a 4xx other than 401/403, or a 500 that retries did not mend)
// fails each of its items with that refusal, and the next request goes on. Any other error (refused
// credentials, retries exhausted, the context) is returned: the items of the requests not answered stay
// ImportPending. Neither the error nor any result holds a hash of an item.
func (c *Client) ImportCustomers(ctx context.Context, items []ImportItem) ([]ImportResult, error) {
	for i, it := range items {
		if err := checkIDs("import customer", it.ID); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if err := it.Account.validate(); err != nil {
			return nil, fmt.Errorf("import customer %s: %w", it.ID, err)
		}
	}
	results := make([]ImportResult, len(items))
	for start := 0; start < len(items); start += MaxImportBatch {
		end := min(start+MaxImportBatch, len(items))
		if err := c.importBatch(ctx, items[start:end], results[start:end]); err != nil {
			return results, err
		}
	}
	return results, nil
}

func (c *Client) importPath() string { return c.customersPath() + "/import" }

// importBatch sends one request of at most MaxImportBatch items and fills out.
func (c *Client) importBatch(ctx context.Context, items []ImportItem, out []ImportResult) error {
	body := make([]Doc, len(items))
	var secrets []string
	for i, it := range items {
		body[i] = it.doc()
		secrets = append(secrets, it.Account.secrets()...)
	}
	var answers []importAnswer
	r := &request{method: http.MethodPost, base: c.baseURL, path: c.importPath(), body: body,
		repeatable: true, secrets: secrets}
	r.check = func(resp *response) error {
		answers = nil
		if err := decodeJSON(resp.body, &answers); err != nil {
			return &badAnswer{method: r.method, path: r.path, status: resp.status, reason: "is not a list of item results", temporary: true}
		}
		return nil
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		var apiErr *APIError
		if errors.Is(err, ErrRetriesExhausted) || IsAuth(err) || !errors.As(err, &apiErr) {
			return err
		}
		for i := range out {
			out[i] = ImportResult{Outcome: ImportFailed, Err: apiErr}
		}
		return nil
	}
	var conflicts []int
	for _, a := range answers {
		if a.Index == nil || *a.Index < 0 || *a.Index >= len(items) || out[*a.Index].Outcome != ImportPending {
			// An answer that names no item of ours, or one twice, cannot be trusted for that item; the items
			// it leaves without an answer stay pending, and a later import adopts what was created.
			continue
		}
		i := *a.Index
		switch {
		case a.Code >= 200 && a.Code < 300:
			out[i] = ImportResult{Outcome: ImportCreated, ID: cmp.Or(a.ID, items[i].ID), Replayed: resp.replayed}
		default:
			out[i] = ImportResult{Outcome: ImportFailed, Replayed: resp.replayed, Err: c.itemError(r, a, resp.replayed)}
			if a.Code == http.StatusConflict {
				conflicts = append(conflicts, i)
			}
		}
	}
	return c.adoptExisting(ctx, items, conflicts, out)
}

// itemError is the APIError of one refused item, scrubbed of every hash of the request.
func (c *Client) itemError(r *request, a importAnswer, replayed bool) *APIError {
	e := &APIError{Method: r.method, Path: r.path, Status: a.Code, Message: a.Message, Attempts: 1, AfterUnknownOutcome: replayed, fromJSON: true}
	if e.Message == "" {
		e.Message = a.Status
	}
	for _, d := range a.Details {
		if d.Message != "" {
			e.Details = append(e.Details, d.Message)
		}
	}
	c.scrubAPIError(e, r.secrets)
	return e
}

// adoptExisting turns the conflicts (items answered 409) into adoptions where the platform's customer with the
// item's id has the item's e-mail address: the customer an earlier, unanswered request of ours created. It reads
// them a few at a time.
func (c *Client) adoptExisting(ctx context.Context, items []ImportItem, conflicts []int, out []ImportResult) error {
	if len(conflicts) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(max(c.cfg.Readers, 0), 8))
	for _, i := range conflicts {
		g.Go(func() error {
			existing, err := c.GetCustomer(gctx, items[i].ID)
			if IsNotFound(err) {
				return nil // the conflict is another customer's (the e-mail address is taken)
			}
			if err != nil {
				return fmt.Errorf("check whether customer %s is the one an earlier import created: %w", items[i].ID, err)
			}
			email, _ := existing["contactEmail"].(string)
			if strings.EqualFold(strings.TrimSpace(email), strings.TrimSpace(items[i].Account.Email)) {
				out[i] = ImportResult{Outcome: ImportAdopted, ID: items[i].ID, Replayed: out[i].Replayed}
				return nil
			}
			out[i].Err.Message += fmt.Sprintf(" (customer %s exists with another e-mail address, so it is not the one this import creates)", items[i].ID)
			return nil
		})
	}
	return g.Wait()
}

// Retention is the tenant's password migration retention configuration: until EndDate the platform keeps the
// legacy hashes of imported customers and rehashes each at the customer's first login; then it clears those
// not migrated, and those customers must reset their passwords.
type Retention struct {
	// EndDate is the day the window ends (a calendar date, UTC).
	EndDate time.Time
	// ReminderDate is the day the platform e-mails the customers not yet migrated, asking them to log in once.
	ReminderDate time.Time
	// EmailNotifications is whether the platform e-mails customers about the migration at all (reminder,
	// password reset).
	EmailNotifications bool
}

// Active reports whether the window is open on day now: legacy hashes may be imported until the day before
// EndDate.
func (r Retention) Active(now time.Time) bool {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(r.EndDate)
}

// RetentionSettings is what SetRetention sends: EndDate is required; a zero ReminderDate lets the platform
// choose (7 days before the end, or tomorrow), a nil EmailNotifications means the platform's default (true).
type RetentionSettings struct {
	EndDate            time.Time
	ReminderDate       time.Time
	EmailNotifications *bool
}

// DateLayout is the form of the retention dates.
const DateLayout = "2006-01-02"

func (c *Client) retentionPath() string {
	return "/customer/" + url.PathEscape(c.cfg.Tenant) + "/config/password-migration-retention"
}

// GetRetention returns the tenant's retention configuration; ok is false when none is set (the platform
// answers 404, or, as a third-party SDK reports, an empty object).
func (c *Client) GetRetention(ctx context.Context) (ret Retention, ok bool, err error) {
	d, err := c.get(ctx, c.retentionPath(), nil)
	if IsNotFound(err) {
		return Retention{}, false, nil
	}
	if err != nil {
		return Retention{}, false, err
	}
	return decodeRetention(d, c.retentionPath())
}

// SetRetention creates or replaces the tenant's retention configuration and returns it as the platform saved it.
func (c *Client) SetRetention(ctx context.Context, s RetentionSettings) (Retention, error) {
	if s.EndDate.IsZero() {
		return Retention{}, errors.New("set password migration retention: the end date is required")
	}
	body := Doc{"retentionEndDate": s.EndDate.Format(DateLayout)}
	if !s.ReminderDate.IsZero() {
		body["emailReminderDate"] = s.ReminderDate.Format(DateLayout)
	}
	if s.EmailNotifications != nil {
		body["emailNotificationsEnabled"] = *s.EmailNotifications
	}
	// Setting the same configuration twice leaves the same configuration: safe to repeat.
	r := &request{method: http.MethodPost, base: c.baseURL, path: c.retentionPath(), body: body, repeatable: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return Retention{}, err
	}
	d, err := decodeDoc(r, resp.body)
	if err != nil {
		return Retention{}, err
	}
	ret, ok, err := decodeRetention(d, r.path)
	if err == nil && !ok {
		err = fmt.Errorf("%s %s: the answer has no retentionEndDate", r.method, r.path)
	}
	return ret, err
}

// DeleteRetention removes the tenant's retention configuration. The platform refuses (400) while an account
// still holds a legacy hash, that is until the window has ended.
func (c *Client) DeleteRetention(ctx context.Context) error {
	return c.delete(ctx, c.baseURL, c.retentionPath())
}

func decodeRetention(d Doc, path string) (Retention, bool, error) {
	end, _ := d["retentionEndDate"].(string)
	if end == "" {
		return Retention{}, false, nil
	}
	var ret Retention
	var err error
	if ret.EndDate, err = time.Parse(DateLayout, end); err != nil {
		return Retention{}, false, fmt.Errorf("GET %s: retentionEndDate %q is not a date", path, end)
	}
	if rem, _ := d["emailReminderDate"].(string); rem != "" {
		if ret.ReminderDate, err = time.Parse(DateLayout, rem); err != nil {
			return Retention{}, false, fmt.Errorf("GET %s: emailReminderDate %q is not a date", path, rem)
		}
	}
	ret.EmailNotifications = true
	if b, ok := d["emailNotificationsEnabled"].(bool); ok {
		ret.EmailNotifications = b
	}
	return ret, true, nil
}
