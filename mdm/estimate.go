package mdm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// Estimates runs validation and estimation over stored days when a
// person asks for it, with the server's rule sets, and says which rule
// set a meter falls under. The ingest validates as it stores; this is for
// the days stored before a rule changed, or left with gaps.
type Estimates struct {
	Store VEEStore
	// Rules chooses each meter's rule set by its group.
	Rules      vee.RuleSets
	Estimation vee.Estimation
	// Now is the clock (nil: time.Now): it says which intervals are due
	// and which days are past, and so may be estimated.
	Now func() time.Time
}

// Run validates the stored days of a meter channel in [from, to],
// queueing what fails, and with estimate fills the missing intervals of
// the days before today (UTC) as new versions.
func (e *Estimates) Run(ctx context.Context, meterID, channel string, from, to cim.Date, estimate bool) (VEEReport, error) {
	now := e.Now
	if now == nil {
		now = time.Now
	}
	return RunVEE(ctx, e.Store, meterID, channel, from, to, VEEOptions{Rules: e.Rules, Estimation: e.Estimation,
		Estimate: estimate, Today: cim.DateOf(now(), time.UTC), Now: now})
}

// RuleSet returns the name and the rules of the rule set that validates
// a meter; a meter the registry does not know is ErrUnknownMeter.
func (e *Estimates) RuleSet(ctx context.Context, meterID string) (string, vee.Rules, error) {
	m, err := e.Store.Meter(ctx, meterID)
	if errors.Is(err, store.ErrNotFound) {
		return "", vee.Rules{}, fmt.Errorf("mdm: meter %s: %w", meterID, ErrUnknownMeter)
	}
	if err != nil {
		return "", vee.Rules{}, fmt.Errorf("mdm: looking up meter %s: %w", meterID, err)
	}
	name, rules := e.Rules.For(m)
	return name, rules, nil
}
