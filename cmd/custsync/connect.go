package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

// Defaults of the rate flags. They are also used by commands that talk to the platform without defining the
// flags (mappings push, deletions ack), so every command stays under the same load by default.
const (
	defaultTPS      = 50
	defaultTPSBurst = 10
	defaultWriters  = 8
	defaultCheckers = 8
	// sandboxBinding is the state binding of --sandbox runs: the in-process sandbox listens on a random port,
	// so its URL cannot identify the platform the state file belongs to.
	sandboxBinding = "sandbox://in-process"
	// defaultSandboxTenant is the tenant of --sandbox runs when --tenant is not given.
	defaultSandboxTenant = "demo"
	// sandboxMappings is the --mappings-url value that names the in-process sandbox's own sdCustomerMappings
	// endpoint, whose port is random.
	sandboxMappings = "sandbox"
	// mappingsNone is the --mappings-url value that makes the state file forget a remembered mappings URL.
	mappingsNone = "none"
)

// rateFlags are the load and endpoint flags shared by every command that reads or writes the platform in bulk
// (import, export, check).
func rateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "tps", EnvVars: []string{"CUSTSYNC_TPS"}, Value: defaultTPS, Usage: "requests per second to the platform (0 = unlimited)"},
		&cli.IntFlag{Name: "tps-burst", EnvVars: []string{"CUSTSYNC_TPS_BURST"}, Value: defaultTPSBurst, Usage: "rate limiter burst"},
		&cli.IntFlag{Name: "writers", EnvVars: []string{"CUSTSYNC_WRITERS"}, Value: defaultWriters, Usage: "concurrent write requests"},
		&cli.IntFlag{Name: "checkers", EnvVars: []string{"CUSTSYNC_CHECKERS"}, Value: defaultCheckers, Usage: "concurrent read requests"},
		&cli.IntFlag{Name: "retries", EnvVars: []string{"CUSTSYNC_RETRIES"}, Value: remote.DefaultMaxRetries, Usage: "retries of a request that failed temporarily (429, 5xx, network) before the run stops (exit 5)"},
		&cli.StringFlag{Name: "mappings-url", EnvVars: []string{"CUSTSYNC_MAPPINGS_URL"}, Usage: "root `URL` of the SD customer mappings endpoint (Engagement Center; the platform has none), remembered with the state file; \"sandbox\" with --sandbox, \"none\" to forget it"},
	}
}

// sandboxFlags let any platform command run against an in-process sandbox instead of a real tenant: for
// demos and rehearsals without a platform account.
func sandboxFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "sandbox", EnvVars: []string{"CUSTSYNC_SANDBOX"}, Usage: "talk to an in-process sandbox instead of --api-url (client sandbox/sandbox, tenant \"demo\" unless --tenant)"},
		&cli.StringFlag{Name: "sandbox-data", EnvVars: []string{"CUSTSYNC_SANDBOX_DATA"}, Usage: "keep the --sandbox data in this SQLite `FILE` (default: the --state file name plus .sandbox)"},
	}
}

// platformFlags are rateFlags plus sandboxFlags: what a command that talks to the platform defines.
func platformFlags() []cli.Flag { return append(rateFlags(), sandboxFlags()...) }

// session is what a command needs to work against one tenant: the state file (bound to the tenant), the
// platform client and, when asked for, the run lock. Close releases all of it.
type session struct {
	Store  *state.Store
	Client *remote.Client
	Lock   *runLock // nil unless connect was asked for the lock
	// Ctx is the command's context: with the lock, it ends when the lock is lost (see lockRun).
	Ctx context.Context
	// Close releases the lock, closes the state file and stops the in-process sandbox, if any.
	Close func() error

	given      string // the --mappings-url of this run, "" if none was given
	remembered bool   // given has been recorded with the state file
}

// target is one tenant as a command reaches it: the platform, the credentials' sources, the state file
// that belongs to the tenant and the rate limit. Profile names the config profile it came from, if any.
type target struct {
	Profile                                  string
	APIURL, Tenant, MappingsURL              string
	ClientID, ClientSecret, ClientSecretFile string
	State                                    string
	TPS                                      float64
	Burst                                    int
	// Retention is the journal retention of the target's state file, where a command takes it from the
	// profile rather than from flags (migration copy).
	Retention state.JournalRetention
}

