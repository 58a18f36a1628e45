package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"custsync/bench"
)

// Issue 13's scale figures: first imports whose memory must not grow with the row count, their no-op re-run,
// and the 1% deltas of a million rows beside csvdiff. Peers run paired with custsync (A B A B ...), and the
// figures are medians of the pairs.

// firstMaxRSS is the peak RSS a first import may reach from 1M rows up, whatever the row count.
const firstMaxRSS = 300 << 20

// pairedRuns is the number of A/B pairs of a paired figure.
const pairedRuns = 3

// pair runs a and b in turn n times and returns the median of each and the median of the ratios a/b.
func pair(n int, a, b func() (time.Duration, error)) (ma, mb time.Duration, ratio float64, err error) {
	var as, bs []time.Duration
	var ratios []float64
	for i := 0; i < n; i++ {
		da, err := a()
		if err != nil {
			return 0, 0, 0, err
		}
		db, err := b()
		if err != nil {
			return 0, 0, 0, err
		}
		as, bs, ratios = append(as, da), append(bs, db), append(ratios, da.Seconds()/db.Seconds())
	}
	return median(as), median(bs), median(ratios), nil
}

// csvdiff runs the csvdiff peer (github.com/aswinkarthik/csvdiff, built by run.sh) on two files; nil when it
// is not on PATH.
func (s *suite) csvdiff() func(base, delta string) (bench.Result, error) {
	peer, err := exec.LookPath("csvdiff")
	if err != nil {
		return nil
	}
	return func(base, delta string) (bench.Result, error) {
		res, err := bench.Run(s.ctx, peer, nil, base, delta, "--primary-key", "0")
		if err == nil && res.Exit != 0 {
			err = fmt.Errorf("csvdiff exited %d: %s", res.Exit, strings.TrimSpace(string(res.Stderr)))
		}
		return res, err
	}
}

// first: first imports at --tps 0 of growing sizes, each into a new tenant, with the writes per second on the
// sandbox's side and custsync's peak RSS; then a no-op re-run of the largest. The tenant of the 1M-row import
// stays for the delta and export figures.
func (s *suite) first() error {
	for _, n := range s.size.first {
		path, err := s.gen(fmt.Sprintf("first-%d.csv", n), s.httpData(n))
		if err != nil {
			return err
		}
		rss, err := s.firstImport(path, n, n == s.size.first[len(s.size.first)-1])
		if err != nil {
			return err
		}
		if n == s.size.deltaBig {
			if err := s.firstWithResults(path, n, rss); err != nil {
				return err
			}
		}
	}
	return nil
}

// firstImport imports path (n generated rows) at --tps 0 into a tenant of its own, adds its figures and returns
// its peak RSS; with rerun, a no-op re-run of the same file follows.
func (s *suite) firstImport(path string, n int, rerun bool) (int64, error) {
	t := s.target(fmt.Sprintf("first%d", n))
	s.logf("first: importing %d rows", n)
	s.srv.ResetRequests()
	rep, res, err := s.importOK(t, "--tps", "0", path)
	if err != nil {
		return 0, err
	}
	ws := s.stats(t.Tenant)
	s.srv.ResetRequests() // the log of millions of writes is not kept
	if rep.Created != n || ws.puts != n {
		return 0, fmt.Errorf("first import of %d: created %d, sandbox saw %d PUTs", n, rep.Created, ws.puts)
	}
	rss := res.MaxRSS
	big := n >= 1_000_000
	s.logf("first: %d rows in %.1f s, %.0f writes/s, peak RSS %s, %.1f CPU-s", n, res.Wall.Seconds(), ws.rate(), mb(res.MaxRSS), res.CPU.Seconds())
	name := fmt.Sprintf("first import, %s rows, --tps 0", human(n))
	s.add(line{name, "wall time / write rate (sandbox side) / writes per row / CPU per row", fmt.Sprintf("%.1f s / %.0f writes/s / %.1f / %.0f µs",
		res.Wall.Seconds(), ws.rate(), float64(ws.writes)/float64(n), res.CPU.Seconds()*1e6/float64(n)), "", ""})
	s.add(line{name, "peak RSS", mb(res.MaxRSS), "≤ 300 MB from 1M rows up", verdictIf(big, res.MaxRSS <= firstMaxRSS)})
	if !rerun {
		return rss, nil
	}
	rep, res, err = s.importOK(t, "--tps", "0", path)
	if err != nil {
		return 0, err
	}
	if rep.Unchanged != n || rep.Requests != 0 {
		return 0, fmt.Errorf("re-run of the first import is not a no-op: %+v", rep)
	}
	s.logf("first: no-op re-run of %d rows: %.2f s, peak RSS %s", n, res.Wall.Seconds(), mb(res.MaxRSS))
	s.add(line{fmt.Sprintf("no-op re-run of that %s-row import", human(n)), "wall time / peak RSS",
		fmt.Sprintf("%.2f s / %s", res.Wall.Seconds(), mb(res.MaxRSS)), "≤ 300 MB from 1M rows up", verdictIf(big, res.MaxRSS <= firstMaxRSS)})
	return rss, nil
}

