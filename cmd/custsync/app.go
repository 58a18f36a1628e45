package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	syncer "custsync/sync"
)

// Streams are the standard streams of one invocation; tests swap them for buffers.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Main runs the CLI with args and returns the process exit code. It never calls os.Exit, so tests call it
// directly. SIGINT and SIGTERM cancel the context given to the command; a second signal is left to the default
// handler so that a stuck run can still be killed.
func Main(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return run(ctx, args, s)
}

// run is Main without the signal handling: tests call it with their own context. It is the one place that
// knows the exit code, so it writes the --metrics-file.
func run(ctx context.Context, args []string, s Streams) int {
	start := time.Now()
	app := NewApp(s)
	args = sinkCommandFlags(hoistGlobalFlags(args), app.Commands)
	err := app.RunContext(ctx, args)
	code := report(s.Err, err)
	f := figuresAfter(app, args)
	if mode, reports := unstartedModes[f.command]; err != nil && reports && app.Metadata[reportPrintedKey] == nil && boolFlagIn(args, "json") {
		// The flags or the config file were refused before the command could print its report: --json
		// promises one however the run ends.
		writeJSONReport(s.Out, unstartedReport(boolFlagIn(args, "dry-run"), mode, err, code))
	}
	if f.metricsFile != "" {
		if err := writeMetrics(f, start, time.Now(), code); err != nil {
			fmt.Fprintln(s.Err, metricsWriteError(err))
		}
	}
	return code
}

// unstartedModes are the commands whose --json promises a report however they end (README "The JSON
// report"), with the mode of the report of a run refused before it started.
var unstartedModes = map[string]syncer.Mode{"import": syncer.ModeDelta, "restore": syncer.ModeRestore}

// boolFlagIn reports whether the boolean flag name is set in the raw args (--name, -name or --name=true), for
// when the flags could not be parsed.
func boolFlagIn(args []string, name string) bool {
	set := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		flag, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if flag != name {
			continue
		}
		set = true
		if hasValue {
			set, _ = strconv.ParseBool(value)
		}
	}
	return set
}

// hoistGlobalFlags moves global flags that follow the command name (custsync import --tenant acme ...) in
// front of it, where urfave/cli v2 expects them: users type them either way, and "flag provided but not
// defined: -tenant" helps nobody. Only the value-taking global flags move; "--" ends the scan.
func hoistGlobalFlags(args []string) []string {
	global := valueFlags()
	if len(args) < 2 {
		return args
	}
	var hoisted, rest []string
	seenCommand := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isFlag := strings.HasPrefix(a, "-") && a != "-"
		switch {
		case isFlag && global[name] && seenCommand:
			hoisted = append(hoisted, a)
			if !hasValue && i+1 < len(args) {
				i++
				hoisted = append(hoisted, args[i])
			}
		case isFlag && global[name]:
			// Before the command: keep it, and its value, where it is.
			rest = append(rest, a)
			if !hasValue && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		default:
			if !isFlag {
				seenCommand = true
			}
			rest = append(rest, a)
		}
	}
	out := append([]string{args[0]}, hoisted...)
	return append(out, rest...)
}

