package mapping

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"custsync/formats"
)

// Table identifies a table being resolved. File is the file path, Sheet the XLSX sheet name ("" for CSV),
// and Entity an optional hint from the command line (--entity) that overrides name-based detection.
type Table struct {
	File   string
	Sheet  string
	Entity Entity
}

// String renders "file" or "file[sheet]" for messages.
func (t Table) String() string {
	if t.Sheet != "" {
		return fmt.Sprintf("%s[%s]", t.File, t.Sheet)
	}
	return t.File
}

func (t Table) names() []string {
	var out []string
	if t.Sheet != "" {
		out = append(out, t.Sheet)
	}
	if t.File != "" {
		base := filepath.Base(t.File)
		out = append(out, strings.TrimSuffix(base, filepath.Ext(base)))
	}
	return out
}

// tableMatches reports whether a mapping's `table:` pattern names the table: its sheet name or file name (without
// directory and extension), case-insensitive, "*" and "?" as wildcards. A name also matches in its short forms
// (see nameForms), so `table: KNA1` reads KNA1_20261201.csv and the error file KNA1.errors.csv.
func tableMatches(pattern string, t Table) bool {
	p := strings.ToLower(strings.TrimSpace(pattern))
	for _, n := range t.names() {
		for _, form := range nameForms(strings.ToLower(n)) {
			if ok, err := path.Match(p, form); (err == nil && ok) || p == form {
				return true
			}
		}
	}
	return false
}

// dateStamp is a trailing date or time stamp of an export's name: a separator, then at least six digits in
// groups (KNA1_20261201, kna1-2026-12-01, KNA1_20261201_2330).
var dateStamp = regexp.MustCompile(`^(.+?)[-_. ]+(\d[-_. \d]*)$`)

// nameForms returns a table name and its short forms: without the .errors or .success of a result file, and
// without a trailing date stamp.
func nameForms(n string) []string {
	forms := []string{n}
	for _, suffix := range []string{".errors", ".success"} {
		if base, ok := strings.CutSuffix(n, suffix); ok && base != "" {
			n = base
			forms = append(forms, n)
		}
	}
	if m := dateStamp.FindStringSubmatch(n); m != nil {
		digits := 0
		for _, r := range m[2] {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits >= 6 {
			forms = append(forms, m[1])
		}
	}
	return forms
}

// Resolve decides which entities a table feeds and returns one Mapper per entity, parents first (e.g. a SAP
// KNA1 table mapped to customers and addresses gives the customers Mapper, then the addresses Mapper).
//
// The choice, first match wins:
//  1. table.Entity (the --entity hint): the spec's mapping for that entity (one bound to other tables only
//     if the header has its key columns), else the default columns;
//  2. the spec's mappings whose `table:` matches the sheet name or the file name;
//  3. the sheet name, then the file name, naming an entity (customers, Address, legal-entities, ...): the
//     spec's mapping for that entity without `table:`, else the default columns;
//  4. the spec's only mapping without `table:`; with several, the one whose key columns are in the header;
//  5. the header's shape: the one entity whose default columns cover the header and whose key columns are
//     present.
//
// A spec's mapping bound to tables by `table:` never applies to other tables by entity name, so default-layout
// files can be imported in the same run as ERP-specific ones.
//
// Every header column must be used by a field, listed under `ignore`, or allowed by ignoreUnknownColumns;
// every mapped column must be in the header (unless the field is optional), and so must the key columns.
// Errors name the columns and wrap ErrHeader: the run must stop before anything is sent. A header read as one
// cell that holds known column names joined by another character was read with the wrong delimiter; the error
// then says which delimiter the file seems to use.
func Resolve(spec *Spec, table Table, header []string) (_ []*Mapper, err error) {
	if spec == nil {
		spec = DefaultSpec()
	}
	defer func() {
		if err == nil || len(header) != 1 {
			return
		}
		if delim, column, ok := headerDelimiter(spec, header[0]); ok {
			err = fmt.Errorf("%w; the header is a single cell in which column %q is followed by %s: the file seems to use %s as its delimiter; %s",
				err, column, formats.DelimiterName(delim), formats.DelimiterName(delim), delimiterAdvice(delim))
		}
	}()
	hdr := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		hdr[i] = h
		if h == "" {
			continue
		}
		if j, dup := seen[strings.ToLower(h)]; dup {
			return nil, fmt.Errorf("%w: %s: column %q appears twice (columns %d and %d)", ErrHeader, table, h, j+1, i+1)
		}
		seen[strings.ToLower(h)] = i
	}
	mappings, err := chooseMappings(spec, table, hdr)
	if err != nil {
		return nil, err
	}
	mappers := make([]*Mapper, 0, len(mappings))
	used := make([]bool, len(hdr))
	ignoreAll := spec.Options.IgnoreUnknownColumns
	for _, m := range mappings {
		mp, err := compile(spec, m, hdr, used)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrHeader, table, err)
		}
		mappers = append(mappers, mp)
		for _, ig := range m.Ignore {
			if i, ok := seen[strings.ToLower(strings.TrimSpace(ig))]; ok {
				used[i] = true
			}
		}
	}
	if !ignoreAll {
		var unknown []string
		for i, h := range hdr {
			if h != "" && !used[i] {
				unknown = append(unknown, h)
			}
		}
		if len(unknown) > 0 {
			ents := make([]string, len(mappers))
			for i, m := range mappers {
				ents[i] = string(m.entity)
			}
			return nil, fmt.Errorf("%w: %s: unknown column(s) %s for %s; map them, list them under `ignore:`, or set options.ignoreUnknownColumns",
				ErrHeader, table, quoteList(unknown), strings.Join(ents, "+"))
		}
	}
	order := map[Entity]int{}
	for i, e := range Entities() {
		order[e] = i
	}
	for i := 1; i < len(mappers); i++ {
		for j := i; j > 0 && order[mappers[j].entity] < order[mappers[j-1].entity]; j-- {
			mappers[j], mappers[j-1] = mappers[j-1], mappers[j]
		}
	}
	return mappers, nil
}

