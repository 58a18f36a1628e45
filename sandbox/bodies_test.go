package sandbox

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestRequestBodiesMatchSpecs holds every request body the sandbox reads to the official spec of its
// operation: the same content types, and per content type the same members (nested ones included), each of
// the same JSON type and nullability. The sandbox refuses every member its schema lacks, so a member the
// spec has and the sandbox lacks would refuse a valid request, and a member the sandbox has and the spec
// lacks would accept one the platform may drop; both fail here.
func TestRequestBodiesMatchSpecs(t *testing.T) {
	t.Parallel()
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	routes := map[string]route{}
	for _, rt := range srv.routes {
		routes[rt.method+" "+rt.path] = rt
	}
	compared := 0
	for _, file := range []string{"customer-service-tenant-managed.api.yml", "customer-management.api.yml"} {
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "specs", file))
		if err != nil {
			t.Fatal(err)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.RequestBody == nil || op.RequestBody.Value == nil {
					continue
				}
				rt, ok := routes[method+" "+path]
				if !ok {
					t.Errorf("%s %s: the spec has a request body, the sandbox has no such route", method, path)
					continue
				}
				content := op.RequestBody.Value.Content
				if got, want := slices.Sorted(maps.Keys(rt.accepts)), slices.Sorted(maps.Keys(content)); !slices.Equal(got, want) {
					t.Errorf("%s %s: the sandbox takes %v, the spec %v", method, path, got, want)
					continue
				}
				for media, mt := range content {
					want := map[string]string{}
					specMembers(mt.Schema, "", want)
					got := map[string]string{}
					sandboxMembers(rt.accepts[media].fields, "", got)
					for _, k := range slices.Sorted(maps.Keys(want)) {
						if got[k] != want[k] {
							t.Errorf("%s %s (%s) %s: the spec says %q, the sandbox %q", method, path, media, k, want[k], got[k])
						}
					}
					for _, k := range slices.Sorted(maps.Keys(got)) {
						if _, ok := want[k]; !ok {
							t.Errorf("%s %s (%s) %s: the sandbox takes a member the spec does not have", method, path, media, k)
						}
					}
					compared++
				}
			}
		}
	}
	if compared < 18 {
		t.Fatalf("compared only %d request bodies", compared)
	}
}

// specMembers flattens a spec schema into member path -> "type" (with "?" when nullable), merging allOf
// and descending into objects with properties and into array items ("[]."). An object without properties
// is "free" (mixins, maps).
func specMembers(ref *openapi3.SchemaRef, prefix string, out map[string]string) {
	if ref == nil || ref.Value == nil {
		return
	}
	s := ref.Value
	if s.Type.Is(openapi3.TypeArray) && prefix == "" {
		specMembers(s.Items, "", out) // a top-level array body (the bulk import): its items
		return
	}
	for name, prop := range properties(s) {
		path := prefix + name
		p := merged(prop.Value)
		nullable := ""
		if p.nullable {
			nullable = "?"
		}
		switch {
		case p.typ == openapi3.TypeArray:
			out[path] = "array" + nullable
			if p.items != nil && len(properties(p.items.Value)) > 0 {
				specMembers(p.items, path+"[].", out)
			}
		case p.typ == openapi3.TypeObject || p.typ == "" && len(properties(prop.Value)) > 0:
			if len(properties(prop.Value)) == 0 {
				out[path] = "free" + nullable
				continue
			}
			out[path] = "object" + nullable
			specMembers(prop, path+".", out)
		case p.typ == "" && prop.Value.AdditionalProperties.Schema != nil:
			out[path] = "free" + nullable
		default:
			out[path] = p.typ + nullable
		}
	}
}

type mergedSchema struct {
	typ      string
	nullable bool
	items    *openapi3.SchemaRef
}

// merged reads a property's type, nullability and items through its allOf.
func merged(s *openapi3.Schema) mergedSchema {
	var m mergedSchema
	if s.Type != nil && len(s.Type.Slice()) > 0 {
		m.typ = s.Type.Slice()[0]
	}
	m.nullable = s.Nullable
	m.items = s.Items
	for _, sub := range s.AllOf {
		sm := merged(sub.Value)
		if m.typ == "" {
			m.typ = sm.typ
		}
		m.nullable = m.nullable || sm.nullable
		if m.items == nil {
			m.items = sm.items
		}
	}
	return m
}

// properties collects a schema's properties through allOf (later definitions win, as in the specs'
// refinements such as contactEmail's description).
func properties(s *openapi3.Schema) map[string]*openapi3.SchemaRef {
	out := map[string]*openapi3.SchemaRef{}
	for _, sub := range s.AllOf {
		maps.Copy(out, properties(sub.Value))
	}
	maps.Copy(out, s.Properties)
	return out
}

// sandboxMembers flattens a sandbox schema the way specMembers flattens a spec schema.
func sandboxMembers(sc schema, prefix string, out map[string]string) {
	for name, f := range sc {
		path := prefix + name
		nullable := ""
		if f.nullable {
			nullable = "?"
		}
		switch f.kind {
		case kString:
			out[path] = "string" + nullable
		case kBool:
			out[path] = "boolean" + nullable
		case kInt:
			out[path] = "integer" + nullable
		case kNumber:
			out[path] = "number" + nullable
		case kObject:
			out[path] = "object" + nullable
			sandboxMembers(f.sub, path+".", out)
		case kFreeObject, kStringMap:
			out[path] = "free" + nullable
		case kStringArray:
			out[path] = "array" + nullable
		case kRefArray:
			out[path] = "array" + nullable
			sandboxMembers(refSchema, path+"[].", out)
		case kObjectArray:
			out[path] = "array" + nullable
			sandboxMembers(f.sub, path+"[].", out)
		default:
			panic(fmt.Sprintf("sandboxMembers: kind %d of %s", f.kind, strings.TrimSuffix(path, ".")))
		}
	}
}
