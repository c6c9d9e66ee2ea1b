package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/logging"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

func init() {
	register("sim", "simulate a fleet of DLMS/COSEM meters on 127.0.0.0/8", cmdSim)
}

// cmdSim runs the fleet simulator: every meter on its own loopback address,
// and the shipment manifest a head-end imports to reach them.
func cmdSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", "[flags]",
		"Simulates a fleet of electricity meters answering DLMS/COSEM over the TCP wrapper, meter i on\n"+
			"127.x.y.z (i+2 in the lower 24 bits) at --port, from one listener tied to the loopback interface.\n"+
			"Each meter offers client 16 (public, read-only), 17 (LLS) and 1 (HLS-GMAC, authenticated\n"+
			"encryption); its password and keys are derived from --seed and listed in the --manifest CSV.\n"+
			"Derived keys make a test fixture, not a key-management scheme. Linux only.", stderr)
	meters := fs.Int("meters", 1000, "number of `meters`")
	seed := fs.Uint64("seed", 1, "fleet `seed`: the same seed gives the same meters, keys and readings")
	manifest := fs.String("manifest", "", "write the shipment manifest CSV to `file`")
	manifestOnly := fs.Bool("manifest-only", false, "write the manifest and exit without serving")
	port := fs.Uint("port", sim.DefaultPort, "TCP `port` of every meter address")
	history := fs.Int("history", 60, "`days` of load profile, billing and event history")
	speed := fs.Float64("speed", 1, "simulated time `factor` (1440: a day a minute; 0 freezes the clock)")
	startFlag := fs.String("start", "", "simulated start `time`, RFC 3339 (default now)")
	tz := fs.String("tz", "Europe/Amsterdam", "meters' time `zone`")
	offline := fs.Float64("offline", 0.01, "`fraction` of meters that never answer")
	intermittent := fs.Float64("intermittent", 0.04, "`fraction` of meters reachable only in some hours")
	garbage := fs.Float64("garbage", 0.002, "`fraction` of meters whose firmware spoils some responses")
	outages := fs.Float64("outages", 1.5, "power cuts per meter-`year` (a meter without power does not answer)")
	gas := fs.Float64("gas", 0.3, "`fraction` of electricity meters with a gas meter behind them on M-Bus")
	water := fs.Float64("water", 0.2, "`fraction` of electricity meters with a water meter behind them on M-Bus")
	links := fs.Bool("links", false, "make each meter as slow as its link class (LTE-M, GPRS, PLC, Ethernet): latency and bandwidth")
	push := fs.String("push", "", "head-end push listener `address` (host:port) the meters send alarms and last gasps to")
	models := fs.String("models", "idis", "object `mix` of the meters by weight, e.g. idis=60,dsmr5=20,thirdparty=20 (models: idis, dsmr5, thirdparty)")
	dlmsFaults := fs.String("faults", "", "firmware `faults` by fraction of meters, e.g. list-drop=0.01,off-grid=0.05 or all=0.02\n(list-drop, counter-ahead, list-absent, range-refused, off-grid, list-clock, read-ahead-crash)")
	idle := fs.Duration("idle-timeout", server.DefaultInactivityTimeout, "a meter drops a client silent this `long`, as real meters do (0: never)")
	logFormat := fs.String("log-format", "auto", "log `format`: text, json or auto")
	cpuProfile := fs.String("cpuprofile", "", "write the simulator's CPU profile to `file` while it serves")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *meters < 1 || *meters > sim.MaxMeters {
		return usageError{fmt.Errorf("--meters %d: want 1..%d", *meters, sim.MaxMeters)}
	}
	if *port == 0 || *port > 65535 {
		return usageError{fmt.Errorf("--port %d: want 1..65535", *port)}
	}
	if *manifestOnly && *manifest == "" {
		return usageError{errors.New("--manifest-only needs --manifest")}
	}
	for name, v := range map[string]float64{"offline": *offline, "intermittent": *intermittent, "garbage": *garbage, "gas": *gas, "water": *water} {
		if v < 0 || v > 1 {
			return usageError{fmt.Errorf("--%s %v: want a fraction in [0, 1]", name, v)}
		}
	}
	mix, err := sim.ParseModels(*models)
	if err != nil {
		return usageError{fmt.Errorf("--models: %v", err)}
	}
	faultMix, err := sim.ParseFaultMix(*dlmsFaults)
	if err != nil {
		return usageError{fmt.Errorf("--faults: %v", err)}
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{fmt.Errorf("--tz: %v", err)}
	}
	start := time.Now().In(loc)
	if *startFlag != "" {
		if start, err = time.Parse(time.RFC3339, *startFlag); err != nil {
			return usageError{fmt.Errorf("--start: %v", err)}
		}
	}
	log, err := logging.New(stderr, *logFormat, "info")
	if err != nil {
		return usageError{err}
	}
	faults := meter.DefaultFaults()
	faults.Offline, faults.Intermittent, faults.OutagesPerYear = *offline, *intermittent, *outages
	faults.Garbage = *garbage
	if faults.Garbage == 0 {
		faults.GarbageP = 0
	}
	clock := sim.NewClock(start, *speed)
	fleet, err := sim.NewFleet(sim.Config{Meters: *meters, Seed: *seed, Port: uint16(*port), Now: clock.Now,
		Location: loc, HistoryDays: *history, Faults: &faults, Logger: log, Links: *links, Gas: *gas, Water: *water,
		InactivityTimeout: inactivity(*idle), Models: mix, DLMSFaults: faultMix})
	if err != nil {
		return usageError{err}
	}
	if *manifest != "" {
		if err := writeManifest(*manifest, fleet); err != nil {
			return err
		}
		log.Info("manifest written", "file", *manifest, "meters", *meters)
	}
	if *manifestOnly {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := fleet.Listen(ctx)
	if err != nil {
		return err
	}
	stopProfile, err := cpuProfileTo(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	first, last := fleet.Identity(0).Addr, fleet.Identity(*meters-1).Addr
	log.Info("fleet serving", "meters", *meters, "first", first.String(), "last", last.String(),
		"port", *port, "seed", *seed, "start", start.Format(time.RFC3339), "speed", *speed, "models", *models, "faults", faultMix.String())
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		if *push != "" {
			fleet.RunPushes(ctx, sim.PushConfig{Destination: *push}, nil)
		}
	}()
	err = fleet.Serve(ctx, ln)
	<-pushed
	log.Info("fleet stopped")
	return err
}

// inactivity turns an --idle-timeout into server.Device's setting, where
// zero is the default and negative is never.
func inactivity(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func writeManifest(name string, f *sim.Fleet) error {
	// The manifest carries every meter's keys and password: owner only.
	w, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := sim.WriteManifest(w, f); err != nil {
		w.Close()
		return fmt.Errorf("manifest %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("manifest %s: %w", name, err)
	}
	return nil
}
