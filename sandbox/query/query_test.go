package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// corpusJSON is a small set of documents shaped like the platform's customers, legal entities and
// products, decoded with encoding/json exactly as the sandbox stores them.
const corpusJSON = `[
 {"id":"c1","customerNumber":"13869000","contactEmail":"john.smith@example.com","name":"John","surname":"Smith",
  "active":true,"primary":true,"code":"A705121667","tags":["BILLING","VIP"],
  "metadata":{"createdAt":"2021-05-18T07:27:27.455Z","version":3},
  "customerGroups":[{"id":"g-admin","name":{"en":"Admin","de":"Verwaltung"}},{"id":"g-buyer","name":{"en":"Buyer"}}],
  "description":{"en":null},
  "mixins":{"productCustomAttributes":{"maxOrderQuantity":20},"mixinName":{"x":1}},
  "legalEntity":{"id":"le-1"}},
 {"id":"c2","customerNumber":"13869001","contactEmail":"jack@example.com","name":"Jack","surname":"Smithers",
  "active":false,"code":"AB CD 99","tags":["SHIPPING"],
  "metadata":{"createdAt":"2021-05-19T10:00:00Z","version":1},
  "customerGroups":[{"id":"g-buyer"}],
  "description":{"en":"Yoghurt image"},
  "mixins":{"productCustomAttributes":{"maxOrderQuantity":5}}},
 {"id":"c3","customerNumber":"0042","name":"James","surname":"Doe","active":true,"tags":[],
  "metadata":{"createdAt":"2020-01-07T10:29:30.602Z","version":2},
  "mixins":{"productCustomAttributes":{"maxOrderQuantity":10.5}},
  "locDescription":{"fr":"Description traduction française 02"}},
 {"id":"c4","name":"Exact match","surname":null,"categoryRestricted":true,
  "metadata":{"createdAt":"2019-06-01T00:00:00Z"},"code":"ABCD12-x"},
 {"id":"5c3325baa9812100098ff48f","name":"apple_logo","flag":"true","count":"20"},
 {"id":"5c3325baa9812100098ff494","name":{"en":"apple_logo"},"count":20}
]`

func corpus(t testing.TB) []map[string]any {
	t.Helper()
	var docs []map[string]any
	if err := json.Unmarshal([]byte(corpusJSON), &docs); err != nil {
		t.Fatalf("decode corpus: %v", err)
	}
	return docs
}

func matchingIDs(t *testing.T, q string, docs []map[string]any) []string {
	t.Helper()
	expr, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	ids := []string{}
	for _, doc := range docs {
		if expr.Match(doc) {
			ids = append(ids, doc["id"].(string))
		}
	}
	return ids
}

