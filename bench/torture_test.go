package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
)

var tortureLong = flag.Bool("torture.long", false, "run the long torture test: 10k rows, 10 kills of the import, one kill of the sandbox")

// custsyncBin is the binary built once for every test of the package.
var custsyncBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "custsync-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench tests:", err)
		os.Exit(1)
	}
	custsyncBin = filepath.Join(dir, "custsync")
	build := exec.Command("go", "build", "-o", custsyncBin, "custsync/cmd/custsync")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench tests: build custsync:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// startSandbox starts `custsync sandbox serve` as a child process and stops it when the test ends.
func startSandbox(t *testing.T, addr string, flags ...string) *SandboxProcess {
	t.Helper()
	sb, err := StartSandbox(custsyncBin, addr, flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Kill)
	return sb
}

// restartSandbox starts the sandbox again on the port it had, retrying for a while: until the old process's
// sockets are gone, or if an outgoing connection briefly holds the port number, the bind can fail.
func restartSandbox(t *testing.T, addr string, flags ...string) *SandboxProcess {
	t.Helper()
	var err error
	for range 40 {
		var sb *SandboxProcess
		if sb, err = StartSandbox(custsyncBin, addr, flags...); err == nil {
			t.Cleanup(sb.Kill)
			return sb
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("restart the sandbox on %s: %v", addr, err)
	return nil
}

// tortureConfig scales the torture test.
type tortureConfig struct {
	rows        int
	kills       int  // kill -9 of the import
	killSandbox bool // kill -9 the sandbox once, mid-run, and restart it on its data file
}

// tortureFaults are the faults of the second pass. Each 429 carries Retry-After: 1, which pauses every
// worker for a second, so this pass runs at about 20 writes per second whatever the row count.
const tortureFaults = "503=0.05,429=0.05,drop=0.05,seed=11"

// tortureScale is the size of each pass: the short form keeps `go test ./bench/...` near a minute.
func tortureScale(faults bool) tortureConfig {
	switch {
	case *tortureLong:
		return tortureConfig{rows: 10_000, kills: 10, killSandbox: true}
	case faults:
		return tortureConfig{rows: 500, kills: 3}
	}
	return tortureConfig{rows: 2_000, kills: 3}
}

// TestTortureKill9 kills the import with SIGKILL at random points, resumes it each time and checks that the
// platform ends up holding exactly the file: every customer once, every field as in the file, and that a
// further run has nothing to send. The sandbox runs as its own process with a data file.
func TestTortureKill9(t *testing.T) {
	t.Parallel()
	t.Run("clean", func(t *testing.T) { t.Parallel(); torture(t, tortureScale(false), "", 1) })
	t.Run("faults", func(t *testing.T) { t.Parallel(); torture(t, tortureScale(true), tortureFaults, 2) })
}

// tortureCounts are printed at the end of each torture run.
type tortureCounts struct {
	kills, sandboxKills, finishedBeforeKill, resumes, runs int
	requests, retried                                      int64 // of the runs that finished and reported
	exits                                                  map[int]int
}

func torture(t *testing.T, cfg tortureConfig, faults string, seed uint64) {
	ctx := context.Background()
	dir := t.TempDir()
	data, csv := filepath.Join(dir, "sandbox.db"), filepath.Join(dir, "customers.csv")
	ds := Dataset{Rows: cfg.rows}
	if err := ds.Write(csv); err != nil {
		t.Fatal(err)
	}
	sbFlags := []string{"--data", data}
	if faults != "" {
		sbFlags = append(sbFlags, "--faults", faults)
	}
	sb := startSandbox(t, "127.0.0.1:0", sbFlags...)
	// The state file is bound to the API URL, so a restarted sandbox must come back on the same port.
	addr := sb.Addr
	tgt := Target{Bin: custsyncBin, APIURL: sb.URL, Tenant: "torture", State: filepath.Join(dir, "state.db")}
	probe := &customerProbe{cfg: remote.Config{BaseURL: sb.URL, Tenant: tgt.Tenant, ClientID: SandboxClientID,
		ClientSecret: SandboxClientSecret, MaxRetries: -1, RequestTimeout: 2 * time.Second}}
	rng := rand.New(rand.NewPCG(seed, uint64(cfg.rows)))
	counts := tortureCounts{exits: map[int]int{}}
	importArgs := []string{"--tps", "0", "--writers", "8", csv}

	interrupted := false // a run was killed (or its sandbox was) and no run has completed since
	record := func(res Result, stdout []byte, afterKill bool) {
		if afterKill {
			counts.resumes++ // this run started on the checkpoint of an interrupted run
		}
		counts.runs++
		counts.exits[res.Exit]++
		var rep ImportReport
		if res.Exit >= 0 && json.Unmarshal(stdout, &rep) == nil {
			counts.requests += rep.Requests
			counts.retried += rep.Retried
		}
		switch res.Exit {
		case -1, 0, 3, 5, 130:
		case 7:
			t.Errorf("import exited 7 (state locked) after a kill -9: the dead run's lock was not taken over: %s", tail(res.Stderr))
		default:
			t.Errorf("import exited %d: %s", res.Exit, tail(res.Stderr))
		}
	}

	reached := 0 // the row index the platform is known to have reached
	for k := 0; k < cfg.kills; k++ {
		afterKill := interrupted
		cmd := tgt.Command(append([]string{"import", "--json"}, importArgs...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()

		killSandbox := cfg.killSandbox && k == cfg.kills/2
		var hit bool
		if k == 0 && !killSandbox {
			// The first kill lands early: while the file is read, planned or journaled, or at the first writes.
			hit = waitOrExit(exited, time.Duration(rng.IntN(400))*time.Millisecond)
		} else {
			// Later kills land when the platform has reached a random row beyond the last kill, spread so that
			// every kill still finds work to interrupt. Writes go out in ERP key order, 8 at a time.
			span := max(1, (cfg.rows-reached)*2/(cfg.kills-k+1))
			target := min(cfg.rows-1, reached+1+rng.IntN(span))
			var err error
			hit, err = waitForCustomer(ctx, probe, CustomerKey(target), exited, 10*time.Minute)
			if err != nil {
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("kill %d: %v; import stderr: %s", k+1, err, tail([]byte(stderr.String())))
			}
			if hit {
				reached = target
				hit = waitOrExit(exited, time.Duration(rng.IntN(30))*time.Millisecond)
			}
		}
		if hit && killSandbox {
			sb.Kill()
			counts.sandboxKills++
			time.Sleep(200 * time.Millisecond)
			sb = restartSandbox(t, addr, sbFlags...)
			// The import retries through the outage or gives up with exit 5; either way it ends by itself, and
			// until then it goes on writing. The rest of the file may take many minutes under faults, so what
			// is bounded is the time without progress.
			if err := waitWhileProgressing(ctx, probe, reached, cfg.rows, exited, tortureStall); err != nil {
				t.Errorf("after the sandbox restart: %v; import stderr: %s", err, tail([]byte(stderr.String())))
				_ = cmd.Process.Kill()
				<-exited
			}
		} else if hit {
			_ = cmd.Process.Kill()
			<-exited
			counts.kills++
		} else {
			counts.finishedBeforeKill++
		}
		res := Result{Exit: cmd.ProcessState.ExitCode(), Stderr: []byte(stderr.String())}
		record(res, []byte(stdout.String()), afterKill)
		interrupted = res.Exit != 0
	}

	// Run to completion. Under faults a run may still give up on one write (exit 5) or a row (exit 3).
	var final ImportReport
	for attempt := 0; ; attempt++ {
		afterKill := interrupted
		rep, res, err := tgt.Import(ctx, importArgs...)
		if err != nil {
			t.Fatal(err)
		}
		record(res, res.Stdout, afterKill)
		interrupted = res.Exit != 0
		if res.Exit == 0 {
			final = rep
			break
		}
		if attempt == 5 {
			t.Fatalf("the import did not complete in 6 runs; last exit %d: %s", res.Exit, tail(res.Stderr))
		}
	}
	if final.Failed != 0 || final.Pending != 0 {
		t.Errorf("the completing run reports failed=%d pending=%d", final.Failed, final.Pending)
	}

	// Check the platform without faults, after a restart that also proves the data file holds everything.
	sb.Stop()
	sb = restartSandbox(t, addr, "--data", data)
	checkPlatform(t, ctx, sb.URL, tgt.Tenant, ds)

	rep, res, err := tgt.Import(ctx, importArgs...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 0 || rep.Created+rep.Updated+rep.Deleted+rep.Failed != 0 || rep.Unchanged != cfg.rows || rep.Requests != 0 {
		t.Errorf("a re-run after convergence must send nothing: exit %d, report %+v", res.Exit, rep)
	}
	t.Logf("faults %q: %d rows; kill -9: %d of the import, %d of the sandbox; %d runs finished before their kill; %d runs in all, %d of them resumed after a kill; exit codes %v; %d requests and %d retries reported by the runs that were not killed; platform checked against the file's %d customers; final re-run: %d requests",
		faults, cfg.rows, counts.kills, counts.sandboxKills, counts.finishedBeforeKill, counts.runs, counts.resumes,
		counts.exits, counts.requests, counts.retried, cfg.rows, rep.Requests)
}

// tortureStall is how long an import that is still running may go without a further tortureStride rows
// appearing on the platform.
const (
	tortureStall  = 3 * time.Minute
	tortureStride = 200
)

// waitWhileProgressing waits until the import exits, as long as it makes progress: writes go out in ERP key
// order, so beyond row reached the rows must appear tortureStride at a time, each stride within stall, and
// after the last row the import must end within stall.
func waitWhileProgressing(ctx context.Context, probe *customerProbe, reached, rows int, exited <-chan struct{}, stall time.Duration) error {
	for next := reached + tortureStride; next < rows+tortureStride; next += tortureStride {
		hit, err := waitForCustomer(ctx, probe, CustomerKey(min(next, rows-1)), exited, stall)
		if err != nil {
			return fmt.Errorf("no progress: %w", err)
		}
		if !hit {
			return nil
		}
	}
	if !waitOrExit(exited, stall) {
		return nil
	}
	return fmt.Errorf("the import did not end within %v of its last row appearing on the platform", stall)
}

// waitOrExit waits d; it reports false if the process exited first.
func waitOrExit(exited <-chan struct{}, d time.Duration) bool {
	select {
	case <-exited:
		return false
	case <-time.After(d):
		return true
	}
}

// customerProbe is the test's own view of the platform while imports run. Its client tries each request once
// (the faults pass injects a fault into about one request in seven), and a client that could not get a token
// keeps failing with that error for the rest of its life, as custsync's run stops once on it; the probe
// outlives many runs and a sandbox restart, so it starts a new client instead.
type customerProbe struct {
	cfg     remote.Config
	rc      *remote.Client
	lastErr error
}

// exists reports whether the customer exists; a failed request reports false and is kept in lastErr.
func (p *customerProbe) exists(ctx context.Context, id string) bool {
	if p.rc == nil {
		rc, err := remote.New(p.cfg)
		if err != nil {
			p.lastErr = err
			return false
		}
		p.rc = rc
	}
	_, err := p.rc.GetCustomer(ctx, id)
	var tokenErr *remote.TokenError
	if errors.As(err, &tokenErr) {
		p.rc = nil
	}
	p.lastErr = err
	return err == nil
}

// waitForCustomer polls until the customer exists on the platform; it reports false if the process exited
// first, and an error if neither happened within limit.
func waitForCustomer(ctx context.Context, probe *customerProbe, id string, exited <-chan struct{}, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false, nil
		default:
		}
		if probe.exists(ctx, id) {
			return true, nil
		}
		if !waitOrExit(exited, 5*time.Millisecond) {
			return false, nil
		}
	}
	return false, fmt.Errorf("customer %s did not appear within %v and the import did not end (the probe's last answer: %v)", id, limit, probe.lastErr)
}

// checkPlatform fails the test unless the tenant holds exactly the data set (see platformProblems).
func checkPlatform(t *testing.T, ctx context.Context, baseURL, tenant string, ds Dataset) {
	t.Helper()
	problems, err := platformProblems(ctx, baseURL, tenant, ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range problems {
		if i == 20 {
			t.Fatalf("... %d problems in all", len(problems))
		}
		t.Error(p)
	}
}

// platformProblems lists the tenant and compares it with the data set: the same customers, none twice, no
// e-mail twice, and every field of every row as the file has it.
func platformProblems(ctx context.Context, baseURL, tenant string, ds Dataset) ([]string, error) {
	rc, err := remote.New(remote.Config{BaseURL: baseURL, Tenant: tenant, ClientID: SandboxClientID, ClientSecret: SandboxClientSecret})
	if err != nil {
		return nil, err
	}
	var problems []string
	onPlatform := map[string]remote.Doc{}
	emails := map[string]string{}
	listed := 0
	for doc, err := range rc.Customers(ctx, remote.ListOptions{PageSize: 1000}) {
		if err != nil {
			return nil, fmt.Errorf("list customers: %w", err)
		}
		listed++
		id, _ := doc["id"].(string)
		if _, dup := onPlatform[id]; dup {
			problems = append(problems, fmt.Sprintf("customer %s is listed twice", id))
		}
		onPlatform[id] = doc
		if e, _ := doc["contactEmail"].(string); e != "" {
			if other, dup := emails[e]; dup && other != id {
				problems = append(problems, fmt.Sprintf("e-mail %s belongs to %s and %s", e, other, id))
			}
			emails[e] = id
		}
	}
	mappers, err := mapping.Resolve(nil, mapping.Table{File: "customers.csv"}, CustomerHeader)
	if err != nil {
		return nil, err
	}
	cells := make([]string, 0, len(CustomerHeader))
	for i := 0; i < ds.Rows; i++ {
		rec, ferrs := mappers[0].Map(formats.Position{File: "customers.csv", Line: i + 2}, ds.Row(cells, i))
		if len(ferrs) > 0 {
			return nil, fmt.Errorf("row %d: %v", i, ferrs[0].Error())
		}
		doc, ok := onPlatform[rec.RemoteID]
		if !ok {
			problems = append(problems, fmt.Sprintf("customer %s (line %d) is missing on the platform", rec.RemoteID, i+2))
		} else if diff := subsetDiff(rec.Payload(), doc); diff != "" {
			problems = append(problems, fmt.Sprintf("customer %s differs from line %d: %s", rec.RemoteID, i+2, diff))
		}
		delete(onPlatform, rec.RemoteID)
	}
	extra := make([]string, 0, len(onPlatform))
	for id := range onPlatform {
		extra = append(extra, id)
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("%d customers on the platform are not in the file, e.g. %v", len(extra), extra[:min(5, len(extra))]))
	}
	if listed != ds.Rows {
		problems = append(problems, fmt.Sprintf("the platform lists %d customers, the file has %d", listed, ds.Rows))
	}
	return problems, nil
}

// subsetDiff describes where doc differs from every field of want (compared as JSON values), or returns "".
func subsetDiff(want map[string]any, doc remote.Doc) string {
	raw, err := json.Marshal(want)
	if err != nil {
		return err.Error()
	}
	var w map[string]any
	if err := json.Unmarshal(raw, &w); err != nil {
		return err.Error()
	}
	return diffInto("", w, doc)
}

func diffInto(prefix string, want, got map[string]any) string {
	var diffs []string
	for k, wv := range want {
		gv, ok := got[k]
		if wm, isMap := wv.(map[string]any); isMap {
			gm, _ := gv.(map[string]any)
			if d := diffInto(prefix+k+".", wm, gm); d != "" {
				diffs = append(diffs, d)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(wv, gv) {
			diffs = append(diffs, fmt.Sprintf("%s%s: file %v, platform %v", prefix, k, wv, gv))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// TestSeedStateIsFaithful checks the no-op benchmark's shortcut: a checkpoint seeded with SeedState must be
// indistinguishable from one written by a real import of the same file, so re-importing sends nothing.
func TestSeedStateIsFaithful(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	csv := filepath.Join(dir, "customers.csv")
	ds := Dataset{Rows: 300}
	if err := ds.Write(csv); err != nil {
		t.Fatal(err)
	}
	sb := startSandbox(t, "127.0.0.1:0")
	imported := Target{Bin: custsyncBin, APIURL: sb.URL, Tenant: "seed", State: filepath.Join(dir, "imported.db")}
	rep, res, err := imported.Import(ctx, "--tps", "0", csv)
	if err != nil || res.Exit != 0 || rep.Created != ds.Rows {
		t.Fatalf("real import: exit %d, %+v, %v: %s", res.Exit, rep, err, tail(res.Stderr))
	}
	seeded := imported
	seeded.State = filepath.Join(dir, "seeded.db")
	n, err := SeedState(ctx, csv, seeded.State, seeded.APIURL, seeded.Tenant)
	if err != nil || n != ds.Rows {
		t.Fatalf("SeedState = %d, %v", n, err)
	}
	rep, res, err = seeded.Import(ctx, "--tps", "0", csv)
	if err != nil || res.Exit != 0 {
		t.Fatalf("import over the seeded state: exit %d, %v: %s", res.Exit, err, tail(res.Stderr))
	}
	if rep.Unchanged != ds.Rows || rep.Requests != 0 || rep.Created+rep.Updated != 0 {
		t.Errorf("import over the seeded state: %+v; want %d unchanged and no request", rep, ds.Rows)
	}
	// Both checkpoints must also agree on what a changed file means: the same updates, sent as PATCHes.
	changed := Dataset{Rows: ds.Rows, Revision: EveryNth(10, 1)}
	changedCSV := filepath.Join(dir, "changed.csv")
	if err := changed.Write(changedCSV); err != nil {
		t.Fatal(err)
	}
	for _, tgt := range []Target{seeded, imported} {
		rep, res, err := tgt.Import(ctx, "--tps", "0", changedCSV)
		if err != nil || res.Exit != 0 {
			t.Fatalf("%s: exit %d, %v: %s", filepath.Base(tgt.State), res.Exit, err, tail(res.Stderr))
		}
		if rep.Updated != 30 || rep.Unchanged != ds.Rows-30 || rep.Requests != 30+1 {
			t.Errorf("%s: %+v; want 30 updates in 30 requests and the token request", filepath.Base(tgt.State), rep)
		}
	}
	checkPlatform(t, ctx, sb.URL, "seed", changed)
	// The torture test's verifier must see the 30 changed rows when compared with the original data set.
	problems, err := platformProblems(ctx, sb.URL, "seed", ds)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 30 || !strings.Contains(problems[0], "lastName: file Huber") {
		t.Errorf("platformProblems against the original data found %d problems, want the 30 changed rows: %v", len(problems), problems[:min(3, len(problems))])
	}
}

// TestProbeOutlivesATokenFault holds the torture test's probe to seeing customers appear after its token
// request met a fault: a client that failed to get a token keeps that failure, and a probe that kept it
// never saw a row again, so no kill landed and the long faults pass waited out its limit.
func TestProbeOutlivesATokenFault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := sandbox.New(sandbox.Options{Faults: sandbox.Faults{Error503: 1, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	probe := &customerProbe{cfg: remote.Config{BaseURL: hs.URL, Tenant: "probe", ClientID: SandboxClientID,
		ClientSecret: SandboxClientSecret, MaxRetries: -1, RequestTimeout: 2 * time.Second}}
	var tokenErr *remote.TokenError
	if probe.exists(ctx, "C1") || !errors.As(probe.lastErr, &tokenErr) {
		t.Fatalf("with every request failing the probe must fail on its token: %v", probe.lastErr)
	}
	srv.SetFaults(sandbox.Faults{})
	writer, err := remote.New(remote.Config{BaseURL: hs.URL, Tenant: "probe", ClientID: SandboxClientID, ClientSecret: SandboxClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.MergeUpsertCustomer(ctx, "C1", remote.Doc{"lastName": "Huber"}); err != nil {
		t.Fatal(err)
	}
	if !probe.exists(ctx, "C1") {
		t.Errorf("the probe does not see the customer once the faults stopped: %v", probe.lastErr)
	}
}