// delimiterAdvice says how to read a file written with delim: the --delimiter value for one custsync reads,
// else that it must be rewritten.
func delimiterAdvice(delim rune) string {
	switch delim {
	case ',', ';', '|':
		return fmt.Sprintf("pass --delimiter '%c'", delim)
	case '\t':
		return "pass --delimiter tab"
	}
	return "custsync reads , ; | and tab: write the file with one of them"
}

// headerDelimiter looks in a header read as one cell for a known column name (of a default layout or a source
// column of the spec) followed by a character that cannot be part of a column name, and returns that character
// and the column. Column names are letters, digits and . _ : (mixins.loyalty.points:number).
func headerDelimiter(spec *Spec, cell string) (delim rune, column string, ok bool) {
	known := func(name string) bool {
		for _, e := range Entities() {
			if _, ok := schemas[e].lookup(name); ok {
				return true
			}
		}
		for _, m := range spec.Mappings {
			for _, f := range m.Fields {
				for _, c := range f.Columns {
					if strings.EqualFold(strings.TrimSpace(c), name) {
						return true
					}
				}
			}
		}
		return false
	}
	inName := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == ':'
	}
	cell = strings.TrimPrefix(cell, "\ufeff")
	for start := 0; start < len(cell); {
		end := strings.IndexFunc(cell[start:], func(r rune) bool { return !inName(r) })
		if end < 0 {
			return 0, "", false
		}
		name := cell[start : start+end]
		next, size := utf8.DecodeRuneInString(cell[start+end:])
		if name != "" && !unicode.IsSpace(next) && known(name) {
			return next, name, true
		}
		start += end + size
	}
	return 0, "", false
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func identity(e Entity) EntityMapping { return EntityMapping{Entity: e} }