// flagTarget reads the target from the running command's flags, which already hold the environment, the
// --profile and the config file by precedence (applyConfigFile).
func flagTarget(c *cli.Context) target {
	return target{
		Profile:          c.String("profile"),
		APIURL:           c.String("api-url"),
		Tenant:           strings.TrimSpace(c.String("tenant")),
		MappingsURL:      c.String("mappings-url"),
		ClientID:         c.String("client-id"),
		ClientSecret:     c.String("client-secret"),
		ClientSecretFile: c.String("client-secret-file"),
		State:            strings.TrimSpace(c.String("state")),
		TPS:              flagFloat(c, "tps", defaultTPS),
		Burst:            flagInt(c, "tps-burst", defaultTPSBurst),
	}
}

// credentials resolves the target's client id and secret (flag, environment, secret file).
func (t target) credentials(log *slog.Logger) (remote.Credentials, error) {
	creds, err := remote.LoadCredentials(remote.CredentialSources{
		FlagClientID:     t.ClientID,
		FlagClientSecret: t.ClientSecret,
		SecretFile:       t.ClientSecretFile,
		Logger:           log,
	})
	if err != nil {
		return creds, usageErrorf("%s%w", t.label(), err)
	}
	return creds, nil
}

// label prefixes messages about a profile's target with its name.
func (t target) label() string {
	if t.Profile == "" {
		return ""
	}
	return "profile " + t.Profile + ": "
}

// connect opens the state file and the platform client from the global flags (--api-url, --tenant,
// --client-id, --client-secret(-file), --state, or a --profile) and, where the command defines them, the
// rate flags and --sandbox. With needLock it also takes the run lock, so that no other run uses the state
// file meanwhile.
//
// Errors: missing tenant or credentials and bad URLs are usage errors (exit 2); a state file bound to
// another tenant, locked by another run or newer than this binary exits 7.
func connect(c *cli.Context, needLock bool) (*session, error) {
	return connectTarget(c, flagTarget(c), needLock)
}

