package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
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
				&cli.StringFlag{Name: "data", Usage: "keep the records in this SQLite `FILE`, where they survive a restart and memory stays bounded (rehearsals with millions of customers); default: in memory"},
				&cli.Float64Flag{Name: "rate-limit", Usage: "requests per second before answering 429 (0 = unlimited)"},
				&cli.StringFlag{Name: "faults", Usage: "fault injection `SPEC`, e.g. 503=0.05,429=0.02,drop=0.01,latency=20ms,seed=7"},
				&cli.StringFlag{Name: "contact-propagation", Value: string(sandbox.PropagateUpward),
					Usage: "the tenant's companyContactPropagation: `UPWARD` (a new contact of a subsidiary is also assigned to its parents, the platform default), DOWNWARD or DISABLED"},
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
	propagation := sandbox.Propagation(strings.ToUpper(c.String("contact-propagation")))
	if !slices.Contains([]sandbox.Propagation{sandbox.PropagateUpward, sandbox.PropagateDownward, sandbox.PropagateDisabled}, propagation) {
		return usageErrorf("--contact-propagation must be UPWARD, DOWNWARD or DISABLED, not %q", c.String("contact-propagation"))
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return usageErrorf("--addr: %w", err)
	}
	sb, err := serveSandbox(ln, sandbox.Options{DataFile: c.String("data"), RateLimit: c.Float64("rate-limit"), Faults: faults,
		ContactPropagation: propagation})
	if err != nil {
		return err
	}
	// The address goes to stdout so scripts can start the sandbox on port 0 and read where it listens.
	fmt.Fprintf(c.App.Writer, "sandbox listening on %s (client id \"sandbox\", secret \"sandbox\")\n", sb.URL())
	select {
	case err := <-sb.served:
		_ = sb.srv.Close()
		return fmt.Errorf("sandbox: %w", err)
	case <-c.Context.Done():
		return sb.Shutdown()
	}
}

// servedSandbox is a sandbox answering HTTP on a listener of its own: the platform of --sandbox runs (in
// process, on a free loopback port) and of `custsync sandbox serve`.
type servedSandbox struct {
	srv    *sandbox.Server
	hs     *http.Server
	addr   net.Addr
	served chan error // what Serve returned
}

// serveSandbox builds a sandbox with opts and serves it on ln until Close or Shutdown. ln is closed if the
// sandbox cannot be built. Nobody reads the request log of a sandbox the CLI serves, so it keeps none: at a
// million writes the log alone made the sandbox spend most of its CPU collecting garbage.
func serveSandbox(ln net.Listener, opts sandbox.Options) (*servedSandbox, error) {
	opts.DiscardRequests = true
	srv, err := sandbox.New(opts)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s := &servedSandbox{srv: srv, hs: &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr(),
		served: make(chan error, 1)}
	go func() { s.served <- s.hs.Serve(ln) }()
	return s, nil
}

// URL is the sandbox's base URL.
func (s *servedSandbox) URL() string { return "http://" + s.addr.String() }

// Close stops serving at once and closes the sandbox. A command's own sandbox closes this way: its requests
// are over, and Shutdown would wait 5 s for connections a cancelled request dialled but never used (net/http
// treats new connections as active that long).
func (s *servedSandbox) Close() error {
	err := s.hs.Close()
	if cerr := s.srv.Close(); err == nil {
		err = cerr
	}
	return err
}

// Shutdown lets the requests in flight finish, for at most 5 s, then closes the sandbox.
func (s *servedSandbox) Shutdown() error {
	defer s.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sandbox shutdown: %w", err)
	}
	return nil
}
