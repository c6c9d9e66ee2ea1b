package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/server"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// demoTariff is the demo's household tariff: two rates on working days, a
// standing charge and VAT, filed as version 1 long before the demo starts.
func demoTariff(today cim.Date) tariff.Tariff {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	return tariff.Tariff{ID: "residential-tou", Name: "Residential time of use", Currency: "EUR", Version: 1,
		EffectiveFrom: cim.Date{Year: today.Year - 2, Month: 1, Day: 1}, Region: "NL",
		Periods: []tariff.Period{{Name: "peak", Days: weekdays, From: 7 * 60, To: 23 * 60, Price: 340_000, Register: 2}},
		Base:    tariff.Period{Name: "off-peak", Price: 250_000, Register: 1},
		Daily:   []tariff.Charge{{Code: "standing", Description: "Standing charge", Price: 320_000}},
		Taxes:   []tariff.Tax{{Code: "vat", Description: "VAT", RateBP: 2100}}}
}

// demoDREnrolled is how many households the demo's program enrols besides
// the portal's: enough to fill the console's pages, few enough that the
// event's commands are a moment's work.
const demoDREnrolled = 40

// demoMoney gives the demo's usage points a tariff and accounts billed on a
// cycle that is part way through, and a demand-response program with
// households enrolled (the portal's among them) and an event tomorrow
// evening, so the portal shows a bill so far, a forecast, savings and an
// event to opt out of. Run again on the same data it changes nothing.
func demoMoney(ctx context.Context, srv *server.Server, fleet *sim.Fleet, now time.Time, loc *time.Location, household string) error {
	today := cim.DateOf(now, loc)
	t := demoTariff(today)
	if err := t.Validate(); err != nil {
		return fmt.Errorf("demo tariff: %w", err)
	}
	v, err := billing.StoredTariff(t)
	if err != nil {
		return err
	}
	if err := srv.Store.PutTariffVersion(ctx, v); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("demo tariff: %w", err)
	}
	// The cycle began twelve days ago, so it has days behind and ahead.
	cycleDay := min(today.AddDays(-12).Day, 28)
	var accts []store.Account
	var meters []string
	var ups []string
	for i := range fleet.Len() {
		r, err := fleet.Row(i)
		if err != nil {
			return err
		}
		ups = append(ups, r.UsagePointID)
		meters = append(meters, headend.MeterID(r))
		accts = append(accts, store.Account{ID: "acc-" + r.UsagePointID, UsagePointID: r.UsagePointID, Group: "demo", CycleDay: cycleDay})
	}
	if err := srv.Store.PutAccounts(ctx, accts...); err != nil {
		return fmt.Errorf("demo accounts: %w", err)
	}
	from := t.EffectiveFrom
	for _, up := range ups {
		if err := srv.Store.AssignTariff(ctx, store.TariffAssignment{UsagePointID: up, TariffID: t.ID, From: from}); err != nil {
			return fmt.Errorf("demo tariff of usage point %s: %w", up, err)
		}
	}

	p, err := srv.DR.PutProgram(ctx, dr.Program{ID: "evening-peak", Name: "Evening peak", Kind: dr.KindLoadLimit,
		Notice: 36 * time.Hour, Randomize: 300 * time.Second, Baseline: dr.Method10of10, Adjust: true,
		Incentive: 30, Currency: "EUR", FloorW: 1000})
	if err != nil {
		return fmt.Errorf("demo program: %w", err)
	}
	enrolled := 0
	for i, up := range ups {
		if up != household {
			if enrolled >= demoDREnrolled {
				continue
			}
			if m, err := fleet.Meter(i); err != nil || m.Faults().Offline {
				continue
			}
		}
		if _, err := srv.DR.Enrol(ctx, dr.Enrolment{ProgramID: p.ID, UsagePointID: up, MeterID: meters[i], From: now.Add(-time.Hour)}); err != nil {
			return fmt.Errorf("demo enrolment of %s: %w", up, err)
		}
		if up != household {
			enrolled++
		}
	}
	tomorrow := today.AddDays(1)
	start := tomorrow.Start(loc).Add(18 * time.Hour)
	id := "evening-" + tomorrow.String()
	if _, _, err := srv.DR.CreateEvent(ctx, dr.Event{ID: id, ProgramID: p.ID, Start: start, End: start.Add(2 * time.Hour),
		Signal: dr.Signal{ThresholdW: 2500}}, "admin"); err != nil {
		return fmt.Errorf("demo event: %w", err)
	}
	return nil
}
