package mapping

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"custsync/formats"
)

// FieldError is one validation problem of one row. Column is the source column as written in the header
// (or the target field for constants); Field is the target field path or column role.
type FieldError struct {
	Pos    formats.Position
	Column string
	Field  string
	Value  string
	Reason string
}

// Error renders "customers.csv:12: column contactEmail (contactEmail) value "x@": not an e-mail address".
func (e FieldError) Error() string {
	return e.Pos.String() + ": " + e.Detail()
}

// Detail is Error without the position, for lines that name the row already.
func (e FieldError) Detail() string {
	var b strings.Builder
	if e.Column != "" {
		b.WriteString("column ")
		b.WriteString(e.Column)
		if e.Field != "" && !strings.EqualFold(e.Field, e.Column) {
			b.WriteString(" (" + e.Field + ")")
		}
		if e.Value != "" {
			b.WriteString(" value " + strconv.Quote(e.Value))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Command is what a row asks the engine to do.
type Command uint8

// Row commands. The zero value is Upsert.
const (
	Upsert Command = iota // create or update (blank cells keep the remote value)
	Delete                // delete the remote record (from the command column or the deletion flag)
	Ignore                // skip the row entirely
)

// String returns the command as written in a command column.
func (c Command) String() string {
	switch c {
	case Delete:
		return "DELETE"
	case Ignore:
		return "IGNORE"
	}
	return "UPSERT"
}

// ParseCommand reads a command cell: UPSERT, DELETE or IGNORE in any case; blank means Upsert.
func ParseCommand(s string) (Command, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "UPSERT":
		return Upsert, nil
	case "DELETE":
		return Delete, nil
	case "IGNORE":
		return Ignore, nil
	}
	return Upsert, fmt.Errorf("unknown command %q: use UPSERT, DELETE or IGNORE", s)
}

// Ref is a reference from a record to another entity's record, by ERP key.
//
// Path is where the referenced remote id goes in the payload: "parentId", "legalEntity.id", "customer.id",
// or "entitiesAddresses" (a list of {"id"} objects, one Ref per location). An empty Path means the
// reference is not part of the body: an address's customer is a URL path parameter, and a location's
// companyKey asks the engine to list the location in that company's entitiesAddresses.
//
// RemoteID is computed from the referenced entity's id template; the engine may overwrite it (e.g. with an
// adopted platform id from the SD mappings) before calling Payload.
type Ref struct {
	Entity   Entity
	Column   string
	Path     string
	Key      string
	RemoteID string
}

// Record is one mapped row for one entity.
type Record struct {
	Entity Entity
	Pos    formats.Position
	// Key is the ERP key as text: the key cell itself, or for composite keys (addresses: customer, address;
	// contacts: company, customer) the parts joined by JoinKey.
	Key string
	// KeyParts are the key cells, outermost first.
	KeyParts []string
	// RemoteID is the deterministic platform id (id template applied to the key, or an explicit
	// customerNumber column for customers).
	RemoteID string
	Refs     []Ref
	Command  Command
	// Fields are the desired field values sorted by Path; blank cells are absent. Delete and Ignore rows
	// carry no fields.
	Fields []Field
	// Account is the login account of a customer row that carries a password hash, else nil. It is no field:
	// Payload, Hash, ApplyTo and diffs never see it (see Account).
	Account *Account
}

// Get returns the value of a field path and whether the row sets or clears it.
func (r Record) Get(path string) (Value, bool) {
	i := sort.Search(len(r.Fields), func(i int) bool { return r.Fields[i].Path >= path })
	if i < len(r.Fields) && r.Fields[i].Path == path {
		return r.Fields[i].Value, true
	}
	return Value{}, false
}

// JoinKey joins composite key parts with "/", escaping "%" as "%25" and "/" as "%2F" inside parts so that
// different part lists never give the same key. A single part is returned unchanged.
func JoinKey(parts ...string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	escaped := parts
	for i, p := range parts {
		if strings.ContainsAny(p, "%/") {
			if &escaped[0] == &parts[0] { // copy on first write: parts belongs to the caller
				escaped = slices.Clone(parts)
			}
			escaped[i] = keyEscaper.Replace(p)
		}
	}
	return strings.Join(escaped, "/")
}

var (
	keyEscaper   = strings.NewReplacer("%", "%25", "/", "%2F")
	keyUnescaper = strings.NewReplacer("%2F", "/", "%25", "%")
)

// SplitKey reverses JoinKey for a key of n parts.
func SplitKey(key string, n int) []string {
	if n <= 1 {
		return []string{key}
	}
	parts := strings.SplitN(key, "/", n)
	for i := range parts {
		if strings.IndexByte(parts[i], '%') >= 0 {
			parts[i] = keyUnescaper.Replace(parts[i])
		}
	}
	return parts
}

// Payload returns the JSON body for a create or PUT of this record as nested maps: every Set field at its
// dotted path, every reference with a Path as its RemoteID ({"id": ...} objects for entitiesAddresses), and
// every Clear field as JSON null, except list fields, which clear to an empty array (Map already rejects
// clearing what the platform cannot unset: keys, contactEmail, a location's companyKey). Absent fields are left
// out, so a PUT with this payload alone would drop them on the platform: for full-replace PUTs of an existing
// record use ApplyTo on the remote record instead. customerGroups render as [{"id": ...}]. The remote id
// itself is not in the payload; it belongs in the URL.
func (r Record) Payload() map[string]any {
	out := map[string]any{}
	sc := schemas[r.Entity]
	for _, f := range r.Fields {
		setPath(out, f.Path, payloadValue(sc, f.Path, f.Value))
	}
	r.putRefs(out, sc)
	return out
}

// ApplyTo returns a deep copy of base (a remote record decoded from JSON) with the row applied: Set fields
// overwrite, Clear fields are removed (lists become empty arrays), absent fields keep base's value, and
// references are written as in Payload. Use it to build a full-replace PUT body that keeps remote values
// of blank cells.
func (r Record) ApplyTo(base map[string]any) map[string]any {
	out, _ := deepCopy(base).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	sc := schemas[r.Entity]
	for _, f := range r.Fields {
		v := payloadValue(sc, f.Path, f.Value)
		if v == nil && f.Value.IsClear() {
			deletePath(out, f.Path)
			continue
		}
		setPath(out, f.Path, v) // a JSON null (a :json cell "null") is a value, kept as null
	}
	r.putRefs(out, sc)
	return out
}

// HasNullValue reports whether a field the record sets is or holds a JSON null (a :json cell such as null or
// {"z":null}), which a merge patch would take as "remove" rather than as the value.
func (r Record) HasNullValue() bool {
	for _, f := range r.Fields {
		if !f.Value.IsClear() && f.Value.Kind() == KindJSON && HoldsNull(f.Value.Interface()) {
			return true
		}
	}
	return false
}

// HoldsNull reports whether a JSON value is null or an object with a null member at any depth: what a merge
// patch reads as a removal (nulls inside arrays are values there too).
func HoldsNull(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, x := range t {
			if HoldsNull(x) {
				return true
			}
		}
	}
	return false
}

func (r Record) putRefs(out map[string]any, sc *schema) {
	lists := map[string][]any{}
	var order []string
	for _, ref := range r.Refs {
		if ref.Path == "" {
			continue
		}
		if def := defByPath(sc, ref.Path); def != nil && def.kind == KindList {
			if _, seen := lists[ref.Path]; !seen {
				order = append(order, ref.Path)
			}
			lists[ref.Path] = append(lists[ref.Path], map[string]any{"id": ref.RemoteID})
			continue
		}
		setPath(out, ref.Path, ref.RemoteID)
	}
	for _, p := range order {
		setPath(out, p, lists[p])
	}
}

// defByPath finds a field definition by payload path (its column, or a reference's payload path).
func defByPath(sc *schema, path string) *fieldDef {
	if sc == nil {
		return nil
	}
	for i := range sc.fields {
		f := &sc.fields[i]
		if f.refPath == path || (f.refPath == "" && f.column == path && f.role == roleField) {
			return f
		}
	}
	return nil
}

// payloadValue converts a Value to its JSON form; a Clear list becomes [] and any other Clear nil.
func payloadValue(sc *schema, path string, v Value) any {
	def := defByPath(sc, path)
	if v.clear {
		if def != nil && def.kind == KindList {
			return []any{}
		}
		return nil
	}
	if v.kind == KindList {
		items := make([]any, len(v.list))
		for i, s := range v.list {
			if def != nil && def.refIDObjects {
				items[i] = map[string]any{"id": s}
			} else {
				items[i] = s
			}
		}
		return items
	}
	return v.Interface()
}

func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

func getPath(m map[string]any, path string) (any, bool) {
	return getParts(m, strings.Split(path, "."))
}

// getParts is getPath with the path split at its dots.
func getParts(m map[string]any, parts []string) (any, bool) {
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// HashVersion names the row-hash algorithm. The engine persists Record.Hash values in the checkpoint;
// changing anything Hash covers (algorithm, canonical form, this version) makes every row look changed and
// triggers a full re-sync, so bump it only deliberately.
const HashVersion = "custsync-rowhash-v1"

// Hash returns the canonical row hash, FNV-1a 64 over HashVersion, the entity, the ERP key, the references
// (column and key, sorted) and the fields (path, state, kind and canonical value, sorted by path). It does not
// cover the command, the position, the remote ids or anything about the source (column order, column names
// in the mapping file, CSV vs XLSX, surrounding whitespace): the same desired state always hashes the same.
// Clear, absent and the empty string are all distinct.
func (r Record) Hash() uint64 {
	h := fnvOffset64
	h = fnvAdd(h, HashVersion, true)
	h = fnvAdd(h, string(r.Entity), true)
	h = fnvAdd(h, r.Key, true)
	refs := r.Refs
	less := func(a, b Ref) int {
		if c := strings.Compare(a.Column, b.Column); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	}
	if !slices.IsSortedFunc(refs, less) {
		refs = slices.Clone(refs)
		slices.SortFunc(refs, less)
	}
	for _, ref := range refs {
		h = fnvAdd(h, "ref:", false)
		h = fnvAdd(h, ref.Column, true)
		h = fnvAdd(h, ref.Key, true)
	}
	fields := r.Fields
	byPath := func(a, b Field) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(fields, byPath) {
		fields = slices.Clone(fields)
		slices.SortFunc(fields, byPath)
	}
	var num [32]byte
	for _, f := range fields {
		h = fnvAdd(h, "field:", false)
		h = fnvAdd(h, f.Path, true)
		v := f.Value
		if v.clear {
			h = fnvAdd(h, "C", true)
			continue
		}
		switch v.kind {
		case KindList:
			h = fnvAdd(h, "L", false)
			h = fnvAddBytes(h, strconv.AppendInt(num[:0], int64(len(v.list)), 10))
			for _, s := range v.list {
				h = fnvAdd(h, s, true)
			}
		case KindBool:
			h = fnvAdd(h, "B", false)
			h = fnvAdd(h, strconv.FormatBool(v.b), true)
		case KindNumber:
			h = fnvAdd(h, "N", false)
			h = fnvAddBytes(h, strconv.AppendFloat(num[:0], v.num, 'f', -1, 64))
		case KindDate:
			h = fnvAdd(h, "D", false)
			h = fnvAdd(h, v.str, true)
		case KindJSON:
			h = fnvAdd(h, "J", false)
			h = fnvAdd(h, v.str, true)
		default:
			h = fnvAdd(h, "S", false)
			h = fnvAdd(h, v.str, true)
		}
	}
	return h
}

// FNV-1a 64 (the same function as hash/fnv's New64a), written out to hash strings without allocating.
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
)

// fnvAdd hashes s, followed by a 0 byte when terminate is set.
func fnvAdd(h uint64, s string, terminate bool) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	if terminate {
		h *= fnvPrime64 // h ^= 0 is a no-op
	}
	return h
}

// fnvAddBytes hashes b followed by a 0 byte.
func fnvAddBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h * fnvPrime64
}

// SDMapping is the SD customer mapping kept for every synchronised customer, in the shape of the Engagement
// Center's sdCustomerMappings resource.
type SDMapping struct {
	CustomerNumber   string `json:"customerNumber"`
	SDCustomerNumber string `json:"sdCustomerNumber"`
	DeletedInYaaS    bool   `json:"deletedInYaaS"`
}

// SDMappingFor derives the SD mapping of a customer record: customerNumber is the record's RemoteID (the
// explicit customerNumber column when the row has one, else the customers id template applied to the key),
// sdCustomerNumber is the ERP key. DeletedInYaaS starts false; the engine sets it when it finds the customer
// gone from the platform. It reports false for records of other entities or without a key.
func SDMappingFor(r Record) (SDMapping, bool) {
	if r.Entity != Customers || r.Key == "" || r.RemoteID == "" {
		return SDMapping{}, false
	}
	return SDMapping{CustomerNumber: r.RemoteID, SDCustomerNumber: r.Key}, true
}
