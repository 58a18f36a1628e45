package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrMappingFile wraps every error about a mapping file's content, so the CLI can answer exit code 2.
var ErrMappingFile = errors.New("invalid mapping file")

// ErrHeader wraps every error about a table's header (unknown or missing columns, no entity), so the CLI can
// stop before anything is sent and answer exit code 2.
var ErrHeader = errors.New("wrong header")

// BlankPolicy says what a blank cell means.
type BlankPolicy string

// Blank-cell policies.
const (
	BlankKeep  BlankPolicy = "keep"  // a blank cell keeps the remote value (default)
	BlankClear BlankPolicy = "clear" // a blank cell clears the remote value, like the sentinel
)

// DefaultClearSentinel is the cell text that clears a field (as in the Salesforce Data Loader).
const DefaultClearSentinel = "#N/A"

// DefaultListSeparator separates list items (tags, emails, phones, customerGroups, locationKeys,
// restrictions) inside one cell, as in the platform's own tags=BILLING,SHIPPING parameter.
const DefaultListSeparator = ","

// Options are mapping-wide settings. The zero value is not useful; start from DefaultOptions.
type Options struct {
	// BlankCells is BlankKeep or BlankClear.
	BlankCells BlankPolicy `yaml:"blankCells"`
	// ClearSentinel is the cell text (after trimming) that clears a field; "" disables clearing by cell.
	ClearSentinel string `yaml:"clearSentinel"`
	// DecimalComma makes number cells use "," as the decimal separator.
	DecimalComma bool `yaml:"decimalComma"`
	// DateFormat is the layout of date cells (e.g. "DD.MM.YYYY", see DateLayout); "" expects ISO 8601.
	DateFormat string `yaml:"dateFormat"`
	// ListSeparator splits list cells; default ",".
	ListSeparator string `yaml:"listSeparator"`
	// Trim removes surrounding white space from every cell (default true; a field may turn it off).
	Trim bool `yaml:"trim"`
	// IgnoreUnknownColumns accepts header columns that no field uses (default false: they are an error,
	// because a misspelt column would otherwise be silently dropped).
	IgnoreUnknownColumns bool `yaml:"ignoreUnknownColumns"`
}

// DefaultOptions returns the defaults: blank keeps, "#N/A" clears, decimal point, ISO dates, "," lists,
// trimming on, unknown columns rejected.
func DefaultOptions() Options {
	return Options{BlankCells: BlankKeep, ClearSentinel: DefaultClearSentinel, ListSeparator: DefaultListSeparator, Trim: true}
}

// Spec is a parsed mapping file (or the default layout when it has no Mappings).
type Spec struct {
	// Source names the file the spec came from, for messages.
	Source  string
	Options Options
	// IDTemplates override DefaultIDTemplates per entity.
	IDTemplates map[Entity]string
	// Mappings map tables to entities; a table may feed several entities (one per EntityMapping).
	Mappings []EntityMapping
}

// EntityMapping maps the columns of a table to one entity's fields.
type EntityMapping struct {
	Entity Entity
	// Table selects the tables this mapping applies to by sheet name or file name (without directory and
	// extension), case-insensitive, "*" and "?" as wildcards. Empty means any table resolved to Entity.
	Table string
	// Fields maps a target (a default column name of the entity, e.g. "firstName", "sdCustomerNumber",
	// "deleted", "mixins.loyalty.level") to its source.
	Fields map[string]FieldSpec
	// Ignore lists source columns that are read but not used.
	Ignore []string
	// Line is where the mapping starts in the file.
	Line int
}

// FieldSpec says where a field's value comes from and how the cell is transformed.
//
// Order of transforms: trim, clear sentinel / blank check, stripLeadingZeros or pad, upper/lower, map, date; then
// the value is converted to the field's type and validated.
type FieldSpec struct {
	// Columns are the source columns; the first with a non-blank cell wins. Empty when Const is set.
	Columns []string
	// Const is a constant value for every row (typed and validated like a cell).
	Const *string
	// Default replaces a blank cell.
	Default string
	// Trim overrides Options.Trim for this field.
	Trim *bool
	// Upper and Lower change the case.
	Upper, Lower bool
	// StripLeadingZeros removes leading zeros ("0000100080" -> "100080"; "0000" -> "0"). Off by default:
	// ERP numbers keep their zeros unless asked.
	StripLeadingZeros bool
	// Pad is SAP's ALPHA conversion: a value of digits only that is shorter than Pad is left-padded with zeros
	// to Pad characters ("8000002" -> "0008000002" with pad 10); other values pass unchanged. Declare it on
	// key columns a spreadsheet may have stored as numbers. 0 turns it off.
	Pad int
	// Date is the cell's date layout (see DateLayout); the value becomes yyyy-mm-dd.
	Date string
	// DecimalComma overrides Options.DecimalComma for this field.
	DecimalComma *bool
	// Map replaces cell values (exact match first, then case-insensitive). Unmapped values pass unchanged
	// unless StrictMap is set, which makes them a row error.
	Map       map[string]string
	StrictMap bool
	// Optional lets the source columns be missing from the header (the field is then absent).
	Optional bool
	// Line is where the field is defined in the mapping file.
	Line int
}