// longDiskPerRow is what one row of a first import takes on disk in the suite: the generated CSV, the state
// file (entities, journal, SD mappings) and the sandbox's records, measured on the 3M-row import (bench/README.md,
// "ninth"), with room to spare.
const longDiskPerRow = 3 << 10

// long: the first import of s.size.long rows (10M at full size) and its no-op re-run, the memory target at a
// size no other phase reaches; it runs only when asked for (`--long`, or `--only long`), as it takes about an
// hour, and only where the disk holds it.
func (s *suite) long() error {
	n := s.size.long
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.work, &fs); err != nil {
		return fmt.Errorf("free space of %s: %w", s.work, err)
	}
	free, need := int64(fs.Bavail)*int64(fs.Bsize), int64(n)*longDiskPerRow
	if free < need {
		s.add(line{fmt.Sprintf("first import, %s rows, --tps 0", human(n)), "peak RSS",
			fmt.Sprintf("n/a (%s free on the disk of %s, the run needs about %s)", gb(free), s.work, gb(need)), "≤ 300 MB from 1M rows up", "n/a"})
		return nil
	}
	path, err := s.gen(fmt.Sprintf("first-%d.csv", n), s.httpData(n))
	if err != nil {
		return err
	}
	_, err = s.firstImport(path, n, true)
	return err
}

func gb(b int64) string { return fmt.Sprintf("%.1f GB", float64(b)/(1<<30)) }

// firstWithResults: the first import of path (n rows) again, into a tenant of its own, with --results: the
// success file must list every row, and the memory must not grow with it (plainRSS is the run without).
func (s *suite) firstWithResults(path string, n int, plainRSS int64) error {
	t := s.target(fmt.Sprintf("first%dr", n))
	dir := filepath.Join(s.work, fmt.Sprintf("results-%d", n))
	s.logf("first: importing %d rows with --results", n)
	rep, res, err := s.importOK(t, "--tps", "0", "--results", dir, path)
	s.srv.ResetRequests()
	if err != nil {
		return err
	}
	lines, err := countLines(filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".csv")+".success.csv"))
	if err != nil {
		return err
	}
	if rep.Created != n || lines != n+1 {
		return fmt.Errorf("first import of %d with --results: created %d, success file has %d lines", n, rep.Created, lines)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		return fmt.Errorf("results directory after the import: %v (%v), want the success file alone", entries, err)
	}
	s.logf("first: %d rows with --results in %.1f s, peak RSS %s", n, res.Wall.Seconds(), mb(res.MaxRSS))
	s.add(line{fmt.Sprintf("first import, %s rows, --tps 0 --results", human(n)), "peak RSS (without --results)",
		fmt.Sprintf("%s (%s)", mb(res.MaxRSS), mb(plainRSS)), "≤ 300 MB from 1M rows up", verdictIf(n >= 1_000_000, res.MaxRSS <= firstMaxRSS)})
	os.RemoveAll(dir)
	return nil
}

