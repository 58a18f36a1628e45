package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// Entity names one kind of record custsync synchronises. The string value is the name used on the command
// line, in mapping files, as a sheet name and as a file name stem.
type Entity string

// The entities. See Entities for the order they depend on each other.
const (
	Locations Entity = "locations" // locations of legal entities (Customer Management)
	Companies Entity = "companies" // legal entities (Customer Management)
	Customers Entity = "customers" // customers (Customer Service)
	Addresses Entity = "addresses" // customer addresses (Customer Service)
	Contacts  Entity = "contacts"  // contact assignments customer <-> legal entity (Customer Management)
)

// Entities lists every entity in dependency order, the order for creates and updates: an entity's payload
// only references entities listed before it. Locations come first because a company's entitiesAddresses
// lists location ids; a location's own companyKey column is the one backward link (see Ref).
func Entities() []Entity {
	return []Entity{Locations, Companies, Customers, Addresses, Contacts}
}

// Column names shared by all entities.
const (
	// CommandColumn is the optional per-row command column: UPSERT (default), DELETE or IGNORE, any case.
	CommandColumn = "command"
	// DeletedColumn is the optional deletion-flag column: X, x, 1, true, yes (any case) mark the row deleted;
	// blank, 0, false, no and n do not.
	DeletedColumn = "deleted"
)

// Key and reference column names. The same name means the same ERP key in every entity, so one row of an
// ERP export can feed several entities and templates line up across files.
const (
	CustomerKeyColumn  = "sdCustomerNumber" // the ERP (SAP SD) customer number
	AddressKeyColumn   = "addressKey"       // the ERP address key, unique within its customer
	CompanyKeyColumn   = "companyKey"       // the ERP key of a legal entity
	ParentKeyColumn    = "parentCompanyKey" // the ERP key of a legal entity's parent
	LocationKeyColumn  = "locationKey"      // the ERP key of a location
	LocationKeysColumn = "locationKeys"     // a company's location keys, separated by the list separator
	// CustomerNumberColumn optionally carries the platform customer number explicitly; it then replaces
	// the id template for that row (see SDMapping).
	CustomerNumberColumn = "customerNumber"
	// ApprovalGroupColumn lists a company's approval group: contact assignments, each named by the customer's
	// sdCustomerNumber when it is an assignment to this company, else by companyKey/sdCustomerNumber.
	ApprovalGroupColumn = "approvalGroup"
)

// EntityFromName maps a table, sheet or file name to an entity: the entity name in singular or plural, any
// case, with a few synonyms (company, legal-entities, legalentities, contact-assignments, assignments).
// A file path's directory and extension are ignored. It reports false when the name is not an entity.
func EntityFromName(name string) (Entity, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.LastIndexByte(n, '.'); i > 0 {
		n = n[:i]
	}
	n = strings.NewReplacer("-", "", "_", "", " ", "").Replace(n)
	switch n {
	case "customers", "customer":
		return Customers, true
	case "addresses", "address", "customeraddresses":
		return Addresses, true
	case "companies", "company", "legalentities", "legalentity":
		return Companies, true
	case "locations", "location":
		return Locations, true
	case "contacts", "contact", "contactassignments", "contactassignment", "assignments":
		return Contacts, true
	}
	return "", false
}

// ParseEntity is EntityFromName for user input (--entity, `entity:` in mapping files) with an error listing
// the valid names.
func ParseEntity(name string) (Entity, error) {
	if e, ok := EntityFromName(name); ok {
		return e, nil
	}
	return "", fmt.Errorf("unknown entity %q: use one of customers, addresses, companies, locations, contacts", name)
}

// Kind is the JSON type of a field.
type Kind uint8

// Field kinds.
const (
	KindString Kind = iota // JSON string
	KindBool               // JSON boolean; cells true/false, 1/0, yes/no, x (any case)
	KindNumber             // JSON number; decimal point, or decimal comma when the mapping says so
	KindList               // JSON array of strings; cells split on the list separator
	KindDate               // JSON string, ISO 8601 (yyyy-mm-dd or an RFC 3339 timestamp)
	// KindJSON is any JSON value, kept as its canonical text: typed mixin columns (mixins.NAME.FIELD:number
	// and :json) hold it, so a mixin keeps its JSON type through an export and an import.
	KindJSON
)

// String names the kind as messages use it.
func (k Kind) String() string {
	switch k {
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindList:
		return "list"
	case KindDate:
		return "date"
	case KindJSON:
		return "json"
	}
	return "string"
}

type role uint8