// sinkCommandFlags moves the flags of a command that come before its name (custsync --tps 0 import a.csv) after
// it, where urfave/cli v2 expects them, as hoistGlobalFlags does the other way round: otherwise the run fails
// with "flag provided but not defined", and a script that asked for --json gets no report, since the
// command is not known. Only commands without subcommands take flags this way; flags no command defines stay
// where they are and fail as before. Global flags after hoistGlobalFlags lead, so the command is the first
// argument that is neither a flag nor a global flag's value.
func sinkCommandFlags(args []string, commands []*cli.Command) []string {
	global := valueFlags()
	command := func(name string) *cli.Command {
		for _, c := range commands {
			if c.HasName(name) {
				return c
			}
		}
		return nil
	}
	// Before the command is known, a command's flag takes the next argument as its value unless that is a
	// command's name or every command's flag of that name is a switch.
	anyValued := map[string]bool{}
	for _, c := range commands {
		for n, valued := range flagValues(c) {
			anyValued[n] = anyValued[n] || valued
		}
	}
	at := -1
	for i := 1; i < len(args) && at < 0; i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			return args
		case !strings.HasPrefix(a, "-") || a == "-":
			at = i
		case hasValue || i+1 == len(args):
		case global[name] || (anyValued[name] && command(args[i+1]) == nil):
			i++
		}
	}
	if at < 0 {
		return args
	}
	cmd := command(args[at])
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return args
	}
	takesValue := flagValues(cmd)
	for _, f := range globalFlags() {
		for _, n := range f.Names() {
			delete(takesValue, n) // a global switch before the command is the global one (-v)
		}
	}
	var before, sunk []string
	for i := 1; i < at; i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		valued, own := takesValue[name]
		switch {
		case global[name]:
			before = append(before, a)
			if !hasValue && i+1 < at {
				i++
				before = append(before, args[i])
			}
		case own && strings.HasPrefix(a, "-"):
			sunk = append(sunk, a)
			if valued && !hasValue && i+1 < at {
				i++
				sunk = append(sunk, args[i])
			}
		default:
			before = append(before, a)
		}
	}
	if len(sunk) == 0 {
		return args
	}
	out := slices.Concat(args[:1], before, args[at:at+1], sunk, args[at+1:])
	return out
}

// flagValues maps the names of a command's flags to whether they take a value.
func flagValues(c *cli.Command) map[string]bool {
	out := map[string]bool{}
	for _, f := range c.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			out[n] = !isBool
		}
	}
	return out
}

// valueFlags names the global flags that take a value.
func valueFlags() map[string]bool {
	out := map[string]bool{}
	for _, f := range globalFlags() {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		for _, n := range f.Names() {
			out[n] = true
		}
	}
	return out
}

// report prints one final error line (if any) and returns the exit code for err.
func report(w io.Writer, err error) int {
	code := ExitCode(err)
	if err != nil {
		fmt.Fprintf(w, "custsync: %v\n", err)
	}
	return code
}

// NewApp builds the command tree. The app never exits the process itself: ExitErrHandler is a no-op and every
// usage error becomes a *UsageError, so Main maps all outcomes to exit codes in one place (ExitCode).
func NewApp(s Streams) *cli.App {
	app := &cli.App{
		Name:      "custsync",
		Usage:     "synchronise ERP customer master data with the commerce platform",
		Version:   version,
		Reader:    s.In,
		Writer:    s.Out,
		ErrWriter: s.Err,
		Flags:     globalFlags(),
		Commands: []*cli.Command{
			importCommand(),
			restoreCommand(),
			exportCommand(),
			checkCommand(),
			mappingsCommand(),
			deletionsCommand(),
			migrationCommand(),
			stateCommand(),
			templateCommand(),
			versionCommand(),
			sandboxCommand(),
			exitCodesCommand(),
			configCommand(),
			completionCommand(),
			manCommand(),
		},
		HideVersion: true,
		// The completion scripts (custsync completion) ask the binary for candidates with
		// --generate-bash-completion.
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError:         usageErrorHook,
		Action:               helpOrUnknown,
		Before: func(c *cli.Context) error {
			if err := applyConfigFile(c); err != nil {
				return err
			}
			if err := setupLogging(c); err != nil {
				return err
			}
			startFigures(c)
			return nil
		},
	}
	for _, c := range app.Commands {
		prepareCommand(c)
	}
	return app
}

// prepareCommand installs the usage-error hook, the config-file loader and the lock-lost error on a command and
// its subcommands.
func prepareCommand(c *cli.Command) {
	if c.OnUsageError == nil {
		c.OnUsageError = usageErrorHook
	}
	before := c.Before
	c.Before = func(ctx *cli.Context) error {
		figuresOf(ctx).command = ctx.Command.FullName()
		if err := applyConfigFile(ctx); err != nil {
			return err
		}
		if before != nil {
			return before(ctx)
		}
		return nil
	}
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = helpOrUnknown
	}
	if action := c.Action; action != nil {
		c.Action = func(ctx *cli.Context) error { return lockLostError(ctx, action(ctx)) }
	}
	for _, sub := range c.Subcommands {
		prepareCommand(sub)
	}
}