// deltaMillion: the 1% delta of the first phase's 1M-row import. A dry run of it over the checkpoint, and
// real imports of three successive revisions of the same 1% of rows (each sends one PATCH per changed row),
// each paired with csvdiff's diff of the same two files.
func (s *suite) deltaMillion() error {
	n := s.size.deltaBig
	t := s.target(fmt.Sprintf("first%d", n))
	base := filepath.Join(s.work, fmt.Sprintf("first-%d.csv", n))
	if _, err := os.Stat(t.State); err != nil {
		return fmt.Errorf("the 1%% delta needs the %d-row tenant of the first phase (run it too): %w", n, err)
	}
	changed := (n + 99) / 100
	// Revision r changes the same 1% of rows as every other (EveryNth(100, r)). Revision 1 is the first delta
	// after the first import; revisions 2 and on are the paired runs.
	revision := func(r int) bench.Dataset {
		d := s.httpData(n)
		d.Revision = bench.EveryNth(100, r)
		return d
	}
	revs := []string{base}
	for r := 1; r < pairedRuns+2; r++ {
		path, err := s.gen(fmt.Sprintf("delta1m-rev%d.csv", r), revision(r))
		if err != nil {
			return err
		}
		revs = append(revs, path)
	}
	diff := s.csvdiff()
	// diffRevs is called only when csvdiff is on PATH; its log lines let a reader pair every run by hand.
	diffRevs := func(from, to int) (time.Duration, error) {
		res, err := diff(revs[from], revs[to])
		if err != nil {
			return 0, err
		}
		s.logf("delta1m: csvdiff of revisions %d and %d: %.2f s, peak RSS %s", from, to, res.Wall.Seconds(), mb(res.MaxRSS))
		return res.Wall, nil
	}
	name := fmt.Sprintf("1%% delta of %s rows", human(n))

	// The dry run changes nothing, so every pair diffs the same files.
	custsyncDry := func() (time.Duration, error) {
		rep, res, err := t.Import(s.ctx, "--dry-run", revs[1])
		if err != nil {
			return 0, err
		}
		if res.Exit != 0 || rep.Updated != changed || rep.Unchanged != n-changed {
			return 0, fmt.Errorf("dry run of the 1%% delta exited %d: %+v", res.Exit, rep)
		}
		s.logf("delta1m: dry run %.2f s, peak RSS %s", res.Wall.Seconds(), mb(res.MaxRSS))
		return res.Wall, nil
	}
	if diff == nil {
		d, err := custsyncDry()
		if err != nil {
			return err
		}
		s.add(line{name, "import --dry-run / csvdiff", fmt.Sprintf("%.2f s / n/a (csvdiff not on PATH)", d.Seconds()), "", ""})
	} else {
		a, b, ratio, err := pair(pairedRuns, custsyncDry, func() (time.Duration, error) { return diffRevs(0, 1) })
		if err != nil {
			return err
		}
		s.add(line{name, fmt.Sprintf("import --dry-run / csvdiff (median of %d pairs)", pairedRuns),
			fmt.Sprintf("%.2f s / %.2f s = %.2f×", a.Seconds(), b.Seconds(), ratio), "< 1×", verdict(ratio < 1)})
	}

	// Real imports: revision r over revision r-1, so each sends `changed` PATCHes.
	r := 0
	importNext := func() (deltaRun, error) {
		r++
		if r == len(revs) {
			path, err := s.gen(fmt.Sprintf("delta1m-rev%d.csv", r), revision(r))
			if err != nil {
				return deltaRun{}, err
			}
			revs = append(revs, path)
		}
		s.srv.ResetRequests()
		start, cpu := time.Now(), sandboxCPU()
		rep, res, err := s.importOK(t, "--tps", "0", revs[r])
		if err != nil {
			return deltaRun{}, err
		}
		ws := s.stats(t.Tenant)
		if rep.Updated != changed || ws.writes != changed {
			return deltaRun{}, fmt.Errorf("1%% delta import: updated %d, sandbox saw %d writes, want %d", rep.Updated, ws.writes, changed)
		}
		run := deltaRun{rev: r, wall: res.Wall, lead: ws.first.Sub(start), writes: ws.last.Sub(ws.first), sandboxCPU: sandboxCPU() - cpu}
		s.logf("delta1m: import of revision %d: %.2f s (first PATCH after %.2f s, the PATCHes %.2f s), %d PATCHes, peak RSS %s",
			r, res.Wall.Seconds(), run.lead.Seconds(), run.writes.Seconds(), changed, mb(res.MaxRSS))
		return run, nil
	}
	custsyncReal := func() (time.Duration, error) {
		run, err := importNext()
		return run.wall, err
	}
	if diff == nil {
		d, err := custsyncReal()
		if err != nil {
			return err
		}
		s.add(line{name, fmt.Sprintf("import (%d PATCHes) / csvdiff", changed), fmt.Sprintf("%.2f s / n/a (csvdiff not on PATH)", d.Seconds()), "", ""})
		return s.deltaPatches(t, name, changed, revision, importNext)
	}
	// The first delta after a first import pays once what no later one does: the first import wrote its rows
	// in key order, which leaves every page of the checkpoint (and of the sandbox) full, so the first update of
	// a row that grows splits its page. It is measured and shown on its own line rather than left to decide
	// the median of the pairs: with three pairs it was always the slowest, so the median was the slower of
	// the other two (bench/README.md, "eighth").
	first, err := custsyncReal()
	if err != nil {
		return err
	}
	firstDiff, err := diffRevs(0, 1)
	if err != nil {
		return err
	}
	a, b, ratio, err := pair(pairedRuns, custsyncReal, func() (time.Duration, error) { return diffRevs(r-1, r) })
	if err != nil {
		return err
	}
	s.add(line{name, fmt.Sprintf("import (%d PATCHes) / csvdiff of the same files (median of %d pairs, after the first delta)", changed, pairedRuns),
		fmt.Sprintf("%.2f s / %.2f s = %.2f×", a.Seconds(), b.Seconds(), ratio), "< 1×", verdict(ratio < 1)})
	s.add(line{name, "the first delta after the first import (splits the pages the first import filled) / csvdiff of the same files",
		fmt.Sprintf("%.2f s / %.2f s = %.2f×", first.Seconds(), firstDiff.Seconds(), first.Seconds()/firstDiff.Seconds()), "", ""})
	return s.deltaPatches(t, name, changed, revision, importNext)
}