// DefaultSpec returns the spec for files whose headers are the default column names (see Columns): the
// entity comes from the sheet or file name, or from the header's shape.
func DefaultSpec() *Spec {
	return &Spec{Source: "default columns", Options: DefaultOptions(), IDTemplates: map[Entity]string{}}
}

// IDTemplate returns the id template in force for an entity.
func (s *Spec) IDTemplate(e Entity) string {
	if s != nil {
		if t, ok := s.IDTemplates[e]; ok && t != "" {
			return t
		}
	}
	return DefaultIDTemplates[e]
}

// LoadMappingFile reads a mapping file, YAML or JSON (JSON is recognised by the .json extension or a leading
// "{"). Errors name the file, the line and the key, and wrap ErrMappingFile.
func LoadMappingFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping file: %w", err)
	}
	return ParseMapping(data, path)
}

// ParseMapping parses the content of a mapping file; name is used in messages and for the JSON/YAML choice.
func ParseMapping(data []byte, name string) (*Spec, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	fail := func(line int, format string, args ...any) error {
		loc := name
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", name, line)
		}
		return fmt.Errorf("%w: %s: %s", ErrMappingFile, loc, fmt.Sprintf(format, args...))
	}
	trimmed := bytes.TrimSpace(data)
	if strings.EqualFold(filepath.Ext(name), ".json") || bytes.HasPrefix(trimmed, []byte("{")) {
		var probe any
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, fail(lineAt(trimmed, se.Offset), "JSON syntax: %v", err)
			}
			return nil, fail(0, "JSON: %v", err)
		}
		// JSON is YAML once raw tabs (legal in JSON only as white space) become spaces; parsing it as YAML
		// gives the same line numbers for both formats.
		data = bytes.ReplaceAll(trimmed, []byte("\t"), []byte(" "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fail(0, "%v", err)
	}
	spec := DefaultSpec()
	spec.Source = name
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, fail(0, "the file is empty")
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fail(doc.Line, "the top level must be a mapping of keys (options, ids, entity, fields, mappings)")
	}
	var single EntityMapping
	single.Line = doc.Line
	hasSingle := false
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "version":
			if v.Value != "1" {
				return nil, fail(v.Line, "version: only version 1 is known, not %q", v.Value)
			}
		case "options":
			if err := decodeOptions(v, &spec.Options); err != nil {
				return nil, fail(err.line, "options: %s", err.msg)
			}
		case "ids":
			if v.Kind != yaml.MappingNode {
				return nil, fail(v.Line, "ids: expected a mapping of entity: template")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ek, ev := v.Content[j], v.Content[j+1]
				e, err := ParseEntity(ek.Value)
				if err != nil {
					return nil, fail(ek.Line, "ids: %v", err)
				}
				if _, err := parseIDTemplate(ev.Value, IDTemplateVars(e)); err != nil {
					return nil, fail(ev.Line, "ids.%s: %v", ek.Value, err)
				}
				spec.IDTemplates[e] = ev.Value
			}
		case "entity", "table", "fields", "ignore":
			hasSingle = true
			if err := decodeMappingKey(k, v, &single); err != nil {
				return nil, fail(err.line, "%s", err.msg)
			}
		case "mappings":
			if v.Kind != yaml.SequenceNode {
				return nil, fail(v.Line, "mappings: expected a list of {entity, table, fields, ignore}")
			}
			for _, item := range v.Content {
				m, err := decodeMapping(item)
				if err != nil {
					return nil, fail(err.line, "mappings: %s", err.msg)
				}
				spec.Mappings = append(spec.Mappings, m)
			}
		default:
			return nil, fail(k.Line, "unknown key %q (known: version, options, ids, entity, table, fields, ignore, mappings)", k.Value)
		}
	}
	if hasSingle {
		if single.Entity == "" {
			return nil, fail(single.Line, "fields without entity: add `entity: customers` (or addresses, companies, locations, contacts)")
		}
		if err := checkMapping(&single); err != nil {
			return nil, fail(err.line, "%s", err.msg)
		}
		spec.Mappings = append([]EntityMapping{single}, spec.Mappings...)
	}
	if spec.Options.DateFormat != "" {
		if _, err := DateLayout(spec.Options.DateFormat); err != nil {
			return nil, fail(0, "options.dateFormat: %v", err)
		}
	}
	return spec, nil
}

