package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionScriptsAreUrfaveCLIs keeps the embedded bash and zsh scripts equal to those of the
// urfave/cli module this binary is built with.
func TestCompletionScriptsAreUrfaveCLIs(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/urfave/cli/v2").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	for name, embedded := range map[string]string{"bash_autocomplete": bashCompletion, "zsh_autocomplete": zshCompletion} {
		want, err := os.ReadFile(filepath.Join(dir, "autocomplete", name))
		if err != nil {
			t.Fatal(err)
		}
		if embedded != string(want) {
			t.Errorf("completion/%s differs from the module's autocomplete/%s", name, name)
		}
	}
}

func TestCompletionCommandPrintsAScriptPerShell(t *testing.T) {
	t.Parallel()
	for shell, wants := range map[string][]string{
		"bash": {"PROG=custsync\n", "complete -o bashdefault", "--generate-bash-completion"},
		"zsh":  {"#compdef custsync\n", "compdef _cli_zsh_autocomplete $PROG"},
		"fish": {"complete -c custsync", "-a 'import'", "-l profile", "-a 'check'"},
	} {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != ExitOK {
			t.Fatalf("%s: code %d %s", shell, code, errOut)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s script lacks %q", shell, w)
			}
		}
		if shell == "bash" {
			// The script must at least be valid bash.
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s", err, msg)
			}
		}
	}
	if code, _, _ := runCLI(t, "completion", "powershell"); code != ExitUsage {
		t.Errorf("unknown shell: code %d", code)
	}
	if code, _, _ := runCLI(t, "completion"); code != ExitUsage {
		t.Errorf("no shell: code %d", code)
	}
}

// TestBashCompletionCompletesCommandsAndFlags sources the bash script the binary prints and asks it to
// complete as bash would, with the binary on PATH. bash-completion's _get_comp_words_by_ref, which the
// script calls, is replaced by its plain meaning (the words up to the cursor), since that package may
// not be installed.
func TestBashCompletionCompletesCommandsAndFlags(t *testing.T) {
	t.Parallel()
	bin := staticBinary(t)
	script := `
_get_comp_words_by_ref() { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source <(custsync completion bash)
complete_line() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cli_bash_autocomplete; echo "${COMPREPLY[*]}"; }
complete_line custsync im
complete_line custsync state ""
complete_line custsync import --max-d
`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"import", "show runs unlock prune help h", "--max-delete --max-duration"}
	if len(lines) != len(want) {
		t.Fatalf("completions %q, want %q", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("completion %d: %q, want %q", i, lines[i], want[i])
		}
	}
}

func TestManCommandPrintsAManualPage(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, "man")
	if code != ExitOK {
		t.Fatalf("code %d %s", code, errOut)
	}
	for _, w := range []string{".TH custsync 1", ".SH NAME", "import", "config", "--profile", "--max-delete"} {
		if !strings.Contains(out, w) {
			t.Errorf("man page lacks %q", w)
		}
	}
}
