package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// outageStore gives the service the store's outage table.
type outageStore struct{ st store.Store }

func (o outageStore) PutOutage(ctx context.Context, e outage.Event) error {
	return o.st.PutOutage(ctx, e)
}

func (o outageStore) Overlapping(ctx context.Context, from, to time.Time) ([]outage.Event, error) {
	return o.st.Outages(ctx, store.OutageQuery{From: from, To: to})
}

func (o outageStore) OpenOutages(ctx context.Context) ([]outage.Event, error) {
	return o.st.Outages(ctx, store.OutageQuery{Open: true, States: []outage.State{outage.Suspected, outage.Confirmed}})
}

// storeMeters maps meters and usage points through the registry.
type storeMeters struct{ st store.Store }

func (m storeMeters) UsagePointOf(ctx context.Context, id string) (string, error) {
	mt, err := m.st.Meter(ctx, id)
	if err != nil {
		return "", err
	}
	return mt.UsagePointID, nil
}

func (m storeMeters) MeterAt(ctx context.Context, up string) (string, error) {
	ms, err := m.st.Meters(ctx, store.MeterQuery{UsagePointID: up, Limit: 10})
	if err != nil {
		return "", err
	}
	for _, mt := range ms {
		if mt.Parent == "" { // a gas or water meter has no supply to lose
			return mt.MRID, nil
		}
	}
	return "", fmt.Errorf("usage point %s: no electricity meter: %w", up, store.ErrNotFound)
}

// storeReads lists the day's collection failures that mean a meter did
// not answer at all: a timeout or a refused connection, not a protocol or
// key problem.
type storeReads struct {
	st   store.Store
	zone *time.Location // run days are the head-end's days
	now  func() time.Time
}

func (r storeReads) ReadsSince(ctx context.Context, since time.Time) ([]outage.Read, error) {
	var out []outage.Read
	today := cim.DateOf(r.now(), r.zone)
	for _, day := range []time.Time{since, r.now()} {
		d := cim.DateOf(day, r.zone)
		for _, oc := range []string{headend.OutcomeTimeout, headend.OutcomeRefused} {
			for after := ""; ; {
				rs, err := r.st.CollectionResults(ctx, d, "", oc, after, 1000)
				if err != nil {
					return nil, fmt.Errorf("collection results of %s: %w", d, err)
				}
				for _, cr := range rs {
					if !cr.At.Before(since) {
						out = append(out, outage.Read{Meter: cr.MeterID, At: cr.At})
					}
				}
				if len(rs) < 1000 {
					break
				}
				after = rs[len(rs)-1].MeterID
			}
		}
		if d == today {
			break
		}
	}
	return out, nil
}

// runOutage runs outage management until ctx ends. It waits for a
// topology: without the tree behind the meters there is nothing to
// correlate last gasps on.
func (s *Server) runOutage(ctx context.Context) error {
	c := s.cfg.Outage
	now := s.now
	if now == nil {
		now = time.Now
	}
	zone, err := time.LoadLocation(s.cfg.HeadEnd.Zone)
	if err != nil {
		zone = time.UTC
	}
	svc, err := outage.NewService(outage.ServiceOptions{
		Engine: outage.Config{Window: c.Window, Momentary: c.Momentary, PingSample: c.PingSample, MaxPings: c.MaxPings,
			VerifyAfter: c.VerifyAfter, Reping: c.Reping},
		Store: outageStore{s.Store}, Topology: s.Store, Meters: storeMeters{s.Store}, Pings: s.HeadEnd, Reads: storeReads{s.Store, zone, now}, Bus: s.Bus,
		PingTimeout: c.PingTimeout, Now: now, Logger: s.log,
	})
	if err != nil {
		return err
	}
	for n := 1; ; n++ {
		err := svc.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, store.ErrNotFound) && n == 1 {
			s.log.Info("outage management waits for a topology", "err", err)
		} else if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("outage management", "err", err)
		}
		if retry.Wait(ctx, retry.Backoff(5*time.Second, time.Minute, n)) != nil {
			return nil
		}
	}
}
