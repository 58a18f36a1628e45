package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// applyConfigFile fills every flag of the running command (and its parents) that was set neither on the command
// line nor in the environment from the YAML file named by --config. Keys are flag names (dashes or underscores).
// A key that matches no flag of the command is reported, so a typo in a cron job's config does not go unnoticed.
func applyConfigFile(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	values, err := loadConfigFile(path)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, ctx := range c.Lineage() {
		for _, f := range flagsOf(ctx) {
			for _, name := range f.Names() {
				v, ok := values[name]
				if !ok {
					continue
				}
				used[name] = true
				if ctx.IsSet(f.Names()[0]) {
					continue
				}
				if err := ctx.Set(f.Names()[0], v); err != nil {
					return &UsageError{Err: fmt.Errorf("config %s: key %q: %w", path, name, err)}
				}
			}
		}
	}
	var unknown []string
	for k := range values {
		if !used[k] && !knownElsewhere(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &UsageError{Err: fmt.Errorf("config %s: unknown keys for this command: %s", path, strings.Join(unknown, ", "))}
	}
	return nil
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

// loadConfigFile reads a flat YAML mapping of flag names to scalar values (lists become comma-separated).
func loadConfigFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("config: %w", err)}
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("config %s: %w", path, err)}
	}
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
			return nil, &UsageError{Err: fmt.Errorf("config %s: key %q: nested values are not supported", path, k)}
		case nil:
			out[name] = ""
		default:
			out[name] = fmt.Sprint(t)
		}
	}
	return out, nil
}
