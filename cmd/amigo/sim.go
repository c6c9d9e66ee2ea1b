package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/logging"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

func init() {
	register("sim", "simulate a fleet of meters (DLMS/COSEM, IEC 62056-21, ANSI C12.18 and C12.22, OSGP) on 127.0.0.0/8", cmdSim)
}

// cmdSim runs the fleet simulator: every meter on its own loopback address,
// and the shipment manifest a head-end imports to reach them.
func cmdSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", "[flags]",
		"Simulates a fleet of electricity meters answering DLMS/COSEM over the TCP wrapper, meter i on\n"+
			"127.x.y.z (i+2 in the lower 24 bits) at --port, from one listener tied to the loopback interface.\n"+
			"Each meter offers client 16 (public, read-only), 17 (LLS) and 1 (HLS-GMAC, authenticated\n"+
			"encryption); its password and keys are derived from --seed and listed in the --manifest CSV.\n"+
			"--readout, --c1218, --c1222 and --osgp make fractions of the meters speak IEC 62056-21, ANSI C12.18,\n"+
			"ANSI C12.22 or OSGP instead, each at its own port; the C12 and OSGP meters serve C12.19 tables of\n"+
			"the same meter model, with their passwords and keys in the manifest too.\n"+
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
	mbusShare := fs.Float64("mbus", 0, "`fraction` of meter addresses that also have an M-Bus converter at --mbus-port, with standalone gas and water meters")
	mbusPort := fs.Uint("mbus-port", sim.DefaultMBusPort, "TCP `port` of the M-Bus converters")
	links := fs.Bool("links", false, "make each meter as slow as its link class (LTE-M, GPRS, PLC, Ethernet): latency and bandwidth")
	collectors := fs.Int("collectors", 0, "put the meters behind this `many` radio collectors (a mesh; 0: none); each meter's segment is its collector")
	meshRural := fs.Float64("mesh-rural", 0.3, "`fraction` of collectors in rural areas: more and longer hops")
	meshDown := fs.String("collectors-down", "", "comma-separated collector `ids` out of service (e.g. col-0003)")
	push := fs.String("push", "", "head-end push listener `address` (host:port) the meters send alarms and last gasps to")
	c1222Push := fs.String("c1222-push", "", "head-end C12.22 push listener `address` (host:port) the C12.22 meters send power down, power up and tamper entries to")
	models := fs.String("models", "idis", "object `mix` of the meters by weight, e.g. idis=60,dsmr5=20,thirdparty=20 (models: idis, dsmr5, thirdparty)")
	dlmsFaults := fs.String("faults", "", "firmware `faults` by fraction of meters, e.g. list-drop=0.01,off-grid=0.05 or all=0.02\n(list-drop, counter-ahead, list-absent, range-refused, off-grid, list-clock, read-ahead-crash,\nimage-corrupt, image-drop, image-untrusted, no-special-days)")
	idle := fs.Duration("idle-timeout", server.DefaultInactivityTimeout, "a meter drops a client silent this `long`, as real meters do (0: never)")
	logFormat := fs.String("log-format", "auto", "log `format`: text, json or auto")
	cpuProfile := fs.String("cpuprofile", "", "write the simulator's CPU profile to `file` while it serves")
	trustFile := fs.String("trust-signing-key", "", "provision the meters with the head-end's command-signing public key(s) in `file` (PEM,\nfrom amigo signing-key); they then execute critical commands only signed. SIGHUP reloads it")
	firmwareKey := fs.String("firmware-key", "", "the firmware public key `file` (PEM) the meters trust: IDIS meters then take\nsigned images by image transfer (0-0:44.0.0) and report the active firmware (1-0:0.2.0)")
	wmbusAddr := fs.String("wmbus", "", "send the gas and water meters' wM-Bus telegrams to receivers connecting to `address` (host:port)")
	wmbusInterval := fs.Duration("wmbus-interval", sim.DefaultWMBusInterval, "simulated `time` between two telegrams of one radio meter")
	p1Port := fs.Uint("p1-port", sim.DefaultP1Port, "TCP `port` of the DSMR meters' P1 ports (a telegram a second; read with amigo p1)")
	p1Encrypted := fs.Float64("p1-encrypted", 0.1, "`fraction` of P1 ports that encrypt (AES-128-GCM; key in the manifest's p1_key)")
	keysDir := fs.String("keys", "", "keep the keys meters are given by key_transfer in `dir`, so they outlast a restart (default: in memory)")
	readout := fs.Float64("readout", 0, "`fraction` of meters that speak IEC 62056-21 (readout and programming, modes A to D) at --readout-port instead of DLMS")
	readoutPort := fs.Uint("readout-port", sim.DefaultReadoutPort, "TCP `port` of the IEC 62056-21 readout meters")
	c1218 := fs.Float64("c1218", 0, "`fraction` of meters that speak ANSI C12.18 (PSEM over the C12.18 link, on TCP) at --c1218-port instead of DLMS")
	c1222 := fs.Float64("c1222", 0, "`fraction` of meters that speak ANSI C12.22 (security mode 2, AES-128 EAX') at --c1222-port instead of DLMS")
	osgp := fs.Float64("osgp", 0, "`fraction` of meters that speak OSGP at --osgp-port instead of DLMS")
	osgpLegacy := fs.Float64("osgp-legacy", 0.5, "`fraction` of the OSGP meters on the legacy security (OMA digest and RC4, both broken) instead of AES-128")
	c1218Port := fs.Uint("c1218-port", sim.DefaultC1218Port, "TCP `port` of the C12.18 meters")
	c1222Port := fs.Uint("c1222-port", sim.DefaultC1222Port, "TCP `port` of the C12.22 meters")
	osgpPort := fs.Uint("osgp-port", sim.DefaultOSGPPort, "TCP `port` of the OSGP meters")
	pqProfile := fs.Bool("pq-profile", false, "the IDIS meters serve a 10-minute voltage profile (1-0:99.2.0: mean, minimum and maximum per phase)\nand a power quality log with each sag's duration and residual voltage; see docs/pq.md")
	grid := gridFlags(fs)
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
	if *mbusPort == 0 || *mbusPort > 65535 || (*mbusShare > 0 && (*mbusPort == *port || *mbusPort == *readoutPort)) {
		return usageError{fmt.Errorf("--mbus-port %d: want 1..65535, not --port or --readout-port", *mbusPort)}
	}
	if *manifestOnly && *manifest == "" {
		return usageError{errors.New("--manifest-only needs --manifest")}
	}
	if *readoutPort == 0 || *readoutPort > 65535 || *readoutPort == *port {
		return usageError{fmt.Errorf("--readout-port %d: want 1..65535, not --port", *readoutPort)}
	}
	if *p1Port == 0 || *p1Port > 65535 || *p1Port == *port {
		return usageError{fmt.Errorf("--p1-port %d: want 1..65535, not --port", *p1Port)}
	}
	for name, v := range map[string]float64{"p1-encrypted": *p1Encrypted, "offline": *offline, "intermittent": *intermittent, "garbage": *garbage, "gas": *gas, "water": *water, "readout": *readout, "mbus": *mbusShare,
		"c1218": *c1218, "c1222": *c1222, "osgp": *osgp, "osgp-legacy": *osgpLegacy} {
		if v < 0 || v > 1 {
			return usageError{fmt.Errorf("--%s %v: want a fraction in [0, 1]", name, v)}
		}
	}
	if sum := *readout + *c1218 + *c1222 + *osgp; sum > 1 {
		return usageError{fmt.Errorf("--readout, --c1218, --c1222 and --osgp add up to %v: want at most 1", sum)}
	}
	taken := map[uint]string{*port: "port", *readoutPort: "readout-port"}
	for _, p := range []struct {
		name  string
		port  uint
		share float64
	}{{"c1218-port", *c1218Port, *c1218}, {"c1222-port", *c1222Port, *c1222}, {"osgp-port", *osgpPort, *osgp}} {
		if p.port == 0 || p.port > 65535 {
			return usageError{fmt.Errorf("--%s %d: want 1..65535", p.name, p.port)}
		}
		if other, dup := taken[p.port]; dup && p.share > 0 {
			return usageError{fmt.Errorf("--%s %d: the port of --%s already", p.name, p.port, other)}
		}
		if p.share > 0 {
			taken[p.port] = p.name
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
	var fwKey *ecdsa.PublicKey
	if *firmwareKey != "" {
		b, err := os.ReadFile(*firmwareKey)
		if err != nil {
			return usageError{fmt.Errorf("--firmware-key: %v", err)}
		}
		if fwKey, err = firmware.ParsePublicKey(b); err != nil {
			return usageError{fmt.Errorf("--firmware-key %s: %v", *firmwareKey, err)}
		}
	}
	faults := meter.DefaultFaults()
	faults.Offline, faults.Intermittent, faults.OutagesPerYear = *offline, *intermittent, *outages
	faults.Garbage = *garbage
	if faults.Garbage == 0 {
		faults.GarbageP = 0
	}
	clock := sim.NewClock(start, *speed)
	trust, err := simTrust(*trustFile)
	if err != nil {
		return usageError{err}
	}
	network, err := grid.network(*meters, *seed, start, *history, loc)
	if err != nil {
		return err
	}
	var supply meter.Supply
	if network != nil {
		supply = network
	}
	fleet, err := sim.NewFleet(sim.Config{Meters: *meters, Seed: *seed, Port: uint16(*port), Now: clock.Now,
		Location: loc, HistoryDays: *history, Faults: &faults, Logger: log, Links: *links, Gas: *gas, Water: *water,
		InactivityTimeout: inactivity(*idle), Models: mix, DLMSFaults: faultMix, Trust: trust, FirmwareKey: fwKey,
		Mesh:    simMesh(*collectors, *meshRural, *meshDown),
		Readout: *readout, ReadoutPort: uint16(*readoutPort), P1Port: uint16(*p1Port), P1Encrypted: *p1Encrypted,
		MBus: *mbusShare, MBusPort: uint16(*mbusPort),
		C1218: *c1218, C1222: *c1222, OSGP: *osgp, OSGPLegacy: *osgpLegacy,
		C1218Port: uint16(*c1218Port), C1222Port: uint16(*c1222Port), OSGPPort: uint16(*osgpPort),
		Supply: supply, PQProfile: *pqProfile})
	if err != nil {
		return usageError{err}
	}
	if *keysDir != "" {
		fleet.KeepKeys(sim.DirKeys(*keysDir))
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
	reloadTrust(ctx, *trustFile, trust, log)
	ln, err := fleet.Listen(ctx)
	if err != nil {
		return err
	}
	stopProfile, err := cpuProfileTo(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	// The DSMR meters' P1 ports listen before the fleet says it serves,
	// so that a reader started on that line finds them.
	var p1ln net.Listener
	if slices.ContainsFunc(mix, func(s sim.ModelShare) bool { return s.Model == sim.ModelDSMR5 && s.Weight > 0 }) {
		if p1ln, err = fleet.ListenP1(ctx); err != nil {
			log.Error("P1 ports not served", "err", err)
		} else {
			log.Info("P1 ports listening", "port", *p1Port, "encrypted", *p1Encrypted)
		}
	}
	// The C12.18, C12.22 and OSGP meters, each family on its own port,
	// listen before the fleet says it serves.
	var c12Done []chan error
	for _, fam := range []struct {
		name, proto string
		share       float64
		port        uint
		listen      func(context.Context) (net.Listener, error)
		serve       func(context.Context, net.Listener) error
	}{
		{"C12.18 meters", "c12.18", *c1218, *c1218Port, fleet.ListenC1218, fleet.ServeC1218},
		{"C12.22 meters", "c12.22", *c1222, *c1222Port, fleet.ListenC1222, fleet.ServeC1222},
		{"OSGP meters", "osgp", *osgp, *osgpPort, fleet.ListenOSGP, fleet.ServeOSGP},
	} {
		if fam.share <= 0 {
			continue
		}
		ln, err := fam.listen(ctx)
		if err != nil {
			return err
		}
		log.Info(fam.name+" serving", "protocol", fam.proto, "port", fam.port, "fraction", fam.share)
		done := make(chan error, 1)
		c12Done = append(c12Done, done)
		go func() { done <- fam.serve(ctx, ln) }()
	}
	first, last := fleet.Identity(0).Addr, fleet.Identity(*meters-1).Addr
	log.Info("fleet serving", "meters", *meters, "first", first.String(), "last", last.String(),
		"port", *port, "seed", *seed, "start", start.Format(time.RFC3339), "speed", *speed, "models", *models, "faults", faultMix.String())
	radio, err := serveWMBus(ctx, fleet, *wmbusAddr, *wmbusInterval, log)
	if err != nil {
		return err
	}
	defer radio()
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		if *push != "" || *c1222Push != "" {
			fleet.RunPushes(ctx, sim.PushConfig{Destination: *push, C1222Destination: *c1222Push}, nil)
		}
	}()
	readoutDone := make(chan error, 1)
	if *readout > 0 {
		rln, err := fleet.ListenReadout(ctx)
		if err != nil {
			return err
		}
		log.Info("readout meters serving", "protocol", "iec62056-21", "port", *readoutPort, "fraction", *readout)
		go func() { readoutDone <- fleet.ServeReadout(ctx, rln) }()
	} else {
		readoutDone <- nil
	}
	p1Done := make(chan struct{})
	go func() {
		defer close(p1Done)
		if p1ln != nil {
			fleet.ServeP1(ctx, p1ln)
		}
	}()
	converters := make(chan error, 1)
	mctx, stopConverters := context.WithCancel(ctx)
	defer stopConverters()
	if *mbusShare > 0 {
		mln, err := fleet.ListenMBus(mctx)
		if err != nil {
			return err
		}
		log.Info("M-Bus converters serving", "fraction", *mbusShare, "port", *mbusPort)
		go func() { converters <- fleet.ServeMBus(mctx, mln) }()
	} else {
		converters <- nil
	}
	err = fleet.Serve(ctx, ln)
	stopConverters()
	if cerr := <-converters; err == nil {
		err = cerr
	}
	<-pushed
	<-p1Done
	if rerr := <-readoutDone; err == nil {
		err = rerr
	}
	for _, done := range c12Done {
		if cerr := <-done; err == nil {
			err = cerr
		}
	}
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
