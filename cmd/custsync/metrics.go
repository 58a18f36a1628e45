package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/urfave/cli/v2"

	"custsync/mapping"
	"custsync/remote"
	syncer "custsync/sync"
)

// metricsFlag is the global --metrics-file flag.
func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics-file", EnvVars: []string{"CUSTSYNC_METRICS_FILE"},
		Usage: "write the run's figures in the Prometheus text format to `FILE` (for node_exporter's textfile collector), replaced atomically"}
}

// rowOutcomes are the outcome label values of custsync_last_run_rows, in the order of syncer.Counts.
// "adopted" are records the platform held already that a row took over (the report's adopted), "merged" creates
// that met a record the platform held under the row's id (the report's merged).
// "deletes_held" are deletes held because rows they concern failed (the report's deletesHeld).
var rowOutcomes = []string{"created", "updated", "adopted", "merged", "unchanged", "deleted", "held", "deletes_held", "failed", "ignored", "pending"}

func outcomeCounts(c *syncer.Counts) []int {
	return []int{c.Created, c.Updated, c.Adopted, c.Merged, c.Unchanged, c.Deleted, c.Held, c.DeletesHeld, c.Failed, c.Ignored, c.Pending}
}

// runFigures collects what --metrics-file reports about one invocation. The app's Before hook creates it;
// connect and the commands fill it in; Main writes it once the exit code is decided.
type runFigures struct {
	metricsFile string
	command     string
	tenant      string
	// client is the platform client of the run, for its request, retry and 429 counts.
	client *remote.Client
	// rows are the import's counts per entity; nil for commands that count no rows.
	rows map[mapping.Entity]*syncer.Counts
	// lastSuccess is the end of the last successful run in the state's run history, if the command read it.
	lastSuccess time.Time
}

const figuresKey = "figures"

// figuresOf returns the invocation's runFigures (a throwaway one where the app set none up, in tests that
// build their own app).
func figuresOf(c *cli.Context) *runFigures {
	if f, ok := c.App.Metadata[figuresKey].(*runFigures); ok {
		return f
	}
	return &runFigures{}
}

// startFigures sets up the invocation's runFigures from the global flags (after the config file applied).
func startFigures(c *cli.Context) {
	c.App.Metadata[figuresKey] = &runFigures{metricsFile: c.String("metrics-file"), tenant: strings.TrimSpace(c.String("tenant"))}
}

// figuresAfter returns what the app collected, completed from the command line where the app stopped
// before its hooks ran (a usage error in the flags): the metrics file, the tenant and the command.
func figuresAfter(app *cli.App, args []string) *runFigures {
	f, _ := app.Metadata[figuresKey].(*runFigures)
	fromArgs := f == nil
	if fromArgs {
		f = &runFigures{metricsFile: os.Getenv("CUSTSYNC_METRICS_FILE"), tenant: os.Getenv("CUSTSYNC_TENANT")}
	}
	valued := valueFlags()
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if f.command == "" {
				f.command = a
			}
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !valued[name] {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		switch {
		case !fromArgs:
		case name == "metrics-file":
			f.metricsFile = value
		case name == "tenant":
			f.tenant = value
		}
	}
	return f
}

// writeMetrics writes the run's figures to f.metricsFile with client_golang's own text writer, which
// replaces the file atomically (temporary file in the same directory, then rename) and leaves it 0644 for
// the collector; the figures hold no customer data. The time of the last successful run is the latest of:
// this run if it exited 0, the state's run history (import), and the value already in the file, so that it
// survives runs that never reach the state file.
func writeMetrics(f *runFigures, start, end time.Time, exitCode int) error {
	labels := prometheus.Labels{"command": f.command, "tenant": f.tenant}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		g.Set(v)
		reg.MustRegister(g)
	}
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
	gauge("custsync_last_run_start_timestamp_seconds", "When the last run started (Unix time).", unix(start))
	gauge("custsync_last_run_end_timestamp_seconds", "When the last run ended (Unix time).", unix(end))
	gauge("custsync_last_run_duration_seconds", "How long the last run took.", end.Sub(start).Seconds())
	gauge("custsync_last_run_exit_code", "The exit code of the last run (custsync exit-codes).", float64(exitCode))
	var stats remote.Stats
	if f.client != nil {
		stats = f.client.Stats()
	}
	gauge("custsync_last_run_requests", "HTTP requests the last run sent to the platform, retries and token requests included.", float64(stats.Requests))
	gauge("custsync_last_run_retries", "Requests the last run repeated after a temporary failure.", float64(stats.Retries))
	gauge("custsync_last_run_throttled", "429 Too Many Requests answers the last run received.", float64(stats.Throttled))
	if f.rows != nil {
		rows := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "custsync_last_run_rows",
			Help: "Rows of the last import by entity and outcome.", ConstLabels: labels}, []string{"entity", "outcome"})
		for e, c := range f.rows {
			for i, n := range outcomeCounts(c) {
				rows.WithLabelValues(string(e), rowOutcomes[i]).Set(float64(n))
			}
		}
		reg.MustRegister(rows)
	}
	last := f.lastSuccess
	if exitCode == ExitOK && end.After(last) {
		last = end
	}
	if previous := previousLastSuccess(f.metricsFile, labels); previous.After(last) {
		last = previous
	}
	if !last.IsZero() {
		gauge("custsync_last_success_timestamp_seconds", "When the last successful run (exit code 0) ended (Unix time).", unix(last))
	}
	return prometheus.WriteToTextfile(f.metricsFile, reg)
}

// previousLastSuccess reads custsync_last_success_timestamp_seconds with the given labels from an existing
// metrics file; the zero time if there is none or the file does not parse.
func previousLastSuccess(path string, labels prometheus.Labels) time.Time {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return time.Time{}
	}
	defer file.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(file)
	if err != nil {
		return time.Time{}
	}
	mf := families["custsync_last_success_timestamp_seconds"]
	if mf == nil {
		return time.Time{}
	}
	for _, m := range mf.GetMetric() {
		got := prometheus.Labels{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) == len(labels) && got["command"] == labels["command"] && got["tenant"] == labels["tenant"] && m.GetGauge() != nil {
			secs := m.GetGauge().GetValue()
			return time.Unix(0, int64(secs*1e9))
		}
	}
	return time.Time{}
}

// metricsWriteError explains a metrics file that could not be written; the run's exit code stands.
func metricsWriteError(err error) string {
	return fmt.Sprintf("custsync: --metrics-file: %v (the run's exit code is unchanged)", err)
}