// connectTarget is connect for a given target: the command's own flags serve only for --sandbox, the
// worker counts and --send-password-reset.
func connectTarget(c *cli.Context, t target, needLock bool) (*session, error) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	log := logger(c)
	var closers []func() error
	closeAll := func() error {
		var first error
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil && first == nil {
				first = err
			}
		}
		closers = nil
		return first
	}
	fail := func(err error) (*session, error) {
		_ = closeAll()
		return nil, err
	}

	apiURL, binding := t.APIURL, ""
	tenant := t.Tenant
	creds := remote.Credentials{}
	inSandbox := c.Bool("sandbox")
	if inSandbox {
		// The sandbox starts once the state file has been found usable; its URL is known then.
		apiURL, binding = "http://127.0.0.1", sandboxBinding
		if tenant == "" {
			tenant = defaultSandboxTenant
		}
		creds = remote.Credentials{ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret}
	} else {
		binding = apiURL
		var err error
		if creds, err = t.credentials(log); err != nil {
			return fail(err)
		}
	}
	if tenant == "" {
		return fail(usageErrorf("%s--tenant is required (or CUSTSYNC_TENANT, or a profile's tenant)", t.label()))
	}
	given := strings.TrimSpace(t.MappingsURL)
	if given == sandboxMappings && !inSandbox {
		return fail(usageErrorf("--mappings-url sandbox names the in-process sandbox's endpoint: it needs --sandbox"))
	}
	retries := flagInt(c, "retries", remote.DefaultMaxRetries)
	if retries < 0 {
		return fail(usageErrorf("--retries must be 0 or more"))
	}
	// The limiter reads anything but a positive rate as unlimited, so a slip such as --tps -50 would lift the
	// limit the platform enforces instead of setting one.
	if t.TPS < 0 || math.IsNaN(t.TPS) || math.IsInf(t.TPS, 0) {
		return fail(usageErrorf("%s--tps %v: want requests per second, 0 (unlimited) or more", t.label(), t.TPS))
	}
	if t.Burst < 0 {
		return fail(usageErrorf("%s--tps-burst %d: want 0 or more", t.label(), t.Burst))
	}
	if retries == 0 {
		retries = -1 // remote.Config: zero is the default, negative none
	}
	cfg := remote.Config{
		BaseURL:      apiURL,
		MappingsURL:  mappingsEndpoint(given, apiURL),
		MaxRetries:   retries,
		Tenant:       tenant,
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret,
		TPS:          t.TPS,
		Burst:        t.Burst,
		Writers:      flagInt(c, "writers", defaultWriters),
		Readers:      flagInt(c, "checkers", defaultCheckers),
		// Off unless asked for: the platform's default would e-mail a password-reset link to every customer
		// an import creates.
		SendPasswordResetNotifications: definesFlag(c, "send-password-reset") && c.Bool("send-password-reset"),
		Logger:                         log,
	}
	// Checked before the state file is touched: a bad tenant or URL is a usage error with nothing opened or sent.
	if err := cfg.Validate(); err != nil {
		return fail(usageErrorf("%s%w", t.label(), err))
	}

	fig := figuresOf(c)
	fig.tenant = tenant
	st, err := openStateFile(ctx, log, t.State, state.Binding{APIURL: binding, Tenant: tenant})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, st.Close)
	if inSandbox {
		// The sandbox's data lives beside the state file unless told otherwise: a state file that remembers
		// records the sandbox no longer has would make the next run lie ("nothing to do").
		data := c.String("sandbox-data")
		if data == "" {
			data = t.State + ".sandbox"
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(fmt.Errorf("start sandbox: %w", err))
		}
		sb, err := serveSandbox(ln, sandbox.Options{DataFile: data})
		if err != nil {
			return fail(err)
		}
		// Close, not Shutdown: the command's requests are over when the session closes.
		closers = append(closers, sb.Close)
		url := sb.URL()
		cfg.BaseURL, cfg.MappingsURL = url, mappingsEndpoint(given, url)
	}
	s := &session{Store: st, Ctx: ctx, given: given}
	if given == "" {
		// Once given, the mappings URL stays with the state file, so that no run leaves the remote behind.
		remembered, err := st.MappingsURL(ctx)
		if err != nil {
			return fail(err)
		}
		sandboxURL := ""
		if inSandbox {
			sandboxURL = cfg.BaseURL
		}
		cfg.MappingsURL = mappingsEndpoint(remembered, sandboxURL)
	}
	if needLock {
		lock, err := lockRun(c, st)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, lock.Release)
		s.Lock, s.Ctx = lock, lock.Ctx
		// Only a run that holds the lock writes the state file: it binds it to the tenant once the platform
		// accepted the credentials, never before (a typo in --api-url, an input error or a dry run binds
		// nothing), and remembers the mappings URL then.
		cfg.OnAccepted = s.accepted
		if !st.Binding().IsZero() {
			if err := s.rememberMappings(ctx); err != nil {
				return fail(err)
			}
		}
	}
	if s.Client, err = remote.New(cfg); err != nil {
		return fail(usageErrorf("%s%w", t.label(), err))
	}
	fig.client = s.Client
	s.Close = closeAll
	return s, nil
}

