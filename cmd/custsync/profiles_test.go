package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"custsync/sandbox"
)

// writeSecret writes a client secret file the way an operator should: 0600.
func writeSecret(t *testing.T, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// twoTenants is a sandbox holding two tenants, a config file with a profile for each (everything from the
// config: URL, tenant, client, secret file, state file, rate limit) and the working directory set to dir.
type twoTenants struct {
	srv     *sandbox.Server
	url     string
	dir     string
	cfg     string
	samples []string
}

func newTwoTenants(t *testing.T) twoTenants {
	srv, url := platform(t, sandbox.Options{Clients: []sandbox.Client{
		{ID: "client-a", Secret: "secret-of-a", Scopes: sandbox.AllScopes},
		{ID: "client-b", Secret: "secret-of-b", Scopes: sandbox.AllScopes},
	}})
	dir := t.TempDir()
	cfg := writeFile(t, dir, "custsync.yaml", fmt.Sprintf(`
api-url: %s
tps: 0
profiles:
  a:
    tenant: tenanta
    client-id: client-a
    client-secret-file: %s
    state: %s
  b:
    tenant: tenantb
    client-id: client-b
    client-secret-file: %s
`, url, writeSecret(t, dir, "a.secret", "secret-of-a"), filepath.Join(dir, "a.db"), writeSecret(t, dir, "b.secret", "secret-of-b")))
	samples, _ := filepath.Glob("../../samples/*.csv")
	for i := range samples {
		samples[i], _ = filepath.Abs(samples[i])
	}
	// Profile b names no state file: its default, custsync-b.db, lands in the working directory.
	t.Chdir(dir)
	return twoTenants{srv: srv, url: url, dir: dir, cfg: cfg, samples: samples}
}

// run runs custsync with the config file and fails the test unless it exits 0.
func (tt twoTenants) run(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"--config", tt.cfg}, args...)...)
	if code != ExitOK {
		t.Fatalf("%s: code %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// sameTables fails the test unless the sheets of two exports hold the same rows (as sets: the platform
// lists in its own order).
func sameTables(t *testing.T, a, b string, sheets []string) {
	t.Helper()
	for _, sheet := range sheets {
		ha, ra := readTable(t, a, sheet)
		hb, rb := readTable(t, b, sheet)
		slices.SortFunc(ra, slices.Compare)
		slices.SortFunc(rb, slices.Compare)
		if !slices.Equal(ha, hb) || len(ra) != len(rb) || len(ra) == 0 {
			t.Fatalf("%s: %s has %d rows %v, %s %d rows %v", sheet, a, len(ra), ha, b, len(rb), hb)
		}
		for i := range ra {
			if !slices.Equal(ra[i], rb[i]) {
				t.Errorf("%s row %d: %s %v, %s %v", sheet, i+1, a, ra[i], b, rb[i])
			}
		}
	}
}

// onlyOwnClients fails the test if a request reached a tenant with the other tenant's client.
func (tt twoTenants) onlyOwnClients(t *testing.T) {
	t.Helper()
	for _, r := range tt.srv.Requests() {
		switch {
		case r.Tenant == "tenanta" && r.ClientID != "client-a", r.Tenant == "tenantb" && r.ClientID != "client-b":
			t.Fatalf("%s %s by client %q", r.Method, r.Path, r.ClientID)
		}
	}
}

// TestProfilesMigrateBetweenTwoTenants is the A -> B migration of the README by export and import: the
// migrated tenant equals the source.
func TestProfilesMigrateBetweenTwoTenants(t *testing.T) {
	tt := newTwoTenants(t)
	dir, mustRun := tt.dir, func(args ...string) string { t.Helper(); return tt.run(t, args...) }
	mustRun(append([]string{"import", "--profile", "a"}, tt.samples...)...)
	entities := "locations,companies,customers,addresses,contacts"
	mustRun("export", "--profile", "a", "--entity", entities, "--out", "a.xlsx")
	// 101 records: the 95 rows of the samples and the 6 assignments a's platform propagated to parent
	// companies, which b's propagates too: their rows adopt what b made, in whichever order they run.
	out := mustRun("import", "--profile", "b", "a.xlsx")
	count := func(what string) int {
		m := regexp.MustCompile(`import: .*?(\d+) ` + what).FindStringSubmatch(out)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if count("created")+count("adopted") != 101 || count("failed") != 0 {
		t.Fatalf("import into b:\n%s", out)
	}
	mustRun("export", "--profile", "b", "--entity", entities, "--out", "b.xlsx")
	sameTables(t, "a.xlsx", "b.xlsx", strings.Split(entities, ","))
	// Profile b found its own state file, and a second import into b is a no-op.
	if _, err := os.Stat(filepath.Join(dir, "custsync-b.db")); err != nil {
		t.Fatalf("profile b's default state file: %v", err)
	}
	if out := mustRun("import", "--profile", "b", "a.xlsx"); !strings.Contains(out, "0 created, 0 updated, 101 unchanged") {
		t.Fatalf("re-import into b:\n%s", out)
	}
	tt.onlyOwnClients(t)
}

func TestProfilePrecedence(t *testing.T) {
	_, url := platform(t, sandbox.Options{})
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s.secret", sandbox.DemoClientSecret)
	cfg := writeFile(t, dir, "custsync.yaml", fmt.Sprintf(`
tenant: fromconfig
api-url: %s
profiles:
  p:
    tenant: fromprofile
    client-id: sandbox
    client-secret-file: %s
  q:
    client-id: sandbox
    client-secret-file: %s
`, url, secret, secret))
	t.Setenv("CUSTSYNC_TENANT", "")
	t.Setenv("CUSTSYNC_CLIENT_SECRET", "")
	resolved := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"--config", cfg}, args...)...)
		if code != ExitOK {
			t.Fatalf("%v: code %d\n%s%s", args, code, out, errOut)
		}
		first, _, _ := strings.Cut(out, "\n")
		return first
	}
	cases := []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"--profile", "p", "config", "check"}, "tenant fromprofile at " + url + ", state custsync-p.db"},
		{"", []string{"--profile", "q", "config", "check"}, "tenant fromconfig at " + url + ", state custsync-q.db"},
		{"fromenv", []string{"--profile", "p", "config", "check"}, "tenant fromenv at"},
		{"fromenv", []string{"config", "check", "--tenant", "fromflag", "--profile", "p", "--state", "x.db"}, "tenant fromflag at " + url + ", state x.db"},
	}
	for _, tc := range cases {
		t.Setenv("CUSTSYNC_TENANT", tc.env)
		if got := resolved(tc.args...); !strings.Contains(got, tc.want) {
			t.Errorf("env %q %v: %q, want %q", tc.env, tc.args, got, tc.want)
		}
	}
}

func TestProfileConfigErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	cases := []struct {
		config string
		args   []string
		want   string
	}{
		{"profiles:\n  a:\n    tenant: x\n  b:\n    tenant: y\n", []string{"--profile", "c", "version"}, "defines a, b"},
		{"tenant: x\n", []string{"--profile", "c", "version"}, "defines no profiles"},
		{"profiles:\n  a:\n    client-secret: hunter2\n", []string{"version"}, "client-secret-file"},
		{"profiles:\n  a:\n    tennant: x\n", []string{"version"}, `unknown key "tennant"`},
		{"profiles:\n  a b:\n    tenant: x\n", []string{"version"}, "profile name"},
		{"profiles: [a, b]\n", []string{"version"}, "profiles must map"},
	}
	for i, tc := range cases {
		cfg := writeFile(t, dir, fmt.Sprintf("c%d.yaml", i), tc.config)
		code, _, errOut := runCLI(t, append([]string{"--config", cfg}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "hunter2") {
			t.Errorf("%q: code %d, stderr %q, want %q", tc.config, code, errOut, tc.want)
		}
	}
	// --profile without --config looks in the user's config directory.
	code, _, errOut := runCLI(t, "--profile", "a", "version")
	if code != ExitUsage || !strings.Contains(errOut, filepath.Join(dir, "xdg", "custsync", "config.yaml")) {
		t.Fatalf("no user config: code %d stderr %q", code, errOut)
	}
	if err := os.MkdirAll(filepath.Join(dir, "xdg", "custsync"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "xdg", "custsync"), "config.yaml", "profiles:\n  a:\n    tenant: fromuserconfig\n")
	code, out, errOut := runCLI(t, "--profile", "a", "config", "check")
	if !strings.Contains(out, "tenant fromuserconfig") || code != ExitUsage {
		t.Fatalf("user config: code %d\n%s%s", code, out, errOut)
	}
}

