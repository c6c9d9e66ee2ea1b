package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/amigo-ami/amigo/bench"
	"github.com/amigo-ami/amigo/logging"
)

func init() {
	register("bench", "measure codec, sessions, ingest, queries and a fleet's day, each against its own baseline", cmdBench)
}

func cmdBench(args []string, stdout, stderr io.Writer) error {
	var names []string
	for _, s := range bench.Suites() {
		names = append(names, "  "+s.Name+": "+s.Summary)
	}
	fs := newFlags("bench", "[flags] [SUITE...]",
		"Runs the performance suites (all when none is named) and prints a table; --json writes the report.\n"+
			"Each suite measures its own baseline in the same run, so read the ratios: the machine may be shared.\n"+
			"The simulator runs as a separate amigo process, so each side's CPU and memory are its own.\n\nSuites:\n"+
			strings.Join(names, "\n"), stderr)
	full := fs.Bool("full", false, "run the fleet-day and fleet-cluster suites with 1,000,000 meters")
	meters := fs.Int("meters", 100_000, "fleet-day and fleet-cluster fleet `size`")
	tiny := fs.Bool("tiny", false, "run every suite at a size that only proves the harness works")
	jsonOut := fs.String("json", "", "write the report as JSON to `file` (- for stdout, instead of the table)")
	pg := fs.String("postgres", os.Getenv("AMIGO_BENCH_POSTGRES"), "PostgreSQL `URL` for the ingest suite (default $AMIGO_BENCH_POSTGRES; empty: SQLite only)")
	cpuProfile := fs.String("cpuprofile", "", "write this process's CPU profile (head-end, MDM, store; not the simulator) to `file`")
	simProfile := fs.String("sim-cpuprofile", "", "write the simulator's CPU profile to `file` (of the last suite that starts one)")
	memProfile := fs.String("memprofile", "", "write this process's heap profile at the end of the run to `file`")
	logFormat := fs.String("log-format", "auto", "log `format`: text, json or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *full {
		*meters = 1_000_000
	}
	if *meters < 1 {
		return usageError{fmt.Errorf("--meters %d: want at least 1", *meters)}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the amigo binary for the simulator: %w", err)
	}
	log, err := logging.New(stderr, *logFormat, "info")
	if err != nil {
		return usageError{err}
	}
	stopProfile, err := cpuProfileTo(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, fs.Args(), bench.Options{Tiny: *tiny, Meters: *meters, Postgres: *pg, Exe: exe, Log: log, SimCPUProfile: *simProfile})
	if err != nil && len(rep.Results) == 0 {
		if strings.HasPrefix(err.Error(), "unknown suite") {
			return usageError{err}
		}
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *jsonOut == "-" {
		return bench.WriteJSON(stdout, rep)
	}
	if err := bench.WriteTable(stdout, rep); err != nil {
		return err
	}
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return err
		}
		if err := bench.WriteJSON(f, rep); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d suite(s) failed", len(rep.Failed))
	}
	return err
}