const (
	roleField    role = iota // a payload field
	roleKey                  // part of the ERP key (may also be a reference)
	roleRef                  // a reference to another entity's key
	roleCommand              // the command column
	roleDeleted              // the deletion flag
	roleRemoteID             // an explicit remote id (customerNumber)
	roleAccount              // a login account column of customers (see Account)
)

type check uint8

const (
	checkNone       check = iota
	checkEmail            // every value must look like an e-mail address
	checkCountry          // ISO 3166-1 alpha-2
	checkCurrency         // ISO 4217
	checkEnum             // one of fieldDef.enum (case-insensitive, stored upper case)
	checkLocale           // language tag such as de_DE, en-US or de
	checkJSONNumber       // a JSON number (KindJSON)
)

// fieldDef describes one column of an entity's default layout.
type fieldDef struct {
	column string // default column name; for payload fields also the dotted payload path unless path is set
	// path is the payload path when it differs from the column: a typed mixin column
	// (mixins.loyalty.points:number) writes mixins.loyalty.points.
	path  string
	kind  Kind
	role  role
	check check
	enum  []string
	// idLike marks identifiers and numbers kept as text: Excel's scientific notation is rejected there.
	idLike bool
	// jsonText marks FIELD:json, a text field's column whose cell is the text as a JSON string (see textDef).
	jsonText bool
	// noClear marks fields the platform cannot unset, so the clear sentinel is a row error.
	noClear bool
	// refEntity and refPath describe a reference: the entity whose key the column holds and the payload path
	// its remote id goes to ("" when it is a URL path parameter or a link kept on the other side).
	refEntity Entity
	refPath   string
	// refIDObjects makes a list reference (or a list field) render as [{"id": ...}] in the payload.
	refIDObjects bool
	minZero      bool // numbers must be >= 0
	// secret marks a column whose values are never shown: password hashes and a legacy verifier's data.
	secret bool
}

type schema struct {
	entity Entity
	fields []fieldDef
	// keyColumns lists the columns forming the ERP key, outermost first.
	keyColumns []string
	// idVars names the id-template variable of each key column ("key" is the entity's own key).
	idVars []string
	// wildcards are the accepted column prefixes for free-form fields (mixins).
	wildcards []string
	// account are the login account columns (customers only); accepted on input, not listed by Columns.
	account  []fieldDef
	byColumn map[string]*fieldDef // lower-cased column -> def
}

func str(col string) fieldDef { return fieldDef{column: col, kind: KindString} }
func idStr(col string) fieldDef {
	return fieldDef{column: col, kind: KindString, idLike: true}
}
func boolean(col string) fieldDef { return fieldDef{column: col, kind: KindBool} }
func enumOf(col string, values ...string) fieldDef {
	return fieldDef{column: col, kind: KindString, check: checkEnum, enum: values}
}
func country(col string) fieldDef {
	return fieldDef{column: col, kind: KindString, check: checkCountry}
}
func currency(col string) fieldDef {
	return fieldDef{column: col, kind: KindString, check: checkCurrency}
}
func list(col string) fieldDef { return fieldDef{column: col, kind: KindList} }

var commonTail = []fieldDef{
	{column: CommandColumn, kind: KindString, role: roleCommand},
	{column: DeletedColumn, kind: KindBool, role: roleDeleted},
}

var mixinWildcards = []string{"mixins.", "metadata.mixins."}

