package main

import (
	"bytes"
	"context"
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
	err := NewApp(Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}).RunContext(ctx, append([]string{"custsync"}, args...))
	code := report(&errOut, err)
	return code, out.String(), errOut.String()
}

func TestVersionPrintsVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "custsync ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	code, _, errOut := runCLI(t, "version", "--no-such-flag")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d; stderr %q", code, ExitUsage, errOut)
	}
	if !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("stderr does not name the flag: %q", errOut)
	}
}

func TestUnknownGlobalFlagIsUsageError(t *testing.T) {
	code, _, _ := runCLI(t, "--bogus", "version")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d", code, ExitUsage)
	}
}

func TestBadLogFormatIsUsageError(t *testing.T) {
	code, _, errOut := runCLI(t, "--log-format", "xml", "version")
	if code != ExitUsage || !strings.Contains(errOut, "log-format") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}

func TestExitCodesCommandListsEveryCode(t *testing.T) {
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
		{"cli exit", cli.Exit("x", 9), 9},
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
	code, _, _ := runCLI(t, "--config", filepath.Join(t.TempDir(), "absent.yaml"), "version")
	if code != ExitUsage {
		t.Fatalf("code %d, want %d", code, ExitUsage)
	}
}