type nodeError struct {
	line int
	msg  string
}

func errAt(n *yaml.Node, format string, args ...any) *nodeError {
	return &nodeError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func decodeBool(n *yaml.Node, key string) (bool, *nodeError) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, errAt(n, "%s: expected true or false, not %q", key, n.Value)
	}
	return b, nil
}

func decodeString(n *yaml.Node, key string) (string, *nodeError) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s: expected a text value", key)
	}
	return n.Value, nil
}

func decodeOptions(n *yaml.Node, o *Options) *nodeError {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "expected a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err *nodeError
		switch k.Value {
		case "blankCells":
			var s string
			if s, err = decodeString(v, k.Value); err == nil {
				switch BlankPolicy(strings.ToLower(s)) {
				case BlankKeep, BlankClear:
					o.BlankCells = BlankPolicy(strings.ToLower(s))
				default:
					err = errAt(v, "blankCells: %q is neither keep nor clear", s)
				}
			}
		case "clearSentinel":
			o.ClearSentinel, err = decodeString(v, k.Value)
		case "decimalComma":
			o.DecimalComma, err = decodeBool(v, k.Value)
		case "dateFormat":
			if o.DateFormat, err = decodeString(v, k.Value); err == nil {
				if _, e := DateLayout(o.DateFormat); e != nil {
					err = errAt(v, "dateFormat: %v", e)
				}
			}
		case "listSeparator":
			if o.ListSeparator, err = decodeString(v, k.Value); err == nil && o.ListSeparator == "" {
				err = errAt(v, "listSeparator must not be empty")
			}
		case "trim":
			o.Trim, err = decodeBool(v, k.Value)
		case "ignoreUnknownColumns":
			o.IgnoreUnknownColumns, err = decodeBool(v, k.Value)
		default:
			err = errAt(k, "unknown option %q (known: blankCells, clearSentinel, decimalComma, dateFormat, listSeparator, trim, ignoreUnknownColumns)", k.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deref follows YAML aliases (*name) to their anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func decodeMapping(n *yaml.Node) (EntityMapping, *nodeError) {
	n = deref(n)
	m := EntityMapping{Line: n.Line}
	if n.Kind != yaml.MappingNode {
		return m, errAt(n, "expected a mapping with entity, table, fields, ignore")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := decodeMappingKey(n.Content[i], n.Content[i+1], &m); err != nil {
			return m, err
		}
	}
	if m.Entity == "" {
		return m, errAt(n, "a mapping needs `entity:`")
	}
	return m, checkMapping(&m)
}

func decodeMappingKey(k, v *yaml.Node, m *EntityMapping) *nodeError {
	switch k.Value {
	case "entity":
		s, err := decodeString(v, "entity")
		if err != nil {
			return err
		}
		e, perr := ParseEntity(s)
		if perr != nil {
			return errAt(v, "entity: %v", perr)
		}
		m.Entity = e
	case "table":
		s, err := decodeString(v, "table")
		if err != nil {
			return err
		}
		m.Table = s
	case "ignore":
		if v.Kind != yaml.SequenceNode {
			return errAt(v, "ignore: expected a list of column names")
		}
		for _, c := range v.Content {
			s, err := decodeString(c, "ignore")
			if err != nil {
				return err
			}
			m.Ignore = append(m.Ignore, s)
		}
	case "fields":
		if v.Kind != yaml.MappingNode {
			return errAt(v, "fields: expected a mapping of field: column or field: {column: ..., ...}")
		}
		if m.Fields == nil {
			m.Fields = map[string]FieldSpec{}
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			if _, dup := m.Fields[fk.Value]; dup {
				return errAt(fk, "fields: %q is mapped twice", fk.Value)
			}
			fs, err := decodeFieldSpec(fk.Value, fv)
			if err != nil {
				return err
			}
			fs.Line = fk.Line
			m.Fields[fk.Value] = fs
		}
	default:
		return errAt(k, "unknown key %q in a mapping (known: entity, table, fields, ignore)", k.Value)
	}
	return nil
}

func decodeFieldSpec(field string, n *yaml.Node) (FieldSpec, *nodeError) {
	var fs FieldSpec
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return fs, errAt(n, "fields.%s: empty column name", field)
		}
		fs.Columns = []string{n.Value}
		return fs, nil
	case yaml.MappingNode:
	default:
		return fs, errAt(n, "fields.%s: expected a column name or a mapping", field)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "fields." + field + "." + k.Value
		var err *nodeError
		switch k.Value {
		case "column", "columns":
			switch v.Kind {
			case yaml.ScalarNode:
				fs.Columns = append(fs.Columns, v.Value)
			case yaml.SequenceNode:
				for _, c := range v.Content {
					var s string
					if s, err = decodeString(c, key); err != nil {
						break
					}
					fs.Columns = append(fs.Columns, s)
				}
			default:
				err = errAt(v, "%s: expected a column name or a list of them", key)
			}
		case "const":
			var s string
			if s, err = decodeString(v, key); err == nil {
				fs.Const = &s
			}
		case "default":
			fs.Default, err = decodeString(v, key)
		case "trim":
			var b bool
			if b, err = decodeBool(v, key); err == nil {
				fs.Trim = &b
			}
		case "upper":
			fs.Upper, err = decodeBool(v, key)
		case "lower":
			fs.Lower, err = decodeBool(v, key)
		case "stripLeadingZeros":
			fs.StripLeadingZeros, err = decodeBool(v, key)
		case "pad":
			if v.Kind != yaml.ScalarNode || v.Decode(&fs.Pad) != nil || fs.Pad < 1 || fs.Pad > 66 {
				err = errAt(v, "%s: expected the length to pad digit-only values to (1-66, e.g. 10 for a SAP KUNNR), not %q", key, v.Value)
			}
		case "date":
			if fs.Date, err = decodeString(v, key); err == nil {
				if _, e := DateLayout(fs.Date); e != nil {
					err = errAt(v, "%s: %v", key, e)
				}
			}
		case "decimalComma":
			var b bool
			if b, err = decodeBool(v, key); err == nil {
				fs.DecimalComma = &b
			}
		case "map":
			if v.Kind != yaml.MappingNode {
				err = errAt(v, "%s: expected a mapping of from: to", key)
				break
			}
			fs.Map = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Kind != yaml.ScalarNode || v.Content[j+1].Kind != yaml.ScalarNode {
					err = errAt(v.Content[j], "%s: keys and values must be text", key)
					break
				}
				fs.Map[v.Content[j].Value] = v.Content[j+1].Value
			}
		case "strictMap":
			fs.StrictMap, err = decodeBool(v, key)
		case "optional":
			fs.Optional, err = decodeBool(v, key)
		default:
			err = errAt(k, "unknown key %q (known: column, const, default, trim, upper, lower, stripLeadingZeros, pad, date, decimalComma, map, strictMap, optional)", key)
		}
		if err != nil {
			return fs, err
		}
	}
	switch {
	case fs.Const != nil && len(fs.Columns) > 0:
		return fs, errAt(n, "fields.%s: use either column or const, not both", field)
	case fs.Const == nil && len(fs.Columns) == 0:
		return fs, errAt(n, "fields.%s: needs a column or a const", field)
	case fs.Upper && fs.Lower:
		return fs, errAt(n, "fields.%s: upper and lower together", field)
	case fs.Pad > 0 && fs.StripLeadingZeros:
		return fs, errAt(n, "fields.%s: pad and stripLeadingZeros together", field)
	}
	for _, c := range fs.Columns {
		if strings.TrimSpace(c) == "" {
			return fs, errAt(n, "fields.%s: empty column name", field)
		}
	}
	return fs, nil
}

// checkMapping verifies the targets against the entity's schema and that the key is mapped.
func checkMapping(m *EntityMapping) *nodeError {
	sc, err := schemaOf(m.Entity)
	if err != nil {
		return &nodeError{line: m.Line, msg: err.Error()}
	}
	for _, target := range slices.Sorted(maps.Keys(m.Fields)) {
		if _, ok := sc.lookup(target); !ok {
			return &nodeError{line: m.Fields[target].Line, msg: fmt.Sprintf("fields: %q is not a field of %s (fields: %s)", target, m.Entity, strings.Join(Columns(m.Entity), ", "))}
		}
	}
	return nil
}
