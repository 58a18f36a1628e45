package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	"custsync/mapping"
	"custsync/state"
	syncer "custsync/sync"
)

// migrationEntities are what a tenant migration copies: every Customer Management entity, in the order an
// import applies them.
var migrationEntities = []string{"locations", "companies", "customers", "addresses", "contacts"}

func migrationCopyCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "from-profile", Usage: "the profile `NAME` of the tenant to copy from (only read)"},
		&cli.StringFlag{Name: "to-profile", Usage: "the profile `NAME` of the tenant to copy into"},
		&cli.StringSliceFlag{Name: "entity", Aliases: []string{"e"}, Usage: "what to copy (default: locations, companies, customers, addresses, contacts)"},
		&cli.StringFlag{Name: "via", Usage: "the XLSX `FILE` the source's records pass through and stay in (default: migration-FROM-to-TO.xlsx)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "export the source and print what the import into the target would do; send nothing to the target"},
		&cli.BoolFlag{Name: "live", Usage: "with --dry-run: ask the target what the import would meet (adoptions); only reads"},
		&cli.BoolFlag{Name: "adopt", Usage: "take over the records the target holds already instead of creating them twice (see import --adopt)"},
		&cli.BoolFlag{Name: "verify", Usage: "compare the records copied before with the target's live ones, send what differs and create again what the target lacks (mends edits and deletions made on the target since)"},
		&cli.StringFlag{Name: "check-report", Usage: "write the check of the target against the copied file to `FILE` (CSV or XLSX)"},
	}
	for _, f := range rateFlags() {
		// The rate limit and the mappings URL belong to each tenant: they come from the two profiles (so does
		// the journal retention of the target's state file, which the copy's import applies as import does).
		if name := f.Names()[0]; name != "tps" && name != "tps-burst" && name != "mappings-url" {
			flags = append(flags, f)
		}
	}
	flags = append(flags, &cli.BoolFlag{Name: "sandbox", Usage: "run both tenants in in-process sandboxes (each profile's data beside its state file), for a rehearsal"})
	return &cli.Command{
		Name:  "copy",
		Usage: "copy a tenant's customer master data into another tenant: export, import, check",
		Description: "Takes both tenants from the config file's profiles (API URL, tenant, client, secret file, state file,\n" +
			"rate limit), never from --tenant or the environment, which could belong to either. Exports every field\n" +
			"and mixin of the source into --via (it stays, as the record of what was copied), imports that file into\n" +
			"the target as `import` would (delta: nothing in the target is deleted; re-running sends only what\n" +
			"changed in the source since; an entity the source has none of copies nothing), then checks the target\n" +
			"against the file. Exits as the import does, or 1\n" +
			"when the check finds keys that differ. Logins and passwords cannot be read from a platform: migrate\n" +
			"them from the system that holds the hashes (see Logins and passwords).\n\n" +
			"Examples:\n" +
			"  custsync --config /etc/custsync/config.yaml migration copy --from-profile old --to-profile prod --dry-run\n" +
			"  custsync --config /etc/custsync/config.yaml migration copy --from-profile old --to-profile prod --adopt",
		Flags:  flags,
		Action: runMigrationCopy,
	}
}