func TestParseAndMatch(t *testing.T) {
	all := []string{"c1", "c2", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}
	tests := []struct {
		name string
		q    string
		want []string
	}{
		{"empty query matches all", "", all},
		{"blank query matches all", " \t ", all},

		// Exact match, verbatim doc examples.
		{"exact bare (q-param.md)", "name:apple_logo", []string{"5c3325baa9812100098ff48f"}},
		{"exact quoted with spaces (CM trait)", `name:"Exact match"`, []string{"c4"}},
		{"exact is case-sensitive", `name:"exact match"`, []string{}},
		{"contactEmail (tenant spec example)", "contactEmail:john.smith@example.com", []string{"c1"}},
		{"numeric-looking string id matches bare value", "customerNumber:13869000", []string{"c1"}},
		{"leading zeros stay significant for strings", "customerNumber:0042", []string{"c3"}},
		{"leading zeros stay significant, no numeric match", "customerNumber:42", []string{}},
		{"escaped quote in quoted value", `name:"Ex\act match"`, []string{"c4"}},

		// Localized fields are dotted paths.
		{"localized bare (q-param.md)", "name.en:apple_logo", []string{"5c3325baa9812100098ff494"}},
		{"localized quoted (CM trait)", `locDescription.fr:"Description traduction française 02"`, []string{"c3"}},

		// Contains.
		{"contains (CM trait)", "name:~John", []string{"c1"}},
		{"contains is case-insensitive", "name:~john", []string{"c1"}},
		{"contains substring", "surname:~Smith", []string{"c1", "c2"}},
		{"contains code (q-param.md)", "code:~ABCD12", []string{"c4"}},
		{"contains with spaces in parentheses (q-param.md)", "code:(~AB CD)", []string{"c2"}},
		{"contains ~( ) form (q-param.md)", "description.en:~(Yoghurt im)", []string{"c2"}},
		{"contains quoted", `code:~"b cd"`, []string{"c2"}},
		{"contains treats regex metacharacters literally", "contactEmail:~N.SMITH@", []string{"c1"}},
		{"contains dot is not a wildcard", "code:~A.B", []string{}},
		{"contains does not match numbers", "count:~2", []string{"5c3325baa9812100098ff48f"}},

		// Numbers.
		{"number >= (q-param.md)", "mixins.productCustomAttributes.maxOrderQuantity:>=20", []string{"c1"}},
		{"number >", "mixins.productCustomAttributes.maxOrderQuantity:>10", []string{"c1", "c3"}},
		{"number <", "mixins.productCustomAttributes.maxOrderQuantity:<10", []string{"c2"}},
		{"number <=", "mixins.productCustomAttributes.maxOrderQuantity:<=10.5", []string{"c2", "c3"}},
		{"number equality", "mixins.productCustomAttributes.maxOrderQuantity:20", []string{"c1"}},
		{"number equality with exponent", "mixins.productCustomAttributes.maxOrderQuantity:2e1", []string{"c1"}},
		{"bare number matches number and string", "count:20", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"quoted number matches strings only", `count:"20"`, []string{"5c3325baa9812100098ff48f"}},
		{"number compare ignores strings", "count:>=20", []string{"5c3325baa9812100098ff494"}},
		{"negative bound", "metadata.version:>-1", []string{"c1", "c2", "c3"}},

		// Ranges.
		{"range (q-param.md)", "mixins.productCustomAttributes.maxOrderQuantity:(>=10 AND <=20)", []string{"c1", "c3"}},
		{"range exclusive", "mixins.productCustomAttributes.maxOrderQuantity:(>10 AND <20)", []string{"c3"}},
		{"range lowercase and", "metadata.version:(>1 and <3)", []string{"c3"}},
		{"date range (CM trait)", `metadata.createdAt:(>"2019-01-06T10:29:30.602Z" AND <"2020-01-07T10:29:30.602Z")`, []string{"c4"}},
		{"date range (q-param.md)", `metadata.createdAt:(>="2021-05-18T07:27:27.455Z" AND <"2021-05-20T07:27:27.455Z")`, []string{"c1", "c2"}},
		{"date compare as instants across precision", `metadata.createdAt:>"2021-05-19T10:00:00.000Z"`, []string{}},
		{"date compare >= equal instant, other precision", `metadata.createdAt:>="2021-05-19T10:00:00.000Z"`, []string{"c2"}},
		{"date compare with offset", `metadata.createdAt:<"2019-06-01T02:00:00+02:00"`, []string{}},
		{"date compare unquoted", "metadata.createdAt:<2020-01-01T00:00:00Z", []string{"c4"}},
		{"date-only bound compares lexically", `metadata.createdAt:<"2020-01-08"`, []string{"c3", "c4"}},

		// Booleans.
		{"boolean true (q-param.md)", "categoryRestricted:true", []string{"c4"}},
		{"boolean primary (CM trait)", "primary:true", []string{"c1"}},
		{"boolean false", "active:false", []string{"c2"}},
		{"bare true also matches the string true", "flag:true", []string{"5c3325baa9812100098ff48f"}},
		{"quoted true matches only the string", `active:"true"`, []string{}},

		// null / exists / missing.
		{"null matches explicit null (q-param.md)", "description.en:null", []string{"c1", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"null on top-level null", "surname:null", []string{"c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"exists (q-param.md)", "mixins.mixinName:exists", []string{"c1"}},
		{"missing (q-param.md)", "mixins.mixinName:missing", []string{"c2", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"exists includes explicit null", "surname:exists", []string{"c1", "c2", "c3", "c4"}},
		{"missing excludes explicit null", "surname:missing", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"exists on empty array", "tags:exists", []string{"c1", "c2", "c3"}},
		{"quoted keyword is a plain string", `name:"null"`, []string{}},

		// IN-lists.
		{"list of ids (q-param.md)", "id:(5c3325baa9812100098ff48f,5c3325baa9812100098ff494)", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"quoted list (CM trait)", `name:("John","Jack","James")`, []string{"c1", "c2", "c3"}},
		{"mixed list with spaces", `name:(John, "Exact match" ,Nobody)`, []string{"c1", "c4"}},
		{"list with comma inside quotes", `code:("AB CD 99","x,y")`, []string{"c2"}},
		{"list of numbers", "metadata.version:(1,3)", []string{"c1", "c2"}},
		{"list with null", "metadata.version:(null,2)", []string{"c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"single-element list", "name:(Jack)", []string{"c2"}},

		// Arrays.
		{"array of strings", "tags:BILLING", []string{"c1"}},
		{"array of objects by path", "customerGroups.id:g-buyer", []string{"c1", "c2"}},
		{"array of objects, localized", "customerGroups.name.en:Admin", []string{"c1"}},
		{"array contains", "tags:~ship", []string{"c2"}},
		{"array in-list", "tags:(VIP,NONE)", []string{"c1"}},
		{"array index", "customerGroups.0.id:g-buyer", []string{"c2"}},
		{"nested object", "legalEntity.id:le-1", []string{"c1"}},

		// Several terms are ANDed.
		{"AND of two terms (q-param.md)", "id:c1 code:A705121667", []string{"c1"}},
		{"AND excluding (CM trait)", `name:"John" surname:~Smith`, []string{"c1"}},
		{"AND of disjoint terms", "name:John name:Jack", []string{}},
		{"terms separated by tabs and newlines", "active:true\ttags:BILLING\n", []string{"c1"}},

		// A field name made of dots and letters that does not exist.
		{"unknown field matches nothing", "nope:1", []string{}},
		{"unknown field null matches all", "nope.deeper:null", all},
	}
	docs := corpus(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := matchingIDs(t, tc.q, docs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("q=%s\n got %v\nwant %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		q        string
		column   int
		contains string
	}{
		{"name", 1, "expected ':' after field"},
		{"name:", 6, "missing value"},
		{"name: John", 6, "missing value"},
		{`name:"John`, 6, "unterminated"},
		{`name:"John\`, 6, "unterminated"},
		{"name:(John", 6, "unclosed"},
		{"name:()", 6, "empty parentheses"},
		{"name:(a,,b)", 9, "empty value in list"},
		{"name:(a,b,)", 11, "trailing"},
		{"name:((a))", 7, "nested parentheses"},
		{`name:("a" b)`, 11, "expected ','"},
		{"name:~", 7, "missing value"},
		{"name:(~ )", 6, "missing value after '~'"},
		{"n:>", 4, "missing value"},
		{"n:>>1", 3, "unknown comparison operator"},
		{"n:=>1", 0, ""}, // "=>1" is an ordinary value: no error
		{"n:(>=1 AND)", 11, "missing condition"},
		{"n:(>=1 OR <=2)", 8, "OR is not supported"},
		{"n:(>=1 <=2)", 8, "expected AND"},
		{"n:(>=1 AND 5)", 12, "range conditions start with"},
		{"name:John OR name:Jack", 11, "OR is not supported"},
		{"name:John AND name:Jack", 11, "AND between terms"},
		{"(name:John)", 1, "parenthesised groups"},
		{"compoundLogicalQuery:((name:a) OR (name:b))", 1, "compoundLogicalQuery"},
		{":value", 1, "missing field name"},
		{"a..b:1", 1, "empty path segment"},
		{".a:1", 1, "empty path segment"},
		{`name:Jo"hn`, 8, "quote the value"},
		{"name:Jo(hn", 8, "quote the value"},
		{`name:"John"x`, 12, "separate terms with a space"},
		{"name:(John)x", 12, "separate terms with a space"},
		{"ä:1 ö", 5, "expected ':' after field"}, // columns count characters, not bytes
		{"name:~(a\"b)", 7, "unterminated"},
		{"=x", 1, "expected field:value"},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			expr, err := Parse(tc.q)
			if tc.contains == "" {
				if err != nil || expr == nil {
					t.Fatalf("Parse(%q) = %v, want success", tc.q, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", tc.q, tc.contains)
			}
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if syntaxErr.Param != "q" || syntaxErr.Column != tc.column || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("Parse(%q) error = %q (column %d), want column %d containing %q", tc.q, err, syntaxErr.Column, tc.column, tc.contains)
			}
		})
	}
}

func TestNilAndEmptyExprMatchEverything(t *testing.T) {
	var nilExpr *Expr
	if !nilExpr.Match(map[string]any{"a": 1}) || !(&Expr{}).Match(nil) {
		t.Fatal("nil or empty Expr must match every document")
	}
	expr, err := Parse("a:1")
	if err != nil {
		t.Fatal(err)
	}
	if expr.Match(nil) {
		t.Error("a:1 matched a nil document")
	}
}

func TestMatchHandBuiltDocuments(t *testing.T) {
	doc := map[string]any{
		"tags":     []string{"BILLING"},
		"groups":   []map[string]any{{"id": "g1"}},
		"names":    map[string]string{"en": "Apple"},
		"version":  int64(7),
		"quantity": json.Number("12.5"),
		"ints":     []int{1, 2, 3},
	}
	for _, q := range []string{"tags:BILLING", "groups.id:g1", "names.en:~app", "version:7", "version:>=7", "quantity:(>12 AND <13)", "ints:2", "ints:(>2 AND <4)"} {
		expr, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if !expr.Match(doc) {
			t.Errorf("%s did not match %v", q, doc)
		}
	}
	for _, q := range []string{"ints:(>1 AND <2)", "version:8", "quantity:12"} {
		expr, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if expr.Match(doc) {
			t.Errorf("%s matched %v", q, doc)
		}
	}
}

func TestLookup(t *testing.T) {
	docs := corpus(t)
	c1 := docs[0]
	tests := []struct {
		path      string
		want      any
		wantFound bool
	}{
		{"metadata.createdAt", "2021-05-18T07:27:27.455Z", true},
		{"mixins.productCustomAttributes.maxOrderQuantity", float64(20), true},
		{"legalEntity.id", "le-1", true},
		{"customerGroups.id", []any{"g-admin", "g-buyer"}, true},
		{"customerGroups.name.de", []any{"Verwaltung"}, true},
		{"customerGroups.1.id", "g-buyer", true},
		{"customerGroups.5.id", nil, false},
		{"customerGroups.nope", nil, false},
		{"tags", []any{"BILLING", "VIP"}, true},
		{"description.en", nil, true},
		{"description.en.x", nil, false},
		{"name.en", nil, false},
		{"", nil, false},
		{"nope", nil, false},
	}
	for _, tc := range tests {
		got, found := Lookup(c1, tc.path)
		if found != tc.wantFound || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tc.path, got, found, tc.want, tc.wantFound)
		}
	}
	nested := map[string]any{"a": []any{map[string]any{"b": []any{1.0, 2.0}}, map[string]any{"b": 3.0}, "scalar"}}
	got, found := Lookup(nested, "a.b")
	if !found || !reflect.DeepEqual(got, []any{1.0, 2.0, 3.0}) {
		t.Errorf("Lookup(a.b) = %#v, %v; want flattened [1 2 3]", got, found)
	}
	if _, found := Lookup(nil, "a"); found {
		t.Error("Lookup on a nil document found something")
	}
}

func ids(docs []map[string]any) []string {
	out := make([]string, len(docs))
	for i, doc := range docs {
		out[i], _ = doc["id"].(string)
	}
	return out
}

func TestSortDocs(t *testing.T) {
	tests := []struct {
		sort string
		want []string
	}{
		{"", []string{"c1", "c2", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"metadata.createdAt", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c4", "c3", "c1", "c2"}},
		{"metadata.createdAt:asc", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c4", "c3", "c1", "c2"}},
		{"metadata.createdAt:desc", []string{"c2", "c1", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"metadata.createdAt:DESC", []string{"c2", "c1", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		// "descending order is taken only if it is equal to desc or DESC".
		{"metadata.createdAt:Desc", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c4", "c3", "c1", "c2"}},
		{"metadata.createdAt:foo", []string{"5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c4", "c3", "c1", "c2"}},
		// Numbers sort numerically (10.5 after 5), missing first.
		{"mixins.productCustomAttributes.maxOrderQuantity", []string{"c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c2", "c3", "c1"}},
		// Several keys; ties on the first keep the second's order, and stability keeps input order.
		{"active:desc,name", []string{"c3", "c1", "c2", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{" active:desc , name:asc ", []string{"c3", "c1", "c2", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		// Strings sort byte-wise: upper case before lower case; numbers before strings; null/missing first.
		{"count", []string{"c1", "c2", "c3", "c4", "5c3325baa9812100098ff494", "5c3325baa9812100098ff48f"}},
		// Arrays sort by their smallest element (ascending) or largest (descending); [] is missing.
		{"tags", []string{"c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c1", "c2"}},
		{"tags:desc", []string{"c1", "c2", "c3", "c4", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494"}},
		{"customerGroups.id:desc,id", []string{"c1", "c2", "5c3325baa9812100098ff48f", "5c3325baa9812100098ff494", "c3", "c4"}},
	}
	for _, tc := range tests {
		t.Run(tc.sort, func(t *testing.T) {
			docs := corpus(t)
			if err := SortDocs(docs, tc.sort); err != nil {
				t.Fatalf("SortDocs(%q): %v", tc.sort, err)
			}
			if got := ids(docs); !slices.Equal(got, tc.want) {
				t.Errorf("sort=%s\n got %v\nwant %v", tc.sort, got, tc.want)
			}
		})
	}
}

func TestSortDocsMixedTypes(t *testing.T) {
	docs := []map[string]any{
		{"id": "bool", "v": true},
		{"id": "str", "v": "a"},
		{"id": "obj", "v": map[string]any{}},
		{"id": "num", "v": 2.0},
		{"id": "null", "v": nil},
		{"id": "false", "v": false},
		{"id": "int", "v": 1},
	}
	if err := SortDocs(docs, "v"); err != nil {
		t.Fatal(err)
	}
	want := []string{"null", "int", "num", "str", "obj", "false", "bool"}
	if got := ids(docs); !slices.Equal(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestSortDocsErrors(t *testing.T) {
	tests := []struct {
		sort     string
		column   int
		contains string
	}{
		{",", 1, "empty sort property"},
		{"name,", 6, "empty sort property"},
		{"name,,id", 6, "empty sort property"},
		{"name:", 6, "missing direction"},
		{"name:asc:desc", 6, "too many ':'"},
		{":asc", 1, "missing field name"},
		{"a..b", 1, "empty path segment"},
		{"name asc", 5, "unexpected ' '"},
		{"na(me", 3, "unexpected '('"},
	}
	for _, tc := range tests {
		t.Run(tc.sort, func(t *testing.T) {
			docs := corpus(t)
			before := ids(docs)
			err := SortDocs(docs, tc.sort)
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("SortDocs(%q) = %v, want *SyntaxError", tc.sort, err)
			}
			if syntaxErr.Param != "sort" || syntaxErr.Column != tc.column || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("SortDocs(%q) error = %q (column %d), want column %d containing %q", tc.sort, err, syntaxErr.Column, tc.column, tc.contains)
			}
			if got := ids(docs); !slices.Equal(got, before) {
				t.Errorf("a failed sort reordered the documents: %v", got)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse, Match or SortDocs panic, and that every parse error is a
// *SyntaxError pointing inside the input.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "name:apple_logo", `name:"Exact match"`, "name:~John", "code:(~AB CD)", "name.en:~(Yoghurt im)",
		"mixins.productCustomAttributes.maxOrderQuantity:(>=10 AND <=20)",
		`metadata.createdAt:(>"2019-01-06T10:29:30.602Z" AND <"2020-01-07T10:29:30.602Z")`,
		"categoryRestricted:true", "description.en:null", "mixins.mixinName:exists", "mixins.mixinName:missing",
		`name:("John","Jack","James")`, `name:"John" surname:~Smith`, "compoundLogicalQuery:((a:1) OR (b:2))",
		`a:"\`, "a:(", `a:("`, "a:~(", "ä:ö", "a:(>", "tags:BILLING customerGroups.id:g-buyer", "a.0.b:>-1e3",
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	docs := corpus(f)
	f.Fuzz(func(t *testing.T, q string) {
		expr, err := Parse(q)
		if err != nil {
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", q, err)
			}
			if syntaxErr.Column < 1 || syntaxErr.Column > len([]rune(q))+1 {
				t.Fatalf("Parse(%q) column %d outside the input", q, syntaxErr.Column)
			}
			return
		}
		for _, doc := range docs {
			expr.Match(doc)
		}
		_ = SortDocs(slices.Clone(docs), q)
	})
}

func BenchmarkParseAndMatch(b *testing.B) {
	docs := corpus(b)
	q := `name:("John","Jack","James") metadata.createdAt:(>="2021-05-18T07:27:27.455Z" AND <"2021-05-20T07:27:27.455Z") tags:~bill`
	b.ReportAllocs()
	for b.Loop() {
		expr, err := Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		for _, doc := range docs {
			expr.Match(doc)
		}
	}
}

func BenchmarkSortDocs(b *testing.B) {
	base := corpus(b)
	docs := make([]map[string]any, 0, 6000)
	for len(docs) < cap(docs) {
		docs = append(docs, base...)
	}
	b.ReportAllocs()
	for b.Loop() {
		work := slices.Clone(docs)
		if err := SortDocs(work, "metadata.createdAt:desc,name"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStringsAt(t *testing.T) {
	for _, tc := range []struct {
		q, path string
		want    []string
		ok      bool
	}{
		{`id:C1`, "id", []string{"C1"}, true},
		{`active:true id:"C 1"`, "id", []string{"C 1"}, true},
		{`id:(C1,"C2",3)`, "id", []string{"C1", "C2", "3"}, true},
		{`id:(C1,null)`, "id", nil, false}, // admits customers without an id field
		{`id:~C1`, "id", nil, false},
		{`id:>C1`, "id", nil, false},
		{`customerNumber:C1`, "id", nil, false},
		{`id:exists`, "id", nil, false},
		{``, "id", nil, false},
	} {
		expr, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		got, ok := expr.StringsAt(tc.path)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%q at %s: %q %v, want %q %v", tc.q, tc.path, got, ok, tc.want, tc.ok)
		}
		// The promise: a document whose value is not among the strings does not match.
		if ok && expr.Match(map[string]any{tc.path: "not-listed", "active": true}) {
			t.Errorf("%q matches a value it does not list", tc.q)
		}
	}
	var nilExpr *Expr
	if _, ok := nilExpr.StringsAt("id"); ok || !nilExpr.Empty() {
		t.Error("nil expression")
	}
}

func TestOrderKeysCompareAgreeWithSortDocs(t *testing.T) {
	docs := corpus(t)
	for _, param := range []string{"name", "metadata.createdAt:desc,name", "tags:desc,id", "missing,id:desc"} {
		order, err := ParseOrder(param)
		if err != nil {
			t.Fatal(err)
		}
		byKeys := slices.Clone(docs)
		slices.SortStableFunc(byKeys, func(a, b map[string]any) int { return order.Compare(order.Keys(a), order.Keys(b)) })
		sorted := slices.Clone(docs)
		if err := SortDocs(sorted, param); err != nil {
			t.Fatal(err)
		}
		for i := range sorted {
			if fmt.Sprint(sorted[i]) != fmt.Sprint(byKeys[i]) {
				t.Fatalf("%s: position %d differs", param, i)
			}
		}
	}
	if order, err := ParseOrder(" "); err != nil || !order.Empty() {
		t.Errorf("blank sort: %v %v", order, err)
	}
	if _, err := ParseOrder("a::b"); err == nil {
		t.Error("malformed sort accepted")
	}
}
