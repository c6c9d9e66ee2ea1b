package dr

import (
	"context"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// ResultOf measures one participant of an event as Results measures each,
// without measuring the others: what a household's own view needs.
func (s *Service) ResultOf(ctx context.Context, eventID, usagePoint string) (Result, Program, error) {
	e, err := s.Event(ctx, eventID)
	if err != nil {
		return Result{}, Program{}, err
	}
	p, err := s.Program(ctx, e.ProgramID)
	if err != nil {
		return Result{}, p, err
	}
	pt, err := s.participation(ctx, eventID, usagePoint)
	if err != nil {
		return Result{}, p, err
	}
	earlier, err := s.st.DREvents(ctx, store.DREventQuery{ProgramID: p.ID, From: e.Start.AddDate(0, 0, -HistoryDays-2), Until: e.Start})
	if err != nil {
		return Result{}, p, err
	}
	r, err := s.result(ctx, p, e, pt, earlier, map[string]map[cim.Date]float64{})
	if err != nil {
		return r, p, fmt.Errorf("event %s, usage point %s, meter %s: %w", e.ID, pt.UsagePointID, pt.MeterID, err)
	}
	return r, p, nil
}
