package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"custsync/sandbox"
)

// readMetrics parses a metrics file with Prometheus' own text parser.
func readMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return families
}

// metricValue returns the gauge of family name whose labels include want; ok is false if there is none.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		match := 0
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
				match++
			}
		}
		if match == len(want) {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func mustMetric(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := metricValue(families, name, labels)
	if !ok {
		t.Fatalf("no %s%v in the metrics file", name, labels)
	}
	return v
}

// TestMetricsFileHoldsTheFiguresOfARealRun imports into a sandbox that answers some requests with 429 and
// 503, then checks the metrics file against the run's own JSON report and the sandbox's request log; then
// a run with a bad row (exit 3), one after the file is gone (the last success comes from the state's run
// history, as `state runs --json` shows it), and a usage error (exit 2).
func TestMetricsFileHoldsTheFiguresOfARealRun(t *testing.T) {
	t.Parallel()
	srv, url := platform(t, sandbox.Options{Faults: sandbox.Faults{Error429: 0.1, Error503: 0.1, Seed: 11}})
	dir := t.TempDir()
	metrics := filepath.Join(dir, "textfile", "custsync.prom")
	if err := os.MkdirAll(filepath.Dir(metrics), 0o755); err != nil {
		t.Fatal(err)
	}
	global := []string{"--api-url", url, "--tenant", "metrics", "--client-id", sandbox.DemoClientID, "--client-secret", sandbox.DemoClientSecret,
		"--state", filepath.Join(dir, "state.db"), "--metrics-file", metrics}
	labels := map[string]string{"command": "import", "tenant": "metrics"}

	before := time.Now()
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--json", "../../samples/customers.csv")...)
	after := time.Now()
	if code != ExitOK {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Entities map[string]map[string]int `json:"entities"`
		Retried  float64                   `json:"retried"`
		Requests float64                   `json:"requests"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	m := readMetrics(t, metrics)
	if got := mustMetric(t, m, "custsync_last_run_exit_code", labels); got != 0 {
		t.Errorf("exit code %v", got)
	}
	start := mustMetric(t, m, "custsync_last_run_start_timestamp_seconds", labels)
	end := mustMetric(t, m, "custsync_last_run_end_timestamp_seconds", labels)
	if start < float64(before.Unix())-1 || end > float64(after.Unix())+1 || end < start ||
		math.Abs(mustMetric(t, m, "custsync_last_run_duration_seconds", labels)-(end-start)) > 1e-3 {
		t.Errorf("times: start %v end %v duration %v (run between %v and %v)", start, end,
			mustMetric(t, m, "custsync_last_run_duration_seconds", labels), before.Unix(), after.Unix())
	}
	if got := mustMetric(t, m, "custsync_last_success_timestamp_seconds", labels); got != end {
		t.Errorf("last success %v, want the end of this run %v", got, end)
	}
	for outcome, want := range map[string]int{"created": 30, "updated": 0, "adopted": 0, "unchanged": 0, "deleted": 0, "held": 0, "failed": 0} {
		if rep.Entities["customers"][outcome] != want && outcome != "adopted" {
			t.Fatalf("report: customers %s = %d, want %d", outcome, rep.Entities["customers"][outcome], want)
		}
		if got := mustMetric(t, m, "custsync_last_run_rows", map[string]string{"entity": "customers", "outcome": outcome}); got != float64(want) {
			t.Errorf("rows customers %s = %v, want %d", outcome, got, want)
		}
	}
	// Requests and retries are the client's, as in the report, token requests included; the 429s are what the
	// sandbox answered.
	var requests, throttled, tokenThrottled float64
	for _, r := range srv.Requests() {
		requests++
		switch {
		case r.Path == "/oauth/token" && r.Status == 429:
			tokenThrottled++
		case r.Status == 429:
			throttled++
		}
	}
	if throttled == 0 || rep.Retried == 0 {
		t.Fatalf("the faults produced no 429 (%v) or no retry (%v): the test proves nothing", throttled, rep.Retried)
	}
	if got := mustMetric(t, m, "custsync_last_run_requests", labels); got != rep.Requests || got != requests {
		t.Errorf("requests %v, report %v, sandbox %v", got, rep.Requests, requests)
	}
	if got := mustMetric(t, m, "custsync_last_run_retries", labels); got != rep.Retried {
		t.Errorf("retries %v, report %v", got, rep.Retried)
	}
	if got := mustMetric(t, m, "custsync_last_run_throttled", labels); got < throttled || got > throttled+tokenThrottled {
		t.Errorf("429s %v, sandbox answered %v (+%v token requests)", got, throttled, tokenThrottled)
	}
	if st, err := os.Stat(metrics); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode: %v %v", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(metrics)); len(entries) != 1 {
		t.Errorf("the textfile directory holds %d files: the temporary file was left behind", len(entries))
	}
	firstEnd := end

	// A run with a bad row fails with exit 3: recorded, and the last success stays the first run's.
	srv.SetFaults(sandbox.Faults{})
	bad := writeFile(t, dir, "customers.csv", "sdCustomerNumber,firstName,contactEmail\n0000900001,Ann,not-an-email\n")
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", bad)...); code != ExitPartial {
		t.Fatalf("bad row: code %d\n%s%s", code, out, errOut)
	}
	m = readMetrics(t, metrics)
	if got := mustMetric(t, m, "custsync_last_run_exit_code", labels); got != ExitPartial {
		t.Errorf("exit code %v, want %d", got, ExitPartial)
	}
	if got := mustMetric(t, m, "custsync_last_run_rows", map[string]string{"entity": "customers", "outcome": "failed"}); got != 1 {
		t.Errorf("failed rows %v", got)
	}
	if got := mustMetric(t, m, "custsync_last_success_timestamp_seconds", labels); got != firstEnd {
		t.Errorf("last success %v, want %v", got, firstEnd)
	}

	// Without the file, the last success comes from the state's run history, the same that
	// `state runs --json` gives other tools.
	if err := os.Remove(metrics); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, append(global, "import", "--tps", "0", bad)...); code != ExitPartial {
		t.Fatalf("bad row again: code %d", code)
	}
	code, out, errOut = runCLI(t, "--state", filepath.Join(dir, "state.db"), "state", "runs", "--json")
	if code != ExitOK {
		t.Fatalf("state runs --json: code %d %s", code, errOut)
	}
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 3 {
		t.Fatalf("state runs --json: %v\n%s", err, out)
	}
	for i, wantOK := range []bool{false, false, true} {
		for _, key := range []string{"id", "kind", "status", "succeeded", "startedAt", "finishedAt", "durationSeconds", "args", "stats"} {
			if _, ok := runs[i][key]; !ok {
				t.Errorf("run %d lacks %q", i, key)
			}
		}
		if runs[i]["succeeded"] != wantOK {
			t.Errorf("run %d (%v): succeeded %v, want %v", i, runs[i]["status"], runs[i]["succeeded"], wantOK)
		}
	}
	finished, err := time.Parse(time.RFC3339Nano, runs[2]["finishedAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	m = readMetrics(t, metrics)
	if got := mustMetric(t, m, "custsync_last_success_timestamp_seconds", labels); math.Abs(got-float64(finished.UnixNano())/1e9) > 1e-3 {
		t.Errorf("last success %v, the history says %v", got, finished)
	}

	// A usage error never reaches a command, and is still recorded with its exit code.
	if code, _, _ := runCLI(t, append(global, "import", "--no-such-flag", bad)...); code != ExitUsage {
		t.Fatalf("usage error: code %d", code)
	}
	m = readMetrics(t, metrics)
	if got := mustMetric(t, m, "custsync_last_run_exit_code", labels); got != ExitUsage {
		t.Errorf("usage error: exit code %v", got)
	}
	if _, ok := metricValue(m, "custsync_last_run_rows", nil); ok {
		t.Error("a run that counted no rows reports rows")
	}
	// Nor does an unknown global flag, which stops the app before any hook.
	if code, _, _ := runCLI(t, append(global, "--bogus", "import", bad)...); code != ExitUsage {
		t.Fatalf("unknown global flag: code %d", code)
	}
	if got := mustMetric(t, readMetrics(t, metrics), "custsync_last_run_exit_code", labels); got != ExitUsage {
		t.Errorf("unknown global flag: exit code %v", got)
	}
}

// TestMetricsFileThatCannotBeWrittenKeepsTheExitCode: monitoring notices a stale file; the run's own
// outcome is not changed by it.
func TestMetricsFileThatCannotBeWrittenKeepsTheExitCode(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, "--metrics-file", filepath.Join(t.TempDir(), "missing", "x.prom"), "version")
	if code != ExitOK || !strings.Contains(errOut, "--metrics-file") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
