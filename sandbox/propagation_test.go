package sandbox

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// hierarchy creates A <- B <- C and A <- D (child <- parent) and the customers X and Y.
func hierarchy(t *testing.T, a *testAPI) {
	t.Helper()
	a.must(201, "PUT", cm+"/legal-entities/A", map[string]any{"name": "A", "type": "COMPANY"})
	a.must(201, "PUT", cm+"/legal-entities/B", map[string]any{"name": "B", "type": "SUBSIDIARY", "parentId": "A"})
	a.must(201, "PUT", cm+"/legal-entities/C", map[string]any{"name": "C", "type": "SUBSIDIARY", "parentId": "B"})
	a.must(201, "PUT", cm+"/legal-entities/D", map[string]any{"name": "D", "type": "SUBSIDIARY", "parentId": "A"})
	a.must(201, "PUT", cust+"/X", map[string]any{"lastName": "X"})
	a.must(201, "PUT", cust+"/Y", map[string]any{"lastName": "Y"})
}

func assign(company, customer, typ string) map[string]any {
	return map[string]any{"legalEntity": map[string]any{"id": company}, "customer": map[string]any{"id": customer}, "type": typ}
}

// assignmentsOf returns a customer's assignments by company.
func assignmentsOf(t *testing.T, a *testAPI, customer string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, item := range a.must(200, "GET", cm+"/contact-assignments?pageSize=100&customer.id="+customer, nil).list(t) {
		m := item
		out[m["legalEntity"].(map[string]any)["id"].(string)] = m
	}
	return out
}

func companies(m map[string]map[string]any) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}

// TestContactAssignmentsPropagateUpward: with the default setting, assigning a customer to a subsidiary
// creates corresponding assignments at every ancestor that has none for the customer; they are ordinary
// assignments (generated ids, the type of the one assigned, not primary) that can be edited and deleted; a
// later replace or delete of the assignment changes none of them, and they go with their own company.
func TestContactAssignmentsPropagateUpward(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, Options{})
	hierarchy(t, a)
	a.must(201, "PUT", cm+"/contact-assignments/y-at-a", assign("A", "Y", "BILLING"))
	a.must(201, "PUT", cm+"/contact-assignments/x-at-c", map[string]any{"legalEntity": map[string]any{"id": "C"},
		"customer": map[string]any{"id": "X"}, "type": "LOGISTICS", "primary": true})
	x := assignmentsOf(t, a, "X")
	if companies(x) != "A,B,C" {
		t.Fatalf("X is assigned to %s, want A,B,C (C and its ancestors)", companies(x))
	}
	for _, c := range []string{"A", "B"} {
		p := x[c]
		if id := p["id"].(string); len(id) != 24 || p["type"] != "LOGISTICS" || p["primary"] != false {
			t.Errorf("propagated assignment at %s: %v", c, p)
		}
	}
	// A company where the customer is assigned already gets nothing more.
	a.must(201, "POST", cm+"/contact-assignments", assign("C", "Y", "CONTACT"))
	y := assignmentsOf(t, a, "Y")
	if companies(y) != "A,B,C" || y["A"]["id"] != "y-at-a" || y["A"]["type"] != "BILLING" {
		t.Fatalf("Y after its assignment to C: %v", y)
	}
	// Replacing the assignment propagates nothing; neither does deleting it.
	a.must(204, "PUT", cm+"/contact-assignments/x-at-c", assign("C", "X", "CONTACT"))
	if got := assignmentsOf(t, a, "X"); got["A"]["type"] != "LOGISTICS" || got["B"]["type"] != "LOGISTICS" {
		t.Fatalf("a replace changed the propagated assignments: %v", got)
	}
	a.must(204, "DELETE", cm+"/contact-assignments/x-at-c", nil)
	if got := companies(assignmentsOf(t, a, "X")); got != "A,B" {
		t.Fatalf("after deleting the assignment to C, X is assigned to %s, want A,B", got)
	}
	// A propagated assignment is an ordinary one: it can be replaced and deleted.
	atB := x["B"]["id"].(string)
	a.must(204, "PUT", cm+"/contact-assignments/"+atB, assign("B", "X", "PRIMARY"))
	if got := a.must(200, "GET", cm+"/contact-assignments/"+atB, nil).obj(t); got["type"] != "PRIMARY" {
		t.Fatalf("replaced propagated assignment: %v", got)
	}
	// Deleting B takes its subsidiary C and the assignments to both; A's stay.
	a.must(204, "DELETE", cm+"/legal-entities/B", nil)
	if got := companies(assignmentsOf(t, a, "X")); got != "A" {
		t.Fatalf("after deleting B, X is assigned to %s, want A", got)
	}
	if got := companies(assignmentsOf(t, a, "Y")); got != "A" {
		t.Fatalf("after deleting B, Y is assigned to %s, want A", got)
	}
	// Deleting the customer takes the rest.
	a.must(202, "DELETE", cust+"/X", nil)
	if got := assignmentsOf(t, a, "X"); len(got) != 0 {
		t.Fatalf("assignments of a deleted customer: %v", got)
	}
}

// TestContactAssignmentsPropagateDownwardOrNot: DOWNWARD copies an assignment to every descendant, DISABLED
// to none; an unknown setting is refused.
func TestContactAssignmentsPropagateDownwardOrNot(t *testing.T) {
	t.Parallel()
	down := newTestAPI(t, Options{ContactPropagation: PropagateDownward})
	hierarchy(t, down)
	down.must(201, "PUT", cm+"/contact-assignments/x-at-b", assign("B", "X", "CONTACT"))
	if got := companies(assignmentsOf(t, down, "X")); got != "B,C" {
		t.Fatalf("DOWNWARD from B: X is assigned to %s, want B,C", got)
	}
	down.must(201, "POST", cm+"/contact-assignments", assign("A", "Y", "CONTACT"))
	if got := companies(assignmentsOf(t, down, "Y")); got != "A,B,C,D" {
		t.Fatalf("DOWNWARD from A: Y is assigned to %s, want A,B,C,D", got)
	}
	off := newTestAPI(t, Options{ContactPropagation: PropagateDisabled})
	hierarchy(t, off)
	off.must(201, "PUT", cm+"/contact-assignments/x-at-c", assign("C", "X", "CONTACT"))
	if got := companies(assignmentsOf(t, off, "X")); got != "C" {
		t.Fatalf("DISABLED: X is assigned to %s, want C", got)
	}
	if _, err := New(Options{ContactPropagation: "SIDEWAYS"}); err == nil {
		t.Fatal("an unknown propagation setting was accepted")
	}
}
