package sandbox

// Company contact propagation (seed 003, "Company Contact Propagation"; tenant configuration
// companyContactPropagation, digest §8.4 rule 3):
//
//   - UPWARD (the default): "Contacts assigned to a subsidiary are also visible at the parent company level."
//   - DOWNWARD: "Contacts assigned to a parent company are also visible in all subsidiaries."
//   - DISABLED: "Contacts remain only in the company where they were assigned."
//
// "Propagation happens only at the moment of assignment - creating the contact in the selected company also
// creates corresponding contacts in related companies according to the chosen direction." The sandbox reads
// that as follows, where the documentation says no more:
//
//   - The corresponding contacts are ordinary contact assignments with ids the platform generates; the spec
//     has no member that marks them, so a response cannot tell them from assignments made by a request.
//     They can be read, replaced and deleted like any other.
//   - Related companies are every ancestor (UPWARD: the parent, its parent, up to the root) or every
//     descendant (DOWNWARD). A company where the customer is assigned already gets nothing (one assignment
//     per customer and company).
//   - A corresponding contact has the type of the one assigned and is not primary (a subsidiary's primary
//     contact is not thereby its parent's).
//   - Only the creation of an assignment propagates (POST, or a PUT that creates). Replacing or deleting
//     the assignment later, or changing the hierarchy, changes none of the corresponding contacts. They go
//     when their own company or customer is deleted, as every assignment does.

// Propagation is a companyContactPropagation setting.
type Propagation string

// The companyContactPropagation settings.
const (
	PropagateUpward   Propagation = "UPWARD"
	PropagateDownward Propagation = "DOWNWARD"
	PropagateDisabled Propagation = "DISABLED"
)

var propagations = []Propagation{PropagateUpward, PropagateDownward, PropagateDisabled}

// propagateAssignment creates the corresponding contacts of a new assignment.
func (s *Server) propagateAssignment(tenant string, created map[string]any) {
	leID, custID := refID(created["legalEntity"]), refID(created["customer"])
	var related []string
	switch s.opts.ContactPropagation {
	case PropagateUpward:
		related = s.ancestors(tenant, leID)
	case PropagateDownward:
		related = s.descendants(tenant, leID)
	default:
		return
	}
	assigned := map[string]bool{}
	for _, a := range s.store.byRef(tenant, kindAssignment, custID) {
		assigned[refID(a["legalEntity"])] = true
	}
	for _, company := range related {
		if assigned[company] {
			continue
		}
		id := newManagementID()
		fields := map[string]any{"legalEntity": map[string]any{"id": company}, "customer": map[string]any{"id": custID},
			"type": created["type"], "primary": false}
		s.store.put(tenant, kindAssignment, id, s.buildAssignment(id, fields, 1, ""))
	}
}

// ancestors lists a legal entity's parent, grandparent and so on up to the root.
func (s *Server) ancestors(tenant, id string) []string {
	var out []string
	seen := map[string]bool{id: true}
	for doc, ok := s.store.get(tenant, kindLegalEntity, id); ok; {
		parent := str(doc, "parentId")
		if parent == "" || seen[parent] {
			break
		}
		seen[parent] = true
		if doc, ok = s.store.get(tenant, kindLegalEntity, parent); ok {
			out = append(out, parent)
		}
	}
	return out
}

// descendants lists every subsidiary of a legal entity, their subsidiaries and so on.
func (s *Server) descendants(tenant, id string) []string {
	var out []string
	seen := map[string]bool{id: true}
	for queue := []string{id}; len(queue) > 0; queue = queue[1:] {
		for _, child := range s.store.byRef(tenant, kindLegalEntity, queue[0]) {
			if c := str(child, "id"); !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}
