package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"custsync/remote"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check the config file's profiles against the platform",
		Subcommands: []*cli.Command{{
			Name:  "check",
			Usage: "request one token per profile and compare the granted scopes with what each command needs",
			Description: "Checks every profile of the config file (or only --profile NAME, or without profiles the flags and\n" +
				"environment): one token request each, nothing else is sent. For each command it lists the entities\n" +
				"the grant serves, those it does not (the missing scope) and those it serves only in part (an _own or\n" +
				"restricted scope, which makes the platform filter instead of fail). The scopes each endpoint needs\n" +
				"are those of the official API specs.\n\n" +
				"Examples:\n" +
				"  custsync --config /etc/custsync/config.yaml config check\n" +
				"  custsync --profile prod config check --strict",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "strict", Usage: "exit 1 when any command lacks a scope (default: report only)"},
			},
			Action: runConfigCheck,
		}},
	}
}

func runConfigCheck(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("config check takes no arguments (got %q)", c.Args().First())
	}
	targets, err := checkTargets(c)
	if err != nil {
		return err
	}
	out := c.App.Writer
	var failures []error
	gaps := 0
	for i, t := range targets {
		if i > 0 {
			fmt.Fprintln(out)
		}
		n, err := checkTarget(c.Context, out, c, t)
		if err != nil {
			fmt.Fprintf(out, "  error: %v\n", err)
			failures = append(failures, fmt.Errorf("%s%w", t.label(), err))
		}
		gaps += n
	}
	if len(failures) > 0 {
		// The first failure decides the exit code (4 refused credentials, 5 platform unreachable, 2 bad profile).
		return &exitError{code: ExitCode(failures[0]), err: fmt.Errorf("%d of %d targets failed the check: %w", len(failures), len(targets), errors.Join(failures...))}
	}
	if gaps > 0 && c.Bool("strict") {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d command/entity pairs lack a scope (--strict)", gaps)}
	}
	return nil
}

// checkTargets are what config check checks: the --profile, or every profile of the config file, or the
// flags and environment when the config defines no profiles.
func checkTargets(c *cli.Context) ([]target, error) {
	if c.String("profile") != "" {
		return []target{flagTarget(c)}, nil
	}
	cf, err := loadConfigFor(c)
	if err != nil {
		return nil, err
	}
	if cf == nil || len(cf.profiles) == 0 {
		return []target{flagTarget(c)}, nil
	}
	var targets []target
	for _, name := range cf.profileNames() {
		t, err := cf.target("--profile", name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// checkTarget requests one token for t, prints the grant against scopeNeeds and returns how many
// command/entity pairs the grant does not fully serve.
func checkTarget(ctx context.Context, out io.Writer, c *cli.Context, t target) (int, error) {
	name := t.Profile
	if name == "" {
		name = "(flags and environment)"
	}
	fmt.Fprintf(out, "profile %s: tenant %s at %s, state %s\n", name, orDash(t.Tenant), t.APIURL, t.State)
	if t.Tenant == "" {
		return 0, usageErrorf("no tenant")
	}
	creds, err := t.credentials(logger(c))
	if err != nil {
		return 0, err
	}
	client, err := remote.New(remote.Config{BaseURL: t.APIURL, Tenant: t.Tenant, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		Logger: logger(c)})
	if err != nil {
		return 0, usageErrorf("%w", err)
	}
	grant, err := client.RequestGrant(ctx)
	if err != nil {
		return 0, err
	}
	if !grant.Listed {
		fmt.Fprintln(out, "  token: granted, but the answer lists no scopes; the needs below cannot be checked")
		return 0, nil
	}
	fmt.Fprintf(out, "  token: granted %d scopes: %s\n", len(grant.Scopes), strings.Join(grant.Scopes, " "))
	gaps := 0
	for _, command := range scopeCommands() {
		// One entry per entity (or condition) of the command: several needs of one entity merge into its worst
		// verdict with every scope that decided it.
		type entry struct {
			what    string
			verdict remote.ScopeVerdict
			scopes  []string
		}
		var entries []*entry
		for _, need := range scopeNeeds {
			if need.Command != command {
				continue
			}
			what := string(need.Entity)
			if what == "" {
				what = "all"
			}
			verdict, scopes := servesNeed(grant.Scopes, need)
			if need.When != "" {
				if verdict == remote.ScopeGranted {
					continue // named only where it falls short: the entity's own verdict says whether the rest is served
				}
				what = need.When
			}
			i := slices.IndexFunc(entries, func(e *entry) bool { return e.what == what })
			switch {
			case i < 0:
				entries = append(entries, &entry{what, verdict, scopes})
			case verdict < entries[i].verdict:
				entries[i].verdict, entries[i].scopes = verdict, scopes
			case verdict == entries[i].verdict:
				for _, sc := range scopes {
					if !slices.Contains(entries[i].scopes, sc) {
						entries[i].scopes = append(entries[i].scopes, sc)
					}
				}
			}
		}
		var ok, limited, missing []string
		for _, e := range entries {
			switch e.verdict {
			case remote.ScopeGranted:
				ok = append(ok, e.what)
			case remote.ScopeLimited:
				limited = append(limited, fmt.Sprintf("%s (only %s)", e.what, strings.Join(e.scopes, " and ")))
			default:
				missing = append(missing, fmt.Sprintf("%s (needs %s)", e.what, strings.Join(e.scopes, " and ")))
			}
		}
		gaps += len(limited) + len(missing)
		parts := []string{}
		if len(ok) > 0 {
			parts = append(parts, "ok: "+strings.Join(ok, " "))
		}
		if len(limited) > 0 {
			parts = append(parts, "LIMITED: "+strings.Join(limited, ", "))
		}
		if len(missing) > 0 {
			parts = append(parts, "MISSING: "+strings.Join(missing, ", "))
		}
		fmt.Fprintf(out, "  %-17s %s\n", command, strings.Join(parts, "; "))
	}
	if gaps > 0 {
		fmt.Fprintln(out, "  LIMITED scopes make the platform filter reads and writes to the caller's company or restriction instead of failing: grant the tenant-wide scope")
	}
	if t.MappingsURL != "" {
		fmt.Fprintln(out, "  not checked: the sdCustomerMappings endpoint (--mappings-url) is not an Emporix API and decides its own scopes")
	}
	return gaps, nil
}

// servesNeed judges a grant against every endpoint of a need: the worst verdict wins, with every scope that
// decided it, so that one run of config check names all that a need lacks rather than the first of them
// (each endpoint has one tenant-wide scope, so every one named is needed).
func servesNeed(granted []string, need scopeNeed) (remote.ScopeVerdict, []string) {
	worst := remote.ScopeGranted
	var scopes []string
	for _, ep := range need.Endpoints {
		v, s := remote.ServesEndpoint(granted, ep)
		switch {
		case v < worst:
			worst, scopes = v, nil
			fallthrough
		case v == worst && v != remote.ScopeGranted:
			if s != "" && !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return worst, scopes
}

// scopeCommands lists the commands of scopeNeeds in their order.
func scopeCommands() []string {
	var out []string
	for _, n := range scopeNeeds {
		if !slices.Contains(out, n.Command) {
			out = append(out, n.Command)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