// deltaRun is what the sandbox saw of one delta import: the revision imported, the client's wall time, the
// time from its start to the first PATCH (reading, planning, the guards), from the first PATCH to the last, and
// the sandbox's CPU over the run.
type deltaRun struct {
	rev                            int
	wall, lead, writes, sandboxCPU time.Duration
}

// deltaPatches pairs more imports of the 1% delta (importNext imports the next revision) with vegeta sending
// the same updates (bench.Dataset.UpdateBodies: the next import's PATCHes, bodies and all) at custsync's
// concurrency: how long the sandbox takes for those PATCHes from a plain load generator, against custsync's
// PATCHes and what comes before them. vegeta's updates change the rows the next import changes again, so every
// import still sends `changed` PATCHes.
func (s *suite) deltaPatches(t bench.Target, name string, changed int, revision func(int) bench.Dataset,
	importNext func() (deltaRun, error)) error {
	peer, err := exec.LookPath("vegeta")
	if err != nil {
		s.add(line{name, "its PATCHes alone / vegeta sending the same updates", "n/a (vegeta not on PATH)", "", ""})
		return nil
	}
	token, err := bench.FetchToken(s.ctx, http.DefaultClient, s.url)
	if err != nil {
		return err
	}
	const writers = 8 // custsync's default --writers
	var runs []deltaRun
	custsyncPatches := func() (time.Duration, error) {
		run, err := importNext()
		if err != nil {
			return 0, err
		}
		runs = append(runs, run)
		return run.writes, nil
	}
	var vegetaCPU []time.Duration
	vegetaPatches := func() (time.Duration, error) {
		// Revisions past the imports' own, over the one the platform holds since the last import.
		rev := runs[len(runs)-1].rev
		ids, bodies, err := revision(1000 + rev).UpdateBodies(revision(rev))
		if err != nil {
			return 0, err
		}
		if len(ids) != changed {
			return 0, fmt.Errorf("vegeta's updates: %d, want %d", len(ids), changed)
		}
		targets := filepath.Join(s.work, "vegeta-updates.json")
		url := func(id string) string { return bench.CustomerURL(s.url, t.Tenant, id) }
		if err := writeVegetaTargets(targets, token, http.MethodPatch, bench.UpdateContentType, ids, url, bodies); err != nil {
			return 0, err
		}
		defer os.Remove(targets)
		cpu := sandboxCPU()
		if _, _, err := s.runPeer("vegeta", t.Tenant, changed, peer, "attack", "-format=json", "-lazy", "-targets="+targets,
			"-rate=0", fmt.Sprintf("-workers=%d", writers), fmt.Sprintf("-max-workers=%d", writers), "-output=/dev/null"); err != nil {
			return 0, err
		}
		vegetaCPU = append(vegetaCPU, sandboxCPU()-cpu)
		ws := s.stats(t.Tenant)
		span := ws.last.Sub(ws.first)
		s.logf("delta1m: vegeta's %d PATCHes: %.2f s on the sandbox's side", changed, span.Seconds())
		return span, nil
	}
	a, b, ratio, err := pair(pairedRuns, custsyncPatches, vegetaPatches)
	if err != nil {
		return err
	}
	var walls, leads, cpus []time.Duration
	for _, run := range runs {
		walls, leads, cpus = append(walls, run.wall), append(leads, run.lead), append(cpus, run.sandboxCPU)
	}
	perPatch := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", d.Seconds()*1e6/float64(changed)) }
	s.add(line{name, fmt.Sprintf("its %d PATCHes alone, first to last on the sandbox's side: custsync's import / vegeta -max-workers %d sending the same updates (median of %d pairs)",
		changed, writers, pairedRuns), fmt.Sprintf("%.2f s / %.2f s = %.2f×", a.Seconds(), b.Seconds(), ratio), "", ""})
	s.add(line{name, "custsync's import in those pairs: wall / until its first PATCH (reading, planning, the guards) / sandbox CPU per PATCH, custsync's / vegeta's (medians)",
		fmt.Sprintf("%.2f s / %.2f s / %s, %s", median(walls).Seconds(), median(leads).Seconds(), perPatch(median(cpus)), perPatch(median(vegetaCPU))), "", ""})
	return nil
}

