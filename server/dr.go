package server

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/dr"
)

// drStep is how often the node moves demand-response events along: an
// event's notice and its devices' edges are spread over minutes, so ten
// seconds is well inside them.
const drStep = 10 * time.Second

// newDR builds the demand-response service: its commands go through the
// head-end's Issue, and its baselines know the safeguards' holidays.
func (s *Server) newDR(o Options) (*dr.Service, error) {
	holidays, err := s.cfg.Safeguards.HolidayDates()
	if err != nil {
		return nil, fmt.Errorf("demand response: holidays: %w", err)
	}
	return dr.New(s.Store, s.HeadEnd, dr.Config{Now: o.Now, Holidays: holidays, Logger: s.log}), nil
}

// runDR steps the events until ctx ends. Every node steps them: moves are
// compare-and-swap in the store and commands are idempotent by
// correlation id, so two nodes send each command once.
func (s *Server) runDR(ctx context.Context) error { return s.DR.Run(ctx, drStep) }
