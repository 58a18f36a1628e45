package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Credentials of the sandbox's demo client.
const (
	SandboxClientID     = "sandbox"
	SandboxClientSecret = "sandbox"
)

// Result is a finished child process.
type Result struct {
	Exit   int // exit code; -1 when killed by a signal
	Wall   time.Duration
	MaxRSS int64 // peak resident set size in bytes (0 where the OS does not report it)
	// CPU is the user and system time of the process and what it waited for.
	CPU    time.Duration
	Stdout []byte
	Stderr []byte
}

// timeTool is GNU time. Run measures peak RSS through it because a child's own rusage is not reliable here:
// Go starts children with vfork semantics (CLONE_VM), so the kernel's high-water mark of the exec'd child
// starts at the parent's RSS, and a benchmark driver holding a sandbox full of data would inflate every figure.
const timeTool = "/usr/bin/time"

// Run runs bin with args and the extra environment variables env, and waits for it. A non-zero exit is not an
// error: it is in Result.Exit. Peak RSS comes from GNU time when it is installed (see timeTool), else from
// the child's rusage.
func Run(ctx context.Context, bin string, env []string, args ...string) (Result, error) {
	var rssFile string
	name, argv := bin, args
	if _, err := os.Stat(timeTool); err == nil {
		f, err := os.CreateTemp("", "custsync-rss-")
		if err != nil {
			return Result{}, fmt.Errorf("temp file: %w", err)
		}
		rssFile = f.Name()
		_ = f.Close()
		defer os.Remove(rssFile)
		name, argv = timeTool, append([]string{"-o", rssFile, "-f", "%M", bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Env = append(os.Environ(), env...)
	// The child gets its own process group so that a cancelled run also stops what runs under GNU time.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Wall: time.Since(start), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if cmd.ProcessState != nil {
		res.Exit = cmd.ProcessState.ExitCode()
		res.MaxRSS = maxRSS(cmd.ProcessState)
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if rssFile != "" {
		res.MaxRSS = timeRSS(rssFile)
		if res.Exit > 128 {
			// GNU time exits 128+N when its child dies of signal N; report it like a direct child.
			res.Exit = -1
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("run %s: %w", bin, err)
	}
	return res, nil
}

// timeRSS reads the kilobytes GNU time wrote as the last line of its output file.
func timeRSS(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := strings.Fields(strings.TrimSpace(string(b)))
	if len(lines) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}

// maxRSS reads the peak RSS from the rusage of a finished process (Linux reports kilobytes).
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) * 1024
	}
	return 0
}

// Target is the platform a custsync command talks to and the state file it uses.
type Target struct {
	Bin    string // the custsync binary
	APIURL string
	Tenant string
	State  string
}

// Env carries the client secret in the environment, not on the command line.
func (t Target) Env() []string {
	return []string{"CUSTSYNC_CLIENT_SECRET=" + SandboxClientSecret}
}

// Args prefixes a subcommand with the global flags of t.
func (t Target) Args(sub ...string) []string {
	return append([]string{"--api-url", t.APIURL, "--tenant", t.Tenant, "--client-id", SandboxClientID, "--state", t.State}, sub...)
}

// Command builds (without starting) a custsync subcommand against t.
func (t Target) Command(sub ...string) *exec.Cmd {
	cmd := exec.Command(t.Bin, t.Args(sub...)...)
	cmd.Env = append(os.Environ(), t.Env()...)
	return cmd
}

// ImportReport is the part of `custsync import --json` the benchmarks and tests read.
type ImportReport struct {
	Created        int     `json:"created"`
	Updated        int     `json:"updated"`
	Unchanged      int     `json:"unchanged"`
	Deleted        int     `json:"deleted"`
	Failed         int     `json:"failed"`
	Pending        int     `json:"pending"`
	Rows           int     `json:"rows"`
	Retried        int64   `json:"retried"`
	Requests       int64   `json:"requests"`
	Seconds        float64 `json:"durationSeconds"`
	ResumedRun     int64   `json:"resumedRun"`
	ResumedPending int     `json:"resumedPending"`
	Stopped        string  `json:"stopped"`
	LoginsImported int     `json:"loginsImported"`
}

// Import runs `custsync import --json` with the extra flags and files, and decodes its report. The report is
// decoded whenever stdout holds one, whatever the exit code.
func (t Target) Import(ctx context.Context, flagsAndFiles ...string) (ImportReport, Result, error) {
	args := t.Args(append([]string{"import", "--json"}, flagsAndFiles...)...)
	res, err := Run(ctx, t.Bin, t.Env(), args...)
	if err != nil {
		return ImportReport{}, res, err
	}
	var rep ImportReport
	if err := json.Unmarshal(res.Stdout, &rep); err != nil {
		return rep, res, fmt.Errorf("import exited %d without a JSON report: %w; stderr: %s", res.Exit, err, tail(res.Stderr))
	}
	return rep, res, nil
}

// tail keeps the end of a child's output for error messages.
func tail(b []byte) string {
	const max = 2000
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}

// SandboxProcess is `custsync sandbox serve` running as a child process.
type SandboxProcess struct {
	URL  string
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartSandbox starts `bin sandbox serve` on addr (127.0.0.1:0 picks a port) with the extra flags (--data,
// --faults, ...) and waits until it prints where it listens.
func StartSandbox(bin, addr string, flags ...string) (*SandboxProcess, error) {
	cmd := exec.Command(bin, append([]string{"sandbox", "serve", "--addr", addr}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox stdout: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	p := &SandboxProcess{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case line, ok := <-lines:
		const prefix = "sandbox listening on "
		if !ok || !strings.HasPrefix(line, prefix) {
			p.Kill()
			return nil, fmt.Errorf("sandbox did not start: %q %s", line, tail(stderr.Bytes()))
		}
		p.URL = strings.Fields(strings.TrimPrefix(line, prefix))[0]
		p.Addr = strings.TrimPrefix(p.URL, "http://")
		return p, nil
	case <-time.After(30 * time.Second):
		p.Kill()
		return nil, errors.New("sandbox did not print its address within 30 s")
	}
}

// Kill kills the sandbox with SIGKILL and waits for it to exit.
func (p *SandboxProcess) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop asks the sandbox to shut down (SIGTERM) and waits, killing it after 10 s.
func (p *SandboxProcess) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Pid is the sandbox's process id.
func (p *SandboxProcess) Pid() int { return p.cmd.Process.Pid }
