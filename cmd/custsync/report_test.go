package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"custsync/sandbox"
	"custsync/sandbox/faultproxy"
)

// reportSchema compiles a definition of report.schema.json ("" for the whole schema).
func reportSchema(t *testing.T, def string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("report.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	loc := "report.schema.json"
	if def != "" {
		loc += "#/$defs/" + def
	}
	s, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compile %s: %v", loc, err)
	}
	return s
}

// validReport checks one --json output against the schema (as a whole and as def) and returns it decoded.
func validReport(t *testing.T, def, out string) map[string]any {
	t.Helper()
	for _, schema := range []*jsonschema.Schema{reportSchema(t, ""), reportSchema(t, def)} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
		if err != nil {
			t.Fatalf("not one JSON value: %v\n%s", err, out)
		}
		if err := schema.Validate(doc); err != nil {
			t.Fatalf("the report does not follow report.schema.json: %v\n%s", err, out)
		}
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return nil // an array: state runs
	}
	return rep
}

// Every way an import can end prints a report that follows the schema, with the exit code the process gets.
func TestImportJSONReportFollowsTheSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,company\n1,Ann,Smith & Sons\n2,Bob,\n3,Cy,\n")
	type outcome struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, rep map[string]any)
	}
	stopped := func(want string) func(t *testing.T, rep map[string]any) {
		return func(t *testing.T, rep map[string]any) {
			if s, _ := rep["stopped"].(string); !strings.Contains(s, want) {
				t.Errorf("stopped = %v, want it to say %q", rep["stopped"], want)
			}
		}
	}
	for _, o := range []outcome{
		{"dry run", sandboxArgs(dir, "import", "--dry-run", "--json", good), ExitOK, func(t *testing.T, rep map[string]any) {
			if rep["runId"] != nil || rep["stopped"] != nil || len(rep["changes"].([]any)) != 3 {
				t.Errorf("runId %v, stopped %v, %d changes", rep["runId"], rep["stopped"], len(rep["changes"].([]any)))
			}
		}},
		{"success", sandboxArgs(dir, "import", "--json", good), ExitOK, func(t *testing.T, rep map[string]any) {
			if rep["runId"] == nil || rep["created"] != 3.0 || len(rep["failures"].([]any)) != 0 {
				t.Errorf("runId %v, created %v, failures %v", rep["runId"], rep["created"], rep["failures"])
			}
		}},
		{"partial", sandboxArgs(dir, "import", "--json", writeFile(t, dir, "bad.csv", "sdCustomerNumber,firstName,contactEmail\n4,Dee,broken\n")), ExitPartial,
			func(t *testing.T, rep map[string]any) {
				f := rep["failures"].([]any)[0].(map[string]any)
				if rep["stopped"] != nil || strings.Contains(f["reason"].(string), "bad.csv") || !strings.HasSuffix(f["source"].(string), "bad.csv:2") {
					t.Errorf("stopped %v, failure %v: the reason must not repeat the source", rep["stopped"], f)
				}
			}},
		{"safety stop", sandboxArgs(dir, "import", "--json", "--max-delete", "0", writeFile(t, dir, "del.csv", "sdCustomerNumber,firstName,deleted\n1,Ann,X\n")),
			ExitSafetyStop, stopped("more than --max-delete 0 allows (0)")},
		{"input error", sandboxArgs(dir, "import", "--json", "--entity", "customers", writeFile(t, dir, "odd.csv", "sdCustomerNumber,shoeSize\n1,42\n")),
			ExitUsage, stopped("shoeSize")},
		{"usage error", sandboxArgs(dir, "import", "--json", "--mode", "sometimes", good), ExitUsage, stopped("--mode")},
		{"other tenant", append([]string{"--tenant", "othertenant"}, sandboxArgs(dir, "import", "--json", good)...), ExitState, stopped("belongs to tenant")},
	} {
		t.Run(o.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, o.args...)
			if code != o.code {
				t.Fatalf("code %d, want %d\n%s%s", code, o.code, out, errOut)
			}
			rep := validReport(t, "importReport", out)
			if rep["exitCode"] != float64(code) {
				t.Errorf("exitCode %v, the process exits %d", rep["exitCode"], code)
			}
			o.check(t, rep)
		})
	}

	// A platform fault that stops the run: exit 5, stopped says why.
	proxy, global, in := faultyPlatform(t, 3)
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Answer: faultproxy.HTML(503, "503 Service Temporarily Unavailable")})
	code, out, _ := runCLI(t, append(global, "import", "--json", "--retries", "1", "--tps", "0", in)...)
	rep := validReport(t, "importReport", out)
	if code != ExitTemporary || rep["exitCode"] != float64(ExitTemporary) || !strings.Contains(rep["stopped"].(string), "/oauth/token") {
		t.Errorf("token failure: code %d, report exitCode %v stopped %v", code, rep["exitCode"], rep["stopped"])
	}

	// The history: state runs --json, whose stats are the reports the runs recorded.
	code, out, errOut := runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs", "--json")
	if code != ExitOK {
		t.Fatalf("state runs: code %d\n%s", code, errOut)
	}
	validReport(t, "stateRuns", out)
	var runs []struct {
		Stats json.RawMessage `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("runs %v %s", err, out)
	}
	for _, r := range runs {
		validReport(t, "importReport", string(r.Stats))
	}
}

// Held deletes are a result of their own: counted and explained in the text and the JSON report, written to the
// result files and the run history, predicted by the dry run, and exit 3.
func TestHeldDeletesAreReportedEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	customers := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,deleted\n1,Ann,\n2,Bob,\n3,Cy,\n4,Dee,\n5,Eve,\n6,Fay,\n7,Gus,\n8,Hal,\n9,Ida,\n10,Jo,\n")
	addresses := writeFile(t, dir, "addresses.csv", "sdCustomerNumber,addressKey,contactName,street,zipCode,city,country\n1,A1,Ann,Main Street,10115,Berlin,DE\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", customers, addresses)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,deleted\n10,Jo,X\n")
	writeFile(t, dir, "addresses.csv", "sdCustomerNumber,addressKey,contactName,street,zipCode,city,country\n1,A1,Ann,Main Street,10115,Berlin,Germany\n")

	code, out, _ := runCLI(t, sandboxArgs(dir, "import", "--dry-run", customers, addresses)...)
	if code != ExitPartial || !strings.Contains(out, "1 deletes of customers would be held: rows failed in this run (1 addresses)") ||
		!strings.Contains(out, "delete (erp-deleted) held customers 10") {
		t.Fatalf("dry run: code %d\n%s", code, out)
	}

	results := filepath.Join(dir, "results")
	code, out, errOut := runCLI(t, sandboxArgs(dir, "import", "--results", results, customers, addresses)...)
	if code != ExitPartial {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, want := range []string{"0 deleted, 1 failed, 1 deletes held", "1 deletes of customers held: rows failed in this run (1 addresses)",
		"--delete-despite-failures deletes anyway"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "rows failed in this run") != 1 {
		t.Errorf("the reason is given once:\n%s", out)
	}
	errFile, err := os.ReadFile(filepath.Join(results, "customers.errors.csv"))
	if err != nil || !strings.Contains(string(errFile), `10,Jo,X,2,delete,,,"held: rows failed in this run (1 addresses)`) {
		t.Errorf("the held delete's row is not in the error file: %v\n%s", err, errFile)
	}
	code, out, _ = runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs")
	if code != ExitOK || !strings.Contains(out, "exit 3, 1 failed, 1 deletes held") {
		t.Errorf("state runs does not say the run held deletes:\n%s", out)
	}

	code, out, _ = runCLI(t, sandboxArgs(dir, "import", "--json", customers, addresses)...)
	rep := validReport(t, "importReport", out)
	holds := rep["deleteHolds"].([]any)
	if code != ExitPartial || rep["deletesHeld"] != 1.0 || len(holds) != 1 || holds[0].(map[string]any)["entity"] != "customers" {
		t.Errorf("JSON: code %d deletesHeld %v deleteHolds %v", code, rep["deletesHeld"], holds)
	}

	code, out, errOut = runCLI(t, sandboxArgs(dir, "import", "--delete-despite-failures", customers, addresses)...)
	if code != ExitPartial || !strings.Contains(out, "1 deleted, 1 failed") || strings.Contains(out, "held") {
		t.Errorf("--delete-despite-failures: code %d\n%s%s", code, out, errOut)
	}
}

