package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"custsync/state"
)

// Built-in defaults of the global flags that a profile may also set.
const (
	defaultAPIURL    = "https://api.emporix.io"
	defaultStateFile = "custsync.db"
)

// profileKeys are the settings a profile may hold: which platform and tenant, who custsync is there,
// which state file belongs to that tenant, how fast custsync may go and how long that state file keeps the
// journals of its runs. Secrets stay in files.
var profileKeys = []string{"api-url", "tenant", "client-id", "client-secret-file", "state", "tps", "tps-burst", "mappings-url",
	"journal-keep-runs", "journal-keep-days"}

// configFile is a parsed --config file: flag values for every command, and named profiles.
type configFile struct {
	path string
	// defaults are the top-level keys: flag names and their values.
	defaults map[string]string
	// profiles are the entries of the profiles key, each a tenant's settings (profileKeys).
	profiles map[string]map[string]string
}

// profileNames lists the profiles in name order.
func (cf *configFile) profileNames() []string {
	names := make([]string, 0, len(cf.profiles))
	for n := range cf.profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// profile returns the settings of the named profile; "" names no profile. flag is the option that named it,
// for the error.
func (cf *configFile) profile(flag, name string) (map[string]string, error) {
	if name == "" {
		return nil, nil
	}
	p, ok := cf.profiles[name]
	if !ok {
		if len(cf.profiles) == 0 {
			return nil, usageErrorf("%s %s: config %s defines no profiles", flag, name, cf.path)
		}
		return nil, usageErrorf("%s %s: config %s defines %s", flag, name, cf.path, strings.Join(cf.profileNames(), ", "))
	}
	return p, nil
}

// target resolves the named profile on its own: profile > config defaults > built-in defaults, without
// the command line or the environment. It serves what involves several tenants at once (checking every
// profile, a migration between two profiles), where a --tenant or CUSTSYNC_TENANT could belong to either.
func (cf *configFile) target(flag, name string) (target, error) {
	p, err := cf.profile(flag, name)
	if err != nil {
		return target{}, err
	}
	get := func(key, def string) string {
		if v, ok := p[key]; ok {
			return v
		}
		if v, ok := cf.defaults[key]; ok {
			return v
		}
		return def
	}
	t := target{
		Profile:          name,
		APIURL:           get("api-url", defaultAPIURL),
		Tenant:           strings.TrimSpace(get("tenant", "")),
		ClientID:         get("client-id", ""),
		ClientSecretFile: get("client-secret-file", ""),
		State:            get("state", profileStateFile(name)),
		MappingsURL:      get("mappings-url", ""),
	}
	if t.TPS, err = strconv.ParseFloat(get("tps", strconv.Itoa(defaultTPS)), 64); err != nil {
		return target{}, usageErrorf("config %s: profile %s: tps: %w", cf.path, name, err)
	}
	if t.Burst, err = strconv.Atoi(get("tps-burst", strconv.Itoa(defaultTPSBurst))); err != nil {
		return target{}, usageErrorf("config %s: profile %s: tps-burst: %w", cf.path, name, err)
	}
	runs, err := strconv.Atoi(get("journal-keep-runs", strconv.Itoa(state.DefaultJournalKeepRuns)))
	if err != nil || runs < 0 {
		return target{}, usageErrorf("config %s: profile %s: journal-keep-runs: want a number of runs, 0 or more", cf.path, name)
	}
	days, err := strconv.Atoi(get("journal-keep-days", "0"))
	if err != nil || days < 0 || days > maxJournalKeepDays {
		return target{}, usageErrorf("config %s: profile %s: journal-keep-days: want 0 to %d (100 years)", cf.path, name, maxJournalKeepDays)
	}
	t.Retention = retention(runs, days)
	return t, nil
}

// profileStateFile is the state file of a profile that names none: one per profile, because a state
// file belongs to one tenant and refuses the others (exit 7).
func profileStateFile(profile string) string {
	if profile == "" {
		return defaultStateFile
	}
	return "custsync-" + profile + ".db"
}

// userConfigFile is where --profile looks when no --config is given: $XDG_CONFIG_HOME/custsync/config.yaml
// (~/.config/custsync/config.yaml on Linux).
func userConfigFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "custsync", "config.yaml"), nil
}

// loadConfigFor reads the config file the invocation names: --config (or CUSTSYNC_CONFIG), or with
// --profile and no --config, userConfigFile. It returns nil when there is none.
func loadConfigFor(c *cli.Context) (*configFile, error) {
	path := c.String("config")
	if path == "" && c.String("profile") != "" {
		var err error
		if path, err = defaultConfigFile("--profile " + c.String("profile")); err != nil {
			return nil, err
		}
	}
	if path == "" {
		return nil, nil
	}
	return loadConfigFile(path)
}

// defaultConfigFile is userConfigFile for what needs a config file and was given no --config; an error says
// that what needs it needs --config FILE.
func defaultConfigFile(what string) (string, error) {
	def, err := userConfigFile()
	if err != nil {
		return "", usageErrorf("%s needs --config FILE: %w", what, err)
	}
	if _, err := os.Stat(def); errors.Is(err, fs.ErrNotExist) {
		return "", usageErrorf("%s needs --config FILE (and %s does not exist)", what, def)
	}
	return def, nil
}

// expectedValue says what a value of flag f must be, for an error about a value that is not.
func expectedValue(f cli.Flag) string {
	switch f.(type) {
	case *cli.Float64Flag:
		return "a number"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return "a whole number"
	case *cli.DurationFlag:
		return "a duration such as 90s, 15m or 2h"
	case *cli.BoolFlag:
		return "true or false"
	}
	return "a value this key takes"
}

