package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
	syncer "custsync/sync"
)

// Exit codes are part of the user contract (cron jobs branch on them): never renumber them.
const (
	ExitOK          = 0   // success, also "nothing to do"
	ExitFailure     = 1   // failure not classified below
	ExitUsage       = 2   // bad flags, arguments, config or input file, or the API URL is not the platform; nothing was written
	ExitPartial     = 3   // the run finished but some rows failed, deletes were held, or an export left records out; a re-run is safe
	ExitCredentials = 4   // the platform refused our credentials
	ExitTemporary   = 5   // retries exhausted on 429/5xx/network errors; re-run later
	ExitSafetyStop  = 6   // a guard stopped the run (max-delete, empty or truncated input); nothing deleted
	ExitState       = 7   // the state file is not custsync's, locked, newer than this binary, or bound to another tenant
	ExitInterrupted = 130 // interrupted by a signal; the state is consistent and a re-run resumes
)

var exitCodeHelp = []struct {
	code int
	text string
}{
	{ExitOK, "success (also: nothing to do)"},
	{ExitFailure, "failure not classified below"},
	{ExitUsage, "usage, configuration or input file error, or the API URL does not answer like the platform; nothing was written"},
	{ExitPartial, "partial: some rows failed or deletes were held (see the error file), or an export left out records it could not write (it lists them); a re-run is safe"},
	{ExitCredentials, "the platform refused the credentials (401/403)"},
	{ExitTemporary, "temporary: retries exhausted on 429/5xx/network errors; re-run later"},
	{ExitSafetyStop, "safety stop: a guard tripped (max-delete, empty or truncated input); nothing deleted"},
	{ExitState, "state file not custsync's, locked by another run (or its --sandbox data file in use), newer than this binary, or bound to another tenant/API URL; left untouched"},
	{ExitInterrupted, "interrupted; the state is consistent and a re-run resumes"},
}

// UsageError marks bad flags, arguments or configuration (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// exitError carries an explicit exit code for an outcome that has already been reported to the user (for
// example a partial import whose summary was printed).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode maps an error to the process exit code. It is the only place that decides exit codes.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) {
		// custsync itself never uses cli.Exit: these come from urfave/cli, whose one use of them is "No help
		// topic for X" (an unknown command after help), which it gives code 3, our "partial".
		return ExitUsage
	}
	var fe *formats.FileError
	switch {
	case errors.Is(err, state.ErrNotOurs), errors.Is(err, state.ErrOtherTenant), errors.Is(err, state.ErrLocked), errors.Is(err, state.ErrSchemaTooNew),
		errors.Is(err, state.ErrLockLost), errors.Is(err, sandbox.ErrDataFileInUse):
		return ExitState
	case errors.Is(err, remote.ErrNotPlatform), errors.Is(err, remote.ErrNoMappingsURL):
		return ExitUsage
	case errors.Is(err, remote.ErrCredentialsRefused):
		return ExitCredentials
	case errors.Is(err, remote.ErrRetriesExhausted):
		return ExitTemporary
	case errors.Is(err, syncer.ErrSafetyStop):
		return ExitSafetyStop
	case errors.Is(err, syncer.ErrInput), errors.Is(err, mapping.ErrHeader), errors.Is(err, mapping.ErrMappingFile),
		errors.As(err, &fe):
		return ExitUsage
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ExitInterrupted
	case errors.Is(err, syncer.ErrPartial):
		return ExitPartial
	}
	return ExitFailure
}

func exitCodesCommand() *cli.Command {
	return &cli.Command{
		Name:  "exit-codes",
		Usage: "list the exit codes and what they mean",
		Action: func(c *cli.Context) error {
			for _, e := range exitCodeHelp {
				fmt.Fprintf(c.App.Writer, "%3d  %s\n", e.code, e.text)
			}
			return nil
		},
	}
}
