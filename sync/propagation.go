package sync

import (
	"context"
	"fmt"
	"slices"

	"custsync/mapping"
	"custsync/remote"
)

// The platform copies a new contact assignment to the related companies of the hierarchy
// (companyContactPropagation, seed 003): UPWARD, the default, assigns a subsidiary's new contact to its
// parent companies too; DOWNWARD assigns a parent's to its subsidiaries. Those assignments look like any
// other (no field marks them), get ids the platform makes, and stay when the one they were copied from goes.
// custsync lives with them:
//
//   - import: a row whose customer and company the platform assigned already, by propagation or by hand,
//     takes that assignment over instead of failing with 409 (runner.adoptAssignment; with --adopt or a
//     --live dry run it is found before anything is sent, plan.adoptAssignments);
//   - check: an assignment no row names is "propagated", not a difference, when the same customer is assigned
//     to a company above or below it in the hierarchy, which explains it in either direction whatever the
//     tenant's setting (custsync cannot read it); other unnamed ones are "only on the platform";
//   - nothing deletes an assignment custsync did not write or adopt: the checkpoint never holds one.

// assignmentFacts is what check keeps of the platform's contact assignments to judge the ones no row names:
// each customer's companies and the companies' parents, not the documents.
type assignmentFacts struct {
	byID      map[string][2]string // assignment id -> customer id, company id
	companies map[string][]string  // customer id -> the companies it is assigned to
	parent    map[string]string    // company id -> parent id ("" for a top-level company)
	unnamed   []string             // the assignments no row names
}

func newAssignmentFacts() *assignmentFacts {
	return &assignmentFacts{byID: map[string][2]string{}, companies: map[string][]string{}, parent: map[string]string{}}
}

// add records an assignment; legalEntity is its embedded legal entity, whose parentId the hierarchy needs.
func (f *assignmentFacts) add(id, customerID, companyID string, legalEntity any) {
	f.byID[id] = [2]string{customerID, companyID}
	f.companies[customerID] = append(f.companies[customerID], companyID)
	if le, ok := legalEntity.(map[string]any); ok {
		if _, has := le["name"]; has { // embedded in full: its parentId (or its absence) is known
			parent, _ := le["parentId"].(string)
			f.parent[companyID] = parent
		}
	}
}

// completeHierarchy reads the companies whose parent is not known yet (the parents and grandparents of the
// companies seen), level by level, by id.
func (f *assignmentFacts) completeHierarchy(ctx context.Context, rc *remote.Client) error {
	for depth := 0; depth < 64; depth++ {
		var missing []string
		for _, companies := range f.companies {
			for _, id := range companies {
				for cur := id; cur != ""; cur = f.parent[cur] {
					if _, known := f.parent[cur]; !known {
						missing = append(missing, cur)
						break
					}
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		slices.Sort(missing)
		missing = slices.Compact(missing)
		for d, err := range rc.LegalEntitiesWhere(ctx, "id", missing) {
			if err != nil {
				return fmt.Errorf("read the parent companies of the assignments: %w", err)
			}
			id, _ := d["id"].(string)
			parent, _ := d["parentId"].(string)
			f.parent[id] = parent
		}
		for _, id := range missing {
			if _, known := f.parent[id]; !known {
				f.parent[id] = "" // gone from the platform: the chain ends here
			}
		}
	}
	return nil
}

// above reports whether company a is an ancestor of company b.
func (f *assignmentFacts) above(a, b string) bool {
	seen := map[string]bool{}
	for cur := f.parent[b]; cur != "" && !seen[cur]; cur = f.parent[cur] {
		if cur == a {
			return true
		}
		seen[cur] = true
	}
	return false
}

// propagatedFrom returns the company whose assignment of the same customer explains the assignment by
// propagation (the customer's other company below or above it), and the direction.
func (f *assignmentFacts) propagatedFrom(customerID, companyID string) (source, direction string, ok bool) {
	others := slices.Sorted(slices.Values(f.companies[customerID]))
	for _, other := range others {
		switch {
		case other == companyID:
		case f.above(companyID, other):
			return other, "up to its parent companies", true
		case f.above(other, companyID):
			return other, "down to its subsidiaries", true
		}
	}
	return "", "", false
}

// finishAssignments gives a verdict on every assignment no row names: propagated, or only on the platform.
func (c *checker) finishAssignments(ctx context.Context) error {
	f := c.assignments
	if len(f.unnamed) == 0 {
		return nil
	}
	if err := f.completeHierarchy(ctx, c.rc); err != nil {
		return err
	}
	for _, id := range f.unnamed {
		pair := f.byID[id]
		res := c.onlyOnPlatform(mapping.Contacts, id)
		if res.Key == "" {
			res.Key = c.assignmentKey(pair[0], pair[1])
		}
		if source, direction, ok := f.propagatedFrom(pair[0], pair[1]); ok {
			res.Status = CheckPropagated
			res.Detail = fmt.Sprintf("made by the platform: the customer's assignment to company %s propagates %s (companyContactPropagation)",
				c.erpKeyOr(mapping.Companies, source), direction)
		}
		c.add(res)
	}
	return nil
}

// assignmentKey is the ERP key of an assignment (company/customer) when the checkpoint knows both platform
// ids, else "".
func (c *checker) assignmentKey(customerID, companyID string) string {
	customer, ok1 := c.byCheckpointID[mapping.Customers][customerID]
	company, ok2 := c.byCheckpointID[mapping.Companies][companyID]
	if !ok1 || !ok2 {
		return ""
	}
	return mapping.JoinKey(company, customer)
}

// erpKeyOr names a platform record by its ERP key when the checkpoint knows it, else by its id.
func (c *checker) erpKeyOr(e mapping.Entity, id string) string {
	if key, ok := c.byCheckpointID[e][id]; ok {
		return fmt.Sprintf("%q", key)
	}
	return id
}
