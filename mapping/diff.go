package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// FieldChange is one field a row would change. Old and New are JSON values (string, bool, float64,
// []string, or nil for absent/cleared).
type FieldChange struct {
	Path string `json:"path"`
	Old  any    `json:"old"`
	New  any    `json:"new"`
}

// String renders `path: old -> new` with JSON values, "(none)" for absent or cleared.
func (c FieldChange) String() string {
	return fmt.Sprintf("%s: %s -> %s", c.Path, jsonText(c.Old), jsonText(c.New))
}

func jsonText(v any) string {
	if v == nil {
		return "(none)"
	}
	// Values are shown as the user wrote them: "&", "<" and ">" are not escaped for HTML.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// DiffFields lists the fields whose desired state differs between two records of the same key (e.g. the row
// last synchronised and the row now). Fields absent from next keep their value and are not changes; a field
// next clears is a change only if prev set it. References are compared by key under their column name
// (e.g. "parentCompanyKey"). The result is sorted by path.
func DiffFields(prev, next Record) []FieldChange {
	var out []FieldChange
	for _, f := range next.Fields {
		old, ok := prev.Get(f.Path)
		switch {
		case ok && old.Equal(f.Value):
		case !ok && f.Value.IsClear():
		default:
			var ov any
			if ok {
				ov = old.Interface()
			}
			out = append(out, FieldChange{Path: f.Path, Old: ov, New: f.Value.Interface()})
		}
	}
	pk, nk := refKeys(prev), refKeys(next)
	for _, col := range slices.Sorted(maps.Keys(nk)) {
		if col == "" {
			continue
		}
		if !slices.Equal(pk[col], nk[col]) {
			out = append(out, FieldChange{Path: col, Old: refValue(pk[col]), New: refValue(nk[col])})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func refKeys(r Record) map[string][]string {
	m := map[string][]string{}
	for _, ref := range r.Refs {
		if containsFold(KeyColumns(r.Entity), ref.Column) {
			continue // key parts are the identity, never a change
		}
		m[ref.Column] = append(m[ref.Column], ref.Key)
	}
	for k := range m {
		sort.Strings(m[k])
	}
	return m
}

func refValue(keys []string) any {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		return keys[0]
	}
	return keys
}

// DiffRemote lists the fields the row would change on a remote record (decoded from the platform's JSON):
// Set fields that differ, Clear fields the remote has a non-empty value for (a null mixin field counts as a
// value), and references (by payload path and remote id) that differ. Lists compare as sets; lists of objects
// compare by their "id". Numbers compare numerically whatever their JSON decoding (float64 or json.Number); a
// JSON null the row sets differs from a field the remote lacks. The result is sorted by path.
func DiffRemote(remote map[string]any, r Record) []FieldChange {
	sc := schemas[r.Entity]
	var out []FieldChange
	for _, f := range r.Fields {
		old, present := getPath(remote, f.Path)
		if f.Value.IsClear() {
			// A platform field that is null is as good as cleared, except in a mixin, where null is data.
			if !isEmptyJSON(old) || (old == nil && present && IsMixinPath(f.Path)) {
				out = append(out, FieldChange{Path: f.Path, Old: normalizeJSON(old), New: nil})
			}
			continue
		}
		want := payloadValue(sc, f.Path, f.Value)
		var same bool
		if f.Value.Kind() == KindJSON {
			// A null the row sets is a value: a record without the field does not hold it.
			same = jsonEqual(old, want) && (want != nil || present)
		} else {
			same = sameJSON(old, want)
		}
		if !same {
			out = append(out, FieldChange{Path: f.Path, Old: normalizeJSON(old), New: f.Value.Interface()})
		}
	}
	byPath := map[string][]string{}
	isList := map[string]bool{}
	for _, ref := range r.Refs {
		if ref.Path == "" {
			continue
		}
		byPath[ref.Path] = append(byPath[ref.Path], ref.RemoteID)
		if def := defByPath(sc, ref.Path); def != nil && def.kind == KindList {
			isList[ref.Path] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		old, _ := getPath(remote, p)
		var want any = byPath[p][0]
		if isList[p] {
			want = stringsToAny(byPath[p])
		}
		if !sameJSON(old, want) {
			nv := any(byPath[p][0])
			if isList[p] {
				nv = byPath[p]
			}
			out = append(out, FieldChange{Path: p, Old: normalizeJSON(old), New: nv})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func isEmptyJSON(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case []string:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// normalizeJSON turns a remote value into the forms FieldChange uses: lists of ids/strings become []string.
func normalizeJSON(v any) any {
	if l, ok := listItems(v); ok {
		return l
	}
	if f, ok := number(v); ok {
		return f
	}
	return v
}

func listItems(v any) ([]string, bool) {
	var items []any
	switch t := v.(type) {
	case []any:
		items = t
	case []string:
		return append([]string{}, t...), true
	default:
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			id, _ := x["id"].(string)
			out = append(out, id)
		default:
			out = append(out, fmt.Sprint(x))
		}
	}
	return out, true
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return f, err == nil
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

func sameJSON(remote, want any) bool {
	if wl, ok := listItems(want); ok {
		rl, ok := listItems(remote)
		if !ok {
			return remote == nil && len(wl) == 0
		}
		a, b := append([]string{}, rl...), append([]string{}, wl...)
		sort.Strings(a)
		sort.Strings(b)
		return slices.Equal(a, b)
	}
	if wf, ok := number(want); ok {
		rf, ok := number(remote)
		return ok && rf == wf
	}
	switch w := want.(type) {
	case bool:
		r, ok := remote.(bool)
		return ok && r == w
	case string:
		r, ok := remote.(string)
		return ok && r == w
	}
	return remote == want
}

// jsonEqual compares two decoded JSON values deeply, numbers by value whatever their decoding.
func jsonEqual(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []string:
		return jsonEqual(stringsToAny(x), b)
	case string, bool, nil:
		return a == b // a is comparable, so this cannot panic whatever b holds
	}
	return false
}

// Changed returns r with only the fields and references whose paths diff names: what a patch of those changes
// sends (a reference without a path, one that is not a field of the payload, is left out).
func (r Record) Changed(diff []FieldChange) Record {
	changed := make(map[string]bool, len(diff))
	for _, c := range diff {
		changed[c.Path] = true
	}
	out := r
	out.Fields = nil
	for _, f := range r.Fields {
		if changed[f.Path] {
			out.Fields = append(out.Fields, f)
		}
	}
	out.Refs = nil
	for _, ref := range r.Refs {
		if ref.Path != "" && changed[ref.Path] {
			out.Refs = append(out.Refs, ref)
		}
	}
	return out
}
