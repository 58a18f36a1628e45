package mapping

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"custsync/formats"
)

// Mapper maps the rows of one resolved table to records of one entity. It is safe for concurrent use:
// Map only reads the Mapper.
type Mapper struct {
	entity   Entity
	sc       *schema
	opts     Options
	cols     []*colMapper
	byPath   []*colMapper // cols sorted by output path, so Map emits Fields already sorted
	srcIdx   []int        // header indexes any column reads, ascending
	width    int          // 1 + the largest index in srcIdx
	keys     []*colMapper // one per key column, in schema order
	command  *colMapper
	deleted  *colMapper
	remoteID *colMapper
	// account are the login account columns (customers), secret marks by header index the columns that hold
	// hashes (see SecretColumns).
	account []*colMapper
	secret  []bool
	// textPaths are the payload paths of the FIELD:json columns, which the plain FIELD column may write too.
	textPaths map[string]bool
	idTmpl    idTemplate
	idText    string
	refTmpl   map[Entity]idTemplate
	refText   map[Entity]string
	source    string
	// fingerprint seeds RawHash: it changes whenever anything that shapes a record changes.
	fingerprint uint64
}

type colMapper struct {
	def      fieldDef
	src      []int    // header indexes, first non-blank wins
	srcNames []string // as in the header
	fs       FieldSpec
	layout   string // Go date layout, "" for ISO input
	trim     bool
	decComma bool
}

// Entity returns the entity the Mapper produces.
func (m *Mapper) Entity() Entity { return m.entity }

// SourceColumns returns the header indexes the Mapper reads, ascending: a cell outside them cannot change its
// records.
func (m *Mapper) SourceColumns() []int { return slices.Clone(m.srcIdx) }

// IDTemplate returns the id template the Mapper applies to keys.
func (m *Mapper) IDTemplate() string { return m.idText }

// Targets returns the target columns the Mapper fills, in schema order (for result files and templates).
func (m *Mapper) Targets() []string {
	out := make([]string, len(m.cols))
	for i, c := range m.cols {
		out[i] = c.def.column
	}
	return out
}