// noopPeer pairs the no-op re-run of the noop phase with csvdiff of the same file against itself.
func (s *suite) noopPeer(path string, t bench.Target, n int) error {
	diff := s.csvdiff()
	if diff == nil {
		s.add(line{fmt.Sprintf("no-op re-run, %s rows CSV", human(n)), "beside csvdiff", "n/a (csvdiff not on PATH)", "", ""})
		return nil
	}
	a, b, ratio, err := pair(pairedRuns, func() (time.Duration, error) {
		_, res, err := s.importOK(t, "--tps", "0", path)
		return res.Wall, err
	}, func() (time.Duration, error) {
		res, err := diff(path, path)
		if err == nil {
			s.logf("noop: csvdiff of the file with itself %.2f s, peak RSS %s", res.Wall.Seconds(), mb(res.MaxRSS))
		}
		return res.Wall, err
	})
	if err != nil {
		return err
	}
	s.add(line{fmt.Sprintf("no-op re-run, %s rows CSV", human(n)), fmt.Sprintf("custsync / csvdiff of the file with itself (median of %d pairs)", pairedRuns),
		fmt.Sprintf("%.2f s / %.2f s = %.2f×", a.Seconds(), b.Seconds(), ratio), "< 1×", verdict(ratio < 1)})
	return nil
}

// hey runs the hey load generator (github.com/rakyll/hey, built by run.sh): n PUTs of one customer's create
// body to one customer URL with conns connections, the same request custsync sends first for that row.
func (s *suite) hey(tenant string, n, conns int, noEmail bool) (rate float64, res bench.Result, err error) {
	peer, ids, bodies, token, err := s.peerCreates("hey", bench.Dataset{Rows: 1, NoEmail: noEmail})
	if err != nil {
		return 0, bench.Result{}, err
	}
	return s.heyRun(peer, token, tenant, n, conns, http.MethodPut, "application/merge-patch+json",
		bench.CreateCustomerURL(s.url, tenant, ids[0]), bodies[0])
}

// heyCreates runs hey with n POSTs of one customer's create body without its id and e-mail address to the
// tenant's customers with conns connections: each request creates a customer (the sandbox numbers it), the
// sandbox's work of custsync's creates, which hey's fixed URL and body cannot otherwise send.
func (s *suite) heyCreates(tenant string, n, conns int) (rate float64, res bench.Result, err error) {
	peer, _, bodies, token, err := s.peerCreates("hey", bench.Dataset{Rows: 1, NoEmail: true})
	if err != nil {
		return 0, bench.Result{}, err
	}
	var fields map[string]any
	if err := json.Unmarshal(bodies[0], &fields); err != nil {
		return 0, bench.Result{}, fmt.Errorf("decode the create body: %w", err)
	}
	delete(fields, "id")
	body, err := json.Marshal(fields)
	if err != nil {
		return 0, bench.Result{}, err
	}
	return s.heyRun(peer, token, tenant, n, conns, http.MethodPost, "application/json", bench.CreateCustomersURL(s.url, tenant), body)
}

// heyRun sends body n times to url with hey, conns requests at once, and checks the writes in tenant (runPeer);
// the body's file is gone after the run.
func (s *suite) heyRun(peer, token, tenant string, n, conns int, method, contentType, url string, body []byte) (float64, bench.Result, error) {
	path := filepath.Join(s.work, "hey-body.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return 0, bench.Result{}, err
	}
	defer os.Remove(path)
	return s.runPeer("hey", tenant, n, peer, "-n", fmt.Sprint(n), "-c", fmt.Sprint(conns), "-m", method,
		"-T", contentType, "-H", "Authorization: Bearer "+token, "-D", path, url)
}

