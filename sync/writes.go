package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"

	"custsync/mapping"
	"custsync/remote"
)

// Every platform operation takes the request schema of its content type, and custsync sends each body in
// the form that schema has, so that nothing the ERP says is dropped by a platform that binds the request to
// its schema:
//
//   - Customer create: PUT application/merge-patch+json (CustomerUpdateDto), so that blank cells keep what
//     the platform may already hold. That schema has no active and no onHold; when the row sets them, a
//     PATCH application/json (CustomerPatchBySellerDto) with just those follows, unless the platform created
//     the customer with those values already (the tenant's creation defaults, see creationDefaults).
//   - Customer update: PATCH application/json with the changed fields. A clear is null, which only the
//     merge-patch schema takes (RFC 7396), and that one lacks active and onHold: an update that clears sends
//     the merge patch, then the account flags, if they changed, as application/json.
//   - A customer value that holds a JSON null (a mixin field whose value is null): both PATCH schemas merge
//     objects, reading a null member as "remove", so the customer is read and PUT back whole as
//     application/json (CustomerUpdateBySellerDto, which replaces the writable fields and takes null as a
//     value) with the row applied, under its metadata.version (putCustomerApplied); a create that holds one
//     is followed by that PUT.
//   - Address create: PUT application/json (AddressUpdateDto), cleared fields left out (nothing there is
//     nullable).
//   - Address update: PATCH application/json with the changed fields. A PATCH cannot clear (no null), so an
//     update that clears reads the address and PUTs it back without the cleared fields, under its
//     metadata.version.
//   - Customer Management: PUT application/json of the current resource with the fields the row changes
//     applied to it, or of the row alone when it is new, cleared fields left out (see applyManagement).

// accountFlags are the customer fields only the application/json schemas have.
var accountFlags = []string{"active", "onHold"}

// takeAccountFlags moves the account flags out of body into a body of their own (nil when body has none).
func takeAccountFlags(body map[string]any) map[string]any {
	var flags map[string]any
	for _, k := range accountFlags {
		if v, ok := body[k]; ok {
			if flags == nil {
				flags = map[string]any{}
			}
			flags[k] = v
			delete(body, k)
		}
	}
	return flags
}

// createCustomer creates a customer, or merges the row into the one the platform holds under its number.
// It reports the platform's answer: whether it created it (rather than merging into one it had). The account flags the row
// sets follow in a PATCH, except those a customer the platform created has already: the tenant's creation
// defaults (see creationDefaults). A customer merged into keeps its flags, so it always gets the row's.
func (r *runner) createCustomer(ctx context.Context, id string, rec mapping.Record) (remote.Upserted, error) {
	body, err := rec.AppendPayloadJSON(make([]byte, 0, 512), accountFlags...)
	if err != nil {
		return remote.Upserted{}, fmt.Errorf("encode the customer: %w", err)
	}
	var flags map[string]any
	for _, k := range accountFlags {
		if v, ok := rec.PayloadValue(k); ok {
			if flags == nil {
				flags = map[string]any{}
			}
			flags[k] = v
		}
	}
	r.sendingCreate(id)
	up, err := r.rc.MergeUpsertCustomerJSON(ctx, id, body)
	if err != nil {
		return up, err
	}
	if rec.HasNullValue() {
		if err := putCustomerApplied(ctx, r.rc, id, rec); err != nil {
			return up, fmt.Errorf("write the null values after creating the customer: %w", err)
		}
	}
	if flags != nil && up.Created {
		flags = r.creation.differing(ctx, r.rc, id, flags)
	}
	if len(flags) > 0 {
		if err := r.rc.PatchCustomer(ctx, id, flags); err != nil {
			return up, fmt.Errorf("set %s after creating the customer: %w", strings.Join(slices.Sorted(maps.Keys(flags)), " and "), err)
		}
	}
	return up, nil
}

// creationDefaults are the account flags the platform gives a customer it creates without them: the tenant's
// configurations customerActiveOnCreation and customerOnHoldOnCreation, which custsync cannot read. They are
// learned once per run by reading back the first customer the run created (a create's 201, or a bulk import's
// new customer); from then on a created customer whose row sets the defaults needs no PATCH, which on a first
// import halves the requests.
type creationDefaults struct {
	mu     stdsync.Mutex // held while they are read
	known  atomic.Bool
	values map[string]any // written once, under mu, before known is set
}

// read returns the defaults, reading them from the customer id the platform just created unless they are known.
func (d *creationDefaults) read(ctx context.Context, rc *remote.Client, id string) (map[string]any, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readLocked(ctx, rc, id)
}

func (d *creationDefaults) readLocked(ctx context.Context, rc *remote.Client, id string) (map[string]any, error) {
	if d.known.Load() {
		return d.values, nil
	}
	doc, err := rc.GetCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	d.values = map[string]any{}
	for _, k := range accountFlags {
		if v, ok := doc[k].(bool); ok {
			d.values[k] = v
		}
	}
	d.known.Store(true)
	return d.values, nil
}

