package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	syncer "custsync/sync"
)

// parseFlags parses args (split at spaces) as the command named by its first words would, without running
// it: the command's action is replaced by parse, which turns the parsed flags into options. It returns
// parse's error, or the CLI's own for a flag it does not know.
func parseFlags(t *testing.T, args string, parse func(*cli.Context) error) error {
	t.Helper()
	app := NewApp(Streams{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}})
	words := strings.Fields(args)
	cmds, found := app.Commands, (*cli.Command)(nil)
	for _, w := range words {
		i := slices.IndexFunc(cmds, func(c *cli.Command) bool { return c.Name == w })
		if i < 0 {
			break
		}
		found, cmds = cmds[i], cmds[i].Subcommands
	}
	if found == nil {
		t.Fatalf("no command in %q", args)
	}
	found.Action = parse
	// An empty config file keeps a developer's ~/.config/custsync/config.yaml out of the test.
	cfg := writeFile(t, t.TempDir(), "config.yaml", "")
	return app.Run(append([]string{"custsync", "--config", cfg}, words...))
}

// TestImportFlags parses import command lines into engine options (the gh style: flags in, options out,
// nothing run).
func TestImportFlags(t *testing.T) {
	t.Parallel()
	testFlags(t, []flagCase{
		{args: "import a.csv",
			want: "files=[a.csv] mode=delta max-delete=10% dry-run=false allow-empty=false detect=false writers=8 results= format=csv bom=<nil> read=0// entity= expect=[] spec=false"},
		{args: "import --dry-run --mode full --max-delete 2% --allow-empty --detect-deletions --writers 3 a.csv b.xlsx",
			want: "files=[a.csv b.xlsx] mode=full max-delete=2% dry-run=true allow-empty=true detect=true writers=3 results= format=csv bom=<nil> read=0// entity= expect=[] spec=false"},
		{args: "import --max-delete 50 --results out --format XLSX --bom=false a.csv",
			want: "files=[a.csv] mode=delta max-delete=50 dry-run=false allow-empty=false detect=false writers=8 results=out format=xlsx bom=false read=0// entity= expect=[] spec=false"},
		{args: "import --delimiter ; --encoding windows-1252 --sheet KNA1 --entity Customers --expect-rows 3 --expect-rows addresses=4 a.csv",
			want: "files=[a.csv] mode=delta max-delete=10% dry-run=false allow-empty=false detect=false writers=8 results= format=csv bom=<nil> read=59/windows-1252/KNA1 entity=customers expect=[{ 3} {addresses 4}] spec=false"},
		{args: "import --decimal-comma --date-format DD.MM.YYYY a.csv",
			want: "files=[a.csv] mode=delta max-delete=10% dry-run=false allow-empty=false detect=false writers=8 results= format=csv bom=<nil> read=0// entity= expect=[] spec=true decimal-comma=true date=DD.MM.YYYY"},
		{args: "import --mapping ../../samples/mappings/sap-sd.yaml a.csv",
			want: "files=[a.csv] mode=delta max-delete=10% dry-run=false allow-empty=false detect=false writers=8 results= format=csv bom=<nil> read=0// entity= expect=[] spec=true decimal-comma=false date=YYYYMMDD"},
		{args: "import --mode partial a.csv", err: "--mode"},
		{args: "import --max-delete 200% a.csv", err: "--max-delete"},
		{args: "import --max-delete many a.csv", err: "--max-delete"},
		{args: "import --format pdf a.csv", err: "--format must be csv or xlsx"},
		{args: "import --writers 0 a.csv", err: "--writers must be at least 1"},
		{args: "import --delimiter x a.csv", err: "--delimiter"},
		{args: "import --encoding ebcdic a.csv", err: "--encoding"},
		{args: "import --entity planets a.csv", err: "--entity"},
		{args: "import --expect-rows =3 a.csv", err: "--expect-rows"},
		{args: "import --date-format someday a.csv", err: "--date-format"},
		{args: "import --mapping nowhere.yaml a.csv", err: "--mapping"},
		{args: "import --no-such-flag a.csv", err: "no-such-flag"},
	}, importOptions, importView)
}

// importView prints the options a command line sets.
func importView(o syncer.Options) string {
	bom := "<nil>"
	if o.ResultsBOM != nil {
		bom = fmt.Sprint(*o.ResultsBOM)
	}
	s := fmt.Sprintf("files=%v mode=%s max-delete=%s dry-run=%t allow-empty=%t detect=%t writers=%d results=%s format=%s bom=%s read=%v entity=%s expect=%v spec=%t",
		o.Files, o.Mode, o.MaxDelete, o.DryRun, o.AllowEmpty, o.DetectDeletions, o.Writers, o.ResultsDir, o.ResultsFormat, bom,
		readView(o.Read), o.Entity, o.ExpectRows, o.Spec != nil)
	if o.Spec != nil {
		s += fmt.Sprintf(" decimal-comma=%t date=%s", o.Spec.Options.DecimalComma, o.Spec.Options.DateFormat)
	}
	return s
}