var schemas = map[Entity]*schema{
	Customers: {
		entity:     Customers,
		keyColumns: []string{CustomerKeyColumn},
		idVars:     []string{"key"},
		wildcards:  mixinWildcards,
		account:    accountDefs,
		fields: []fieldDef{
			{column: CustomerKeyColumn, kind: KindString, role: roleKey, idLike: true},
			{column: CustomerNumberColumn, kind: KindString, role: roleRemoteID, idLike: true},
			str("title"), str("firstName"), str("middleName"), str("lastName"),
			{column: "contactEmail", kind: KindString, check: checkEmail, noClear: true},
			idStr("contactPhone"), str("company"),
			{column: "preferredLanguage", kind: KindString, check: checkLocale},
			currency("preferredCurrency"), str("preferredSite"),
			// No request schema takes null for the account flags (application/json has them, not nullable;
			// application/merge-patch+json lacks them), so they cannot be cleared, only set.
			{column: "active", kind: KindBool, noClear: true}, {column: "onHold", kind: KindBool, noClear: true},
			enumOf("type", "CUSTOMER", "CONTACT"), str("photoUrl"),
			idStr("b2b.companyRegistrationId"), str("restriction"),
		},
	},
	Addresses: {
		entity:     Addresses,
		keyColumns: []string{CustomerKeyColumn, AddressKeyColumn},
		idVars:     []string{"customer", "key"},
		wildcards:  mixinWildcards,
		fields: []fieldDef{
			{column: CustomerKeyColumn, kind: KindString, role: roleKey, idLike: true, refEntity: Customers},
			{column: AddressKeyColumn, kind: KindString, role: roleKey, idLike: true},
			str("contactName"), str("companyName"), str("street"), idStr("streetNumber"), str("streetAppendix"),
			str("extraLine1"), str("extraLine2"), str("extraLine3"), str("extraLine4"),
			idStr("zipCode"), str("city"), country("country"), str("state"), idStr("contactPhone"),
			boolean("isDefault"), list("tags"),
		},
	},
	Companies: {
		entity:     Companies,
		keyColumns: []string{CompanyKeyColumn},
		idVars:     []string{"key"},
		wildcards:  mixinWildcards,
		fields: []fieldDef{
			{column: CompanyKeyColumn, kind: KindString, role: roleKey, idLike: true},
			str("name"),
			enumOf("type", "COMPANY", "SUBSIDIARY"),
			{column: ParentKeyColumn, kind: KindString, role: roleRef, idLike: true, refEntity: Companies, refPath: "parentId"},
			str("legalInfo.legalName"),
			{column: "legalInfo.registrationDate", kind: KindDate},
			idStr("legalInfo.taxRegistrationNumber"), str("legalInfo.registrationAgency"),
			country("legalInfo.countryOfRegistration"), idStr("legalInfo.registrationId"),
			currency("accountLimit.currency"),
			{column: "accountLimit.value", kind: KindNumber, minZero: true},
			{column: "customerGroups", kind: KindList, idLike: true, refIDObjects: true},
			{column: LocationKeysColumn, kind: KindList, role: roleRef, idLike: true, refEntity: Locations, refPath: "entitiesAddresses", refIDObjects: true},
			{column: ApprovalGroupColumn, kind: KindList, role: roleRef, idLike: true, refEntity: Contacts, refPath: "approvalGroup", refIDObjects: true},
			list("restrictions"),
		},
	},
	Locations: {
		entity:     Locations,
		keyColumns: []string{LocationKeyColumn},
		idVars:     []string{"key"},
		wildcards:  mixinWildcards,
		fields: []fieldDef{
			{column: LocationKeyColumn, kind: KindString, role: roleKey, idLike: true},
			str("name"),
			enumOf("type", "HEADQUARTER", "WAREHOUSE", "OFFICE"),
			{column: "contactDetails.emails", kind: KindList, check: checkEmail},
			{column: "contactDetails.phones", kind: KindList, idLike: true},
			str("contactDetails.addressLine1"), str("contactDetails.addressLine2"),
			str("contactDetails.city"), str("contactDetails.state"), idStr("contactDetails.postcode"),
			country("contactDetails.countryCode"), list("contactDetails.tags"),
			// The companies whose entitiesAddresses list this location (usually one): the platform keeps the link
			// on the company, so the engine writes it there.
			{column: CompanyKeyColumn, kind: KindList, role: roleRef, idLike: true, refEntity: Companies},
		},
	},
	Contacts: {
		entity:     Contacts,
		keyColumns: []string{CompanyKeyColumn, CustomerKeyColumn},
		idVars:     []string{"company", "customer"},
		wildcards:  mixinWildcards,
		fields: []fieldDef{
			{column: CompanyKeyColumn, kind: KindString, role: roleKey, idLike: true, refEntity: Companies, refPath: "legalEntity.id"},
			{column: CustomerKeyColumn, kind: KindString, role: roleKey, idLike: true, refEntity: Customers, refPath: "customer.id"},
			enumOf("type", "PRIMARY", "BILLING", "LOGISTICS", "CONTACT"),
			boolean("primary"),
		},
	},
}

func init() {
	for _, s := range schemas {
		s.fields = append(s.fields, commonTail...)
		s.byColumn = make(map[string]*fieldDef, len(s.fields)+len(s.account))
		for i := range s.fields {
			s.byColumn[strings.ToLower(s.fields[i].column)] = &s.fields[i]
		}
		for i := range s.account {
			s.byColumn[strings.ToLower(s.account[i].column)] = &s.account[i]
		}
	}
}

func schemaOf(e Entity) (*schema, error) {
	s, ok := schemas[e]
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", string(e))
	}
	return s, nil
}