// runPeer runs a load generator against the suite's sandbox and returns the write rate the sandbox saw; the
// run must exit 0 having made n writes in tenant (a new tenant per run).
func (s *suite) runPeer(name, tenant string, n int, peer string, args ...string) (float64, bench.Result, error) {
	s.srv.ResetRequests()
	res, err := bench.Run(s.ctx, peer, nil, args...)
	if err != nil {
		return 0, res, err
	}
	ws := s.stats(tenant)
	if res.Exit != 0 || ws.writes != n || ws.failed != 0 {
		return 0, res, fmt.Errorf("%s exited %d after %d writes, %d of them refused: %s", name, res.Exit, ws.writes, ws.failed, strings.TrimSpace(string(res.Stderr)))
	}
	return ws.rate(), res, nil
}

var errNoPeer = fmt.Errorf("not on PATH")

// peerCreates finds a load generator on PATH (errNoPeer if it is not there) and prepares what it sends: the
// create bodies of the data set and a bearer token of the suite's sandbox.
func (s *suite) peerCreates(name string, d bench.Dataset) (peer string, ids []string, bodies [][]byte, token string, err error) {
	if peer, err = exec.LookPath(name); err != nil {
		return "", nil, nil, "", errNoPeer
	}
	if ids, bodies, err = d.Bodies(); err != nil {
		return "", nil, nil, "", err
	}
	if token, err = bench.FetchToken(s.ctx, http.DefaultClient, s.url); err != nil {
		return "", nil, nil, "", err
	}
	return peer, ids, bodies, token, nil
}

// vegeta runs the vegeta load generator (github.com/tsenart/vegeta, built by run.sh) with the create PUTs of the
// data set's first n rows, each customer once, as the load generator sends them: a third-party client doing the
// sandbox the same work as custsync's creates, at conns requests in flight (-rate=0 with -max-workers).
func (s *suite) vegeta(tenant string, n, conns int) (rate float64, res bench.Result, err error) {
	peer, ids, bodies, token, err := s.peerCreates("vegeta", bench.Dataset{Rows: n, NoEmail: s.noEmail})
	if err != nil {
		return 0, bench.Result{}, err
	}
	// The targets carry the sandbox's bearer token, like hey's -H argument: private, and gone after the run.
	targets := filepath.Join(s.work, "vegeta-targets.json")
	url := func(id string) string { return bench.CreateCustomerURL(s.url, tenant, id) }
	if err := writeVegetaTargets(targets, token, http.MethodPut, "application/merge-patch+json", ids, url, bodies); err != nil {
		return 0, bench.Result{}, err
	}
	defer os.Remove(targets)
	return s.runPeer("vegeta", tenant, n, peer, "attack", "-format=json", "-lazy", "-targets="+targets, "-rate=0",
		fmt.Sprintf("-workers=%d", conns), fmt.Sprintf("-max-workers=%d", conns), "-output=/dev/null")
}

