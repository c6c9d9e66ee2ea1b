// Package server owns the life of `amigo serve`: it locks the data
// directory, opens the store and the bus, serves HTTP, and on shutdown
// stops accepting, drains work in flight, flushes the bus and closes the
// store, in that order, so a restart on the same directory picks up where
// this one stopped.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/han"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/headend/iec62056driver"
	"github.com/amigo-ami/amigo/headend/mbusdriver"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines" // what store.Open opens
	"github.com/amigo-ami/amigo/vault"
	"github.com/amigo-ami/amigo/vault/pkcs11"
	"github.com/amigo-ami/amigo/web"
)

// Server is a running amigo node.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	lock    *dirLock
	Store   store.Store
	Bus     *bus.Bus
	API     *api.API
	Metrics *prometheus.Registry
	// HeadEnd collects, listens to pushes and carries commands; Keys
	// seals and opens meter secrets.
	HeadEnd *headend.HeadEnd
	Keys    *vault.Keyring
	// CommandSigner signs critical commands with the HSM's signing key
	// (nil without an HSM).
	CommandSigner *pkcs11.Signer
	hsm           *pkcs11.Token
	// Auth holds the users, tokens and sessions.
	Auth *auth.Service
	// Campaigns runs operations over many meters (key rotation,
	// firmware).
	Campaigns *campaign.Engine
	// DR runs demand-response programs and events.
	DR *dr.Service
	// Audit is the hash-chained audit trail in the store, which auth, the
	// API and the head-end append to.
	Audit *audit.Log
	// HAN publishes consenting households' readings to their home
	// network's MQTT broker (nil: han.mqtt.broker not set).
	HAN *han.Bridge
	// PushAddr is where the DLMS push listener listens, C1222PushAddr
	// the C12.22 one ("" without one).
	PushAddr      string
	C1222PushAddr string
	http          *http.Server
	ln            net.Listener
	pushes        []*pushServer // one per protocol whose meters push
	vtnHTTP       *http.Server  // the OpenADR VTN on its own TLS listener
	vtnAddr       string
	bgCancel      context.CancelFunc
	bg            sync.WaitGroup
	in            *mdm.Ingest
	rules         vee.RuleSets // validation rule sets by meter group
	notes         []func()     // logged once the start succeeded
	served        chan error
	now           func() time.Time // Options.Now
	leases        *bus.Leases      // this node's shards of the fleet (nil: every meter)
}

// Start brings a node up. On error everything already opened is closed
// again and the error says which part failed.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, version string) (_ *Server, err error) {
	return StartWith(ctx, cfg, log, version, Options{})
}

// Options are what an embedding program (the demo) sets beyond the
// configuration.
type Options struct {
	// Now replaces the head-end's clock, for a simulated fleet that runs
	// faster than real time.
	Now func() time.Time
	// BeforeRun runs after the node is up and before collection, commands
	// and ingest start (the demo imports its fleet there).
	BeforeRun func(ctx context.Context, s *Server) error
}