// readView prints how input files are read.
func readView(r formats.Options) string {
	return fmt.Sprintf("%d/%s/%s", r.Delimiter, r.Encoding, r.Sheet)
}

// TestExportFlags parses export command lines into engine options.
func TestExportFlags(t *testing.T) {
	t.Parallel()
	view := func(o syncer.ExportOptions) string { return fmt.Sprintf("%+v", o) }
	testFlags(t, []flagCase{
		{args: "export -e customers -o c.csv",
			want: view(syncer.ExportOptions{Entities: []string{"customers"}, Out: "c.csv", PageWorkers: 4})},
		{args: "export --entity customers,addresses --entity deletions --out t.xlsx --format xlsx --q active:true --include-acked --page-workers 2",
			want: view(syncer.ExportOptions{Entities: []string{"customers", "addresses", "deletions"}, Out: "t.xlsx", Format: "xlsx", Q: "active:true",
				IncludeAcked: true, PageWorkers: 2})},
		{args: "export -e mappings -o m.csv --bom --delimiter ;",
			want: view(syncer.ExportOptions{Entities: []string{"mappings"}, Out: "m.csv", PageWorkers: 4, CSV: formats.CSVStyle{Delimiter: ';', BOM: true}})},
		{args: "export -o c.csv", err: "--entity is required"},
		{args: "export -e customers", err: "--out is required"},
		{args: "export -e customers -o c.csv --page-workers 0", err: "--page-workers must be at least 1"},
		{args: "export -e customers -o c.csv --delimiter :", err: "--delimiter"},
		{args: "export -e customers -o c.csv extra.csv", err: "takes no arguments"},
	}, exportOptions, view)
}

// TestCheckFlags parses check command lines into engine options.
func TestCheckFlags(t *testing.T) {
	t.Parallel()
	yes := true
	testFlags(t, []flagCase{
		{args: "check a.csv", want: checkView(syncer.CheckOptions{Files: []string{"a.csv"}, Report: "check-report.csv", PageWorkers: 4})},
		{args: "check --report drift.xlsx --format xlsx --bom --page-workers 8 --sheet S --delimiter tab a.csv b.csv",
			want: checkView(syncer.CheckOptions{Files: []string{"a.csv", "b.csv"}, Report: "drift.xlsx", Format: "xlsx", ReportBOM: &yes, PageWorkers: 8,
				Read: formats.Options{Sheet: "S", Delimiter: '\t'}})},
		{args: "check", err: "check needs at least one FILE"},
		{args: "check --format pdf a.csv", err: "--format must be csv or xlsx"},
		{args: "check --expect-rows x a.csv", err: "--expect-rows"},
	}, checkOptions, checkView)
}

func checkView(o syncer.CheckOptions) string {
	bom := "<nil>"
	if o.ReportBOM != nil {
		bom = fmt.Sprint(*o.ReportBOM)
	}
	return fmt.Sprintf("files=%v report=%s format=%s bom=%s workers=%d read=%s entity=%s expect=%v spec=%t",
		o.Files, o.Report, o.Format, bom, o.PageWorkers, readView(o.Read), o.Entity, o.ExpectRows, o.Spec != nil)
}

// TestDeletionsAckFlags parses `deletions ack` command lines into engine options.
func TestDeletionsAckFlags(t *testing.T) {
	t.Parallel()
	view := func(o syncer.AckOptions) string {
		return fmt.Sprintf("all=%t keys=%v files=%v", o.All, o.Keys, o.Files)
	}
	testFlags(t, []flagCase{
		{args: "deletions ack done.xlsx", want: "all=false keys=[] files=[done.xlsx]"},
		{args: "deletions ack --key customers:0001 --key Addresses:0001/A1",
			want: "all=false keys=[{customers 0001} {addresses 0001/A1}] files=[]"},
		{args: "deletions ack --all", want: "all=true keys=[] files=[]"},
		{args: "deletions ack", err: "say what to acknowledge"},
		{args: "deletions ack --all done.csv", err: "--all acknowledges everything"},
		{args: "deletions ack --key 0001", err: "want ENTITY:ERPKEY"},
		{args: "deletions ack --key planets:1", err: "want ENTITY:ERPKEY"},
	}, ackOptions, view)
}

// flagCase is one command line of a flag table: what it parses into (as the table's view prints it), or the
// usage error it gives.
type flagCase struct {
	args string
	want string
	err  string
}

// testFlags parses every command line of cases with parse and compares view of the options with the case.
func testFlags[O any](t *testing.T, cases []flagCase, parse func(*cli.Context) (O, error), view func(O) string) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			t.Parallel()
			var got O
			err := parseFlags(t, c.args, func(ctx *cli.Context) error {
				var err error
				got, err = parse(ctx)
				return err
			})
			checkParsed(t, view(got), err, c.want, c.err)
		})
	}
}

// checkParsed compares what a command line parsed into with the table's want, or its error with the table's.
func checkParsed(t *testing.T, got string, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one saying %q", err, wantErr)
		}
		if ExitCode(err) != ExitUsage {
			t.Errorf("error %v exits %d, want %d", err, ExitCode(err), ExitUsage)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("parsed into\n%s\nwant\n%s", got, want)
	}
}