// applyConfigFile fills every flag of the running command (and its parents) that was set neither on the command
// line nor in the environment: from the --profile's settings first, then from the config file's top-level keys.
// So the precedence is flag > environment > profile > config file > default. Keys are flag names (dashes or
// underscores). A top-level key that matches no flag of any command is reported, so a typo in a cron job's
// config does not go unnoticed.
func applyConfigFile(c *cli.Context) error {
	cf, err := loadConfigFor(c)
	if err != nil || cf == nil {
		return err
	}
	name := c.String("profile")
	profile, err := cf.profile("--profile", name)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, ctx := range c.Lineage() {
		for _, f := range flagsOf(ctx) {
			primary := f.Names()[0]
			value, found := "", false
			for _, layer := range []map[string]string{profile, cf.defaults} {
				for _, n := range f.Names() {
					if v, ok := layer[n]; ok && !found {
						value, found = v, true
					}
					if _, ok := cf.defaults[n]; ok {
						used[n] = true
					}
				}
			}
			if !found || (ctx.IsSet(primary) && !emptyString(ctx, primary)) {
				continue
			}
			if err := ctx.Set(primary, value); err != nil {
				return &UsageError{Err: fmt.Errorf("config %s: key %q: %q is not %s (%w)", cf.path, primary, value, expectedValue(f), err)}
			}
		}
	}
	if name != "" && !c.IsSet("state") {
		if err := c.Set("state", profileStateFile(name)); err != nil {
			return err
		}
	}
	var unknown []string
	for k := range cf.defaults {
		if !used[k] && !knownElsewhere(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &UsageError{Err: fmt.Errorf("config %s: unknown keys for this command: %s", cf.path, strings.Join(unknown, ", "))}
	}
	return nil
}

// emptyString reports whether a string flag holds "": urfave/cli counts an environment variable that is
// exported but empty (CUSTSYNC_TENANT= in a cron environment) as set, and it must not hide the profile's
// value behind nothing.
func emptyString(ctx *cli.Context, name string) bool {
	s, ok := ctx.Value(name).(string)
	return ok && s == ""
}

// knownElsewhere accepts keys that belong to other commands, so one config file can serve import and export.
func knownElsewhere(key string) bool {
	for _, c := range NewApp(Streams{}).Commands {
		if commandKnowsFlag(c, key) {
			return true
		}
	}
	return false
}

func commandKnowsFlag(c *cli.Command, key string) bool {
	for _, f := range c.Flags {
		for _, n := range f.Names() {
			if n == key {
				return true
			}
		}
	}
	for _, s := range c.Subcommands {
		if commandKnowsFlag(s, key) {
			return true
		}
	}
	return false
}

func flagsOf(ctx *cli.Context) []cli.Flag {
	if ctx.Command != nil && len(ctx.Command.Flags) > 0 {
		return ctx.Command.Flags
	}
	if ctx.App != nil && ctx.Lineage()[len(ctx.Lineage())-1] == ctx {
		return ctx.App.Flags
	}
	return nil
}

// loadConfigFile reads the YAML config: top-level flag names with scalar values (lists become
// comma-separated), and under "profiles" one mapping of profileKeys per profile name.
func loadConfigFile(path string) (*configFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("config: %w", err)}
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("config %s: %w", path, err)}
	}
	cf := &configFile{path: path, profiles: map[string]map[string]string{}}
	rawProfiles, hasProfiles := doc["profiles"]
	delete(doc, "profiles")
	if cf.defaults, err = flatValues(path, "", doc); err != nil {
		return nil, err
	}
	if !hasProfiles {
		return cf, nil
	}
	profiles, ok := rawProfiles.(map[string]any)
	if !ok {
		return nil, usageErrorf("config %s: profiles must map profile names to their settings", path)
	}
	for name, rawProfile := range profiles {
		if !validProfileName(name) {
			return nil, usageErrorf("config %s: profile name %q: use letters, digits, - and _", path, name)
		}
		settings, ok := rawProfile.(map[string]any)
		if !ok {
			return nil, usageErrorf("config %s: profile %s must be a mapping of settings", path, name)
		}
		values, err := flatValues(path, "profile "+name+": ", settings)
		if err != nil {
			return nil, err
		}
		for k := range values {
			switch {
			case k == "client-secret":
				return nil, usageErrorf("config %s: profile %s: keep the secret out of the config file: use client-secret-file", path, name)
			case !slices.Contains(profileKeys, k):
				return nil, usageErrorf("config %s: profile %s: unknown key %q (a profile sets %s)", path, name, k, strings.Join(profileKeys, ", "))
			}
		}
		cf.profiles[name] = values
	}
	return cf, nil
}

// validProfileName keeps profile names usable in file names (the default state file is named after them).
func validProfileName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// flatValues turns a mapping of flag names to scalars into strings; where says which part of the file.
func flatValues(path, where string, doc map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(doc))
	for k, v := range doc {
		name := strings.ReplaceAll(strings.TrimSpace(k), "_", "-")
		switch t := v.(type) {
		case []any:
			parts := make([]string, len(t))
			for i, p := range t {
				parts[i] = fmt.Sprint(p)
			}
			out[name] = strings.Join(parts, ",")
		case map[string]any:
			return nil, usageErrorf("config %s: %skey %q: nested values are not supported", path, where, k)
		case nil:
			out[name] = ""
		default:
			out[name] = fmt.Sprint(t)
		}
	}
	return out, nil
}