// StartWith is Start with options.
func StartWith(ctx context.Context, cfg config.Config, log *slog.Logger, version string, o Options) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, served: make(chan error, 1)}
	if s.rules, err = cfg.MDM.Validation.RuleSets(); err != nil {
		return nil, fmt.Errorf("mdm: %w", err)
	}
	defer func() {
		if err != nil {
			s.closeAll(context.Background())
		}
	}()
	t0 := time.Now()
	if s.lock, err = lockDir(cfg.Data); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.Store.ConnectTimeout)
	defer cancel()
	db, err := store.Open(sctx, cfg.StoreURL())
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s.Store = db
	s.Audit = audit.New(db)
	kind := db.Kind()
	if s.Auth, err = auth.New(db, auth.Options{Logger: log, Audit: s.Audit}); err != nil {
		return nil, err
	}
	bctx, bcancel := context.WithTimeout(ctx, cfg.Bus.ConnectTimeout+time.Minute)
	defer bcancel()
	if s.Bus, err = bus.Open(bctx, bus.Options{
		URL: cfg.Bus.URL, Dir: cfg.Data, Replicas: cfg.Bus.Replicas, DuplicateWindow: cfg.Bus.DuplicateWindow,
		ConnectTimeout: cfg.Bus.ConnectTimeout, Logger: log,
	}); err != nil {
		return nil, err
	}

	s.Metrics = prometheus.NewRegistry()
	reg := s.registerer()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "amigo_build_info", Help: "Always 1; labels say what is running.",
		ConstLabels: prometheus.Labels{"version": version, "store": kind, "bus": map[bool]string{true: "embedded", false: "external"}[s.Bus.Embedded()],
			"roles": strings.Join(cfg.Node.Roles, ",")}})
	build.Set(1)
	reg.MustRegister(build)
	if err := s.startHeadEnd(o); err != nil {
		return nil, err
	}
	if s.HAN, err = newHAN(cfg.HAN, s.Bus, s.Store, log); err != nil {
		return nil, err
	}
	if s.DR, err = s.newDR(o); err != nil {
		return nil, err
	}
	runner, err := s.billingRunner()
	if err != nil {
		return nil, err
	}
	s.API = api.New(api.Deps{
		Store: s.Store, Metrics: s.Metrics, Registerer: reg, Logger: log, Version: version, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Ready:   s.readyChecks(),
		HeadEnd: s.HeadEnd, ObjectModels: s.HeadEnd, Rules: &s.rules, Auth: s.Auth, Campaigns: s.Campaigns,
		Audit: s.Audit, ConsentChanged: s.consentChanged, DR: s.DR, Billing: runner,
	})
	// The console and the portal: everything outside /api/v1 and the
	// probes.
	s.API.Handle("/", web.Handler())
	if cfg.OpenADR.VTN.Enabled && s.runs(config.RoleAPI) {
		if err := s.startVTN(cfg.OpenADR.VTN, o.Now); err != nil {
			return nil, err
		}
	}
	s.now = o.Now

	if s.ln, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("http: address %s is already in use", cfg.HTTP.Addr)
		}
		return nil, fmt.Errorf("http: %w", err)
	}
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	hs, ln := s.http, s.ln
	go func() { s.served <- hs.Serve(ln) }()
	if o.BeforeRun != nil {
		if err := o.BeforeRun(ctx, s); err != nil {
			return nil, err
		}
	}
	s.startBackground()
	log.Info("amigo serving", "http", s.ln.Addr().String(), "push", s.PushAddr, "push_c1222", s.C1222PushAddr, "data", cfg.Data, "store", kind,
		"bus", map[bool]string{true: "embedded", false: config.RedactURL(cfg.Bus.URL)}[s.Bus.Embedded()],
		"node", cfg.Node.Name, "roles", strings.Join(cfg.Node.Roles, ","), "version", version, "startup", time.Since(t0).Round(time.Millisecond))
	return s, nil
}

// Addr is the address HTTP listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Wait blocks until ctx ends or the HTTP server fails, then shuts down.
func (s *Server) Wait(ctx context.Context) error {
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.served:
		s.served <- serveErr
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout+5*time.Second)
	defer cancel()
	err := s.Shutdown(sctx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", serveErr)
	}
	return err
}

// Shutdown stops accepting, drains requests in flight, flushes the bus and
// closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("amigo shutting down")
	err := s.closeAll(ctx)
	if err == nil {
		s.log.Info("amigo stopped")
	}
	return err
}

func (s *Server) closeAll(ctx context.Context) error {
	var errs []error
	if s.bgCancel != nil {
		// Collection, commands, ingest and the push listener stop first:
		// work in flight is either acknowledged by the bus or left for
		// the next start.
		s.bgCancel()
		s.bg.Wait()
		s.bgCancel = nil
	}
	for _, p := range s.pushes {
		// Closed once its listener has stopped (or never served): closed
		// under a serving listener, it would be an accept error, not a
		// stop.
		p.ln.Close()
	}
	if s.http != nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HTTP.ShutdownTimeout)
		if err := s.http.Shutdown(hctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
		cancel()
		s.http = nil
	} else if s.ln != nil {
		s.ln.Close()
	}
	if s.vtnHTTP != nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HTTP.ShutdownTimeout)
		if err := s.vtnHTTP.Shutdown(hctx); err != nil {
			errs = append(errs, fmt.Errorf("openadr vtn: %w", err))
		}
		cancel()
		s.vtnHTTP = nil
	}
	if s.Bus != nil {
		if err := s.Bus.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		s.Bus = nil
	}
	if s.Store != nil {
		if err := s.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
		s.Store = nil
	}
	if s.hsm != nil {
		if err := s.hsm.Close(); err != nil {
			errs = append(errs, err)
		}
		s.hsm = nil
	}
	s.lock.release()
	return errors.Join(errs...)
}

