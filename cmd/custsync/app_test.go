package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runCLI runs the CLI in-process with buffered streams and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLIContext(t, context.Background(), args...)
}

func runCLIContext(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"custsync"}, args...), Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestVersionPrintsVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "custsync ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, "version", "--no-such-flag")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d; stderr %q", code, ExitUsage, errOut)
	}
	if !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("stderr does not name the flag: %q", errOut)
	}
}

func TestUnknownGlobalFlagIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, _ := runCLI(t, "--bogus", "version")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d", code, ExitUsage)
	}
}

func TestBadLogFormatIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, "--log-format", "xml", "version")
	if code != ExitUsage || !strings.Contains(errOut, "log-format") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}

func TestBadContactPropagationIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, "sandbox", "serve", "--addr", "127.0.0.1:0", "--contact-propagation", "sideways")
	if code != ExitUsage || !strings.Contains(errOut, "UPWARD, DOWNWARD or DISABLED") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}

func TestExitCodesCommandListsEveryCode(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "exit-codes")
	if code != ExitOK {
		t.Fatalf("code %d", code)
	}
	for _, c := range []int{0, 1, 2, 3, 4, 5, 6, 7, 130} {
		if !strings.Contains(out, fmt.Sprintf("%3d  ", c)) {
			t.Errorf("exit code %d missing from:\n%s", c, out)
		}
	}
}

func TestExitCodeMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitFailure},
		{"usage", fmt.Errorf("wrapped: %w", &UsageError{Err: errors.New("bad")}), ExitUsage},
		{"canceled", fmt.Errorf("run: %w", context.Canceled), ExitInterrupted},
		{"explicit", &exitError{code: ExitPartial, err: errors.New("3 rows failed")}, ExitPartial},
		{"urfave/cli exit", cli.Exit("No help topic for 'bogus'", 3), ExitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestConfigFileFillsUnsetFlagsOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "custsync.yaml")
	if err := os.WriteFile(cfg, []byte("log_format: xml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The config value is applied (and rejected as invalid) when the flag is not given ...
	code, _, errOut := runCLI(t, "--config", cfg, "version")
	if code != ExitUsage || !strings.Contains(errOut, "log-format") {
		t.Fatalf("config value not applied: code %d stderr %q", code, errOut)
	}
	// ... and the command line wins over it.
	code, _, errOut = runCLI(t, "--config", cfg, "--log-format", "json", "version")
	if code != ExitOK {
		t.Fatalf("flag should win over config: code %d stderr %q", code, errOut)
	}
}

func TestConfigFileUnknownKeyIsUsageError(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("tennant: acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "--config", cfg, "version")
	if code != ExitUsage || !strings.Contains(errOut, "tennant") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}

func TestMissingConfigFileIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, _ := runCLI(t, "--config", filepath.Join(t.TempDir(), "absent.yaml"), "version")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d", code, ExitUsage)
	}
}

func TestHoistGlobalFlags(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"custsync import --tenant acme a.csv", "custsync --tenant acme import a.csv"},
		{"custsync import --tenant=acme --dry-run a.csv", "custsync --tenant=acme import --dry-run a.csv"},
		{"custsync --state s.db import --mapping m.yaml --api-url http://x a.csv", "custsync --api-url http://x --state s.db import --mapping m.yaml a.csv"},
		{"custsync state show --state s.db", "custsync --state s.db state show"},
		{"custsync -v import -v a.csv", "custsync -v import -v a.csv"},
		{"custsync import -- --tenant", "custsync import -- --tenant"},
		{"custsync", "custsync"},
	}
	for _, tc := range cases {
		if got := strings.Join(hoistGlobalFlags(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSinkCommandFlags(t *testing.T) {
	commands := NewApp(Streams{}).Commands
	cases := []struct{ in, want string }{
		{"custsync --state s.db --tps 0 import a.csv", "custsync --state s.db import --tps 0 a.csv"},
		{"custsync --tps=0 --dry-run import --json a.csv", "custsync import --tps=0 --dry-run --json a.csv"},
		{"custsync --dry-run import a.csv", "custsync import --dry-run a.csv"},
		{"custsync -v import a.csv", "custsync -v import a.csv"},
		{"custsync --run last restore", "custsync restore --run last"},
		{"custsync --json state runs", "custsync --json state runs"},
		{"custsync --bogus import a.csv", "custsync --bogus import a.csv"},
		{"custsync import --tps 0 a.csv", "custsync import --tps 0 a.csv"},
		{"custsync -- --tps 0 import", "custsync -- --tps 0 import"},
	}
	for _, tc := range cases {
		if got := strings.Join(sinkCommandFlags(strings.Fields(tc.in), commands), " "); got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A script that puts the import's flags before the command still gets its run and, with --json, its report.
func TestImportFlagsBeforeTheCommandWork(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	state := filepath.Join(dir, "s.db")
	var out, errOut bytes.Buffer
	code := Main([]string{"custsync", "--tps", "0", "--json", "--sandbox", "--state", state, "--tenant", "acme", "import", in},
		Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); code != ExitOK || err != nil || rep["created"] != 1.0 {
		t.Fatalf("exit %d, report %v (%v), stderr %s", code, rep, err, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = Main([]string{"custsync", "--tps", "abc", "--json", "--sandbox", "--state", state, "--tenant", "acme", "import", in},
		Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if err := json.Unmarshal(out.Bytes(), &rep); code != ExitUsage || err != nil || rep["exitCode"] != float64(ExitUsage) ||
		!strings.Contains(rep["stopped"].(string), "abc") {
		t.Fatalf("exit %d, report %v (%v), stderr %s", code, rep, err, errOut.String())
	}
}

func TestGlobalFlagsAfterTheCommandWork(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName\n1,Ann\n")
	var out, errOut bytes.Buffer
	code := Main([]string{"custsync", "import", "--sandbox", "--tps", "0", "--state", filepath.Join(dir, "s.db"), "--tenant", "acme", in},
		Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != ExitOK || !strings.Contains(out.String(), "1 created") {
		t.Fatalf("code %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	code = Main([]string{"custsync", "state", "show", "--state", filepath.Join(dir, "s.db")}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != ExitOK || !strings.Contains(out.String(), "tenant acme") {
		t.Fatalf("state show: code %d\n%s%s", code, out.String(), errOut.String())
	}
}
