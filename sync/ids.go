package sync

import (
	"strings"

	"custsync/mapping"
)

// The platform ids an import writes to are resolved here, for the planner (plan.go) and for check, which
// compares the platform record under the id an import would use. A record's own id comes from the mapping
// (an explicit customerNumber, or the id template applied to the ERP key). The checkpoint's id for a key wins
// over it; where the checkpoint does not know a customer, a customer adopted from the platform (AdoptedIDs:
// `mappings pull`, or an earlier explicit customerNumber) keeps its number, and so does a customer the run
// creates with an explicit customerNumber (plan.notePlannedID, plan.knownID).

// adoptedCustomerID returns the platform id of a customer key the checkpoint does not know: its adopted
// number if it has one, else id, the record's own.
func adoptedCustomerID(key, id string, adopted func(key string) (string, bool)) string {
	if a, ok := adopted(key); ok {
		return a
	}
	return id
}

// referenceID returns the platform id a reference points at: the checkpoint's id for the referenced key,
// else, for a customer, its adopted number (adopted is asked only then), else the id the template gave it.
func referenceID(ref mapping.Ref, checkpointID func(mapping.Entity, string) (string, bool), adopted func(key string) (string, bool)) string {
	if id, ok := checkpointID(ref.Entity, ref.Key); ok {
		return id
	}
	if ref.Entity == mapping.Customers {
		return adoptedCustomerID(ref.Key, ref.RemoteID, adopted)
	}
	return ref.RemoteID
}

// addressRemoteID is the checkpoint id of an address: the customer's platform id and the address id, since an
// address is only reachable through its customer.
func addressRemoteID(rec mapping.Record) string {
	customer := ""
	for _, r := range rec.Refs {
		if r.Entity == mapping.Customers {
			customer = r.RemoteID
		}
	}
	return customer + "/" + rec.RemoteID
}

// splitAddressID reverses addressRemoteID.
func splitAddressID(id string) (customerID, addressID string, ok bool) {
	customerID, addressID, ok = strings.Cut(id, "/")
	return customerID, addressID, ok && customerID != "" && addressID != ""
}
