package sandbox

import (
	"net/http"
	"testing"

	"custsync/sandbox/internal/spectest"
)

// specWrap validates every response of the test's traffic against the official specs. The statuses
// declared here are the sandbox's documented deviations: behaviour the digest prescribes where the
// specs are silent.
func specWrap(t *testing.T, h http.Handler) http.Handler {
	v := spectest.New(t)
	v.AllowStatus("*", "*", http.StatusRequestEntityTooLarge, "bodies over the 10 MB platform limit (digest §2)")
	v.AllowStatus("PATCH", "/customer/{tenant}/customers/{customerNumber}", http.StatusConflict,
		"stale metadata.version or duplicate contactEmail (digest §6.4, §8.1)")
	v.AllowStatus("PUT", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", http.StatusConflict,
		"stale metadata.version (digest §6.4)")
	v.AllowStatus("PATCH", "/customer/{tenant}/customers/{customerNumber}/addresses/{addressId}", http.StatusConflict,
		"stale metadata.version (digest §6.4)")
	v.AllowStatus("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}/parent-hierarchy", http.StatusNotFound,
		"unknown legal entity; the spec documents no 404 for this operation")
	v.AllowStatus("GET", "/customer-management/{tenant}/legal-entities/{legalEntityId}/parent-hierarchy", http.StatusBadRequest,
		"invalid tenant; the spec documents no 400 for this operation")
	v.AllowStatus("GET", "/customer/{tenant}/config/password-migration-retention", http.StatusBadRequest,
		"invalid tenant; the spec documents no 400 for this operation")
	// Proof that the validator saw the traffic: every test that starts a server sends requests the
	// specs know (at least the token call is under the OAuth spec).
	t.Cleanup(func() {
		if v.Checked() == 0 {
			t.Errorf("spectest validated no response")
		}
	})
	return v.Wrap(h)
}