// lookup finds the definition of a column (case-insensitive). Mixin columns get a synthetic definition: a
// string, or the type their suffix names (see MixinColumn).
func (s *schema) lookup(column string) (fieldDef, bool) {
	c := strings.TrimSpace(column)
	if d, ok := s.byColumn[strings.ToLower(c)]; ok {
		return *d, true
	}
	if len(s.account) > 0 {
		if d, ok := legacyContextDef(c); ok {
			return d, true
		}
	}
	if d, ok := s.textDef(c); ok {
		return d, true
	}
	for _, w := range s.wildcards {
		if len(c) > len(w) && strings.EqualFold(c[:len(w)], w) {
			if d, ok := mixinDef(w, c[len(w):]); ok {
				return d, true
			}
		}
	}
	return fieldDef{}, false
}

// textDef defines FIELD:json for a text field of the default layout: the cell holds the field's text as a
// JSON string ("#N/A" with its quotes), so text a plain cell would change, the clear sentinel, comes back as
// it is. Exports write such text this way (ExportCells).
func (s *schema) textDef(column string) (fieldDef, bool) {
	field, typ, ok := strings.Cut(column, ":")
	if !ok || !strings.EqualFold(typ, MixinJSON) {
		return fieldDef{}, false
	}
	d, ok := s.byColumn[strings.ToLower(field)]
	if !ok || d.role != roleField || d.kind != KindString {
		return fieldDef{}, false
	}
	text := *d
	text.path = d.payloadPath()
	text.column = d.column + ":" + MixinJSON
	text.jsonText = true
	return text, true
}

// Mixin column types: the suffix of a typed mixin column, which keeps the JSON type of a mixin field that is
// not a string.
const (
	MixinNumber  = "number"  // a JSON number, written as it is ("3", "-1.25", "1e6")
	MixinBoolean = "boolean" // true or false (the cell accepts what boolean columns accept)
	MixinJSON    = "json"    // any JSON value written as JSON text: arrays, objects, null
)

// mixinDef defines a column under a mixin wildcard: mixins.NAME.FIELD[.SUB...] with an optional type suffix
// (:number, :boolean, :json), mixins.NAME:json for a whole mixin, and metadata.mixins.NAME (the mixin's
// schema URL, a string).
func mixinDef(wildcard, rest string) (fieldDef, bool) {
	typ := ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest, typ = rest[:i], strings.ToLower(rest[i+1:])
	}
	parts := strings.Split(rest, ".")
	for _, part := range parts {
		if part == "" || strings.TrimSpace(part) != part {
			return fieldDef{}, false
		}
	}
	path := wildcard + rest
	if wildcard == "metadata.mixins." {
		return fieldDef{column: path, kind: KindString}, len(parts) == 1 && typ == ""
	}
	switch {
	case typ == "" && len(parts) >= 2:
		return fieldDef{column: path, kind: KindString}, true
	case typ == MixinJSON:
		return fieldDef{column: path + ":" + typ, path: path, kind: KindJSON}, true
	case typ == MixinNumber && len(parts) >= 2:
		return fieldDef{column: path + ":" + typ, path: path, kind: KindJSON, check: checkJSONNumber}, true
	case typ == MixinBoolean && len(parts) >= 2:
		return fieldDef{column: path + ":" + typ, path: path, kind: KindBool}, true
	}
	return fieldDef{}, false
}

// payloadPath is the payload path a field column writes.
func (d fieldDef) payloadPath() string {
	if d.path != "" {
		return d.path
	}
	return d.column
}

// Columns returns the default column layout of an entity, key columns first, as written into templates
// (custsync template) and exports. Mixin columns (mixins.NAME.FIELD[:TYPE], metadata.mixins.NAME) are
// accepted on input and written by exports (see MixinCells) but not listed. It returns nil for an unknown
// entity.
func Columns(e Entity) []string {
	s, err := schemaOf(e)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(s.fields))
	out = append(out, s.keyColumns...)
	for _, f := range s.fields {
		if !containsFold(s.keyColumns, f.column) {
			out = append(out, f.column)
		}
	}
	return out
}

// KeyColumns returns the columns whose values form an entity's ERP key, outermost first (for addresses:
// sdCustomerNumber, addressKey; for contacts: companyKey, sdCustomerNumber).
func KeyColumns(e Entity) []string {
	s, err := schemaOf(e)
	if err != nil {
		return nil
	}
	return append([]string(nil), s.keyColumns...)
}

// IDTemplateVars returns the placeholders an entity's id template may use (see RemoteIDFor).
func IDTemplateVars(e Entity) []string {
	s, err := schemaOf(e)
	if err != nil {
		return nil
	}
	return append([]string(nil), s.idVars...)
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