// rememberedMappingsURL reads the mappings URL remembered with the --state file, for commands that decide from
// it whether to connect at all.
func rememberedMappingsURL(c *cli.Context) (string, error) {
	st, err := openState(c, state.Binding{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	return st.MappingsURL(c.Context)
}

// mappingsEndpoint is the SD customer mappings root a --mappings-url value (given or remembered) stands for:
// "" or "none" for none, "sandbox" for the in-process sandbox of this run (none if the run has no sandbox).
func mappingsEndpoint(value, sandboxURL string) string {
	switch value {
	case "", mappingsNone:
		return ""
	case sandboxMappings:
		return sandboxURL
	}
	return value
}

// accepted runs once the platform first accepted an authenticated request: the state file is bound to the
// tenant and remembers the mappings URL.
func (s *session) accepted(ctx context.Context) error {
	if err := s.Store.Bind(ctx); err != nil {
		return err
	}
	return s.rememberMappings(ctx)
}

// rememberMappings records the --mappings-url given to this run with the state file ("none" forgets it).
func (s *session) rememberMappings(ctx context.Context) error {
	if s.given == "" || s.remembered {
		return nil
	}
	value := s.given
	if value == mappingsNone {
		value = ""
	}
	current, err := s.Store.MappingsURL(ctx)
	if err != nil {
		return err
	}
	if current != value {
		if err := s.Store.SetMappingsURL(ctx, value); err != nil {
			return err
		}
	}
	s.remembered = true
	return nil
}

// openState opens the --state file with the given binding; a zero binding opens it for inspection only
// (state show|runs|unlock, mappings list, deletions list).
func openState(c *cli.Context, binding state.Binding) (*state.Store, error) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	path := strings.TrimSpace(c.String("state"))
	if binding.IsZero() {
		if err := stateFileExists(c); err != nil {
			return nil, err
		}
	}
	return openStateFile(ctx, logger(c), path, binding)
}

// stateFileExists fails with a usage error when --state names no file, for the commands that only read or
// put back what earlier runs recorded: opening would create an empty state file, and a mistyped --state would
// read as a state with nothing in it.
func stateFileExists(c *cli.Context) error {
	path := strings.TrimSpace(c.String("state"))
	if _, err := os.Stat(path); path != "" && errors.Is(err, fs.ErrNotExist) {
		return usageErrorf("state file %s does not exist (check --state)", path)
	}
	return nil
}

// openStateFile opens the state file at path with the given binding. Bringing the schema of a file written by
// an older custsync up to date is logged as a warning, once: it may take a while on a large file, and a nightly
// job's log should say why that night's run started late.
func openStateFile(ctx context.Context, log *slog.Logger, path string, binding state.Binding) (*state.Store, error) {
	if path == "" {
		return nil, usageErrorf("--state must name a file")
	}
	ctx = state.WithUpgradeNotice(ctx, func(path string, from, to int) {
		log.Warn("upgrading the state file to this custsync's schema (once; on a large file this takes a while)",
			"state", path, "from", from, "to", to)
	})
	return state.Open(ctx, path, binding)
}

// runLock is the state file's run lock as a command holds it.
type runLock struct {
	*state.Lock
	// Ctx ends when the lock is lost, with an error wrapping state.ErrLockLost as its cause.
	Ctx    context.Context
	cancel context.CancelCauseFunc
}

// lockRun takes the state file's run lock for the running command. It is the one place a command gets the
// lock, so every command that holds it works in a context that ends when the lock is lost (the heartbeat
// found it removed by `custsync state unlock --force`, or taken): the command stops instead of writing on
// without it, and lockLostError makes it exit as a state error.
func lockRun(c *cli.Context, st *state.Store) (*runLock, error) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	lock, err := st.AcquireLock(ctx, state.CurrentLockOwner(), state.DefaultStaleAfter)
	if err != nil {
		return nil, err
	}
	l := &runLock{Lock: lock}
	l.Ctx, l.cancel = context.WithCancelCause(ctx)
	go func() {
		select {
		case <-lock.Lost():
			l.cancel(fmt.Errorf("the state lock was taken away (custsync state unlock?): %w", lock.Err()))
		case <-l.Ctx.Done():
		}
	}()
	c.App.Metadata[runLockKey] = l
	return l, nil
}

// runLockKey keeps the invocation's run lock in the app's metadata, for lockLostError.
const runLockKey = "runLock"

// lockLostError is the error a command ends with: when it stopped because the run lock was lost, the lock's
// error (exit 7) rather than the bare cancellation (which would read as an interrupt, exit 130).
func lockLostError(c *cli.Context, err error) error {
	l, ok := c.App.Metadata[runLockKey].(*runLock)
	if !ok || err == nil || !errors.Is(err, context.Canceled) || errors.Is(err, state.ErrLockLost) {
		return err
	}
	if cause := context.Cause(l.Ctx); errors.Is(cause, state.ErrLockLost) {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}

// Release ends the lock's context and releases the lock.
func (l *runLock) Release() error {
	l.cancel(nil)
	return l.Lock.Release()
}

// definesFlag reports whether the running command or one of its parents defines the flag.
func definesFlag(c *cli.Context, name string) bool {
	for _, ctx := range c.Lineage() {
		var flags []cli.Flag
		if ctx.Command != nil {
			flags = ctx.Command.Flags
		}
		if ctx.App != nil && ctx.Command == nil {
			flags = ctx.App.Flags
		}
		for _, f := range flags {
			for _, n := range f.Names() {
				if n == name {
					return true
				}
			}
		}
	}
	return false
}

func flagFloat(c *cli.Context, name string, def float64) float64 {
	if !definesFlag(c, name) {
		return def
	}
	return c.Float64(name)
}

func flagInt(c *cli.Context, name string, def int) int {
	if !definesFlag(c, name) {
		return def
	}
	return c.Int(name)
}
