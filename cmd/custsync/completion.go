package main

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts are urfave/cli v2's own (autocomplete/bash_autocomplete and
// autocomplete/zsh_autocomplete of the module, MIT licence), kept byte for byte:
// TestCompletionScriptsAreUrfaveCLIs compares them with the module this binary is built with. Both
// ask the binary itself for the candidates (--generate-bash-completion), so they never go stale.
var (
	//go:embed completion/bash_autocomplete
	bashCompletion string
	//go:embed completion/zsh_autocomplete
	zshCompletion string
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Examples:\n" +
			"  source <(custsync completion bash)                     # this shell; or put it in ~/.bashrc\n" +
			"  custsync completion bash > /etc/bash_completion.d/custsync\n" +
			"  custsync completion zsh > \"${fpath[1]}/_custsync\"      # then restart zsh (needs compinit)\n" +
			"  custsync completion fish > ~/.config/fish/completions/custsync.fish",
		Action: runCompletion,
	}
}

func runCompletion(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("completion needs one shell: bash, zsh or fish")
	}
	var script string
	switch shell := strings.ToLower(c.Args().First()); shell {
	case "bash":
		// The script names the program after its own file unless PROG is set; read from a pipe, that
		// would be /dev/fd/63.
		script = "PROG=" + c.App.Name + "\n" + bashCompletion
	case "zsh":
		script = "#compdef " + c.App.Name + "\nPROG=" + c.App.Name + "\n" + zshCompletion
	case "fish":
		var err error
		if script, err = c.App.ToFishCompletion(); err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
	default:
		return usageErrorf("completion: unknown shell %q (bash, zsh or fish)", shell)
	}
	_, err := fmt.Fprint(c.App.Writer, script)
	return err
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (troff) of every command and flag",
		Description: "Examples:\n" +
			"  custsync man | man -l -\n" +
			"  custsync man > /usr/local/share/man/man1/custsync.1",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("man takes no arguments")
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("man page: %w", err)
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
