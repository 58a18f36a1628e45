package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"custsync/sandbox"
)

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "run a local implementation of the platform APIs for tests, demos and rehearsals",
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the sandbox over HTTP until interrupted",
			Description: "The sandbox accepts any lowercase tenant and the demo client \"sandbox\" with secret \"sandbox\", which holds\n" +
				"every scope the sandbox knows (customer, customer management, SD mappings, and customer.import_manage /\n" +
				"customer.import_read for the bulk import and the password migration retention configuration).\n\n" +
				"Examples:\n" +
				"  custsync sandbox serve --addr 127.0.0.1:8089\n" +
				"  custsync sandbox serve --data sandbox.db --faults 503=0.05,429=0.02,drop=0.01",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8089", Usage: "listen `ADDRESS` (port 0 picks a free one)"},
				&cli.StringFlag{Name: "data", Usage: "persist in this SQLite `FILE` (default: in memory)"},
				&cli.Float64Flag{Name: "rate-limit", Usage: "requests per second before answering 429 (0 = unlimited)"},
				&cli.StringFlag{Name: "faults", Usage: "fault injection `SPEC`, e.g. 503=0.05,429=0.02,drop=0.01,latency=20ms,seed=7"},
			},
			Action: runSandboxServe,
		}},
	}
}

func runSandboxServe(c *cli.Context) error {
	faults, err := sandbox.ParseFaults(c.String("faults"))
	if err != nil {
		return usageErrorf("--faults: %w", err)
	}
	if c.Float64("rate-limit") < 0 {
		return usageErrorf("--rate-limit must not be negative")
	}
	srv, err := sandbox.New(sandbox.Options{DataFile: c.String("data"), RateLimit: c.Float64("rate-limit"), Faults: faults})
	if err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return usageErrorf("--addr: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	// The address goes to stdout so scripts can start the sandbox on port 0 and read where it listens.
	fmt.Fprintf(c.App.Writer, "sandbox listening on http://%s (client id \"sandbox\", secret \"sandbox\")\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sandbox: %w", err)
	case <-c.Context.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("sandbox shutdown: %w", err)
		}
		return nil
	}
}
