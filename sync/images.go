package sync

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// What a run changes is kept so that `custsync restore` can put it back: deletes keep the record as it was in
// the deletion log, updates keep the fields they changed before and after (state.UpdateImage), and a create
// records whether the platform really created the record (201) or merged into one it had, which a restore must
// not delete.

// writtenOutcome is the checkpoint row of a create or update the platform confirmed: upsertOutcome, plus for a
// create whether it created the record (HTTP status 201, else 200), and for an update its image from base (the
// record before) and after (what the write made of the changed fields, changes).
func writtenOutcome(o *op, created bool, base, after map[string]any, changes []mapping.FieldChange) (state.Outcome, error) {
	out, err := upsertOutcome(o)
	if err != nil {
		return out, err
	}
	switch {
	case o.Action == state.ActionCreate && created:
		out.HTTPStatus = http.StatusCreated
	case o.Action == state.ActionCreate:
		out.HTTPStatus = http.StatusOK
	case base != nil:
		out.Image = updateImage(base, after, changes)
	}
	return out, nil
}

// putsWholeRecord reports whether an update of e PUTs back the record read just before with the row's changed
// fields applied (Customer Management, which has no PATCH: runner.applyManagement), so that what it changes is
// the difference of those fields from that record; customers and addresses are sent the changed fields alone.
func putsWholeRecord(e mapping.Entity) bool {
	return e == mapping.Companies || e == mapping.Locations || e == mapping.Contacts
}

// imageBase is the record an update changes, as far as its image needs it: the checkpoint snapshot when it has
// a value for every changed field (custsync wrote them), else the platform's record, read with get.
func imageBase(o *op, get func() (remote.Doc, error)) (map[string]any, error) {
	for _, c := range o.diff {
		if c.Old == nil {
			return get()
		}
	}
	return o.prev, nil
}

// updateImage records each changed path's value in base and in after (null where a document has none). It is
// nil when there is nothing to record.
func updateImage(base, after map[string]any, changes []mapping.FieldChange) *state.UpdateImage {
	if len(changes) == 0 {
		return nil
	}
	before, now := make(map[string]any, len(changes)), make(map[string]any, len(changes))
	for _, c := range changes {
		before[c.Path], _ = mapping.PathValue(base, c.Path)
		now[c.Path], _ = mapping.PathValue(after, c.Path)
	}
	b, errB := json.Marshal(before)
	a, errA := json.Marshal(now)
	if errB != nil || errA != nil {
		return nil
	}
	return &state.UpdateImage{Before: b, After: a}
}

// maxMergedKeys bounds the keys a warning about merged creates names per entity.
const maxMergedKeys = 20

// mergedWarning says that n creates of entity e met a record the platform had already under the row's id and
// were merged into it (the platform answered "updated"): the upsert's answer carries no body, so what the
// record held before is gone and a restore cannot put it back. keys are the first of them.
func mergedWarning(e mapping.Entity, n int, keys []string) string {
	return fmt.Sprintf("%s: %s met a record the platform had already under the row's id and merged into it (%s): what it held before is not kept, so restore cannot put it back",
		e, state.Count(n, "create", "creates"), keysText(keys, n))
}

// keysText names the first keys of n, and how many more there are.
func keysText(keys []string, n int) string {
	named := strings.Join(keys, ", ")
	if n > len(keys) {
		named += fmt.Sprintf(" and %d more", n-len(keys))
	}
	return named
}