// A safety stop shows the stop, not counts that read like a result.
func TestSafetyStopPrintsTheStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n2,Bob\n")
	if code, out, errOut := runCLI(t, sandboxArgs(dir, "import", in)...); code != ExitOK {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	code, out, _ := runCLI(t, sandboxArgs(dir, "import", "--mode", "full", in)...)
	if code != ExitSafetyStop || !strings.HasPrefix(out, "import stopped: safety stop (customers)") ||
		!strings.Contains(out, "nothing was written to the platform") || strings.Contains(out, "created") {
		t.Fatalf("code %d, stdout:\n%s", code, out)
	}
}

func TestUnknownCommandsAreUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bogus"}, {"state", "bogus"}, {"mappings", "bogus", "x"}} {
		if code, _, errOut := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%v: code %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}
	// In its own process: urfave/cli's help command adds itself to its own subcommands when it runs, which
	// would send a later completion script of this process into endless recursion.
	cmd := exec.Command(staticBinary(t), "help", "bogus")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != ExitUsage {
		t.Errorf("help bogus: %v, want exit %d", err, ExitUsage)
	}
	if code, out, _ := runCLI(t, "state"); code != ExitOK || !strings.Contains(out, "custsync state") {
		t.Errorf("a command group without a subcommand shows its help: code %d\n%s", code, out)
	}
}