func chooseMappings(spec *Spec, table Table, hdr []string) ([]EntityMapping, error) {
	// forEntity picks the spec's mapping without `table:` for e, else the default columns. With the
	// --entity hint a mapping bound to other tables is used too when the header has its key columns.
	forEntity := func(e Entity, hinted bool) []EntityMapping {
		for _, m := range spec.Mappings {
			if m.Entity == e && m.Table == "" {
				return []EntityMapping{m}
			}
		}
		if hinted {
			for _, m := range spec.Mappings {
				if m.Entity == e && keySourcesPresent(m, hdr) {
					return []EntityMapping{m}
				}
			}
		}
		return []EntityMapping{identity(e)}
	}
	if table.Entity != "" {
		e, err := ParseEntity(string(table.Entity))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrHeader, table, err)
		}
		var out []EntityMapping
		for _, m := range spec.Mappings {
			if m.Entity == e && m.Table != "" && tableMatches(m.Table, table) {
				out = append(out, m)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		return forEntity(e, true), nil
	}
	var byTable []EntityMapping
	for _, m := range spec.Mappings {
		if m.Table != "" && tableMatches(m.Table, table) {
			byTable = append(byTable, m)
		}
	}
	if len(byTable) > 0 {
		return byTable, nil
	}
	for _, n := range table.names() {
		for _, form := range nameForms(n) {
			if e, ok := EntityFromName(form); ok {
				return forEntity(e, false), nil
			}
		}
	}
	var generic []EntityMapping
	for _, m := range spec.Mappings {
		if m.Table == "" {
			generic = append(generic, m)
		}
	}
	if len(generic) == 1 {
		return generic, nil
	}
	if len(generic) > 1 {
		var fit []EntityMapping
		for _, m := range generic {
			if keySourcesPresent(m, hdr) {
				fit = append(fit, m)
			}
		}
		if len(fit) == 1 {
			return fit, nil
		}
		return nil, fmt.Errorf("%w: %s: %d mappings could apply; name the sheet or file after the entity, pass --entity, or set `table:` in the mapping", ErrHeader, table, len(generic))
	}
	e, err := entityByHeader(hdr)
	if err != nil {
		if bound := boundTables(spec); len(bound) > 0 {
			// A mapping written for ERP tables that this file is not named after: say which names it expects,
			// not which default layout the header is closest to.
			return nil, fmt.Errorf("%w: %s: no mapping of %s applies to it: the mapping's tables are %s and neither the file name %q nor a sheet name matches; "+
				"rename the file (or sheet) to match, e.g. %s_20261201.csv (a date suffix is fine), or add its name or a pattern such as %q to `table:` in the mapping",
				ErrHeader, table, spec.Source, strings.Join(bound, ", "), filepath.Base(table.File), strings.Trim(bound[0], "*?"), strings.Trim(bound[0], "*?")+"*")
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrHeader, table, err)
	}
	return []EntityMapping{identity(e)}, nil
}

// boundTables lists the distinct `table:` patterns of a spec's mappings.
func boundTables(spec *Spec) []string {
	var out []string
	for _, m := range spec.Mappings {
		if m.Table != "" && !slices.Contains(out, m.Table) {
			out = append(out, m.Table)
		}
	}
	return out
}

func keySourcesPresent(m EntityMapping, hdr []string) bool {
	sc := schemas[m.Entity]
	for _, k := range sc.keyColumns {
		src := []string{k}
		for target, fs := range m.Fields {
			if strings.EqualFold(target, k) {
				if fs.Const != nil {
					src = nil
				} else {
					src = fs.Columns
				}
			}
		}
		if len(src) > 0 && headerIndex(hdr, src[0]) < 0 {
			return false
		}
	}
	return true
}

func headerIndex(hdr []string, col string) int {
	col = strings.TrimSpace(col)
	for i, h := range hdr {
		if strings.EqualFold(h, col) {
			return i
		}
	}
	return -1
}

// entityByHeader finds the entity whose default columns explain the header.
func entityByHeader(hdr []string) (Entity, error) {
	type candidate struct {
		e       Entity
		unknown []string
		missing []string
		keys    int
	}
	var best *candidate
	var fits []candidate
	for _, e := range Entities() {
		sc := schemas[e]
		c := candidate{e: e}
		for _, h := range hdr {
			if h == "" {
				continue
			}
			if _, ok := sc.lookup(h); !ok {
				c.unknown = append(c.unknown, h)
			}
		}
		for _, k := range sc.keyColumns {
			if headerIndex(hdr, k) < 0 {
				c.missing = append(c.missing, k)
			} else {
				c.keys++
			}
		}
		if len(c.unknown) == 0 && len(c.missing) == 0 {
			fits = append(fits, c)
		}
		if best == nil || len(c.unknown)+len(c.missing) < len(best.unknown)+len(best.missing) {
			cc := c
			best = &cc
		}
	}
	if len(fits) > 0 {
		win := fits[0]
		for _, f := range fits[1:] {
			if f.keys > win.keys {
				win = f
			}
		}
		return win.e, nil
	}
	msg := "cannot tell the entity from the sheet/file name or the header"
	if best != nil {
		msg += fmt.Sprintf("; closest is %s", best.e)
		if len(best.missing) > 0 {
			msg += ", missing key column(s) " + quoteList(best.missing)
		}
		if len(best.unknown) > 0 {
			msg += ", unknown column(s) " + quoteList(best.unknown)
		}
	}
	return "", fmt.Errorf("%s; name the sheet or file after the entity or pass --entity", msg)
}