// writeVegetaTargets writes one JSON target a line (vegeta's -format=json): for each of ids a request of method
// to url(id) with the bearer token and contentType, and the body of the same index.
func writeVegetaTargets(path, token, method, contentType string, ids []string, url func(id string) string, bodies [][]byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("vegeta targets: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	header := map[string][]string{"Authorization": {"Bearer " + token}, "Content-Type": {contentType}}
	for i, id := range ids {
		target := struct {
			Method string              `json:"method"`
			URL    string              `json:"url"`
			Body   []byte              `json:"body"` // base64, as vegeta reads it
			Header map[string][]string `json:"header"`
		}{method, url(id), bodies[i], header}
		if err := enc.Encode(target); err != nil {
			f.Close()
			return fmt.Errorf("vegeta targets: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("vegeta targets: %w", err)
	}
	return f.Close()
}

// load runs `benchtool load` (a plain Go client, a separate process like custsync) with the create PUTs of the
// data set's first n rows, each customer once, into tenant, and checks that the sandbox saw n writes.
func (s *suite) load(tenant string, n, conns int) (writeStats, bench.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return writeStats{}, bench.Result{}, fmt.Errorf("find benchtool: %w", err)
	}
	s.srv.ResetRequests()
	res, err := bench.Run(s.ctx, self, nil, "load", "-url", s.url, "-tenant", tenant, "-rows", fmt.Sprint(n),
		"-conns", fmt.Sprint(conns), fmt.Sprintf("-no-email=%t", s.noEmail))
	if err != nil {
		return writeStats{}, res, err
	}
	ws := s.stats(tenant)
	if res.Exit != 0 || ws.writes != n {
		return ws, res, fmt.Errorf("load generator exited %d after %d writes: %s", res.Exit, ws.writes, strings.TrimSpace(string(res.Stderr)))
	}
	return ws, res, nil
}

// sandboxCPU is the CPU this process has used so far: the suite's sandbox runs in it, and the suite itself only
// waits while a client runs, so the difference over a run is what the sandbox spent on that client's requests.
func sandboxCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// unlimitedPaired: custsync --tps 0 against the plain Go load generator, vegeta and hey at the same concurrency
// on the same sandbox, in turn, with the CPU each client and the sandbox spend per write. The load generator
// and vegeta send the creates custsync sends, each customer once, so they put the sandbox to the same work;
// hey POSTs one create body n times (a new customer each, numbered by the sandbox: the same work again) and
// PUTs one customer's create n times (after the first a merge into a customer the sandbox holds). The issue's
// target, 80% of what a plain load generator gets, is held against the peers that send the same creates; the
// repeated PUT is shown beside them without it, as it asks the sandbox for less work per request than a
// create (bench/README.md, "eighth").
func (s *suite) unlimitedPaired(path string, n, writers int) error {
	name := fmt.Sprintf("unlimited, %s creates", human(n))
	type figures struct{ rates, ratios, clientCPU, sandboxCPU []float64 }
	var cust, loadGen figures
	add := func(f *figures, rate float64, client, sandbox time.Duration, writes int, custRate float64) {
		f.rates = append(f.rates, rate)
		f.ratios = append(f.ratios, custRate/rate)
		f.clientCPU = append(f.clientCPU, client.Seconds()*1e6/float64(writes))
		f.sandboxCPU = append(f.sandboxCPU, sandbox.Seconds()*1e6/float64(writes))
	}
	// The third-party peers, each left out for the rest of the rounds once it is found missing.
	type peer struct {
		label, work, tenant string
		run                 func(tenant string) (float64, bench.Result, error)
		figures
		missing bool
		// sameWork: the peer puts the sandbox to the work of custsync's creates, so the target applies.
		sameWork bool
	}
	hey := &peer{label: fmt.Sprintf("hey -c %d", writers), work: ", one customer's create PUT repeated (an update after the first)", tenant: "heyw",
		run: func(t string) (float64, bench.Result, error) { return s.hey(t, n, writers, s.noEmail) }}
	heyPost := &peer{label: fmt.Sprintf("hey -c %d -m POST", writers), work: ", a create per request (numbered by the sandbox, no e-mail)", tenant: "heyp",
		run: func(t string) (float64, bench.Result, error) { return s.heyCreates(t, n, writers) }, sameWork: true}
	veg := &peer{label: fmt.Sprintf("vegeta -max-workers %d", writers), work: ", the same creates", tenant: "vegw",
		run: func(t string) (float64, bench.Result, error) { return s.vegeta(t, n, writers) }, sameWork: true}
	peers := []*peer{veg, heyPost, hey}
	for i := 0; i < pairedRuns; i++ {
		sb := sandboxCPU()
		ws, res, err := s.createAll(s.target(fmt.Sprintf("pairw%dr%d", writers, i)), path, n, writers)
		if err != nil {
			return err
		}
		add(&cust, ws.rate(), res.CPU, sandboxCPU()-sb, ws.writes, ws.rate())
		sb = sandboxCPU()
		lws, lres, err := s.load(fmt.Sprintf("loadw%dr%d", writers, i), n, writers)
		if err != nil {
			return err
		}
		add(&loadGen, lws.rate(), lres.CPU, sandboxCPU()-sb, n, ws.rate())
		s.logf("unlimited: custsync --writers %d %.0f writes/s (%.0f µs CPU/write, sandbox %.0f µs); load generator -conns %d %.0f PUTs/s (%.0f µs, sandbox %.0f µs)",
			writers, ws.rate(), cust.clientCPU[i], cust.sandboxCPU[i], writers, lws.rate(), loadGen.clientCPU[i], loadGen.sandboxCPU[i])
		for _, p := range peers {
			if p.missing {
				continue
			}
			sb = sandboxCPU()
			rate, pres, err := p.run(fmt.Sprintf("%s%dr%d", p.tenant, writers, i))
			if err == errNoPeer {
				p.missing = true
				continue
			}
			if err != nil {
				return err
			}
			add(&p.figures, rate, pres.CPU, sandboxCPU()-sb, n, ws.rate())
			s.logf("unlimited: %s %.0f writes/s (%.0f µs CPU/write, sandbox %.0f µs)", p.label, rate, p.clientCPU[i], p.sandboxCPU[i])
		}
	}
	ratio := median(loadGen.ratios)
	s.add(line{name, fmt.Sprintf("custsync --writers %d / load generator -conns %d, the same creates (median of %d pairs)", writers, writers, pairedRuns),
		fmt.Sprintf("%.0f / %.0f writes/s = %.0f%%", median(cust.rates), median(loadGen.rates), 100*ratio), "≥ 80%", verdict(ratio >= 0.8)})
	for _, p := range peers {
		measure := fmt.Sprintf("custsync --writers %d / %s%s", writers, p.label, p.work)
		// A peer that asks the sandbox for less work per request than a create is shown, not held to the target.
		target, held := "", ""
		if p.sameWork {
			target, held = "≥ 80%", "n/a"
		}
		if p.missing {
			s.add(line{name, measure, fmt.Sprintf("n/a (%s not on PATH)", strings.Fields(p.label)[0]), target, held})
			continue
		}
		ratio := median(p.ratios)
		if p.sameWork {
			held = verdict(ratio >= 0.8)
		}
		s.add(line{name, fmt.Sprintf("%s, same sandbox (median of %d pairs)", measure, pairedRuns),
			fmt.Sprintf("%.0f / %.0f writes/s = %.0f%%", median(cust.rates), median(p.rates), 100*ratio), target, held})
	}
	cpu := func(f figures) string {
		if len(f.clientCPU) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs + %.0f µs", median(f.clientCPU), median(f.sandboxCPU))
	}
	s.add(line{name, "CPU per write, client + sandbox: custsync / load generator / vegeta / hey POST / hey PUT", fmt.Sprintf("%s / %s / %s / %s / %s",
		cpu(cust), cpu(loadGen), cpu(veg.figures), cpu(heyPost.figures), cpu(hey.figures)), "", ""})
	return nil
}

// exportPeer pages the customers of a tenant sequentially with curl, the same pages export reads, for the
// export figure's reference; it returns the wall time.
func (s *suite) exportPeer(tenant string, pages int, pageSize int) (time.Duration, error) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return 0, errNoPeer
	}
	token, err := bench.FetchToken(s.ctx, http.DefaultClient, s.url)
	if err != nil {
		return 0, err
	}
	list := filepath.Join(s.work, "curl-urls.txt")
	var b strings.Builder
	for p := 1; p <= pages; p++ {
		fmt.Fprintf(&b, "url = \"%s/customer/%s/customers?pageNumber=%d&pageSize=%d&expand=mixin:*\"\noutput = \"/dev/null\"\n", s.url, tenant, p, pageSize)
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o600); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Hour)
	defer cancel()
	res, err := bench.Run(ctx, curl, nil, "-sS", "--fail", "-H", "Authorization: Bearer "+token, "-K", list)
	if err != nil {
		return 0, err
	}
	if res.Exit != 0 {
		return 0, fmt.Errorf("curl exited %d: %s", res.Exit, strings.TrimSpace(string(res.Stderr)))
	}
	return res.Wall, nil
}

// createAll imports a file of n new rows at --tps 0 with writers, and checks that the sandbox saw n writes.
func (s *suite) createAll(t bench.Target, path string, n, writers int) (writeStats, bench.Result, error) {
	s.srv.ResetRequests()
	rep, res, err := s.importOK(t, "--tps", "0", "--writers", fmt.Sprint(writers), path)
	if err != nil {
		return writeStats{}, res, err
	}
	ws := s.stats(t.Tenant)
	if ws.puts != n || rep.Created != n {
		return ws, res, fmt.Errorf("created %d, sandbox saw %d PUTs, want %d", rep.Created, ws.puts, n)
	}
	s.logf("custsync --writers %d: %d creates, %.0f writes/s (wall %.2f s, engine %.2f s)", writers, n, ws.rate(), res.Wall.Seconds(), rep.Seconds)
	return ws, res, nil
}
