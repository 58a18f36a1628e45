package mapping

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ExportRow renders a remote record (decoded from the platform's JSON) as cells in Columns(e) order, the
// inverse of Map with the default layout: mapping the row again gives a record with the same Hash as the
// row that produced the remote record (for the fields in Columns; MixinCells renders the mixins).
//
// keys supplies the ERP key columns by column name (sdCustomerNumber, addressKey, companyKey, locationKey;
// for contacts the keys come from the references; for locations companyKey lists the companies that list the
// location). refKey translates a referenced remote id to that entity's ERP key (e.g. from the checkpoint or
// the SD mappings); nil means the remote id is the key, which holds for the default id templates of
// companies and locations and of customers without an explicit customerNumber. A company's approval group
// members are named by their customer's key (companyKey/sdCustomerNumber for an assignment to another
// company), from the legalEntity and customer the platform embeds, else refKey(Contacts, id). The
// customerNumber column is the remote "id"; the command and deleted columns stay blank. Lists are joined
// with sep ("" means DefaultListSeparator).
func ExportRow(e Entity, remote map[string]any, keys map[string]string, refKey func(Entity, string) string, sep string) []string {
	plan := exportPlans()[e]
	if plan == nil {
		return nil
	}
	if sep == "" {
		sep = DefaultListSeparator
	}
	if refKey == nil {
		refKey = func(_ Entity, id string) string { return id }
	}
	out := make([]string, len(plan))
	for i := range plan {
		c := &plan[i]
		def := c.def
		if def == nil {
			continue
		}
		switch def.role {
		case roleCommand, roleDeleted:
			continue
		case roleRemoteID:
			if id, ok := remote["id"].(string); ok {
				out[i] = id
			}
			continue
		case roleKey, roleRef:
			if c.refPath == nil {
				out[i] = keys[c.column]
				continue
			}
			v, _ := getParts(remote, c.refPath)
			if def.refEntity == Contacts {
				out[i] = strings.Join(approvalKeys(v, keys[CompanyKeyColumn], refKey), sep)
				continue
			}
			if ids, ok := listItems(v); ok {
				ks := make([]string, 0, len(ids))
				for _, id := range ids {
					if id != "" {
						ks = append(ks, refKey(def.refEntity, id))
					}
				}
				out[i] = strings.Join(ks, sep)
			} else if id, ok := v.(string); ok && id != "" {
				out[i] = refKey(def.refEntity, id)
			} else if def.role == roleKey {
				out[i] = keys[c.column]
			}
			continue
		}
		v, ok := getParts(remote, c.path)
		if !ok || v == nil || escapesAsJSON(def, v) {
			continue
		}
		out[i] = cellText(v, sep)
	}
	return out
}

// escapesAsJSON reports whether a text field's value goes into its FIELD:json column instead of the plain
// one (ExportCells), because a plain cell holding it would not read back as that text (plainCellChanges).
func escapesAsJSON(def *fieldDef, v any) bool {
	s, ok := v.(string)
	return ok && def.kind == KindString && def.role == roleField && plainCellChanges(s)
}

// plainCellChanges reports whether import reads a plain cell holding text as something else: cells are
// trimmed (surrounding white space goes, a cell of white space alone is blank and keeps the target's value),
// the clear sentinel clears, and a spreadsheet error's text (#REF!, #VALUE!, ...) fails its row.
func plainCellChanges(text string) bool {
	return text == DefaultClearSentinel || isSpreadsheetError(text) || strings.TrimSpace(text) != text
}

// ExportCells returns the cells of a record's columns beyond ExportRow's, sorted by column: its mixin cells
// (MixinCells) and, for a text field whose value a plain cell would change (surrounding white space, the
// clear sentinel, a spreadsheet error's text), the FIELD:json column holding it as a JSON string, which Map reads back as the
// same text.
func ExportCells(e Entity, remote map[string]any) ([]MixinCell, error) {
	cells, err := MixinCells(remote)
	escaped := false
	for _, c := range exportPlans()[e] {
		if c.def == nil || c.def.refPath != "" {
			continue
		}
		if v, ok := getParts(remote, c.path); ok && escapesAsJSON(c.def, v) {
			cells = append(cells, MixinCell{Column: c.column + ":" + MixinJSON, Text: canonicalJSON(v)})
			escaped = true
		}
	}
	if escaped {
		sort.Slice(cells, func(i, j int) bool { return cells[i].Column < cells[j].Column })
	}
	return cells, err
}

// exportColumn is one column of an entity's default layout as ExportRow reads it, worked out once.
type exportColumn struct {
	column  string
	def     *fieldDef // nil: the column stays blank
	path    []string  // the column split at its dots: where a field column's value is
	refPath []string  // the split refPath of a reference, nil when it has none
}

// exportPlans are the export columns of every entity, in Columns order: an export renders millions of
// records, and looking each column up (lower-cased) and splitting its path per record was a third of its
// rendering time.
var exportPlans = sync.OnceValue(func() map[Entity][]exportColumn {
	plans := map[Entity][]exportColumn{}
	for e, sc := range schemas {
		cols := Columns(e)
		plan := make([]exportColumn, len(cols))
		for i, col := range cols {
			c := exportColumn{column: col, def: sc.byColumn[strings.ToLower(col)], path: strings.Split(col, ".")}
			if c.def != nil && c.def.refPath != "" {
				c.refPath = strings.Split(c.def.refPath, ".")
			}
			plan[i] = c
		}
		plans[e] = plan
	}
	return plans
})

// cellText renders one JSON value as a cell.
func cellText(v any, sep string) string {
	if items, ok := listItems(v); ok {
		return strings.Join(items, sep)
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

// approvalKeys names the members of an approval group (contactAssignmentWithoutExpandedLegalEntity objects)
// as the approvalGroup column does.
func approvalKeys(v any, companyKey string, refKey func(Entity, string) string) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		m, _ := it.(map[string]any)
		le, _ := getPath(m, "legalEntity.id")
		cust, _ := getPath(m, "customer.id")
		leID, _ := le.(string)
		custID, _ := cust.(string)
		var key string
		switch id, _ := m["id"].(string); {
		case leID != "" && custID != "":
			key = JoinKey(refKey(Companies, leID), refKey(Customers, custID))
		case id != "":
			key = refKey(Contacts, id)
		default:
			continue
		}
		if parts := SplitKey(key, 2); len(parts) == 2 && parts[0] == companyKey {
			key = parts[1]
		}
		out = append(out, key)
	}
	return out
}

// MixinCell is one mixin column of an exported record and its cell.
type MixinCell struct {
	Column string
	Text   string
}

// MixinCells renders a record's mixins as the columns Map reads back to the same values, sorted by column:
// metadata.mixins.NAME (the schema URL), mixins.NAME.FIELD[.SUB...] for strings, with the suffix :number or
// :boolean for numbers and booleans, and :json for arrays, null, empty objects, objects whose keys cannot be
// column names, and strings a plain cell would alter (surrounding spaces, the clear sentinel, a spreadsheet
// error's text). An empty string is left out, as a blank cell. It reports the mixin names that cannot be columns at all (empty, or
// containing "." or ":").
func MixinCells(remote map[string]any) ([]MixinCell, error) {
	var out []MixinCell
	var bad []string
	if md, ok := remote["metadata"].(map[string]any); ok {
		urls, _ := md["mixins"].(map[string]any)
		for name, v := range urls {
			url, isString := v.(string)
			if !columnPart(name) || (!isString && v != nil) {
				bad = append(bad, "metadata.mixins."+name)
				continue
			}
			if url != "" {
				out = append(out, MixinCell{Column: "metadata.mixins." + name, Text: url})
			}
		}
	}
	mixins, _ := remote["mixins"].(map[string]any)
	for name, v := range mixins {
		if !columnPart(name) {
			bad = append(bad, "mixins."+name)
			continue
		}
		if obj, ok := v.(map[string]any); ok && flattens(obj) {
			out = flattenMixin(out, "mixins."+name, obj)
			continue
		}
		out = append(out, MixinCell{Column: "mixins." + name + ":" + MixinJSON, Text: canonicalJSON(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Column < out[j].Column })
	if len(bad) > 0 {
		sort.Strings(bad)
		return out, fmt.Errorf("mixin name(s) %s cannot be column names (empty, or containing \".\" or \":\")", strings.Join(bad, ", "))
	}
	return out, nil
}

func flattenMixin(out []MixinCell, prefix string, obj map[string]any) []MixinCell {
	for k, v := range obj {
		col := prefix + "." + k
		switch t := v.(type) {
		case map[string]any:
			if flattens(t) {
				out = flattenMixin(out, col, t)
				continue
			}
		case string:
			if t == "" {
				continue
			}
			if !plainCellChanges(t) {
				out = append(out, MixinCell{Column: col, Text: t})
				continue
			}
		case bool:
			out = append(out, MixinCell{Column: col + ":" + MixinBoolean, Text: strconv.FormatBool(t)})
			continue
		case json.Number, float64:
			out = append(out, MixinCell{Column: col + ":" + MixinNumber, Text: canonicalJSON(t)})
			continue
		}
		out = append(out, MixinCell{Column: col + ":" + MixinJSON, Text: canonicalJSON(v)})
	}
	return out
}

// flattens reports whether an object can be written as one column per member.
func flattens(obj map[string]any) bool {
	if len(obj) == 0 {
		return false
	}
	for k := range obj {
		if !columnPart(k) {
			return false
		}
	}
	return true
}

// columnPart reports whether a mixin name or field name can be one part of a dotted column name.
func columnPart(s string) bool {
	return s != "" && strings.TrimSpace(s) == s && !strings.ContainsAny(s, ".:")
}