// runMigrationCopy exports the source profile's tenant to the --via workbook, imports it into the target
// profile's tenant and checks the target against it.
func runMigrationCopy(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("migration copy takes no arguments (got %q); name the tenants with --from-profile and --to-profile", c.Args().First())
	}
	fromName, toName := strings.TrimSpace(c.String("from-profile")), strings.TrimSpace(c.String("to-profile"))
	if fromName == "" || toName == "" {
		return usageErrorf("migration copy needs --from-profile and --to-profile")
	}
	if c.Bool("live") && !c.Bool("dry-run") {
		return usageErrorf("--live goes with --dry-run (a real run asks the target when --adopt needs it)")
	}
	if c.String("profile") != "" {
		return usageErrorf("migration copy takes its two tenants from --from-profile and --to-profile, not --profile")
	}
	from, to, err := migrationTargets(c, fromName, toName)
	if err != nil {
		return err
	}
	entities, err := migrationEntityList(c.StringSlice("entity"))
	if err != nil {
		return err
	}
	via := c.String("via")
	if via == "" {
		via = fmt.Sprintf("migration-%s-to-%s.xlsx", fromName, toName)
	}
	if !strings.EqualFold(filepath.Ext(via), ".xlsx") {
		return usageErrorf("--via %s: the copy holds several entities, one sheet each: name an .xlsx file", via)
	}
	writers := c.Int("writers")
	if writers < 1 {
		return usageErrorf("--writers must be at least 1")
	}
	out := c.App.Writer

	carried, err := previousMixinColumns(via)
	if err != nil {
		return err
	}
	exported, err := migrationExport(c, from, entities, via, carried)
	// Records the export left out (a cell XLSX cannot hold) do not stop the copy of the others: the copy
	// goes on and ends partial.
	var leftOut error
	if errors.Is(err, syncer.ErrPartial) {
		leftOut = fmt.Errorf("%s%w", from.label(), err)
	} else if err != nil {
		return fmt.Errorf("%s%w", from.label(), err)
	}
	for _, t := range exported.Tables {
		if t.Rows == 0 {
			fmt.Fprintf(out, "  %s: none in the source, nothing to copy\n", t.Name)
		}
	}

	dryRun := c.Bool("dry-run")
	sess, err := connectTarget(c, to, !dryRun)
	if err != nil {
		return err
	}
	defer sess.Close()
	// An entity the source has none of is an empty sheet, not a damaged ERP file: the copy imports it as
	// nothing to do (AllowEmpty). What keeps the target safe is that a copy never deletes: a delta import
	// deletes only rows flagged for it, which an export never writes, and --max-delete 0 turns any delete
	// the plan could still hold into a safety stop.
	noDeletes, err := syncer.ParseDeleteLimit("0")
	if err != nil {
		return err
	}
	viaSpec := migrationSpec()
	opts := syncer.Options{Files: []string{via}, Spec: viaSpec, Mode: syncer.ModeDelta, MaxDelete: noDeletes, AllowEmpty: true, DryRun: dryRun, Live: c.Bool("live"), Adopt: c.Bool("adopt"), Verify: c.Bool("verify"), RecreateMissing: true,
		Writers: writers, ExitCode: ExitCode, Logger: logger(c), JournalRetention: to.Retention,
		Args: map[string]any{"files": []string{via}, "mode": syncer.ModeDelta, "dryRun": dryRun, "adopt": c.Bool("adopt"), "verify": c.Bool("verify"),
			"migrationFrom": fromName, "migrationTo": toName}}
	fmt.Fprintf(out, "%simport of %s\n", to.label(), via)
	rep, err := importWithProgress(sess.Ctx, c, sess, opts)
	if rep != nil {
		printImportReport(c, rep)
	}
	if err != nil {
		return err
	}
	if dryRun {
		return leftOut
	}

	fmt.Fprintf(out, "%scheck against %s\n", to.label(), via)
	check, err := syncer.Check(sess.Ctx, sess.Store, sess.Client, syncer.CheckOptions{Files: []string{via}, Spec: viaSpec,
		Report: c.String("check-report"), PageWorkers: c.Int("checkers")})
	if err != nil {
		return fmt.Errorf("%scheck after the copy: %w", to.label(), err)
	}
	printCheckReport(c, check)
	if n := check.Differences(); n > 0 {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%s%s between %s and the target after the copy: %s", to.label(), state.Count(n, "key differs", "keys differ"), via, copyRemedies(check))}
	}
	return leftOut
}

// copyRemedies says, per kind of difference the check after a copy found, what it means and what mends it.
func copyRemedies(check syncer.CheckReport) string {
	var says []string
	if n := check.Totals[syncer.CheckDiffers] + check.Totals[syncer.CheckOnlyInFile]; n > 0 {
		// A plain copy trusts the target's checkpoint; --verify reads the target's records instead, updates
		// those that differ and creates again those it lacks (Options.RecreateMissing).
		says = append(says, "the target was changed since the last copy (records edited or deleted there); copy again with --verify, which sends the file's values where the target differs and creates again the records it lacks")
	}
	if n := check.Totals[syncer.CheckOnlyOnPlatform]; n > 0 {
		says = append(says, fmt.Sprintf("the target holds %s the source does not, which a copy never deletes", state.Count(n, "record", "records")))
	}
	if n := check.Totals[syncer.CheckError]; n > 0 {
		says = append(says, fmt.Sprintf("%s of the file could not be compared (see the check's errors)", state.Count(n, "row", "rows")))
	}
	return strings.Join(says, "; ")
}

