package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/openadr"
	"github.com/amigo-ami/amigo/store"
)

// drForOpenADR fits the demand-response service to what package openadr
// asks of it: the VTN side's DRService and the VEN side's DREvents.
type drForOpenADR struct {
	dr  *dr.Service
	now func() time.Time
	// by names who acted in dr's records: the VEN or VTN on the other end.
	by string
}

// ProgramEvents are the program's events a VEN should hear of: those
// approved and not over, and cancellations until the end they would have
// had. An event waiting for its second person is not published.
func (d drForOpenADR) ProgramEvents(ctx context.Context, programID string) ([]dr.Event, error) {
	now := d.now()
	var out []dr.Event
	for _, st := range []string{dr.StatusScheduled, dr.StatusNotified, dr.StatusActive, dr.StatusCancelled} {
		q := store.DREventQuery{ProgramID: programID, Status: st}
		if st == dr.StatusCancelled {
			// A cancellation matters only until its event would have
			// ended; events last hours, so a week back is plenty.
			q.From = now.AddDate(0, 0, -7)
		}
		evs, err := d.dr.Events(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if st == dr.StatusCancelled && !now.Before(e.End) {
				continue
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (d drForOpenADR) Program(ctx context.Context, id string) (dr.Program, error) {
	return d.dr.Program(ctx, id)
}

func (d drForOpenADR) Participations(ctx context.Context, eventID string) ([]dr.Participation, error) {
	return d.dr.Participations(ctx, eventID)
}

// OptOut is a VEN's opt-out of a participant; one already opted out is
// no error, since a VEN may say it again for another of its usage points.
func (d drForOpenADR) OptOut(ctx context.Context, eventID, usagePointID string) error {
	p, err := d.dr.OptOut(ctx, eventID, usagePointID, d.by)
	if errors.Is(err, dr.ErrClosed) && p.OptedOut() {
		return nil
	}
	return err
}

// TakeEvent creates an event a VTN sent, or cancels the one taken before
// when the VTN cancelled it. An event the VTN says is completed, or one
// cancelled before it was ever taken, needs nothing.
func (d drForOpenADR) TakeEvent(ctx context.Context, e dr.Event) error {
	old, err := d.dr.Event(ctx, e.ID)
	switch {
	case err == nil:
		if e.Status == dr.StatusCancelled && old.Status != dr.StatusCancelled && old.Status != dr.StatusCompleted {
			_, err := d.dr.CancelEvent(ctx, e.ID, d.by, "cancelled by the VTN")
			return err
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	case e.Status == dr.StatusCancelled || e.Status == dr.StatusCompleted:
		return nil
	}
	_, _, err = d.dr.CreateEvent(ctx, e, d.by)
	return err
}

// newVTN builds the VTN that publishes the configured programs to the
// VENs standing for their households.
func (s *Server) newVTN(cfg config.OpenADRVTN, now func() time.Time) *openadr.VTN {
	if now == nil {
		now = time.Now
	}
	// A VEN id that is a fingerprint is matched in upper case, however
	// the file writes it.
	ups := make(map[string][]string, len(cfg.VENs))
	for ven, u := range cfg.VENs {
		ups[openadr.CanonicalVENID(ven)] = u
	}
	src := &openadr.DRSource{
		DR:            drForOpenADR{dr: s.DR, now: now, by: "openadr-vtn"},
		Programs:      cfg.Programs,
		UsagePoints:   ups,
		MarketContext: cfg.MarketContext,
		Now:           now,
	}
	return &openadr.VTN{ID: cfg.ID, Source: src, PollFreq: cfg.Poll, Log: s.log,
		Insecure: cfg.Insecure, Fingerprints: cfg.Fingerprints}
}

// startVTN serves the VTN on its own TLS listener, VENs' certificates
// required and verified; or, when chosen insecure, under amigo's HTTP.
func (s *Server) startVTN(cfg config.OpenADRVTN, now func() time.Time) error {
	vtn := s.newVTN(cfg, now)
	if !cfg.TLS() {
		// Validation lets this through only with openadr.vtn.insecure.
		s.log.Warn("openadr vtn served without TLS client certificates: any client may speak for any VEN", "path", openadr.BasePath)
		s.API.Handle(openadr.BasePath, vtn)
		return nil
	}
	tc, err := openadr.ServerTLS(cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile)
	if err != nil {
		return fmt.Errorf("openadr.vtn: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("openadr.vtn.addr: %w", err)
	}
	hs := &http.Server{
		Handler:           vtn,
		TLSConfig:         tc,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.vtnHTTP, s.vtnAddr = hs, ln.Addr().String()
	go func() {
		if err := hs.Serve(tls.NewListener(ln, tc)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("openadr vtn stopped", "addr", cfg.Addr, "err", err)
		}
	}()
	s.log.Info("openadr vtn listening", "addr", s.vtnAddr, "tls", true)
	return nil
}

// OpenADRAddr is the address of the VTN's TLS listener ("" when it has
// none).
func (s *Server) OpenADRAddr() string { return s.vtnAddr }

// runVEN registers with the configured VTN and polls it until ctx ends,
// taking its events into the configured program. A VTN that forgot the
// registration is registered with again; a failed poll is logged and
// tried again at the next one.
func (s *Server) runVEN(ctx context.Context, cfg config.OpenADRVEN, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	p, err := s.DR.Program(ctx, cfg.Program)
	if err != nil {
		return fmt.Errorf("openadr ven: program %q: %w", cfg.Program, err)
	}
	events := drForOpenADR{dr: s.DR, now: now}
	var client *http.Client
	venID := cfg.VENID
	if cfg.CertFile != "" {
		tc, fp, err := openadr.ClientTLS(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return fmt.Errorf("openadr ven: %w", err)
		}
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
		if venID == "" {
			// 2.0b: a VEN's id is its certificate's fingerprint.
			venID = fp
		}
	}
	var ven *openadr.VEN
	fresh := func(venID string) *openadr.VEN {
		v := &openadr.VEN{URL: cfg.VTNURL, Name: cfg.Name, VENID: venID, Timeout: cfg.Timeout, HTTP: client}
		// The policy runs inside v.Poll, on this goroutine.
		v.Policy = openadr.DRPolicy(p, v.VTNID, &namedBy{d: events, ven: v}, func(err error) {
			s.log.Warn("openadr ven: event refused", "program", p.ID, "vtn", v.VTNID(), "err", err)
		})
		return v
	}
	ven = fresh(venID)
	wait := func() time.Duration {
		if cfg.Poll > 0 {
			return cfg.Poll
		}
		if f := ven.PollFreq(); f > 0 {
			return f
		}
		return 10 * time.Second
	}
	for {
		if ven.RegistrationID() == "" {
			if err := ven.Register(ctx); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("openadr ven: registration failed", "vtn", config.RedactURL(cfg.VTNURL), "err", err)
				}
			} else {
				s.log.Info("openadr ven registered", "vtn", ven.VTNID(), "ven", ven.VENID, "registration", ven.RegistrationID())
			}
		}
		if ven.RegistrationID() != "" {
			_, err := ven.Poll(ctx)
			if openadr.IsNotRegistered(err) {
				// The VTN forgot this VEN: the next round registers anew,
				// keeping the VEN id.
				ven = fresh(ven.VENID)
				continue
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("openadr ven: poll failed", "vtn", config.RedactURL(cfg.VTNURL), "err", err)
			}
		}
		t := time.NewTimer(wait())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// namedBy names the VTN an event came from as its creator, once the VEN
// knows the VTN's id.
type namedBy struct {
	d   drForOpenADR
	ven *openadr.VEN
}

func (l *namedBy) TakeEvent(ctx context.Context, e dr.Event) error {
	d := l.d
	d.by = "openadr:" + l.ven.VTNID()
	return d.TakeEvent(ctx, e)
}
