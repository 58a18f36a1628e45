package mapping

// Field paths in platform documents, for code that works with records as the platform holds them (a restore
// puts fields back by path).

// PathValue returns the value at a dotted path of a JSON document, and whether the path exists.
func PathValue(doc map[string]any, path string) (any, bool) { return getPath(doc, path) }

// SetPath sets the value at a dotted path, creating the objects on the way; a nil value with remove set deletes
// the path instead.
func SetPath(doc map[string]any, path string, v any, remove bool) {
	if remove {
		deletePath(doc, path)
		return
	}
	setPath(doc, path, v)
}

// SameValue reports whether two JSON values of one field are the same value, as DiffRemote compares them:
// absent, null and empty are alike, numbers compare numerically, lists of strings or of {"id": ...} objects as
// sets, and anything else (mixin objects and arrays) exactly.
func SameValue(a, b any) bool {
	if isEmptyJSON(a) || isEmptyJSON(b) {
		return isEmptyJSON(a) && isEmptyJSON(b)
	}
	if idList(a) && idList(b) {
		return sameJSON(a, b)
	}
	return jsonEqual(a, b)
}

// idList reports whether v is a list of strings or of objects with a string id.
func idList(v any) bool {
	switch t := v.(type) {
	case []string:
		return true
	case []any:
		for _, it := range t {
			switch x := it.(type) {
			case string:
			case map[string]any:
				if _, ok := x["id"].(string); !ok {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	return false
}