// migrationSpec is how the copy's import and check read the via file: the default columns, and a blank cell
// clears. The file is a complete export, so a blank cell is a field the source does not have (cleared there
// since an earlier copy, or never set), not a value the ERP left out; a column the file lacks still keeps.
func migrationSpec() *mapping.Spec {
	spec := mapping.DefaultSpec()
	spec.Source = "default columns, blank cells clear"
	spec.Options.BlankCells = mapping.BlankClear
	return spec
}

// migrationTargets resolves the two profiles of a copy and refuses a pair that is one tenant or shares a
// state file: copying a tenant into itself does nothing good, and a state file belongs to one tenant.
func migrationTargets(c *cli.Context, fromName, toName string) (target, target, error) {
	path := c.String("config")
	if path == "" {
		var err error
		if path, err = defaultConfigFile("migration copy"); err != nil {
			return target{}, target{}, err
		}
	}
	cf, err := loadConfigFile(path)
	if err != nil {
		return target{}, target{}, err
	}
	from, err := cf.target("--from-profile", fromName)
	if err != nil {
		return target{}, target{}, err
	}
	to, err := cf.target("--to-profile", toName)
	if err != nil {
		return target{}, target{}, err
	}
	if from.Tenant == to.Tenant && strings.TrimRight(from.APIURL, "/") == strings.TrimRight(to.APIURL, "/") {
		return target{}, target{}, usageErrorf("--from-profile %s and --to-profile %s both name tenant %q at %s: a copy needs two tenants", fromName, toName, to.Tenant, to.APIURL)
	}
	fromState, _ := filepath.Abs(from.State)
	toState, _ := filepath.Abs(to.State)
	if fromState == toState {
		return target{}, target{}, usageErrorf("--from-profile %s and --to-profile %s share the state file %s: give each profile its own (a state file belongs to one tenant)", fromName, toName, from.State)
	}
	return from, to, nil
}

// migrationEntityList checks the --entity values of a copy; none means every Customer Management entity.
func migrationEntityList(values []string) ([]string, error) {
	var entities []string
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if !slices.Contains(migrationEntities, name) {
				return nil, usageErrorf("--entity %s: a copy takes %s", name, strings.Join(migrationEntities, ", "))
			}
			if !slices.Contains(entities, name) {
				entities = append(entities, name)
			}
		}
	}
	if len(entities) == 0 {
		return migrationEntities, nil
	}
	return entities, nil
}

// migrationExport writes the source's records to via, reading the source only (no lock, nothing written to
// its state file), with the carried mixin columns, and returns what it wrote.
func migrationExport(c *cli.Context, from target, entities []string, via string, carried map[string][]string) (syncer.ExportReport, error) {
	sess, err := connectTarget(c, from, false)
	if err != nil {
		return syncer.ExportReport{}, err
	}
	defer sess.Close()
	opts := syncer.ExportOptions{Entities: entities, Format: "xlsx", Out: via, MixinColumns: carried, PageWorkers: c.Int("checkers")}
	rep, err := exportWithProgress(sess.Ctx, c, sess.Store, sess.Client, opts)
	if err != nil && !errors.Is(err, syncer.ErrPartial) {
		return syncer.ExportReport{}, err
	}
	fmt.Fprintln(c.App.Writer, from.label()+exportSummary(rep))
	printExportSkips(c, rep)
	return rep, err
}

// previousMixinColumns returns the mixin columns of each sheet of the via file an earlier copy left (none
// when there is none). The new export keeps them, so that a mixin field no record of the source has any more
// is a blank cell, which the copy clears on the target, instead of a missing column, which would keep it.
func previousMixinColumns(via string) (map[string][]string, error) {
	if _, err := os.Stat(via); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	tables, err := formats.Open(via, formats.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %s, the file of the earlier copy, cannot be read for its mixin columns (name another --via to start afresh): %w", syncer.ErrInput, via, err)
	}
	defer formats.CloseAll(tables)
	carried := map[string][]string{}
	for _, t := range tables {
		for _, column := range t.Header() {
			if mapping.IsMixinPath(column) {
				carried[t.Name()] = append(carried[t.Name()], column)
			}
		}
	}
	return carried, nil
}
