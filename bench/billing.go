package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// runBilling times a bill run over a group of accounts, each with one
// stored day of its meter (a one-day cycle), against the raw batch read of
// the same days: what a run costs beyond reading its data.
func runBilling(ctx context.Context, o Options) ([]Result, error) {
	n := o.Meters
	switch {
	case o.Tiny:
		n = 500
	case n == 0:
		n = 100_000
	}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(o.Dir, "billing.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	day := cim.Date{Year: 2026, Month: 1, Day: 15}
	t0 := time.Now()
	if err := seedBilling(ctx, st, n, day); err != nil {
		return nil, err
	}
	o.Log.Info("billing: accounts stored", "accounts", n, "took", time.Since(t0).Round(time.Millisecond))

	// Baseline: the same days read in the run's batches.
	const batch = 500
	t1 := time.Now()
	for from := 0; from < n; from += batch {
		var rs []store.DayRange
		for i := from; i < min(from+batch, n); i++ {
			m := fmt.Sprintf("bm%07d", i)
			rs = append(rs, store.DayRange{MeterID: m, Channel: billing.ChannelImport, From: day, To: day},
				store.DayRange{MeterID: m, Channel: billing.ChannelExport, From: day, To: day})
		}
		if _, err := st.DaysOfMeters(ctx, rs); err != nil {
			return nil, err
		}
	}
	read := time.Since(t1)

	r := &billing.Runner{Store: st, BatchSize: batch, Workers: runtime.NumCPU()}
	t2 := time.Now()
	run, err := r.Run(ctx, "bench", billing.Period{From: day, To: day.AddDays(1)})
	if err != nil {
		return nil, err
	}
	took := time.Since(t2)
	if run.Billed != n {
		return nil, fmt.Errorf("billing: %d of %d accounts billed (%d failed: %s)", run.Billed, n, run.Failed, run.Error)
	}
	rate := float64(n) / took.Seconds()
	return []Result{
		{Suite: "billing", Metric: "bill run, one-day cycle", Value: rate, Unit: "accounts/s",
			Baseline: "batch read of the same days", BaselineValue: float64(n) / read.Seconds(), Ratio: took.Seconds() / read.Seconds(),
			Note: fmt.Sprintf("%d accounts in %s (read alone %s); 1,000,000 at this rate: %.0f s", n, took.Round(time.Millisecond), read.Round(time.Millisecond), 1e6/rate)},
	}, nil
}

// seedBilling stores n accounts on a two-rate tariff, each with a usage
// point, a meter and one day of household load, written straight to the
// store in large batches.
func seedBilling(ctx context.Context, st store.Store, n int, day cim.Date) error {
	t := tariff.Default()
	t.ID, t.Version, t.EffectiveFrom = "bench-tou", 1, cim.Date{Year: 2020, Month: 1, Day: 1}
	v, err := billing.StoredTariff(t)
	if err != nil {
		return err
	}
	if err := st.PutTariffVersion(ctx, v); err != nil {
		return err
	}
	loc := time.UTC
	const chunk = 5000
	for from := 0; from < n; from += chunk {
		var ups []cim.UsagePoint
		var ms []cim.Meter
		var as []store.Account
		var days []interval.Day
		for i := from; i < min(from+chunk, n); i++ {
			up, m := fmt.Sprintf("bup%07d", i), fmt.Sprintf("bm%07d", i)
			ups = append(ups, cim.UsagePoint{MRID: up, ServiceCategory: cim.CommodityElectricity, TimeZone: "UTC", TariffID: "bench-tou"})
			ms = append(ms, cim.Meter{MRID: m, UsagePointID: up, Kind: "electricity-1p"})
			as = append(as, store.Account{ID: fmt.Sprintf("bacc%07d", i), UsagePointID: up, Group: "bench", CycleDay: 16})
			d := interval.Day{MeterID: m, Channel: billing.ChannelImport, Date: day, Start: day.Start(loc), Interval: 15 * time.Minute,
				Values: make([]int64, 96), Quality: make([]cim.Quality, 96), Source: interval.SourceMeter}
			for k := range d.Values {
				d.Values[k] = loadValue(i, d.Start.Add(time.Duration(k)*15*time.Minute))
			}
			days = append(days, d)
		}
		if err := st.PutUsagePoints(ctx, ups...); err != nil {
			return err
		}
		if err := st.PutMeters(ctx, ms...); err != nil {
			return err
		}
		if err := st.PutAccounts(ctx, as...); err != nil {
			return err
		}
		if _, err := st.PutDays(ctx, days); err != nil {
			return err
		}
	}
	return nil
}
