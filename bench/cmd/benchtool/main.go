// Command benchtool generates benchmark data and runs the custsync benchmark suite (see bench/run.sh).
//
//	benchtool gen -rows N -out FILE [-every K -rev R] [-no-email]
//	                                                   write generated customers (CSV or XLSX by extension)
//	benchtool seed -in FILE -state FILE -api-url URL -tenant T
//	                                                   record FILE in a checkpoint as if it had been imported
//	benchtool load -url URL -tenant T -rows N -conns C [-no-email]
//	                                                   plain HTTP PUT load generator
//	benchtool read [-cpuprofile F] FILE...             time reading FILE with the formats package alone
//	benchtool suite -custsync BIN -work DIR [-quick]   run every benchmark and print the table
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"custsync/bench"
	"custsync/formats"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gen":
		err = genCmd(os.Args[2:])
	case "seed":
		err = seedCmd(ctx, os.Args[2:])
	case "load":
		err = loadCmd(ctx, os.Args[2:])
	case "suite":
		err = suiteCmd(ctx, os.Args[2:])
	case "read":
		err = readCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool gen|seed|load|read|suite [flags] (see -h of each)")
	os.Exit(2)
}

func genCmd(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int("rows", 1000, "data rows")
	out := fs.String("out", "customers.csv", "output file (.csv or .xlsx)")
	every := fs.Int("every", 0, "give every K-th row revision -rev (0: none)")
	rev := fs.Int("rev", 1, "revision of the changed rows")
	noEmail := fs.Bool("no-email", false, "leave the contact e-mail blank")
	logins := fs.Bool("logins", false, "add a passwordHash column (a migration with logins)")
	_ = fs.Parse(args)
	d := bench.Dataset{Rows: *rows, NoEmail: *noEmail, Logins: *logins}
	if *every > 0 {
		d.Revision = bench.EveryNth(*every, *rev)
	}
	return d.Write(*out)
}

func seedCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	in := fs.String("in", "customers.csv", "customer file")
	st := fs.String("state", "custsync.db", "state file to seed")
	apiURL := fs.String("api-url", "", "API URL the state file is bound to")
	tenant := fs.String("tenant", "", "tenant the state file is bound to")
	_ = fs.Parse(args)
	n, err := bench.SeedState(ctx, *in, *st, *apiURL, *tenant)
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d customers into %s\n", n, *st)
	return nil
}

func loadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	baseURL := fs.String("url", "", "sandbox base URL")
	tenant := fs.String("tenant", "load", "tenant")
	rows := fs.Int("rows", 10000, "customers to PUT")
	conns := fs.Int("conns", 8, "requests in flight")
	noEmail := fs.Bool("no-email", false, "leave the contact e-mail out of the bodies")
	_ = fs.Parse(args)
	ids, bodies, err := bench.Dataset{Rows: *rows, NoEmail: *noEmail}.Bodies()
	if err != nil {
		return err
	}
	res, err := bench.PutCustomers(ctx, *baseURL, *tenant, *conns, ids, bodies)
	fmt.Printf("%d PUTs with %d connections in %.2f s: %.0f req/s, %d errors\n", res.Requests, *conns, res.Elapsed.Seconds(), res.Rate(), res.Errors)
	return err
}

// readCmd reads files through the formats package only, to tell reading time from the rest of an import.
func readCmd(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	_ = fs.Parse(args)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, path := range fs.Args() {
		start := time.Now()
		tables, err := formats.Open(path, formats.Options{})
		if err != nil {
			return err
		}
		rows := 0
		for _, t := range tables {
			for {
				_, err := t.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					_ = formats.CloseAll(tables)
					return fmt.Errorf("%s: %w", path, err)
				}
				rows++
			}
		}
		if err := formats.CloseAll(tables); err != nil {
			return err
		}
		fmt.Printf("%s: %d rows in %.2f s\n", path, rows, time.Since(start).Seconds())
	}
	return nil
}
