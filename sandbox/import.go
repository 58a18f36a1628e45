package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Bulk import and password migration (tag "Import and migration" of the tenant-managed Customer
// Service, digest §3.1 T16–T19). Imported customers carry a login account with either a native
// password hash or a legacy hash that the platform rehashes on the first login; the sandbox keeps
// the account beside the customer and never answers with it.

const (
	scopeImportRead   = "customer.import_read"
	scopeImportManage = "customer.import_manage"
)

// maxImportBatch is the spec's maxItems for the import body, the platform-wide bulk limit.
const maxImportBatch = 200

// Store kinds of the migration data: one account per imported customer (keyed by customer number)
// and one retention configuration per tenant.
const (
	kindAccount   = "account"
	kindConfig    = "config"
	retentionID   = "password-migration-retention"
	legacyAlgoHyb = "hybris-sha512-uid-salt"
)

var legacyAuthSchema = schema{
	"algorithm": {kind: kString, enum: []string{legacyAlgoHyb}},
	"hash":      {kind: kString},
	"context":   {kind: kStringMap},
}

// importBody is the bulk import's body, an array of CustomerImportDto: the create fields, a custom id,
// contactEmail and the required account (no active or onHold).
var importBody = jsonBody("CustomerImportDto", withFields(customerCreateFields, schema{
	"id":           {kind: kString, pattern: customIDPattern},
	"contactEmail": {kind: kString},
	"account": {kind: kObject, sub: schema{
		"email":        {kind: kString},
		"passwordHash": {kind: kString},
		"legacyAuth":   {kind: kObject, sub: legacyAuthSchema},
	}},
}))

var retentionBody = jsonBody("PasswordMigrationRetentionConfigRequest", schema{
	"retentionEndDate":          {kind: kString},
	"emailReminderDate":         {kind: kString},
	"emailNotificationsEnabled": {kind: kBool},
})

const dateLayout = "2006-01-02"

// Account is the login account the bulk import stored for a customer. Tests read it through
// Server.Account to prove what reached the platform; no HTTP answer ever contains it.
type Account struct {
	Email        string
	PasswordHash string
	// LegacyAlgorithm, LegacyHash and LegacyContext are the legacyAuth credentials, empty for a native hash.
	LegacyAlgorithm string
	LegacyHash      string
	LegacyContext   map[string]string
	// ResetRequired is set when the retention window ended before the legacy hash was migrated: the
	// legacy credentials are cleared and the customer must reset the password.
	ResetRequired bool
}

// Account returns the login account stored for a customer by the bulk import.
func (s *Server) Account(tenant, customerNumber string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc, ok := s.store.get(tenant, kindAccount, customerNumber)
	if !ok {
		return Account{}, false
	}
	acc := Account{Email: str(doc, "email"), PasswordHash: str(doc, "passwordHash")}
	acc.ResetRequired, _ = doc["resetRequired"].(bool)
	if legacy, ok := doc["legacyAuth"].(map[string]any); ok {
		acc.LegacyAlgorithm, acc.LegacyHash = str(legacy, "algorithm"), str(legacy, "hash")
		if ctx, ok := legacy["context"].(map[string]any); ok {
			acc.LegacyContext = map[string]string{}
			for k, v := range ctx {
				acc.LegacyContext[k], _ = v.(string)
			}
		}
	}
	return acc, true
}

// importItemResult is one entry of the 207 answer (CustomerBulkItemResponse).
type importItemResult struct {
	Index   int              `json:"index"`
	ID      string           `json:"id,omitempty"`
	Code    int              `json:"code"`
	Status  string           `json:"status"`
	Message string           `json:"message,omitempty"`
	Details []map[string]any `json:"details,omitempty"`
}

func itemFailure(index int, e *apiError) importItemResult {
	res := importItemResult{Index: index, Code: e.Status, Status: http.StatusText(e.Status), Message: e.Message}
	for _, d := range e.Details {
		res.Details = append(res.Details, map[string]any{"message": d.Message})
	}
	return res
}

// handleImportCustomers is POST /customer/{tenant}/customers/import: up to 200 customers, each
// created or refused on its own, answered 207 with one result per request index. A refused item
// changes nothing; the items before and after it are still imported.
func (s *Server) handleImportCustomers(c *reqCtx) *apiError {
	rs, apiErr := c.bodySchema()
	if apiErr != nil {
		return apiErr
	}
	items, apiErr := c.decodeArray()
	if apiErr != nil {
		return apiErr
	}
	if len(items) > maxImportBatch {
		return badRequest(fmt.Sprintf("At most %d customers can be imported in one request; the request has %d.", maxImportBatch, len(items)))
	}
	s.concludeMigration(c.tenant)
	retentionActive := s.retentionActive(c.tenant)
	results := make([]importItemResult, 0, len(items))
	for i, raw := range items {
		id, apiErr := s.importOne(c.tenant, raw, rs, retentionActive)
		if apiErr != nil {
			results = append(results, itemFailure(i, apiErr))
			continue
		}
		results = append(results, importItemResult{Index: i, ID: id, Code: http.StatusCreated, Status: http.StatusText(http.StatusCreated)})
	}
	c.reply(http.StatusMultiStatus, results)
	return nil
}

// importOne validates and stores one import item. Earlier items of the same request are already in
// the store, so a repeated id or e-mail within a batch is refused like one that existed before.
func (s *Server) importOne(tenant string, raw any, rs requestSchema, retentionActive bool) (string, *apiError) {
	item, ok := raw.(map[string]any)
	if !ok {
		return "", badRequest("The item must be a JSON object.")
	}
	if problems := rs.check(item); len(problems) > 0 {
		return "", validationError(problems...)
	}
	account, _ := item["account"].(map[string]any)
	if account == nil {
		return "", validationError(fieldProblem{Field: "account", Type: "missing_value", Message: "account is required."})
	}
	email := str(account, "email")
	if email == "" {
		return "", validationError(fieldProblem{Field: "account.email", Type: "missing_value", Message: "account.email is required."})
	}
	hash, hasHash := account["passwordHash"].(string)
	legacy, hasLegacy := account["legacyAuth"].(map[string]any)
	if hasHash == hasLegacy || (hasHash && hash == "") {
		return "", badRequest("Exactly one of 'passwordHash' or 'legacyAuth' must be provided in the account")
	}
	if hasLegacy {
		var problems []fieldProblem
		for _, name := range []string{"algorithm", "hash"} {
			if p := requireString(legacy, name); p != nil {
				p.Field = "account.legacyAuth." + p.Field
				p.Message = "account.legacyAuth." + p.Message
				problems = append(problems, *p)
			}
		}
		if len(problems) > 0 {
			return "", validationError(problems...)
		}
		if !retentionActive {
			return "", badRequest("Importing customers with 'legacyAuth' requires an active password migration retention configuration for the tenant.")
		}
	}
	fields := rs.fields.pick(item, false)
	delete(fields, "account")
	if contact := str(fields, "contactEmail"); contact == "" {
		fields["contactEmail"] = email
	} else if !strings.EqualFold(contact, email) {
		return "", validationError(fieldProblem{Field: "contactEmail", Type: "invalid_value",
			Message: "contactEmail must match account.email (case-insensitive)."})
	}
	id := str(fields, "id")
	if id == "" {
		id = s.newCustomerNumber(tenant)
	} else if apiErr := s.checkNewCustomerNumber(tenant, id); apiErr != nil {
		return "", apiErr
	}
	if s.emailTaken(tenant, email, "") {
		return "", duplicateAccount(email, tenant)
	}
	s.store.put(tenant, kindCustomer, id, s.buildCustomer(id, fields, 1, timestamp(s.now()), nil))
	stored := map[string]any{"id": id, "email": email}
	if hasLegacy {
		stored["legacyAuth"] = legacyAuthSchema.pick(legacy, false)
	} else {
		stored["passwordHash"] = hash
	}
	s.store.put(tenant, kindAccount, id, stored)
	return id, nil
}

// today is the sandbox clock's calendar day in UTC, the zone of the platform's dates.
func (s *Server) today() time.Time {
	y, m, d := s.now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// retention returns the tenant's configuration and its end date, if one is set.
func (s *Server) retention(tenant string) (map[string]any, time.Time, bool) {
	doc, ok := s.store.get(tenant, kindConfig, retentionID)
	if !ok {
		return nil, time.Time{}, false
	}
	end, err := time.Parse(dateLayout, str(doc, "retentionEndDate"))
	if err != nil {
		return nil, time.Time{}, false
	}
	return doc, end, true
}

// retentionActive reports whether the tenant's retention window is open: configured and not yet at
// its end date.
func (s *Server) retentionActive(tenant string) bool {
	_, end, ok := s.retention(tenant)
	return ok && s.today().Before(end)
}

func retentionNotSet() *apiError {
	return notFound("Password migration retention configuration is not set for the tenant.")
}

func (s *Server) handleGetRetention(c *reqCtx) *apiError {
	doc, _, ok := s.retention(c.tenant)
	if !ok {
		return retentionNotSet()
	}
	c.reply(http.StatusOK, doc)
	return nil
}

// handleSetRetention is POST (create or update, 200 with the saved configuration). The end date must
// lie in the future; the reminder date defaults to 7 days before it, or tomorrow when that would not
// be after today, and must lie on or after today and before the end date.
func (s *Server) handleSetRetention(c *reqCtx) *apiError {
	body, _, apiErr := c.decodeBody()
	if apiErr != nil {
		return apiErr
	}
	s.concludeMigration(c.tenant)
	today := s.today()
	parse := func(name string) (time.Time, *fieldProblem) {
		t, err := time.Parse(dateLayout, str(body, name))
		if err != nil {
			return time.Time{}, &fieldProblem{Field: name, Type: "invalid_value", Message: name + " must be a date such as 2027-01-31."}
		}
		return t, nil
	}
	if p := requireString(body, "retentionEndDate"); p != nil {
		return validationError(*p)
	}
	end, p := parse("retentionEndDate")
	if p != nil {
		return validationError(*p)
	}
	if !end.After(today) {
		return validationError(fieldProblem{Field: "retentionEndDate", Type: "invalid_value", Message: "retentionEndDate must be a future date."})
	}
	reminder := end.AddDate(0, 0, -7)
	if !reminder.After(today) {
		reminder = today.AddDate(0, 0, 1)
	}
	if str(body, "emailReminderDate") != "" {
		if reminder, p = parse("emailReminderDate"); p != nil {
			return validationError(*p)
		}
		if reminder.Before(today) || !reminder.Before(end) {
			return validationError(fieldProblem{Field: "emailReminderDate", Type: "invalid_value",
				Message: "emailReminderDate must be on or after today and before retentionEndDate."})
		}
	}
	notify := true
	if b, ok := body["emailNotificationsEnabled"].(bool); ok {
		notify = b
	}
	doc := map[string]any{
		"retentionEndDate":          end.Format(dateLayout),
		"emailReminderDate":         reminder.Format(dateLayout),
		"emailNotificationsEnabled": notify,
	}
	s.store.put(c.tenant, kindConfig, retentionID, doc)
	c.reply(http.StatusOK, doc)
	return nil
}

// handleDeleteRetention is DELETE (204). While the window is open, removal is refused as long as an
// account still holds legacy credentials; once it has ended, those credentials are gone (see
// concludeMigration) and the configuration can go.
func (s *Server) handleDeleteRetention(c *reqCtx) *apiError {
	s.concludeMigration(c.tenant)
	if _, _, ok := s.retention(c.tenant); !ok {
		c.reply(http.StatusNoContent, nil)
		return nil
	}
	if len(s.store.byRef(c.tenant, kindAccount, refLegacyAccount)) > 0 {
		return newError(http.StatusBadRequest, "validation_failure", "Configuration removal is not possible until password migration is concluded.")
	}
	s.store.del(c.tenant, kindConfig, retentionID)
	c.reply(http.StatusNoContent, nil)
	return nil
}

// concludeMigration models the end of the retention window: the platform clears the legacy hashes
// that were never migrated, and those customers must reset their passwords. The sandbox does it when
// it next handles a migration request of the tenant after the end date.
func (s *Server) concludeMigration(tenant string) {
	_, end, ok := s.retention(tenant)
	if !ok || s.today().Before(end) {
		return
	}
	for _, doc := range s.store.byRef(tenant, kindAccount, refLegacyAccount) {
		next := cloneDoc(doc)
		delete(next, "legacyAuth")
		next["resetRequired"] = true
		s.store.put(tenant, kindAccount, str(doc, "id"), next)
	}
}