func compile(spec *Spec, em EntityMapping, hdr []string, used []bool) (*Mapper, error) {
	sc, err := schemaOf(em.Entity)
	if err != nil {
		return nil, err
	}
	m := &Mapper{entity: em.Entity, sc: sc, opts: spec.Options, source: spec.Source,
		refTmpl: map[Entity]idTemplate{}, refText: map[Entity]string{}}
	if m.opts.ListSeparator == "" {
		m.opts.ListSeparator = DefaultListSeparator
	}
	m.idText = spec.IDTemplate(em.Entity)
	if m.idTmpl, err = parseIDTemplate(m.idText, sc.idVars); err != nil {
		return nil, err
	}
	for _, f := range sc.fields {
		if f.refEntity != "" {
			text := spec.IDTemplate(f.refEntity)
			vars := []string{"key"}
			if f.refEntity == Contacts {
				vars = IDTemplateVars(Contacts) // an approval group member is named by company and customer
			}
			t, err := parseIDTemplate(text, vars)
			if err != nil {
				return nil, fmt.Errorf("%s references %s, whose id template has several placeholders: %w", em.Entity, f.refEntity, err)
			}
			m.refTmpl[f.refEntity], m.refText[f.refEntity] = t, text
		}
	}
	targets := map[string]bool{}
	explicit := make([]bool, len(hdr)) // columns this mapping names as sources
	var missing []string
	add := func(def fieldDef, fs FieldSpec) error {
		cm := &colMapper{def: def, fs: fs, trim: spec.Options.Trim, decComma: spec.Options.DecimalComma}
		if fs.Trim != nil {
			cm.trim = *fs.Trim
		}
		if fs.DecimalComma != nil {
			cm.decComma = *fs.DecimalComma
		}
		df := fs.Date
		if df == "" && def.kind == KindDate {
			df = spec.Options.DateFormat
		}
		if df != "" {
			l, err := DateLayout(df)
			if err != nil {
				return err
			}
			cm.layout = l
		}
		for _, c := range fs.Columns {
			if i := headerIndex(hdr, c); i >= 0 {
				cm.src = append(cm.src, i)
				cm.srcNames = append(cm.srcNames, hdr[i])
				used[i] = true
				explicit[i] = true
			}
		}
		if fs.Const == nil && len(cm.src) == 0 {
			if isKeyColumn(sc, def.column) || !fs.Optional {
				missing = append(missing, fmt.Sprintf("%q (for %s)", strings.Join(fs.Columns, "|"), def.column))
			}
			return nil
		}
		targets[strings.ToLower(def.column)] = true
		m.cols = append(m.cols, cm)
		return nil
	}
	for _, target := range slices.Sorted(maps.Keys(em.Fields)) {
		def, ok := sc.lookup(target)
		if !ok {
			return nil, fmt.Errorf("mapping line %d: %q is not a field of %s", em.Fields[target].Line, target, em.Entity)
		}
		if err := add(def, em.Fields[target]); err != nil {
			return nil, err
		}
	}
	// Header columns named like the entity's own columns map to themselves unless already used as a source
	// or mapped explicitly: a mapping file lists only what differs from the default layout.
	for i, h := range hdr {
		if h == "" {
			continue
		}
		def, ok := sc.lookup(h)
		if !ok || targets[strings.ToLower(def.column)] {
			continue
		}
		if explicit[i] {
			continue
		}
		if err := add(def, FieldSpec{Columns: []string{h}}); err != nil {
			return nil, err
		}
	}
	for _, k := range sc.keyColumns {
		if !targets[strings.ToLower(k)] {
			missing = append(missing, fmt.Sprintf("%q (key of %s)", k, em.Entity))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("missing column(s) %s", strings.Join(missing, ", "))
	}
	order := map[string]int{}
	for i, f := range sc.fields {
		order[strings.ToLower(f.column)] = i
	}
	sort.SliceStable(m.cols, func(i, j int) bool {
		oi, iok := order[strings.ToLower(m.cols[i].def.column)]
		oj, jok := order[strings.ToLower(m.cols[j].def.column)]
		if iok != jok {
			return iok
		}
		if !iok {
			return m.cols[i].def.column < m.cols[j].def.column
		}
		return oi < oj
	})
	seenIdx := map[int]bool{}
	for _, c := range m.cols {
		for _, i := range c.src {
			if !seenIdx[i] {
				seenIdx[i] = true
				m.srcIdx = append(m.srcIdx, i)
				m.width = max(m.width, i+1)
			}
		}
	}
	slices.Sort(m.srcIdx)
	m.byPath = slices.Clone(m.cols)
	slices.SortStableFunc(m.byPath, func(a, b *colMapper) int { return strings.Compare(a.outPath(), b.outPath()) })
	for _, k := range sc.keyColumns {
		for _, c := range m.cols {
			if strings.EqualFold(c.def.column, k) {
				m.keys = append(m.keys, c)
			}
		}
	}
	for _, c := range m.cols {
		switch c.def.role {
		case roleCommand:
			m.command = c
		case roleDeleted:
			m.deleted = c
		case roleRemoteID:
			m.remoteID = c
		case roleAccount:
			m.account = append(m.account, c)
		}
		if c.def.jsonText {
			if m.textPaths == nil {
				m.textPaths = map[string]bool{}
			}
			m.textPaths[c.def.payloadPath()] = true
		}
		if c.def.secret {
			if m.secret == nil {
				m.secret = make([]bool, len(hdr))
			}
			for _, i := range c.src {
				m.secret[i] = true
			}
		}
	}
	m.fingerprint = m.computeFingerprint()
	return m, nil
}

// computeFingerprint hashes the Mapper's configuration. Anything that cannot be encoded makes it unique to this
// process (RawHash then never matches a stored hash, which only costs speed).
func (m *Mapper) computeFingerprint() uint64 {
	type colPrint struct {
		Column, Layout string
		Src            []int
		Spec           FieldSpec
		Trim, DecComma bool
		// DecimalRule is decimalCommaRule for a number read with a decimal comma, so that rows synced while
		// such cells meant something else are mapped again; 0 (left out) elsewhere, where nothing changed.
		DecimalRule int `json:",omitempty"`
	}
	cols := make([]colPrint, len(m.cols))
	for i, c := range m.cols {
		cols[i] = colPrint{Column: c.def.column, Layout: c.layout, Src: c.src, Spec: c.fs, Trim: c.trim, DecComma: c.decComma}
		if c.readsDecimalComma() {
			cols[i].DecimalRule = decimalCommaRule
		}
	}
	refs := make([]string, 0, len(m.refText))
	for e, t := range m.refText {
		refs = append(refs, string(e)+"="+t)
	}
	sort.Strings(refs)
	b, err := json.Marshal(struct {
		Version, Entity, ID string
		Refs                []string
		Options             Options
		Cols                []colPrint
	}{HashVersion, string(m.entity), m.idText, refs, m.opts, cols})
	if err != nil {
		return uint64(time.Now().UnixNano())
	}
	return fnvAdd(fnvOffset64, string(b), true)
}

// decimalCommaRule numbers the reading of decimal-comma numbers. 2: a dot separates thousands only in groups of
// three, and a spreadsheet's number cell is read as stored (1: every dot was dropped, 1.5 became 15).
const decimalCommaRule = 2

// readsDecimalComma reports whether the column parses its cells as numbers with a decimal comma.
func (c *colMapper) readsDecimalComma() bool {
	return c.decComma && (c.def.kind == KindNumber || (c.def.kind == KindJSON && c.def.check == checkJSONNumber))
}

// DecimalCommaColumns returns the header indexes the Mapper reads as numbers with a decimal comma, ascending:
// there a spreadsheet's number cell (see MapWithNumbers) means something else than the same text in CSV.
func (m *Mapper) DecimalCommaColumns() []int {
	var out []int
	for _, c := range m.cols {
		if c.readsDecimalComma() {
			out = append(out, c.src...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WithNumberCells folds a row's spreadsheet-number columns into its raw hash (see RawHash): 1.234 is a
// thousand and more as decimal-comma text but not as a spreadsheet number, so the two rows must not look alike.
func WithNumberCells(raw uint64, numberCells []int) uint64 {
	for _, c := range numberCells {
		raw = rawMix(raw, uint64(c)+1)
	}
	return raw
}

// keyPart reads one key column of a row; reason says why it is not a usable key.
func (m *Mapper) keyPart(c *colMapper, cells []string) (v, col, reason string) {
	v, col, st := m.raw(c, cells)
	switch {
	case st == cellAbsent:
		return "", col, "missing key " + c.def.column
	case st == cellClear:
		return v, col, "a key cannot be cleared"
	case isSpreadsheetError(v):
		return v, col, spreadsheetErrorReason(v)
	}
	v, reason = m.text(c, v)
	if reason == "" && looksLikeExcelScientific(v) {
		reason = excelScientificReason
	}
	return v, col, reason
}

// Key returns the ERP key of a row exactly as Map computes it, without mapping the rest of the row; ok is
// false when a key cell is missing or invalid (Map says why).
func (m *Mapper) Key(cells []string) (key string, ok bool) {
	if len(m.keys) == 1 {
		if v, _, reason := m.keyPart(m.keys[0], cells); reason == "" {
			return v, true
		}
		return "", false
	}
	parts := make([]string, 0, len(m.keys))
	for _, c := range m.keys {
		v, _, reason := m.keyPart(c, cells)
		if reason != "" {
			return "", false
		}
		parts = append(parts, v)
	}
	return JoinKey(parts...), true
}

// RawHash hashes a row's cells together with everything about the Mapper that shapes its record (entity,
// columns, transforms, options, id templates). Two rows with the same raw hash map to the same record, so a
// planner may treat a row whose raw hash equals the one recorded at the last sync as unchanged without
// mapping it. The converse does not hold (reordered columns, another file format), so a mismatch only means
// "map it and compare the row hash". Like Hash, it is persisted, so it leaves the secret columns out (their
// cells count as blank): nothing derived from a password hash is kept, and a changed hash does not make a
// synced row look changed (Account says why).
func (m *Mapper) RawHash(cells []string) uint64 {
	h := m.fingerprint
	for i, c := range cells {
		if i < len(m.secret) && m.secret[i] {
			c = ""
		}
		h = rawMix(h, uint64(len(c)))
		for len(c) >= 8 {
			h = rawMix(h, uint64(c[0])|uint64(c[1])<<8|uint64(c[2])<<16|uint64(c[3])<<24|
				uint64(c[4])<<32|uint64(c[5])<<40|uint64(c[6])<<48|uint64(c[7])<<56)
			c = c[8:]
		}
		var tail uint64
		for i := 0; i < len(c); i++ {
			tail |= uint64(c[i]) << (8 * i)
		}
		h = rawMix(h, tail)
	}
	return h
}

// rawMix folds one 64-bit word into h, eight bytes at a time (FNV's byte loop costs too much on the hot path of
// a million-row re-run). The constants are from splitmix64; the function is fixed, since raw hashes persist.
func rawMix(h, w uint64) uint64 {
	h ^= w
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 31
	h *= 0x94d049bb133111eb
	return h ^ h>>29
}

// outPath is the Record.Fields path a column writes: the column, or a reference's payload path when the
// reference is cleared.
func (c *colMapper) outPath() string {
	if c.def.role == roleRef && c.def.refPath != "" {
		return c.def.refPath
	}
	return c.def.payloadPath()
}

func isKeyColumn(sc *schema, col string) bool { return containsFold(sc.keyColumns, col) }

type cellState uint8

const (
	cellAbsent cellState = iota
	cellClear
	cellSet
)

// raw returns the first non-blank source cell (after trimming), the column it came from and whether the
// cell is the clear sentinel. Cells beyond the row's length are blank.
func (m *Mapper) raw(c *colMapper, cells []string) (string, string, cellState) {
	if c.fs.Const != nil {
		v := *c.fs.Const
		if c.trim {
			v = strings.TrimSpace(v)
		}
		return m.classify(v, "", c)
	}
	if k, v := c.firstSet(cells); k >= 0 {
		return m.classify(v, c.srcNames[k], c)
	}
	name := ""
	if len(c.srcNames) > 0 {
		name = c.srcNames[0]
	}
	if c.fs.Default != "" {
		return m.classify(c.fs.Default, name, c)
	}
	return "", name, cellAbsent
}

// firstSet returns the position in c.src of the first source cell that is not blank (after trimming) and its
// value as read (trimmed), -1 if there is none.
func (c *colMapper) firstSet(cells []string) (int, string) {
	for k, i := range c.src {
		if i >= len(cells) {
			continue
		}
		v := cells[i]
		if c.trim {
			v = strings.TrimSpace(v)
		}
		if v != "" {
			return k, v
		}
	}
	return -1, ""
}

// readsNumberCell reports whether c takes its value from one of numberCells (header indexes, ascending).
func (c *colMapper) readsNumberCell(cells []string, numberCells []int) bool {
	if len(numberCells) == 0 || c.fs.Const != nil {
		return false
	}
	k, _ := c.firstSet(cells)
	if k < 0 {
		return false
	}
	_, found := slices.BinarySearch(numberCells, c.src[k])
	return found
}

func (m *Mapper) classify(v, col string, c *colMapper) (string, string, cellState) {
	if m.opts.ClearSentinel != "" && v == m.opts.ClearSentinel {
		return v, col, cellClear
	}
	return v, col, cellSet
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// text applies the text transforms (zeros, case, value map, date) to a set cell.
func (m *Mapper) text(c *colMapper, v string) (string, string) {
	if c.fs.StripLeadingZeros {
		t := strings.TrimLeft(v, "0")
		if t == "" && v != "" {
			t = "0"
		}
		v = t
	}
	if c.fs.Pad > len(v) && isDigits(v) {
		v = strings.Repeat("0", c.fs.Pad-len(v)) + v
	}
	if c.fs.Upper {
		v = strings.ToUpper(v)
	} else if c.fs.Lower {
		v = strings.ToLower(v)
	}
	if c.fs.Map != nil {
		if to, ok := c.fs.Map[v]; ok {
			v = to
		} else {
			found := false
			for from, to := range c.fs.Map {
				if strings.EqualFold(from, v) {
					v, found = to, true
					break
				}
			}
			if !found && c.fs.StrictMap {
				return v, "value is not in the mapping's map"
			}
		}
	}
	if c.fs.Date != "" && c.def.kind != KindDate {
		d, err := normalizeDate(v, c.layout)
		if err != nil {
			return v, err.Error()
		}
		v = d
	}
	return v, ""
}

// Map maps one row. cells are read by header position and never retained: the row is copied once, so the
// reader may reuse its buffers (values of one record share that copy). The Record is returned even when there are errors (with whatever could be
// mapped), but a row with errors must not be sent. Delete and Ignore rows are only checked for their key.
func (m *Mapper) Map(pos formats.Position, cells []string) (Record, []FieldError) {
	return m.MapWithNumbers(pos, cells, nil)
}

// MapWithNumbers is Map for a spreadsheet row whose numberCells (header indexes, ascending; see
// formats.Row.Numbers) are number cells: their text is the stored value, written with a decimal point
// whatever the locale, so a decimal comma does not apply to them.
func (m *Mapper) MapWithNumbers(pos formats.Position, cells []string, numberCells []int) (Record, []FieldError) {
	cells = m.copyCells(cells)
	rec := Record{Entity: m.entity, Pos: pos}
	var errs []FieldError
	fail := func(c *colMapper, col, value, reason string) {
		if col == "" {
			col = c.def.column
			if c.fs.Const != nil {
				col = c.def.column + " (const)"
			}
		}
		errs = append(errs, FieldError{Pos: pos, Column: col, Field: c.def.column, Value: value, Reason: reason})
	}

	// Command first: it decides how much of the row matters.
	var cmdSet bool
	if c := m.command; c != nil {
		v, col, st := m.raw(c, cells)
		if st != cellAbsent {
			v, _ = m.text(c, v)
			cmd, err := ParseCommand(v)
			if err != nil || st == cellClear {
				fail(c, col, v, "unknown command: use UPSERT, DELETE or IGNORE")
			} else {
				rec.Command, cmdSet = cmd, true
			}
		}
	}
	if c := m.deleted; c != nil && (!cmdSet || rec.Command == Upsert) {
		v, col, st := m.raw(c, cells)
		if st == cellSet {
			v, _ = m.text(c, v)
			del, err := ParseBool(v)
			switch {
			case err != nil:
				fail(c, col, v, "not a deletion flag: use X, 1, true or yes to delete; blank, 0, false or no to keep")
			case del && cmdSet:
				// The row says both: upserting would keep a record the ERP deleted, deleting would drop one it
				// says to write. Neither is a guess custsync makes.
				fail(c, col, v, "deleted is TRUE but command is UPSERT; say one thing")
			case del:
				rec.Command = Delete
			}
		} else if st == cellClear {
			fail(c, col, v, "not a deletion flag: use X, 1, true or yes to delete; blank, 0, false or no to keep")
		}
	}
	// The key. An IGNORE row still names its key: in --mode full the key is present in the snapshot and must not
	// be taken for a deletion. Its key is not judged, though: an ignored row never fails.
	vars := make(map[string]string, len(m.keys))
	keyOK := true
	for i, c := range m.keys {
		v, col, reason := m.keyPart(c, cells)
		if reason != "" {
			if rec.Command != Ignore {
				fail(c, col, v, reason)
			}
			keyOK = false
			continue
		}
		rec.KeyParts = append(rec.KeyParts, v)
		vars[m.sc.idVars[i]] = v
	}
	if keyOK {
		rec.Key = JoinKey(rec.KeyParts...)
		if rec.Command == Ignore {
			return rec, errs
		}
		id, err := m.idTmpl.apply(m.idText, vars)
		if err != nil {
			errs = append(errs, FieldError{Pos: pos, Column: "", Field: "id", Reason: err.Error()})
		}
		rec.RemoteID = id
		// Key columns that are also references (an address's customer, a contact's company and customer).
		for _, c := range m.keys {
			if c.def.refEntity == "" {
				continue
			}
			k := rec.KeyParts[slices.Index(m.keys, c)]
			rid, err := m.refTmpl[c.def.refEntity].apply(m.refText[c.def.refEntity], map[string]string{"key": k})
			if err != nil {
				fail(c, "", k, err.Error())
			}
			rec.Refs = append(rec.Refs, Ref{Entity: c.def.refEntity, Column: c.def.column, Path: c.def.refPath, Key: k, RemoteID: rid})
		}
	}
	if rec.Command == Ignore {
		return rec, errs
	}
	if c := m.remoteID; c != nil {
		v, col, st := m.raw(c, cells)
		if st == cellClear {
			fail(c, col, v, "the customer number cannot be cleared")
		} else if st == cellSet {
			v, reason := m.text(c, v)
			switch {
			case reason != "":
				fail(c, col, v, reason)
			case looksLikeExcelScientific(v):
				fail(c, col, v, excelScientificReason)
			case !IsValidID(v):
				fail(c, col, v, "not a valid platform id: 1-66 characters of A-Z a-z 0-9 _ -")
			default:
				rec.RemoteID = v
			}
		}
	}
	if rec.Command == Delete {
		return rec, errs
	}

	// The fields.
	rec.Fields = make([]Field, 0, len(m.byPath))
	var blankShared []int // indexes into rec.Fields of blank clears of paths another column may write
	for _, c := range m.byPath {
		switch c.def.role {
		case roleKey, roleCommand, roleDeleted, roleRemoteID, roleAccount:
			continue
		}
		v, col, st := m.raw(c, cells)
		blankClear := st == cellAbsent && m.opts.BlankCells == BlankClear && (c.def.refPath != "" || c.def.role == roleField)
		if blankClear {
			st = cellClear
			if p := c.def.payloadPath(); IsMixinPath(p) || m.textPaths[p] {
				blankShared = append(blankShared, len(rec.Fields))
			}
		}
		if st == cellAbsent {
			continue
		}
		if st == cellClear {
			switch {
			case c.def.noClear && c.def.kind == KindBool:
				fail(c, col, v, "the platform cannot unset "+c.def.column+"; write true or false")
			case c.def.noClear:
				fail(c, col, v, "the platform cannot unset "+c.def.column+" once it has a value")
			case c.def.role == roleRef && c.def.refPath == "":
				fail(c, col, v, "a reference without a payload field cannot be cleared; remove the row's link on the other side")
			case c.def.role == roleRef:
				rec.Fields = append(rec.Fields, Field{Path: c.def.refPath, Value: ClearValue()})
			default:
				rec.Fields = append(rec.Fields, Field{Path: c.def.payloadPath(), Value: ClearValue()})
			}
			continue
		}
		if isSpreadsheetError(v) {
			fail(c, col, v, spreadsheetErrorReason(v))
			continue
		}
		v, reason := m.text(c, v)
		if reason != "" {
			fail(c, col, v, reason)
			continue
		}
		if c.def.role == roleRef {
			keys := []string{v}
			if c.def.kind == KindList {
				keys = m.splitList(v)
			}
			for _, k := range keys {
				if looksLikeExcelScientific(k) {
					fail(c, col, k, excelScientificReason)
					continue
				}
				if isSpreadsheetError(k) {
					fail(c, col, k, spreadsheetErrorReason(k))
					continue
				}
				vars := map[string]string{"key": k}
				if c.def.refEntity == Contacts {
					var reason string
					if k, vars, reason = approvalMember(k, rec.Key); reason != "" {
						fail(c, col, k, reason)
						continue
					}
				}
				rid, err := m.refTmpl[c.def.refEntity].apply(m.refText[c.def.refEntity], vars)
				if err != nil {
					fail(c, col, k, err.Error())
					continue
				}
				rec.Refs = append(rec.Refs, Ref{Entity: c.def.refEntity, Column: c.def.column, Path: c.def.refPath, Key: k, RemoteID: rid})
			}
			continue
		}
		val, reason := m.typed(c, v, c.decComma && !c.readsNumberCell(cells, numberCells))
		if reason != "" {
			fail(c, col, v, reason)
			continue
		}
		rec.Fields = append(rec.Fields, Field{Path: c.def.payloadPath(), Value: val})
	}
	rec.Fields = dropShadowedBlankClears(rec.Fields, blankShared)
	errs = append(errs, m.mapAccount(&rec, cells)...)
	errs = append(errs, m.overlaps(rec)...)
	errs = append(errs, m.crossChecks(rec)...)
	return rec, errs
}

// approvalMember reads one member of a company's approval group: "sdCustomerNumber" names the customer's
// assignment to the company itself (companyKey), "companyKey/sdCustomerNumber" (a contact assignment's key,
// see JoinKey) an assignment to another company. It returns the assignment's key and id template variables.
func approvalMember(item, companyKey string) (key string, vars map[string]string, reason string) {
	company, customer := companyKey, item
	if strings.Contains(item, "/") {
		parts := SplitKey(item, 2)
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" || strings.Contains(parts[1], "/") {
			return item, nil, "not an approval group member: use sdCustomerNumber or companyKey/sdCustomerNumber"
		}
		company, customer = parts[0], parts[1]
	}
	if company == "" {
		return item, nil, "the company key is missing, so the member cannot be named"
	}
	return JoinKey(company, customer), map[string]string{"company": company, "customer": customer}, ""
}

// IsMixinPath reports whether a payload path or column is a mixin field or a mixin's schema URL.
func IsMixinPath(path string) bool {
	return strings.HasPrefix(path, "mixins.") || strings.HasPrefix(path, "metadata.mixins.")
}

// dropShadowedBlankClears removes the clears that blank cells make under blankCells: clear (at the indexes
// blank, of mixin paths and of text fields with a FIELD:json column) where another column of the row says
// more about the same path: a value at the path, inside it or around it (mixins.a.b set, mixins.a.b:number or
// mixins.a:json blank; lastName:json set, lastName blank), a clear around it, or an earlier clear of the same
// path. An export writes one column per mixin field and JSON type over all records, so most of a row's
// columns for a field are blank; they mean "not this way", not "clear what the other sets".
func dropShadowedBlankClears(fields []Field, blank []int) []Field {
	if len(blank) == 0 {
		return fields
	}
	drop := make(map[int]bool, len(blank))
	isBlank := make(map[int]bool, len(blank))
	for _, i := range blank {
		isBlank[i] = true
	}
	shadowed := func(i int) bool {
		p := fields[i].Path
		for j, q := range fields {
			if j == i || drop[j] {
				continue
			}
			set := !q.Value.IsClear()
			switch {
			case q.Path == p && (j < i || !isBlank[j]),
				set && (pathWithin(q.Path, p) || pathWithin(p, q.Path)),
				!set && pathWithin(p, q.Path):
				return true
			}
		}
		return false
	}
	for _, i := range blank {
		drop[i] = shadowed(i)
	}
	out := fields[:0]
	for i, f := range fields {
		if !drop[i] {
			out = append(out, f)
		}
	}
	return out
}

// pathWithin reports whether path lies strictly inside outer (outer is a dotted prefix of it).
func pathWithin(path, outer string) bool {
	return len(path) > len(outer) && path[len(outer)] == '.' && strings.HasPrefix(path, outer)
}

// overlaps reports mixin and text fields of a row that write the same payload path, or a path inside
// another's value (mixins.a.b and mixins.a.b:number, mixins.a:json and mixins.a.b, lastName and
// lastName:json): one would silently replace the other.
func (m *Mapper) overlaps(rec Record) []FieldError {
	var paths map[string]bool
	var errs []FieldError
	for _, f := range rec.Fields {
		if !IsMixinPath(f.Path) && !m.textPaths[f.Path] {
			continue
		}
		if paths == nil {
			paths = map[string]bool{}
		}
		clash := paths[f.Path]
		for i := 0; i < len(f.Path) && !clash; i++ {
			clash = f.Path[i] == '.' && paths[f.Path[:i]]
		}
		if clash {
			errs = append(errs, FieldError{Pos: rec.Pos, Column: f.Path, Field: f.Path,
				Reason: "two columns set " + f.Path + " or a path containing it; keep one per row"})
		}
		paths[f.Path] = true
	}
	return errs
}

func (m *Mapper) splitList(v string) []string {
	parts := strings.Split(v, m.opts.ListSeparator)
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// copyCells copies the cells the Mapper reads into one new string and returns cells that are substrings of
// it: two allocations per row instead of one per value, nothing aliases the reader's buffers afterwards, and
// a record of a wide ERP table does not keep its unused columns alive.
func (m *Mapper) copyCells(cells []string) []string {
	n := 0
	for _, i := range m.srcIdx {
		if i < len(cells) {
			n += len(cells[i])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, i := range m.srcIdx {
		if i < len(cells) {
			b.WriteString(cells[i])
		}
	}
	all := b.String()
	out := make([]string, min(len(cells), m.width))
	off := 0
	for _, i := range m.srcIdx {
		if i < len(out) {
			out[i] = all[off : off+len(cells[i])]
			off += len(cells[i])
		}
	}
	return out
}

// typed converts a transformed cell to the field's JSON type and validates it.
// decComma is the column's decimal comma, unless the cell is a spreadsheet number.
func (m *Mapper) typed(c *colMapper, v string, decComma bool) (Value, string) {
	d := c.def
	if d.jsonText {
		var text string
		if err := json.Unmarshal([]byte(v), &text); err != nil {
			return Value{}, `not a JSON string: write the text in quotes, e.g. "#N/A"`
		}
		if reason := decodedControlChar(v, text); reason != "" {
			return Value{}, reason
		}
		v = text
	}
	if d.idLike && d.kind != KindList && looksLikeExcelScientific(v) {
		return Value{}, excelScientificReason
	}
	switch d.kind {
	case KindBool:
		b, err := ParseBool(v)
		if err != nil {
			return Value{}, err.Error()
		}
		return BoolValue(b), ""
	case KindNumber:
		f, err := ParseNumber(v, decComma)
		if err != nil {
			return Value{}, err.Error()
		}
		if d.minZero && f < 0 {
			return Value{}, "must not be negative"
		}
		return NumberValue(f), ""
	case KindDate:
		s, err := normalizeDate(v, c.layout)
		if err != nil {
			return Value{}, err.Error()
		}
		return DateValue(s), ""
	case KindJSON:
		return jsonCell(v, d.check == checkJSONNumber, decComma)
	case KindList:
		items := m.splitList(v)
		for i := range items {
			if d.check == checkEmail && !IsEmail(items[i]) {
				return Value{}, fmt.Sprintf("%q is not an e-mail address", items[i])
			}
			if d.idLike && looksLikeExcelScientific(items[i]) {
				return Value{}, fmt.Sprintf("%q %s", items[i], excelScientificReason)
			}
		}
		return Value{kind: KindList, list: items}, ""
	}
	switch d.check {
	case checkEmail:
		if !IsEmail(v) {
			return Value{}, "not an e-mail address"
		}
	case checkCountry:
		v = strings.ToUpper(v)
		if !IsCountryCode(v) {
			return Value{}, "not an ISO 3166-1 alpha-2 country code (e.g. DE, US, GB)"
		}
	case checkCurrency:
		v = strings.ToUpper(v)
		if !IsCurrencyCode(v) {
			return Value{}, "not an ISO 4217 currency code (3 letters, e.g. EUR, USD)"
		}
	case checkEnum:
		u := strings.ToUpper(v)
		if !containsFold(d.enum, u) {
			return Value{}, "unknown " + d.column + ": use " + strings.Join(d.enum, ", ")
		}
		v = u
	case checkLocale:
		if !isLocale(v) {
			return Value{}, "not a language tag such as en_US, de_DE or fr"
		}
	}
	return StringValue(v), ""
}

// crossChecks validates rules spanning columns.
func (m *Mapper) crossChecks(rec Record) []FieldError {
	if m.entity != Companies {
		return nil
	}
	var errs []FieldError
	var parent *Ref
	for i := range rec.Refs {
		if rec.Refs[i].Column == ParentKeyColumn {
			parent = &rec.Refs[i]
		}
	}
	if t, ok := rec.Get("type"); ok && !t.IsClear() && t.String() == "SUBSIDIARY" && parent == nil {
		errs = append(errs, FieldError{Pos: rec.Pos, Column: ParentKeyColumn, Field: ParentKeyColumn, Reason: "a SUBSIDIARY needs a parent company (parentCompanyKey)"})
	}
	if parent != nil && rec.Key != "" && parent.Key == rec.Key {
		errs = append(errs, FieldError{Pos: rec.Pos, Column: ParentKeyColumn, Field: ParentKeyColumn, Value: parent.Key, Reason: "a company cannot be its own parent"})
	}
	return errs
}