// TestConfigCheckReportsScopesPerCommand checks three profiles with one token request each: one holding
// every scope, one that can only read customers and locations, one whose customer scopes are limited to
// its own company, and one whose secret is wrong.
func TestConfigCheckReportsScopesPerCommand(t *testing.T) {
	t.Parallel()
	srv, url := platform(t, sandbox.Options{Clients: []sandbox.Client{
		{ID: "full", Secret: "s-full", Scopes: sandbox.AllScopes},
		{ID: "reader", Secret: "s-reader", Scopes: []string{"customer.customer_read", "customermanagement.location_read"}},
		{ID: "own", Secret: "s-own", Scopes: []string{"customer.customer_read_own", "customer.customer_manage_own"}},
		{ID: "locs", Secret: "s-locs", Scopes: []string{"customer.customer_read", "customer.customer_manage",
			"customermanagement.location_read", "customermanagement.location_manage"}},
	}})
	dir := t.TempDir()
	profiles := fmt.Sprintf("api-url: %s\nprofiles:\n", url)
	for _, p := range []struct{ name, id, secret string }{{"full", "full", "s-full"}, {"reader", "reader", "s-reader"}, {"own", "own", "s-own"}, {"locs", "locs", "s-locs"}, {"wrong", "full", "not-the-secret"}} {
		profiles += fmt.Sprintf("  %s:\n    tenant: acme\n    client-id: %s\n    client-secret-file: %s\n", p.name, p.id, writeSecret(t, dir, p.name, p.secret))
	}
	cfg := writeFile(t, dir, "custsync.yaml", profiles)

	code, out, errOut := runCLI(t, "--config", cfg, "config", "check")
	if code != ExitCredentials {
		t.Fatalf("code %d, want %d (one profile's secret is wrong)\n%s%s", code, ExitCredentials, out, errOut)
	}
	sections := map[string]string{}
	for _, s := range strings.Split(out, "\n\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(s, "profile "), ":")
		sections[name] = s
	}
	for name, wants := range map[string][]string{
		"full": {"import            ok: locations companies customers addresses contacts\n", "deletions detect  ok: all"},
		"reader": {"import            MISSING: locations (needs customermanagement.location_manage)",
			"export            ok: locations customers addresses; MISSING: companies (needs customermanagement.legalentity_read), contacts",
			"mappings pull     ok: all"},
		"own": {"export            LIMITED: customers (only customer.customer_read_own)", "MISSING: locations"},
		// Without legal-entity scopes, locations are served but for the rows that name their companies.
		// Every scope a need lacks is named, and an entity with several needs appears once, with its worst.
		"locs": {"import            ok: locations customers addresses; MISSING: location rows with companyKey (needs customermanagement.legalentity_read and customermanagement.legalentity_manage), companies (needs customermanagement.legalentity_read and customermanagement.legalentity_manage),",
			"check --fix       ok: locations customers addresses; MISSING: companies (needs customermanagement.legalentity_read and customermanagement.legalentity_manage), contacts (needs customermanagement.contactassignment_read and customermanagement.contactassignment_manage)\n",
			"check             ok: locations customers addresses; MISSING: location rows with companyKey (needs customermanagement.legalentity_read), companies",
			"assignments no row names within a company hierarchy (needs customermanagement.legalentity_read)\n"},
		"wrong": {"error: ", "credentials"},
	} {
		for _, w := range wants {
			if !strings.Contains(sections[name], w) {
				t.Errorf("profile %s lacks %q:\n%s", name, w, sections[name])
			}
		}
	}
	if strings.Contains(out+errOut, "not-the-secret") {
		t.Fatal("the secret leaked")
	}
	// One token request per profile, nothing else.
	for _, r := range srv.Requests() {
		if r.Path != "/oauth/token" {
			t.Fatalf("config check sent %s %s", r.Method, r.Path)
		}
	}
	if n := len(srv.Requests()); n != 5 {
		t.Fatalf("%d token requests for 5 profiles", n)
	}
	// One profile: the reader lacks scopes, which --strict turns into exit 1.
	if code, out, errOut := runCLI(t, "--config", cfg, "--profile", "reader", "config", "check", "--strict"); code != ExitFailure {
		t.Fatalf("--strict: code %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "--config", cfg, "--profile", "full", "config", "check", "--strict"); code != ExitOK {
		t.Fatalf("full --strict: code %d\n%s%s", code, out, errOut)
	}
}

// A config value that does not parse names the key, the value and what the key takes.
func TestConfigValueThatDoesNotParseSaysWhatIsExpected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for config, want := range map[string]string{
		"tps: fast\n":            `key "tps": "fast" is not a number`,
		"writers: many\n":        `key "writers": "many" is not a whole number`,
		"max-duration: soon\n":   `key "max-duration": "soon" is not a duration`,
		"journal-keep-runs: x\n": `key "journal-keep-runs": "x" is not a whole number`,
	} {
		cfg := writeFile(t, dir, fmt.Sprintf("c%d.yaml", len(config)), config)
		code, _, errOut := runCLI(t, "--config", cfg, "--state", filepath.Join(dir, "state.db"),
			"import", "--sandbox", "--sandbox-data", filepath.Join(dir, "sandbox.db"), "../../samples/customers.csv")
		if code != ExitUsage || !strings.Contains(errOut, want) {
			t.Errorf("%q: code %d, stderr %q, want %q", config, code, errOut, want)
		}
	}
}