// startHeadEnd opens the key vault and starts the head-end (collection
// schedule, command dispatcher, push listener) and the MDM ingest.
func (s *Server) startHeadEnd(o Options) error {
	cfg := s.cfg.HeadEnd
	file, create := cfg.MasterKeyFile, false
	if file == "" {
		file, create = filepath.Join(s.cfg.Data, "master.key"), true
	}
	if cfg.PKCS11.Enabled() {
		if err := s.openHSM(file); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	} else {
		v, created, err := vault.Load(os.Getenv, file, create)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if created {
			s.notes = append(s.notes, func() {
				s.log.Warn("created a master key for meter keys; keep it apart from the data (AMIGO_MASTER_KEY or headend.master_key_file) in production", "file", file)
			})
		}
		s.Keys = vault.NewKeyring(v)
	}
	var signer headend.CommandSigner
	if cfg.SignCommands {
		sg, err := s.loadSigner()
		if err != nil {
			return err
		}
		signer = sg
	}
	sg, err := safeguards(s.cfg.Safeguards)
	if err != nil {
		return err
	}
	anomalies, err := s.cfg.AnomalyPolicy()
	if err != nil {
		return fmt.Errorf("anomaly limits: %w", err)
	}
	if err := s.openLeases(); err != nil {
		return err
	}
	// On a shared bus the head-end nodes share runs asked for by hand,
	// and their progress, through the run board.
	var board headend.RunBoard
	if !s.Bus.Embedded() {
		bctx, cancel := context.WithTimeout(context.Background(), s.cfg.Bus.ConnectTimeout+10*time.Second)
		rb, err := s.Bus.RunBoard(bctx)
		cancel()
		if err != nil {
			return err
		}
		board = rb
	}
	s.HeadEnd, err = headend.New(headend.Options{Store: s.Store, Bus: s.Bus, Secrets: s.Keys, Logger: s.log, Metrics: s.registerer(), Now: o.Now,
		Node: s.cfg.Node.Name, Board: board, Leases: s.headEndLeases(),
		Signer:  signer,
		Anomaly: anomalies,
		Drivers: drivers(),
		Audit:   s.Audit,
		Collection: headend.CollectionConfig{Concurrency: cfg.Concurrency, PerSegment: cfg.PerSegment, Attempts: cfg.Attempts,
			JobTimeout: cfg.JobTimeout, Window: cfg.Window, ClockThreshold: cfg.ClockThreshold, BackfillDays: cfg.BackfillDays,
			SegmentCapacity: cfg.SegmentCapacity},
		Approvals:  headend.ApprovalConfig{Types: s.cfg.Approvals.ControlTypes(), CalendarMeters: s.cfg.Approvals.CalendarMeters, TTL: s.cfg.Approvals.TTL},
		Safeguards: sg})
	if err != nil {
		return err
	}
	// A node restarted under the same name takes back the campaign items
	// it held when it stopped.
	steps := campaignSteps(s.HeadEnd)
	if err := s.addFirmwareStep(steps); err != nil {
		return err
	}
	s.Campaigns = campaign.New(s.Store, campaign.Options{Steps: steps, Audit: s.Audit, Logger: s.log, Now: o.Now,
		Node: s.cfg.Node.Name})
	in, err := mdm.New(mdm.Options{Store: s.Store, Bus: s.Bus, Logger: s.log, Now: o.Now,
		Validate: &mdm.VEEOptions{Rules: s.rules}})
	if err != nil {
		return err
	}
	if s.runs(config.RoleMDM) {
		if err := s.registerer().Register(newIngestCollector(s.Bus, in)); err != nil {
			return fmt.Errorf("mdm: metrics: %w", err)
		}
	}
	for _, pa := range []struct {
		protocol, addr string
		bound          *string
	}{{pushDLMS, cfg.PushAddr, &s.PushAddr}, {pushC1222, cfg.C1222PushAddr, &s.C1222PushAddr}} {
		if pa.addr == "" || !s.runs(config.RoleHeadEnd) {
			continue
		}
		p, err := s.listenPush(pa.protocol, pa.addr)
		if err != nil {
			return err
		}
		*pa.bound = p.ln.Addr().String()
	}
	s.in = in
	return nil
}

// pushServer is the push listener of one protocol's meters.
type pushServer struct {
	protocol string
	ln       net.Listener
	pl       *headend.PushListener
}

