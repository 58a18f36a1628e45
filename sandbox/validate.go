package sandbox

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
)

// valueKind is the JSON type a writable field must have.
type valueKind int

const (
	kString valueKind = iota
	kBool
	kInt
	kNumber
	kObject      // an object with a known sub-schema
	kFreeObject  // any JSON object (mixins)
	kStringArray // array of strings
	kRefArray    // array of {"id": string}
	kObjectArray // array of objects with the sub-schema
	kStringMap   // an object whose members are all strings
)

// field describes one member of a request body. A member the schema does not define is refused: the
// platform's deserialisers bind a request to the schema of its operation and content type, so a member
// outside it is at best silently dropped (an ERP onHold=true lost on create); refusing it is what makes a
// client that sends one fail its tests instead of losing data on the platform.
type field struct {
	kind     valueKind
	sub      schema
	enum     []string
	minLen   int // for strings, 0 = no minimum
	maxLen   int // for strings and (kStringArray) item count, 0 = no maximum
	minValue *float64
	pattern  *regexp.Regexp
	// coerce accepts a number where a string is wanted (converted to its decimal text).
	coerce bool
	// nullable marks the members the spec declares `nullable: true`: only they take null in an
	// application/json body.
	nullable bool
}

type schema map[string]field

var customIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,66}$`)

// validIDMessage explains the custom id rule; the specs' regex `^[a-zA-Z0-9_-]$` misses its
// quantifier, the intent (and the bulk import spec) is 1-66 characters (digest §12.1).
const validIDMessage = "must be 1 to 66 characters of A-Z, a-z, 0-9, '_' and '-'."

func zero() *float64 { z := 0.0; return &z }

// bodyMode is how a body's members are read, which the content type decides.
type bodyMode int

const (
	// plainJSON is application/json: null is a value, allowed only where the schema says nullable.
	plainJSON bodyMode = iota
	// mergePatchJSON is application/merge-patch+json: null removes the member (RFC 7396).
	mergePatchJSON
)

// requestSchema is the body of one operation for one content type, named as the spec names it so that a
// refusal says which schema the request did not fit.
type requestSchema struct {
	name   string
	fields schema
	mode   bodyMode
}

// operationBody maps the media types an operation accepts to their schemas.
type operationBody map[string]requestSchema

// jsonBody is an operation that takes application/json only.
func jsonBody(name string, fields schema) operationBody {
	return operationBody{mediaJSON: {name: name, fields: fields, mode: plainJSON}}
}

const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// check validates body against the schema.
func (rs requestSchema) check(body map[string]any) []fieldProblem {
	return rs.fields.check(body, "", rs)
}

// check validates body against sc as part of rs: members sc does not define, nulls the mode does not allow
// (see bodyMode), wrong types and rule violations are reported as details. Numbers given for string fields
// marked coerce are converted in place.
func (sc schema) check(body map[string]any, prefix string, rs requestSchema) []fieldProblem {
	var problems []fieldProblem
	for _, name := range slices.Sorted(maps.Keys(body)) {
		if _, known := sc[name]; !known {
			problems = append(problems, fieldProblem{Field: prefix + name, Type: "unknown_field",
				Message: fmt.Sprintf("%s is not a field of %s (%s).", prefix+name, rs.name, rs.mediaType())})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sc)) {
		f := sc[name]
		v, present := body[name]
		path := prefix + name
		if !present {
			continue
		}
		if v == nil {
			if rs.mode == plainJSON && !f.nullable {
				problems = append(problems, fieldProblem{Field: path, Type: "invalid_value",
					Message: fmt.Sprintf("%s must not be null: %s (%s) does not allow null there.", path, rs.name, rs.mediaType())})
			}
			continue
		}
		bad := func(msg string) {
			problems = append(problems, fieldProblem{Field: path, Type: "invalid_value", Message: path + " " + msg})
		}
		wrongType := func(want string) {
			problems = append(problems, fieldProblem{Field: path, Type: "invalid_type", Message: fmt.Sprintf("%s must be %s.", path, want)})
		}
		switch f.kind {
		case kString:
			s, ok := v.(string)
			if !ok {
				if n, isNum := v.(float64); isNum && f.coerce {
					s = formatNumber(n)
					body[name] = s
				} else {
					wrongType("a string")
					continue
				}
			}
			if f.minLen > 0 && len([]rune(s)) < f.minLen || f.maxLen > 0 && len([]rune(s)) > f.maxLen {
				if f.minLen == f.maxLen {
					bad(fmt.Sprintf("must be exactly %d characters long.", f.minLen))
				} else {
					bad(fmt.Sprintf("must be between %d and %d characters long.", f.minLen, f.maxLen))
				}
				continue
			}
			if f.pattern != nil && !f.pattern.MatchString(s) {
				bad(validIDMessage)
				continue
			}
			if len(f.enum) > 0 && !contains(f.enum, s) {
				bad(fmt.Sprintf("must be one of %v.", f.enum))
			}
		case kBool:
			if _, ok := v.(bool); !ok {
				wrongType("a boolean")
			}
		case kInt:
			n, ok := v.(float64)
			if !ok || n != math.Trunc(n) {
				wrongType("an integer")
				continue
			}
			if f.minValue != nil && n < *f.minValue {
				bad(fmt.Sprintf("must be at least %v.", *f.minValue))
			}
		case kNumber:
			n, ok := v.(float64)
			if !ok {
				wrongType("a number")
				continue
			}
			if f.minValue != nil && n < *f.minValue {
				bad(fmt.Sprintf("must be at least %v.", *f.minValue))
			}
		case kObject:
			obj, ok := v.(map[string]any)
			if !ok {
				wrongType("an object")
				continue
			}
			problems = append(problems, f.sub.check(obj, path+".", rs)...)
		case kFreeObject:
			if _, ok := v.(map[string]any); !ok {
				wrongType("an object")
			}
		case kStringMap:
			obj, ok := v.(map[string]any)
			if !ok {
				wrongType("an object of strings")
				continue
			}
			for _, x := range obj {
				if _, ok := x.(string); !ok {
					wrongType("an object of strings")
					break
				}
			}
		case kStringArray:
			arr, ok := v.([]any)
			if !ok {
				wrongType("an array of strings")
				continue
			}
			for _, item := range arr {
				if _, ok := item.(string); !ok {
					wrongType("an array of strings")
					break
				}
			}
			if f.maxLen > 0 && len(arr) > f.maxLen {
				bad(fmt.Sprintf("must have at most %d item(s).", f.maxLen))
			}
		case kRefArray:
			arr, ok := v.([]any)
			if !ok {
				wrongType(`an array of {"id": string} objects`)
				continue
			}
			for i, item := range arr {
				obj, ok := item.(map[string]any)
				id, isStr := obj["id"].(string)
				if !ok || !isStr || id == "" {
					problems = append(problems, fieldProblem{Field: fmt.Sprintf("%s[%d].id", path, i), Type: "missing_value",
						Message: fmt.Sprintf("%s[%d].id must be a non-empty string.", path, i)})
					continue
				}
				problems = append(problems, refSchema.check(obj, fmt.Sprintf("%s[%d].", path, i), rs)...)
			}
		case kObjectArray:
			arr, ok := v.([]any)
			if !ok {
				wrongType("an array of objects")
				continue
			}
			for i, item := range arr {
				obj, ok := item.(map[string]any)
				if !ok {
					wrongType("an array of objects")
					break
				}
				problems = append(problems, f.sub.check(obj, fmt.Sprintf("%s[%d].", path, i), rs)...)
			}
		}
	}
	return problems
}

// The two metadata members of request bodies: a create's takes only the mixin schema links
// (BasicMetadataDto, metadata_create; the address create's even forbids more), an update's also the version
// for optimistic locking (DefaultDtoMetadata, metadataUpdate).
var (
	metadataMixinsOnly  = field{kind: kObject, sub: schema{"mixins": {kind: kFreeObject}}}
	metadataWithVersion = field{kind: kObject, sub: schema{"mixins": {kind: kFreeObject}, "version": {kind: kInt, minValue: one()}}}
)

// refSchema is the {"id"} reference of kRefArray items (the spec's resourceId).
var refSchema = schema{"id": {kind: kString}}

// mediaType names the content type of a mode, for messages.
func (rs requestSchema) mediaType() string {
	if rs.mode == mergePatchJSON {
		return mediaMergePatch
	}
	return mediaJSON
}

// pick copies the members of body that sc knows, recursively for kObject members. With keepNull
// false, null members are dropped (replace semantics: null = absent); with keepNull true they stay
// (merge-patch semantics: null = remove).
func (sc schema) pick(body map[string]any, keepNull bool) map[string]any {
	out := map[string]any{}
	for name, f := range sc {
		v, present := body[name]
		if !present {
			continue
		}
		if v == nil {
			if keepNull {
				out[name] = nil
			}
			continue
		}
		if f.kind == kObject {
			if obj, ok := v.(map[string]any); ok {
				out[name] = f.sub.pick(obj, keepNull)
				continue
			}
		}
		out[name] = normalizeValue(v)
	}
	return out
}

// mergePatch applies an RFC 7396 merge patch to target in place.
func mergePatch(target, patch map[string]any) {
	for k, v := range patch {
		if v == nil {
			delete(target, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			tv, ok := target[k].(map[string]any)
			if !ok {
				tv = map[string]any{}
			}
			mergePatch(tv, pv)
			target[k] = tv
			continue
		}
		target[k] = v
	}
}

func formatNumber(n float64) string {
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		return fmt.Sprintf("%d", int64(n))
	}
	return fmt.Sprintf("%v", n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bodyVersion returns metadata.version from a write body, if it carries one.
func bodyVersion(body map[string]any) (int, bool) {
	md, _ := body["metadata"].(map[string]any)
	v, ok := md["version"].(float64)
	if !ok {
		return 0, false
	}
	return int(v), true
}

// docVersion returns a stored document's metadata.version (1 when unset).
func docVersion(doc map[string]any) int {
	md, _ := doc["metadata"].(map[string]any)
	if v, ok := md["version"].(float64); ok {
		return int(v)
	}
	return 1
}

func str(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

func requireString(body map[string]any, name string) *fieldProblem {
	s, ok := body[name].(string)
	if !ok || s == "" {
		return &fieldProblem{Field: name, Type: "missing_value", Message: name + " is required."}
	}
	return nil
}
