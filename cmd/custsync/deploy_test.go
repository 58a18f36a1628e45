package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"custsync/remote"
)

const deployDir = "../../samples/deploy"

// shellWords splits a command line the way sh does for the simple lines of the deploy files: quotes,
// backslash escapes, and the operators ; && || | as words of their own.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case ch == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unclosed \" in %q", line)
			}
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case ch == ' ' || ch == '\t':
			flush()
		case ch == ';' || ch == '|' || (ch == '&' && i+1 < len(line) && line[i+1] == '&'):
			flush()
			op := string(ch)
			if i+1 < len(line) && (line[i+1] == ch) {
				op += string(ch)
				i++
			}
			words = append(words, op)
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	return words, nil
}

var redirection = regexp.MustCompile(`^[0-9]*(>>?|<)`)

// custsyncInvocations returns the argument lists (without the program name) of every custsync command in a
// shell line, with redirections dropped.
func custsyncInvocations(t *testing.T, line string) [][]string {
	t.Helper()
	words, err := shellWords(line)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var cmd []string
	end := func() {
		if len(cmd) > 0 && filepath.Base(cmd[0]) == "custsync" {
			out = append(out, cmd[1:])
		}
		cmd = nil
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == ";" || w == "&&" || w == "||" || w == "|":
			end()
		case redirection.MatchString(w):
			if m := redirection.FindString(w); m == w { // "> file": the target is the next word
				i++
			}
		default:
			cmd = append(cmd, w)
		}
	}
	end()
	return out
}

// parseWithTheRealApp parses args with custsync's own command tree without running anything: every
// action, before and after hook is replaced by one that notes the command reached. It returns that
// command's full name.
func parseWithTheRealApp(args []string) (string, error) {
	app := NewApp(Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	reached := ""
	var stub func(cmds []*cli.Command)
	stub = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.Before, c.After = nil, nil
			if c.Action != nil {
				c.Action = func(ctx *cli.Context) error { reached = ctx.Command.FullName(); return nil }
			}
			stub(c.Subcommands)
		}
	}
	app.Before = nil
	stub(app.Commands)
	err := app.Run(hoistGlobalFlags(append([]string{"custsync"}, args...)))
	return reached, err
}

// knownEnvVars are the environment variables custsync reads: those of every flag and the credentials.
func knownEnvVars() map[string]bool {
	known := map[string]bool{remote.EnvClientID: true, remote.EnvClientSecret: true}
	var walk func(flags []cli.Flag, cmds []*cli.Command)
	walk = func(flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, e := range ev.GetEnvVars() {
					known[e] = true
				}
			}
		}
		for _, c := range cmds {
			walk(c.Flags, c.Subcommands)
		}
	}
	app := NewApp(Streams{})
	walk(app.Flags, app.Commands)
	return known
}

