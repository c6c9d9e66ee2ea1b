package api

import (
	"context"
	"errors"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// meterItem is a meter as the listings show it: the registry's record and
// how its collection went lately.
type meterItem struct {
	cim.Meter
	Collection *meterCollection `json:"collection,omitempty"`
}

// meterCollection is a meter's latest collection result, and when it was
// last read well, within the days looked at.
type meterCollection struct {
	Day      cim.Date  `json:"day"`
	Outcome  string    `json:"outcome"`
	Complete bool      `json:"complete"`
	At       time.Time `json:"at"`
	// Error is why the latest run failed, and Problems what objects it
	// could not read: an operator sees the cause where the outcome shows.
	Error    string `json:"error,omitempty"`
	Problems string `json:"problems,omitempty"`
	// LastOK is the time of the newest successful read; absent when none
	// of the days looked at had one.
	LastOK *time.Time `json:"lastOK,omitempty"`
}

// collectionDays is how far back a listing looks for a meter's results:
// the head-end's own backfill reaches ten days.
const collectionDays = 14

// withCollection adds each meter's latest results to a page of meters,
// in one query for the whole page.
func (a *API) withCollection(ctx context.Context, ms []cim.Meter) ([]meterItem, error) {
	out := make([]meterItem, len(ms))
	ids := make([]string, len(ms))
	for i, m := range ms {
		out[i].Meter = m
		ids[i] = m.MRID
	}
	// A day of the head-end's zone may run ahead of UTC's.
	to := cim.DateOf(a.now(), time.UTC).AddDays(1)
	rs, err := a.d.Store.MeterResults(ctx, ids, to.AddDays(-collectionDays), to)
	if err != nil {
		return nil, err
	}
	by := map[string]*meterCollection{}
	for _, r := range rs { // by meter, newest day first
		c := by[r.MeterID]
		if c == nil {
			c = &meterCollection{Day: r.Day, Outcome: r.Outcome, Complete: r.Complete, At: r.At, Error: r.Error, Problems: r.Problems}
			by[r.MeterID] = c
		}
		if c.LastOK == nil && r.Outcome == headend.OutcomeOK {
			at := r.At
			c.LastOK = &at
		}
	}
	for i := range out {
		out[i].Collection = by[out[i].MRID]
	}
	return out, nil
}

// meterDetail is one meter with what its page shows beside the registry's
// record: the usage point's time zone, the latest collection and the relay.
type meterDetail struct {
	meterItem
	// TimeZone is the usage point's, in which the meter's days and times
	// are told ("" without a usage point).
	TimeZone string `json:"timeZone,omitempty"`
	Relay    *relay `json:"relay,omitempty"`
}

func (a *API) meterDetail(ctx context.Context, m cim.Meter) (meterDetail, error) {
	var out meterDetail
	items, err := a.withCollection(ctx, []cim.Meter{m})
	if err != nil {
		return out, err
	}
	out.meterItem = items[0]
	if m.UsagePointID != "" {
		up, err := a.d.Store.UsagePoint(ctx, m.UsagePointID)
		switch {
		case err == nil:
			if loc, err := up.Location(); err == nil {
				out.TimeZone = loc.String()
			}
		case !errors.Is(err, store.ErrNotFound):
			return out, err
		}
	}
	out.Relay, err = a.relayOf(ctx, m.MRID)
	return out, err
}