// listenPush opens the push listener of protocol at addr; every listener
// shares the limits of the settings.
func (s *Server) listenPush(protocol, addr string) (*pushServer, error) {
	cfg := s.cfg.HeadEnd
	name := pushName(protocol)
	d, _ := s.HeadEnd.Driver(protocol)
	pd, ok := d.(headend.PushDriver)
	if !ok {
		return nil, fmt.Errorf("%s: no driver takes %s pushes", name, protocol)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s: address %s is already in use", name, addr)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &pushServer{protocol: protocol, ln: ln,
		pl: s.HeadEnd.NewPushListener(pd, headend.PushConfig{MaxPerSource: cfg.PushPerSource, FirstFrameTimeout: cfg.PushFirstFrame})}
	s.pushes = append(s.pushes, p)
	return p, nil
}

// drivers are the protocols the head-end speaks: a protocol is one line.
func drivers() []headend.Driver {
	return []headend.Driver{
		dlmsdriver.New(dlmsdriver.Config{}),
		iec62056driver.New(iec62056driver.Config{}),
		mbusdriver.New(mbusdriver.Config{}),
		c12driver.NewC1218(c12driver.Config{}),
		c12driver.NewC1222(c12driver.Config{}),
		osgpdriver.New(osgpdriver.Config{}),
	}
}

// campaignSteps are the kinds of campaign the head-end carries out: a
// kind is one line.
func campaignSteps(h *headend.HeadEnd) map[string]campaign.Step {
	return map[string]campaign.Step{
		headend.KeyRotation: func(ctx context.Context, _ campaign.Campaign, meterID string) (string, error) {
			return h.RotateKeys(ctx, meterID)
		},
	}
}

// pushName names a protocol's push listener in logs and errors; the DLMS
// one, the first, keeps its plain name.
func pushName(protocol string) string {
	if protocol == pushDLMS {
		return "push listener"
	}
	return protocol + " push listener"
}

// The protocols whose meters push, each to its own listener: a meter's
// framing says nothing of its protocol before it is parsed, so one
// address per protocol keeps each listener's driver the only one that
// reads its connections.
const (
	pushDLMS  = "dlms"   // headend.push_addr
	pushC1222 = "c12.22" // headend.c1222_push_addr
)

// readyChecks are what /readyz asks: the store, the bus, and the push
// listener when there is one, which fails when it can no longer accept.
func (s *Server) readyChecks() []api.Check {
	checks := []api.Check{{Name: "store", Fn: s.Store.Ping}, {Name: "bus", Fn: s.Bus.Ready}}
	for _, p := range s.pushes {
		name := "push"
		if p.protocol != pushDLMS {
			name = "push-" + p.protocol
		}
		checks = append(checks, api.Check{Name: name, Fn: p.pl.Ready})
	}
	return checks
}

// startBackground starts collection, commands, ingest and the push
// listener once everything else is up, so a start that fails leaves
// nothing running.
func (s *Server) startBackground() {
	cfg := s.cfg.HeadEnd
	zone, _ := time.LoadLocation(cfg.Zone)
	in := s.in
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	run := func(name string, fn func(context.Context) error) {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	headEnd, mdmRole, apiRole := s.runs(config.RoleHeadEnd), s.runs(config.RoleMDM), s.runs(config.RoleAPI)
	if headEnd {
		run("head-end", func(ctx context.Context) error {
			return s.HeadEnd.Run(ctx, headend.ScheduleConfig{Zone: zone, At: cfg.DailyAt, Intraday: cfg.Intraday})
		})
		run("leases", s.runLeases)
		run("campaigns", s.Campaigns.Run)
		run("demand response", s.runDR)
	}
	if mdmRole {
		run("ingest", in.Run)
		run("retention", s.runRetention)
	}
	if headEnd && s.cfg.Outage.Enabled {
		run("outage management", s.runOutage)
	}
	run("session cleanup", func(ctx context.Context) error {
		if !apiRole {
			return nil
		}
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if _, err := s.Auth.Store().DeleteExpiredSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
					s.log.Warn("removing expired sessions", "err", err)
				}
			}
		}
	})
	if s.HAN != nil && mdmRole {
		run("home network", s.HAN.Run)
	}
	if v := s.cfg.OpenADR.VEN; v.Enabled() && headEnd {
		run("openadr ven", func(ctx context.Context) error { return s.runVEN(ctx, v, s.now) })
	}
	for _, p := range s.pushes {
		run(pushName(p.protocol), func(ctx context.Context) error { return p.pl.Serve(ctx, p.ln) })
	}
	for _, n := range s.notes {
		n()
	}
}