// differing returns the flags that differ from the defaults, for the customer id the platform just created.
// Until the defaults are known, one create reads them while the others send their flags rather than wait; a
// failed read only costs the PATCH.
func (d *creationDefaults) differing(ctx context.Context, rc *remote.Client, id string, flags map[string]any) map[string]any {
	var values map[string]any
	if d.known.Load() {
		values = d.values
	} else {
		if !d.mu.TryLock() {
			return flags
		}
		var err error
		values, err = d.readLocked(ctx, rc, id)
		d.mu.Unlock()
		if err != nil {
			return flags
		}
	}
	out := map[string]any{}
	for k, v := range flags {
		if def, ok := values[k]; !ok || def != v {
			out[k] = v
		}
	}
	return out
}

// updateCustomer sends the changed fields of a customer.
func updateCustomer(ctx context.Context, rc *remote.Client, id string, body map[string]any) error {
	if !mapping.HoldsNull(body) { // nothing cleared
		return rc.PatchCustomer(ctx, id, body)
	}
	flags := takeAccountFlags(body)
	if err := rc.MergePatchCustomer(ctx, id, body); err != nil {
		return err
	}
	if flags != nil {
		return rc.PatchCustomer(ctx, id, flags)
	}
	return nil
}

// updateCustomerRow sends what a row changes of a customer: the changed fields (updateCustomer), or, when one
// of them holds a JSON null, the whole customer with them applied (putCustomerApplied).
func updateCustomerRow(ctx context.Context, rc *remote.Client, id string, rec mapping.Record, diff []mapping.FieldChange) error {
	changed := rec.Changed(diff)
	if changed.HasNullValue() {
		return putCustomerApplied(ctx, rc, id, changed)
	}
	return updateCustomer(ctx, rc, id, changed.Payload())
}

// putCustomerApplied reads a customer and PUTs it back as application/json with rec applied, under its
// metadata.version, reading again if someone changed it in between.
func putCustomerApplied(ctx context.Context, rc *remote.Client, id string, rec mapping.Record) error {
	return whileStale(func() error {
		current, err := rc.GetCustomer(ctx, id, "mixin:*")
		if err != nil {
			return err
		}
		_, err = rc.UpsertCustomer(ctx, id, customerRequestShape(rec.ApplyTo(current)))
		return err
	})
}

// customerWritable are the members of CustomerUpdateBySellerDto besides b2b and metadata: what a PUT of a
// customer read from the platform sends back (the rest of what it reads is the platform's own).
var customerWritable = []string{"title", "firstName", "middleName", "lastName", "contactEmail", "contactPhone", "company",
	"preferredLanguage", "preferredCurrency", "preferredSite", "active", "onHold", "type", "photoUrl", "restriction", "mixins"}

// customerRequestShape turns a customer as the platform returns it into a CustomerUpdateBySellerDto: its
// writable members, of b2b only the companyRegistrationId, and of the metadata the version (for optimistic
// locking) and the mixin links.
func customerRequestShape(doc map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range customerWritable {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	if b2b, ok := doc["b2b"].(map[string]any); ok {
		if v, ok := b2b["companyRegistrationId"]; ok {
			out["b2b"] = map[string]any{"companyRegistrationId": v}
		}
	}
	putRequestMetadata(out, doc)
	return out
}

// putRequestMetadata sets out's metadata to what a PUT takes of doc's: the version (for optimistic locking)
// and the mixin links.
func putRequestMetadata(out, doc map[string]any) {
	if md, ok := doc["metadata"].(map[string]any); ok {
		shaped := map[string]any{}
		for _, k := range []string{"version", "mixins"} {
			if v, ok := md[k]; ok {
				shaped[k] = v
			}
		}
		out["metadata"] = shaped
	}
}

// updateAddress sends the changed fields of an address (changed: the row reduced to them, see
// mapping.Record.Changed), reading and re-writing it when a field is cleared. The re-write applies only those
// fields to the address as read, so what someone changed on the platform in the others stays.
func updateAddress(ctx context.Context, rc *remote.Client, customerID, addressID string, changed mapping.Record) error {
	body := changed.Payload()
	if !mapping.HoldsNull(body) { // nothing cleared
		return rc.PatchAddress(ctx, customerID, addressID, body)
	}
	return whileStale(func() error {
		current, err := rc.GetAddress(ctx, customerID, addressID)
		if err != nil {
			return err
		}
		_, err = rc.UpsertAddress(ctx, customerID, addressID, addressRequestShape(changed.ApplyTo(current)))
		return err
	})
}

// addressRequestShape turns an address as the platform returns it into an AddressUpdateDto: no id, and of
// the metadata only the version (for optimistic locking) and the mixin links.
func addressRequestShape(doc map[string]any) map[string]any {
	out := maps.Clone(doc)
	delete(out, "id")
	putRequestMetadata(out, doc)
	return out
}
