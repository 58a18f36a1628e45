package main

import (
	"custsync/mapping"
	"custsync/remote"
)

// scopeNeed is one thing a command does on the platform (for one entity, where it works per entity) and
// the endpoints it calls for it. The scopes each endpoint needs come from the official specs
// (remote.SpecScopes); TestScopeNeedsCoverEveryRequest runs the commands against the sandbox and
// checks that every request they send is listed here.
type scopeNeed struct {
	Command string
	Entity  mapping.Entity // "" where the command does not work per entity
	// When is "" for what the command always calls for the entity, else the rows or records that make it
	// call these endpoints too, worded to stand alone ("location rows with companyKey"): config check names
	// them apart, so a grant that serves every file without such rows is not reported short for the entity.
	When      string
	Endpoints []remote.Endpoint
}

// Conditions of scopeNeed.When.
const (
	// whenLocationCompanyKey: a location row names its companies (companyKey); the platform keeps that link
	// on the company, so import reads and writes the company and check lists the companies.
	whenLocationCompanyKey = "location rows with companyKey"
	// whenUnnamedAssignments: the platform holds contact assignments of the file's customers that no row
	// names; check reads the companies above theirs to tell whether the platform propagated them.
	whenUnnamedAssignments = "assignments no row names within a company hierarchy"
	// whenAdopt: rows not synced yet are looked up on the platform before they are written (import --adopt,
	// or a dry run with --live).
	whenAdopt = "rows not synced yet, with --adopt or --dry-run --live"
	// whenVerify: rows synced before are compared with their live records (import --verify, check --fix).
	whenVerify = "rows synced before, with --verify"
)

// readsOf are the list endpoints that export and check page through per entity. Addresses are read
// per customer, so they need the customer list as well.
var readsOf = map[mapping.Entity][]remote.Endpoint{
	mapping.Customers: {remote.ListCustomers},
	mapping.Addresses: {remote.ListCustomers, remote.ListAddresses},
	mapping.Companies: {remote.ListLegalEntities},
	mapping.Locations: {remote.ListLocations},
	mapping.Contacts:  {remote.ListContactAssignments},
}

// scopeNeeds lists, per command and entity, what custsync calls. Writes read the record first where the
// write merges into it or needs its version (Customer Management), deletes keep a pre-image, an import
// of customers lists them with --detect-deletions, one of contact assignments looks up the assignment
// of a customer and company the platform holds already (to adopt it), and a company delete first lists the
// company's subsidiaries (which would go with it).
var scopeNeeds = []scopeNeed{
	{"import", mapping.Locations, "", []remote.Endpoint{remote.GetLocation, remote.PutLocation, remote.DeleteLocation}},
	{"import", mapping.Locations, whenLocationCompanyKey, []remote.Endpoint{remote.GetLegalEntity, remote.PutLegalEntity}},
	// The companies a location adoption reads come with the legal-entity scopes its companyKey or company rows need.
	{"import", mapping.Locations, whenAdopt, []remote.Endpoint{remote.ListLocations}},
	{"import", mapping.Companies, "", []remote.Endpoint{remote.GetLegalEntity, remote.PutLegalEntity, remote.DeleteLegalEntity,
		remote.ListLegalEntities}},
	{"import", mapping.Companies, whenAdopt, []remote.Endpoint{remote.ListLegalEntities}},
	{"import", mapping.Customers, "", []remote.Endpoint{remote.ListCustomers, remote.GetCustomer, remote.PutCustomer, remote.PatchCustomer, remote.DeleteCustomer}},
	{"import", mapping.Customers, whenAdopt, []remote.Endpoint{remote.SearchCustomers}},
	{"import", mapping.Addresses, "", []remote.Endpoint{remote.GetAddress, remote.PutAddress, remote.PatchAddress, remote.DeleteAddress}},
	{"import", mapping.Addresses, whenAdopt, []remote.Endpoint{remote.SearchCustomers}},
	{"import", mapping.Customers, whenVerify, []remote.Endpoint{remote.SearchCustomers}},
	{"import", mapping.Addresses, whenVerify, []remote.Endpoint{remote.SearchCustomers}},
	{"import", mapping.Companies, whenVerify, []remote.Endpoint{remote.ListLegalEntities}},
	{"import", mapping.Locations, whenVerify, []remote.Endpoint{remote.ListLocations}},
	{"import", mapping.Contacts, "", []remote.Endpoint{remote.GetContactAssignment, remote.PutContactAssignment, remote.DeleteContactAssignment,
		remote.ListContactAssignments}},
	{"export", mapping.Locations, "", readsOf[mapping.Locations]},
	{"export", mapping.Companies, "", readsOf[mapping.Companies]},
	{"export", mapping.Customers, "", readsOf[mapping.Customers]},
	{"export", mapping.Addresses, "", readsOf[mapping.Addresses]},
	{"export", mapping.Contacts, "", readsOf[mapping.Contacts]},
	{"check", mapping.Locations, "", readsOf[mapping.Locations]},
	{"check", mapping.Locations, whenLocationCompanyKey, []remote.Endpoint{remote.ListLegalEntities}},
	{"check", mapping.Companies, "", readsOf[mapping.Companies]},
	{"check", mapping.Customers, "", readsOf[mapping.Customers]},
	{"check", mapping.Addresses, "", readsOf[mapping.Addresses]},
	{"check", mapping.Contacts, "", readsOf[mapping.Contacts]},
	{"check", mapping.Contacts, whenUnnamedAssignments, []remote.Endpoint{remote.ListLegalEntities}},
	// Given ERP files, pull looks their customers up (searches) instead of listing the tenant.
	{"mappings pull", "", "", []remote.Endpoint{remote.ListCustomers, remote.SearchCustomers}},
	{"deletions detect", "", "", []remote.Endpoint{remote.ListCustomers, remote.GetCustomer}},
	// A restore reads each record before it writes it back, re-creates, reverts and deletes.
	{"restore", "", "", []remote.Endpoint{remote.GetCustomer, remote.PutCustomer, remote.PatchCustomer, remote.DeleteCustomer,
		remote.GetAddress, remote.PutAddress, remote.DeleteAddress,
		remote.GetLegalEntity, remote.PutLegalEntity, remote.DeleteLegalEntity, remote.ListLegalEntities, remote.GetLocation, remote.PutLocation, remote.DeleteLocation,
		remote.GetContactAssignment, remote.PutContactAssignment, remote.DeleteContactAssignment}},
	// A tenant migration with logins: the retention window and the bulk import of customers with passwords.
	{"migration", "", "", []remote.Endpoint{remote.GetRetention, remote.SetRetention, remote.DeleteRetention, remote.ImportCustomers,
		remote.GetCustomer, remote.PatchCustomer}},
}

// check --fix compares as check does and repairs through an import that verifies the keys that differ: per
// entity it needs check's reads and what that import calls. The needs of some rows only (When) are those of
// the check and import lines, which config check lists on their own.
func init() {
	var fix []scopeNeed
	for _, n := range scopeNeeds {
		switch {
		case n.Command == "import" && n.When == whenVerify:
			n.When = ""
		case n.When != "" || n.Command != "check" && n.Command != "import":
			continue
		}
		n.Command = "check --fix"
		fix = append(fix, n)
	}
	scopeNeeds = append(scopeNeeds, fix...)
}