// helpOrUnknown is the action of the app and of commands that only group subcommands: without arguments it
// shows the help; with one, that argument names no command, which is a usage error (exit 2), like an unknown
// flag. (urfave/cli's own answer exits 3, which means "partial" here.)
func helpOrUnknown(c *cli.Context) error {
	group := c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name
	if c.NArg() == 0 {
		if group {
			return cli.ShowSubcommandHelp(c)
		}
		return cli.ShowAppHelp(c)
	}
	where := "custsync"
	if group {
		where = "custsync " + c.Command.FullName()
	}
	return usageErrorf("unknown command %q: see %s --help", c.Args().First(), where)
}

func usageErrorHook(_ *cli.Context, err error, _ bool) error {
	return &UsageError{Err: err}
}

// globalFlags are the flags every command shares. Each can also come from the environment, a profile or the
// config file; precedence is flag > environment > profile > config file > default.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-url", EnvVars: []string{"CUSTSYNC_API_URL"}, Value: defaultAPIURL, Usage: "platform API base `URL`"},
		&cli.StringFlag{Name: "tenant", EnvVars: []string{"CUSTSYNC_TENANT"}, Usage: "platform tenant (lowercase)"},
		&cli.StringFlag{Name: "client-id", EnvVars: []string{"CUSTSYNC_CLIENT_ID"}, Usage: "OAuth client id"},
		&cli.StringFlag{Name: "client-secret", EnvVars: []string{"CUSTSYNC_CLIENT_SECRET"}, Usage: "OAuth client secret (prefer the environment or --client-secret-file)"},
		&cli.StringFlag{Name: "client-secret-file", EnvVars: []string{"CUSTSYNC_CLIENT_SECRET_FILE"}, Usage: "read the OAuth client secret from `FILE`"},
		&cli.StringFlag{Name: "state", EnvVars: []string{"CUSTSYNC_STATE"}, Value: defaultStateFile, Usage: "SQLite checkpoint `FILE` (with --profile: the profile's, default custsync-NAME.db)"},
		&cli.StringFlag{Name: "config", EnvVars: []string{"CUSTSYNC_CONFIG"}, Usage: "YAML `FILE` of flag values (keys are flag names) and profiles"},
		&cli.StringFlag{Name: "profile", EnvVars: []string{"CUSTSYNC_PROFILE"}, Usage: "use the tenant settings of profile `NAME` of the config file (default file: ~/.config/custsync/config.yaml)"},
		metricsFlag(),
		&cli.StringFlag{Name: "log-format", EnvVars: []string{"CUSTSYNC_LOG_FORMAT"}, Value: "text", Usage: "log format: text or json"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int), EnvVars: []string{"CUSTSYNC_VERBOSE"}, Usage: "more detail (repeat for debug logs)"},
	}
}

// setupLogging installs the process logger on stderr. Logs never carry secrets: the remote client redacts them.
func setupLogging(c *cli.Context) error {
	level := slog.LevelWarn
	switch n := c.Count("verbose"); {
	case n == 1:
		level = slog.LevelInfo
	case n >= 2:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(c.String("log-format")) {
	case "text", "":
		h = slog.NewTextHandler(c.App.ErrWriter, opts)
	case "json":
		h = slog.NewJSONHandler(c.App.ErrWriter, opts)
	default:
		return usageErrorf("--log-format must be text or json, not %q", c.String("log-format"))
	}
	c.App.Metadata = map[string]any{"logger": slog.New(h)}
	return nil
}

// logger returns the logger set up for this invocation.
func logger(c *cli.Context) *slog.Logger {
	if l, ok := c.App.Metadata["logger"].(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
