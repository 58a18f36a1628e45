// Package query evaluates the platform's `q` filter grammar and `sort` parameter over decoded JSON
// documents (map[string]any, []any, float64 or json.Number, string, bool, nil), so that the sandbox
// filters and orders list and search results the way the Customer Service and Customer Management do
// (digest §5.1, §5.2; standard-practices/q-param.md; Customer Management trait_q_param).
//
// # Grammar
//
// A query is a list of terms separated by white space; all terms must match (AND). There is no OR:
// compoundLogicalQuery exists only in other services (Approval, Product, Quote, ...), so it is rejected
// with an error instead of being silently ignored.
//
//	field:value            equality; value may be "double quoted" (backslash escapes \" and \\)
//	field.en:value         a dotted path; localized maps are ordinary nested objects
//	field:~value           contains, case-insensitive; also field:~"a b", field:~(a b), field:(~a b)
//	field:>N field:>=N     comparison (also < and <=); numbers unquoted, dates "quoted"
//	field:(>=a AND <=b)    range: every condition must hold (AND is case-insensitive)
//	field:true|false       booleans
//	field:null             the field is null or does not exist
//	field:exists           the field exists (even with a null value, as MongoDB's $exists)
//	field:missing          the field does not exist
//	field:(v1,v2,"v 3")    IN-list: equal to any of the values
//
// # Decisions where the documentation is vague
//
//   - `~` is a case-insensitive substring test, not a regular expression. q-param.md calls it "regex
//     patterns", but the Customer Management trait_q_param documents `name:~John` as "find an entity with
//     name field containing John value" and every Customer Management filter parameter says "the contains
//     operator is used. The operator is case-insensitive." Treating the value as a literal also means a
//     user's `.` or `+` (e-mail addresses) cannot turn into a regex or a ReDoS.
//   - String equality is exact and case-sensitive: custom ids and customer numbers are case-sensitive
//     (standard-practices/custom-id.md), and nothing documents case folding for q.
//   - A quoted value is always a string; `field:"20"` does not match the number 20, while the unquoted
//     `field:20` matches both the number 20 and the string "20" ("numbers go without quotes", digest §5.1).
//     Quoting is also how to match the literal strings "null", "true", "exists" or "missing".
//   - Comparisons are type-strict: a number bound compares only numbers, a string bound only strings.
//     Two strings that both parse as RFC 3339 times compare as instants (so fractional-second precision does
//     not matter), otherwise lexically.
//   - Array semantics follow MongoDB, which the null-or-missing wording of `field:null` points to: a path
//     through an array of objects yields the values of every element (Lookup), and a term matches an array
//     when any element matches (`tags:BILLING`, `customerGroups.id:X`). A range must be satisfied by one and
//     the same element.
//
// # Sort
//
// SortDocs takes `field`, `field:asc`, `field:desc`, several separated by commas (the tenant spec's
// "separated by colons" is a documented defect, digest §12.14). As Customer Management documents,
// descending applies only to `desc` or `DESC`; any other direction is ascending.
package query
