package billing

import (
	"context"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// CurrentCycle is the billing period in progress on date for a cycle day:
// from the latest cycle day on or before date to a month later.
func CurrentCycle(cycleDay int, on cim.Date) (Period, error) {
	p, err := CyclePeriod(cycleDay, on)
	if err != nil {
		return Period{}, err
	}
	return Period{From: p.To, To: monthsBefore(p.To, -1)}, nil
}

// CycleInput is what the bill of a usage point's cycle in progress on date
// is computed from, as a run would gather it: its account (the first by
// id when it has several), the period, the tariff versions in force, the
// region's holidays, critical peaks, prices so far and what the last bill
// carried in. The days are left to the caller. A usage point on no
// account is store.ErrNotFound.
func (r *Runner) CycleInput(ctx context.Context, usagePoint string, on cim.Date) (Input, error) {
	accts, err := r.Store.Accounts(ctx, store.AccountQuery{UsagePointID: usagePoint, Limit: 1})
	if err != nil {
		return Input{}, fmt.Errorf("accounts of usage point %s: %w", usagePoint, err)
	}
	if len(accts) == 0 {
		return Input{}, fmt.Errorf("usage point %s is on no account: %w", usagePoint, store.ErrNotFound)
	}
	a := accts[0]
	p, err := CurrentCycle(a.CycleDay, on)
	if err != nil {
		return Input{}, fmt.Errorf("account %s: %w", a.ID, err)
	}
	c := r.newCache(p)
	where := fmt.Sprintf("account %s, usage point %s", a.ID, usagePoint)
	points, err := r.Store.BillingPoints(ctx, []string{usagePoint})
	if err != nil {
		return Input{}, fmt.Errorf("%s: %w", where, err)
	}
	pt, ok := points[usagePoint]
	if !ok {
		return Input{}, fmt.Errorf("%s: %w", where, store.ErrNotFound)
	}
	assigns, err := r.Store.TariffAssignments(ctx, []string{usagePoint})
	if err != nil {
		return Input{}, fmt.Errorf("%s: %w", where, err)
	}
	loc, err := c.location(pt.UsagePoint.TimeZone)
	if err != nil {
		return Input{}, fmt.Errorf("%s: %w", where, err)
	}
	spans, err := c.spans(ctx, assigns[0], pt.UsagePoint.TariffID, p)
	if err != nil {
		return Input{}, fmt.Errorf("%s: %w", where, err)
	}
	in := Input{AccountID: a.ID, UsagePointID: usagePoint, Location: loc, Period: p, Tariffs: spans, Policy: r.Policy}
	if in.Policy.Missing == MissingEstimate {
		// Nothing is estimated for a view: a day with gaps is flagged.
		in.Policy.Missing = MissingFlag
	}
	region := spans[0].Tariff.Region
	if region == "" {
		region = pt.Region
	}
	in.Holidays = c.holidays(r.Holidays, region)
	last, err := r.Store.LastBills(ctx, []string{a.ID}, p.From)
	if err != nil {
		return Input{}, fmt.Errorf("%s: %w", where, err)
	}
	if prev, ok := last[a.ID]; ok {
		in.CarryIn = prev.CarryOut
	}
	if months := ratchetMonths(spans); months > 0 {
		pk, err := r.Store.PeakDemands(ctx, []string{a.ID}, monthsBefore(p.From, months), p.From)
		if err != nil {
			return Input{}, fmt.Errorf("%s: %w", where, err)
		}
		in.Ratchet = pk[a.ID]
	}
	for _, s := range spans {
		if s.Tariff.CriticalPeak != nil {
			cp, err := c.criticalPeaks(ctx, s.Tariff.ID)
			if err != nil {
				return Input{}, fmt.Errorf("%s: %w", where, err)
			}
			in.CriticalPeaks = append(in.CriticalPeaks, cp...)
		}
		if s.Tariff.Dynamic != nil {
			ps, err := c.prices(ctx, s.Tariff.Dynamic.Feed)
			if err != nil {
				return Input{}, fmt.Errorf("%s: %w", where, err)
			}
			in.Prices = append(in.Prices, ps...)
		}
	}
	return in, nil
}