// The verbose plan prints values as they are; a failure line names its row once; XLSX result files of long file
// names get a valid sheet name.
func TestOutputDetails(t *testing.T) {
	t.Parallel()
	_, url := platform(t, sandbox.Options{})
	dir := t.TempDir()
	base := []string{"--api-url", url, "--tenant", "acme", "--client-id", "sandbox", "--client-secret", "sandbox", "--state", filepath.Join(dir, "s.db")}
	in := writeFile(t, dir, "customers_from_the_erp_export_of_december.csv", "sdCustomerNumber,company,contactEmail\n1,Smith & Sons <GmbH>,a@example.com\n2,X,broken\n")
	code, out, _ := runCLI(t, append(base, "import", "--dry-run", "-v", in)...)
	if !strings.Contains(out, `company: (none) -> "Smith & Sons <GmbH>"`) || strings.Contains(out, `\u0026`) {
		t.Errorf("-v output (code %d):\n%s", code, out)
	}
	line := ""
	for l := range strings.Lines(out) {
		if strings.Contains(l, "failed ") {
			line = l
		}
	}
	if strings.Count(line, "customers_from_the_erp_export_of_december.csv:3") != 1 {
		t.Errorf("the failure line repeats or lacks the location: %q", line)
	}
	results := filepath.Join(dir, "results")
	code, out, errOut := runCLI(t, append(base, "import", "--results", results, "--format", "xlsx", in)...)
	if code != ExitPartial {
		t.Fatalf("--results --format xlsx with a long file name: code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	for _, f := range []string{"errors", "success"} {
		path := filepath.Join(results, "customers_from_the_erp_export_of_december."+f+".xlsx")
		if _, rows := readTable(t, path, "customers_from_the_e…f_december"); len(rows) != 1 {
			t.Errorf("%s: %d rows under the shortened sheet name", path, len(rows))
		}
	}
}

// import and restore --json print their report also when the config file, a flag or the log format is
// refused before the run could start: one JSON object with exit code 2, the error and the command's mode, and
// no secret of the config file.
func TestRunJSONReportForRefusedFlagsAndConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	config := func(name, text string) []string { return []string{"--config", writeFile(t, dir, name, text)} }
	for command, mode := range map[string]string{"import": "delta", "restore": "restore"} {
		target := good
		if command == "restore" {
			target = "--run=last"
		}
		for name, args := range map[string][]string{
			"unknown config key":      append(config("key.yaml", "tennant: acme\n"), command, "--json", target),
			"bad YAML":                append(config("bad.yaml", "tenant: [acme\n"), command, "--json", target),
			"missing profile":         append(config("profiles.yaml", "profiles:\n  a:\n    tenant: acme\n"), "--profile", "b", command, "--json", target),
			"secret in a profile":     append(config("secret.yaml", "profiles:\n  a:\n    client-secret: hunter2\n"), command, "--json", target),
			"unknown flag":            sandboxArgs(dir, command, "--json", "--no-such-flag", target),
			"bad log format":          append([]string{"--log-format", "xml"}, sandboxArgs(dir, command, "--json=true", target)...),
			"unknown flag, json last": sandboxArgs(dir, command, "--no-such-flag", "--json", target),
		} {
			t.Run(command+" "+name, func(t *testing.T) {
				code, out, errOut := runCLI(t, args...)
				rep := validReport(t, "importReport", out)
				if code != ExitUsage || rep["exitCode"] != float64(ExitUsage) || rep["stopped"] == nil || rep["mode"] != mode || strings.Contains(out, "hunter2") {
					t.Fatalf("code %d, report %v\n%s", code, rep, errOut)
				}
			})
		}
	}
}