// checkInvocation parses one custsync command line of a deploy file and checks that the profile it names
// exists in the config file it will read.
func checkInvocation(t *testing.T, where string, args []string, config *configFile) {
	t.Helper()
	reached, err := parseWithTheRealApp(args)
	if err != nil {
		t.Errorf("%s: custsync %s: %v", where, strings.Join(args, " "), err)
		return
	}
	if reached == "" {
		t.Errorf("%s: custsync %s runs no command", where, strings.Join(args, " "))
	}
	for i, a := range args {
		if a == "--profile" && i+1 < len(args) {
			if config == nil {
				t.Errorf("%s: --profile %s without a config file", where, args[i+1])
			} else if _, err := config.profile("--profile", args[i+1]); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
	}
}

func loadSampleConfig(t *testing.T) *configFile {
	t.Helper()
	cf, err := loadConfigFile(filepath.Join(deployDir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cf.profileNames() {
		if _, err := cf.target("--profile", name); err != nil {
			t.Fatal(err)
		}
	}
	return cf
}

func TestDeployCrontabCommandsParse(t *testing.T) {
	t.Parallel()
	cf := loadSampleConfig(t)
	f, err := os.Open(filepath.Join(deployDir, "crontab"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	envLine := regexp.MustCompile(`^[A-Z_]+=`)
	jobs := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || envLine.MatchString(line) {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 6 {
			t.Fatalf("crontab:%d: not a cron job: %q", n, line)
		}
		command := strings.Join(fields[5:], " ")
		// cron turns an unescaped % into a newline: the command would be cut there.
		if i := regexp.MustCompile(`(^|[^\\])%`).FindStringIndex(command); i != nil {
			t.Errorf("crontab:%d: unescaped %% in %q", n, command)
		}
		calls := custsyncInvocations(t, command)
		if len(calls) == 0 {
			t.Errorf("crontab:%d: no custsync command", n)
		}
		for _, args := range calls {
			checkInvocation(t, fmt.Sprintf("crontab:%d", n), args, cf)
			jobs++
		}
	}
	if jobs == 0 {
		t.Fatal("the crontab runs no custsync command")
	}
}

func TestDeploySystemdUnitsParse(t *testing.T) {
	t.Parallel()
	cf := loadSampleConfig(t)
	unit, err := os.ReadFile(filepath.Join(deployDir, "systemd", "custsync-import.service"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for n, line := range strings.Split(string(unit), "\n") {
		value, ok := strings.CutPrefix(line, "ExecStart=")
		if !ok {
			continue
		}
		value = strings.TrimLeft(value, "-@:+!")
		// %d is the credentials directory systemd fills in.
		value = strings.ReplaceAll(value, "%d", "/run/credentials/custsync-import.service")
		if strings.Contains(value, "%") {
			t.Errorf("custsync-import.service:%d: unknown specifier in %q", n+1, value)
		}
		for _, args := range custsyncInvocations(t, value) {
			checkInvocation(t, fmt.Sprintf("custsync-import.service:%d", n+1), args, cf)
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%d custsync ExecStart lines, want 1", found)
	}
	timer, err := os.ReadFile(filepath.Join(deployDir, "systemd", "custsync-import.timer"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(timer), "OnCalendar=") || !strings.Contains(string(timer), "WantedBy=timers.target") {
		t.Fatalf("the timer has no schedule or is never enabled:\n%s", timer)
	}
}

// dockerfile is the parsed sample Dockerfile: instructions in order, continuation lines joined.
type dockerInstruction struct{ op, args string }

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	joined := strings.ReplaceAll(string(raw), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.TrimSpace(args)})
	}
	return out
}

// goBuild splits "ENV=v ... go build FLAGS... PACKAGE" into its environment, flags and package.
func goBuild(t *testing.T, line string) (env, flags []string, pkg string) {
	t.Helper()
	words, err := shellWords(line)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(words, "go")
	if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
		t.Fatalf("no go build in %q", line)
	}
	for _, w := range words[:i] {
		if strings.Contains(w, "=") {
			env = append(env, w)
		}
	}
	rest := words[i+2:]
	for j := 0; j < len(rest); j++ {
		if rest[j] == "&&" || rest[j] == ";" {
			break
		}
		if strings.HasPrefix(rest[j], "-") {
			flags = append(flags, rest[j])
			if !strings.Contains(rest[j], "=") && j+1 < len(rest) && (rest[j] == "-o" || rest[j] == "-ldflags" || rest[j] == "-tags") {
				j++
				flags = append(flags, rest[j])
			}
			continue
		}
		pkg = rest[j]
	}
	return env, flags, pkg
}

var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// TestMain removes the binary staticBinary built, which outlives every single test.
func TestMain(m *testing.M) {
	code := m.Run()
	if staticPath != "" {
		_ = os.RemoveAll(filepath.Dir(staticPath))
	}
	os.Exit(code)
}

// staticBinary builds custsync the way the sample Dockerfile does (its environment, flags and package,
// VERSION=deploytest) into a temporary directory, once per test process.
func staticBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	staticOnce.Do(func() {
		var buildLine string
		for _, in := range readDockerfile(t) {
			if in.op == "RUN" && strings.Contains(in.args, "go build") {
				buildLine = in.args
			}
		}
		env, flags, pkg := goBuild(t, buildLine)
		dir, err := os.MkdirTemp("", "custsync-static-")
		if err != nil {
			staticErr = err
			return
		}
		staticPath = filepath.Join(dir, "custsync")
		for i, f := range flags {
			flags[i] = strings.ReplaceAll(f, "${VERSION}", "deploytest")
			if i > 0 && flags[i-1] == "-o" {
				flags[i] = staticPath
			}
		}
		cmd := exec.Command("go", append(append([]string{"build"}, flags...), pkg)...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("go build %v: %v\n%s", flags, err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

// TestDeployDockerfileBuildsTheREADMEsTargetStatically checks the Dockerfile against the README and the
// rest of the deployment: the same build target as the README, CGO_ENABLED=0 giving a static binary that
// runs, the Go version of go.mod, a non-root user, and the state directory the CronJob mounts.
func TestDeployDockerfileBuildsTheREADMEsTargetStatically(t *testing.T) {
	t.Parallel()
	instructions := readDockerfile(t)
	var buildLine, user, volume, workdir string
	var bases []string
	for _, in := range instructions {
		switch in.op {
		case "FROM":
			bases = append(bases, strings.Fields(in.args)[0])
		case "RUN":
			if strings.Contains(in.args, "go build") {
				buildLine = in.args
			}
		case "USER":
			user = in.args
		case "VOLUME":
			volume = in.args
		case "WORKDIR":
			workdir = in.args
		case "CMD", "ENTRYPOINT":
		}
	}
	env, _, pkg := goBuild(t, buildLine)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the build does not set CGO_ENABLED=0: %q", buildLine)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var readmeBuild string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.Contains(line, "go build") {
			readmeBuild = line
			break
		}
	}
	if _, _, readmePkg := goBuild(t, readmeBuild); readmePkg != pkg {
		t.Errorf("the Dockerfile builds %q, the README %q", pkg, readmePkg)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if len(bases) < 2 || bases[0] != "golang:"+string(goVersion[1]) {
		t.Errorf("build stage %v, want golang:%s (go.mod)", bases, goVersion[1])
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("the image runs as %q", user)
	}
	if workdir != "/var/lib/custsync" || !strings.Contains(volume, `"`+workdir+`"`) {
		t.Errorf("WORKDIR %q, VOLUME %q: the state directory must be a volume", workdir, volume)
	}
	job := readCronJob(t)
	if job.runAsUser != uid {
		t.Errorf("the CronJob runs as %s, the image as %s", job.runAsUser, uid)
	}
	if !slices.Contains(job.mounts, workdir) {
		t.Errorf("the CronJob mounts %v, not the state directory %s", job.mounts, workdir)
	}

	bin := staticBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked (has an ELF interpreter)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "deploytest") {
		t.Fatalf("custsync version: %v\n%s", err, out)
	}
}

// cronJob is what the tests need of the sample CronJob.
type cronJob struct {
	args      []string
	env       []string
	mounts    []string
	runAsUser string
	config    *configFile
}

func readCronJob(t *testing.T) cronJob {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var job cronJob
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				JobTemplate struct {
					Spec struct {
						Template struct {
							Spec struct {
								SecurityContext struct {
									RunAsUser int `yaml:"runAsUser"`
								} `yaml:"securityContext"`
								Containers []struct {
									Command []string `yaml:"command"`
									Args    []string `yaml:"args"`
									Env     []struct {
										Name string `yaml:"name"`
									} `yaml:"env"`
									VolumeMounts []struct {
										MountPath string `yaml:"mountPath"`
									} `yaml:"volumeMounts"`
								} `yaml:"containers"`
							} `yaml:"spec"`
						} `yaml:"template"`
					} `yaml:"spec"`
				} `yaml:"jobTemplate"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch doc.Kind {
		case "ConfigMap":
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(doc.Data["config.yaml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			if job.config, err = loadConfigFile(path); err != nil {
				t.Fatalf("the CronJob's ConfigMap: %v", err)
			}
		case "CronJob":
			pod := doc.Spec.JobTemplate.Spec.Template.Spec
			job.runAsUser = fmt.Sprint(pod.SecurityContext.RunAsUser)
			for _, c := range pod.Containers {
				if len(c.Command) > 0 {
					t.Fatalf("the CronJob overrides the image's entrypoint: %v", c.Command)
				}
				job.args = c.Args
				for _, e := range c.Env {
					job.env = append(job.env, e.Name)
				}
				for _, m := range c.VolumeMounts {
					job.mounts = append(job.mounts, m.MountPath)
				}
			}
		}
	}
	return job
}

func TestDeployKubernetesCronJobParses(t *testing.T) {
	t.Parallel()
	job := readCronJob(t)
	if len(job.args) == 0 {
		t.Fatal("the CronJob runs no custsync command")
	}
	checkInvocation(t, "cronjob.yaml", job.args, job.config)
	known := knownEnvVars()
	for _, e := range job.env {
		if !known[e] {
			t.Errorf("cronjob.yaml sets %s, which custsync does not read", e)
		}
	}
	// The state file of the profile must be on the mounted volume, or every run starts from nothing.
	for _, name := range job.config.profileNames() {
		tgt, err := job.config.target("--profile", name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(job.mounts, filepath.Dir(tgt.State)) {
			t.Errorf("profile %s keeps its state in %s, which is not a mounted volume (%v)", name, tgt.State, job.mounts)
		}
	}
}

// TestDeployParserRejectsWhatCustsyncRejects makes sure the checks above can fail: an unknown flag and a
// line without a command are caught.
func TestDeployParserRejectsWhatCustsyncRejects(t *testing.T) {
	t.Parallel()
	if _, err := parseWithTheRealApp([]string{"import", "--no-such-flag", "a.csv"}); err == nil {
		t.Error("an unknown flag parsed")
	}
	if _, err := parseWithTheRealApp([]string{"--tps", "fast", "import", "a.csv"}); err == nil {
		t.Error("a global flag that does not exist parsed")
	}
	if reached, err := parseWithTheRealApp([]string{"--profile", "p", "import", "--tenant", "x", "a.csv"}); err != nil || reached != "import" {
		t.Errorf("a good line: %q %v", reached, err)
	}
	got := custsyncInvocations(t, `cd /x && /usr/local/bin/custsync import "a b.csv" >>log 2>&1 | tee x; custsync version > out`)
	want := [][]string{{"import", "a b.csv"}, {"version"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("invocations %q, want %q", got, want)
	}
}

// TestREADMEConfigExampleLoads keeps the config example of the README's Profiles section valid.
func TestREADMEConfigExampleLoads(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "```yaml\n# /etc/custsync/config.yaml\n")
	if !ok {
		t.Fatal("README.md has no config example")
	}
	example, _, _ := strings.Cut(after, "```")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.profiles) < 2 {
		t.Fatalf("the example has %d profiles", len(cf.profiles))
	}
	for _, name := range cf.profileNames() {
		if tgt, err := cf.target("--profile", name); err != nil || tgt.Tenant == "" || tgt.ClientSecretFile == "" {
			t.Errorf("profile %s: %+v %v", name, tgt, err)
		}
	}
}
