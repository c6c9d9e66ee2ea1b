package billing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/tariff"
)

var ctx = context.Background()

func date(t testing.TB, s string) cim.Date {
	t.Helper()
	d, err := cim.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// day is a meter's import day: every quarter hour wh Wh, missing where
// gaps says.
func day(meter, channel string, d cim.Date, wh int64, gaps ...int) interval.Day {
	n := d.Intervals(ams, 15*time.Minute)
	v := interval.Day{MeterID: meter, Channel: channel, Date: d, Start: d.Start(ams), Interval: 15 * time.Minute,
		Values: make([]int64, n), Quality: make([]cim.Quality, n), Source: interval.SourceMeter}
	for i := range v.Values {
		v.Values[i] = wh
	}
	for _, g := range gaps {
		v.Values[g], v.Quality[g] = 0, cim.QualityMissing
	}
	return v
}

// fleet stores n accounts in group "g", each with a meter and the days
// of [from, to), on tariff "flat" (a price of 0.25 per kWh).
func fleet(t testing.TB, st store.Store, n int, from, to cim.Date) {
	t.Helper()
	putTariff(t, st, tariff.Tariff{ID: "flat", Name: "Flat", Currency: "EUR", Base: tariff.Period{Name: "all", Price: 250_000},
		Version: 1, EffectiveFrom: date(t, "2020-01-01")})
	var ups []cim.UsagePoint
	var ms []cim.Meter
	var as []store.Account
	var days []interval.Day
	for i := range n {
		up, m := fmt.Sprintf("up%04d", i), fmt.Sprintf("m%04d", i)
		ups = append(ups, cim.UsagePoint{MRID: up, ServiceCategory: cim.CommodityElectricity, TimeZone: "Europe/Amsterdam", TariffID: "flat"})
		ms = append(ms, cim.Meter{MRID: m, UsagePointID: up, Kind: "electricity-1p"})
		as = append(as, store.Account{ID: fmt.Sprintf("acc%04d", i), UsagePointID: up, Group: "g", CycleDay: to.Day})
		for d := from; d != to; d = d.AddDays(1) {
			days = append(days, day(m, billing.ChannelImport, d, int64(100+i)))
		}
	}
	if err := st.PutUsagePoints(ctx, ups...); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAccounts(ctx, as...); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
}

func putTariff(t testing.TB, st store.Store, tf tariff.Tariff) {
	t.Helper()
	v, err := billing.StoredTariff(tf)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutTariffVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
}

// flatCompute stands in for the engine where a test is about runs: the
// import energy at the first span's base price, the days it used, held
// when an interval is missing.
func flatCompute(in billing.Input) (billing.Bill, error) {
	b := billing.Bill{AccountID: in.AccountID, UsagePointID: in.UsagePointID, Currency: "EUR", Period: in.Period, Status: billing.StatusReady}
	var wh int64
	for _, d := range append(in.Import, in.Export...) {
		b.DataVersions = append(b.DataVersions, billing.DataVersion{MeterID: d.MeterID, Channel: d.Channel, Date: d.Date, Version: d.Version})
		if d.Channel != billing.ChannelImport {
			continue
		}
		for i, v := range d.Values {
			if d.Quality[i]&cim.QualityMissing != 0 {
				b.Status = billing.StatusHeld
			}
			wh += v
		}
	}
	price := in.Tariffs[0].Tariff.Base.Price
	amount := (wh*price/1000 + 5000) / 10000 // micro-units to cents, half up
	b.Lines = []billing.Line{{Code: "energy", Quantity: wh, Unit: "Wh", Rate: price, Amount: amount, Rounding: "half-up to 0.01",
		From: in.Period.From, To: in.Period.To}}
	b.Total = amount
	return b, nil
}

func allBills(t testing.TB, st store.Store, q store.BillQuery) []store.BillRecord {
	t.Helper()
	var out []store.BillRecord
	for {
		page, err := st.Bills(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		q.After = page[len(page)-1].ID
	}
}

func TestRunBillsEachAccountOnce(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-04")}
	fleet(t, st, 23, p.From, p.To)
	r := &billing.Runner{Store: st, BatchSize: 5, Workers: 2, Compute: flatCompute}
	run, err := r.Run(ctx, "g", p)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.RunFinished || run.Billed != 23 || run.Failed != 0 || run.Cursor != "acc0022" {
		t.Fatalf("run %+v", run)
	}
	bills := allBills(t, st, store.BillQuery{RunID: run.ID})
	if len(bills) != 23 {
		t.Fatalf("%d bills", len(bills))
	}
	// acc0003: 103 Wh × 96 × 3 days = 29.664 kWh at 0.25 = 7.416 → 742 cents.
	b := bills[3]
	if b.AccountID != "acc0003" || b.Total != 742 || b.Status != billing.StatusReady || b.Sequence != 1 {
		t.Fatalf("bill %+v", b)
	}
	doc, err := billing.DecodeBill(b)
	if err != nil || len(doc.DataVersions) != 3 || doc.Lines[0].Quantity != 29664 {
		t.Fatalf("document %+v, %v", doc, err)
	}
	// Running the same group and period again bills nothing new.
	again, err := r.Run(ctx, "g", p)
	if err != nil || again.ID != run.ID || again.Billed != 23 {
		t.Fatalf("again %+v, %v", again, err)
	}
	if n := len(allBills(t, st, store.BillQuery{})); n != 23 {
		t.Fatalf("%d bills after a rerun", n)
	}
}

func TestRunResumesAfterCancel(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-02-01"), To: date(t, "2026-02-03")}
	fleet(t, st, 40, p.From, p.To)
	cctx, cancel := context.WithCancel(ctx)
	var computed atomic.Int64
	r := &billing.Runner{Store: st, BatchSize: 6, Workers: 2, Compute: func(in billing.Input) (billing.Bill, error) {
		if computed.Add(1) == 15 {
			cancel() // the process dies in the middle of a batch
		}
		return flatCompute(in)
	}}
	run, err := r.Run(cctx, "g", p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %+v, %v", run, err)
	}
	stopped, err := st.BillRun(ctx, run.ID)
	if err != nil || stopped.Status != store.RunRunning || stopped.Billed == 0 || stopped.Billed >= 40 {
		t.Fatalf("stopped run %+v, %v", stopped, err)
	}
	if n := len(allBills(t, st, store.BillQuery{})); n != stopped.Billed {
		t.Fatalf("%d bills stored, the run counts %d", n, stopped.Billed)
	}
	// Resume: the rest is billed, nobody twice.
	r.Compute = flatCompute
	done, err := r.Run(ctx, "g", p)
	if err != nil || done.Status != store.RunFinished || done.Billed != 40 || done.ID != run.ID {
		t.Fatalf("resumed run %+v, %v", done, err)
	}
	seen := map[string]int{}
	for _, b := range allBills(t, st, store.BillQuery{}) {
		seen[b.AccountID]++
	}
	if len(seen) != 40 {
		t.Fatalf("%d accounts billed", len(seen))
	}
	for a, n := range seen {
		if n != 1 {
			t.Fatalf("account %s billed %d times", a, n)
		}
	}
}

func TestRunCountsAccountsItCannotBill(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-02")}
	fleet(t, st, 3, p.From, p.To)
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "bare", TimeZone: "UTC", TariffID: "flat"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAccounts(ctx, store.Account{ID: "acc-bare", UsagePointID: "bare", Group: "g", CycleDay: 2},
		store.Account{ID: "acc-ghost", UsagePointID: "nowhere", Group: "g", CycleDay: 2}); err != nil {
		t.Fatal(err)
	}
	r := &billing.Runner{Store: st, Compute: flatCompute}
	run, err := r.Run(ctx, "g", p)
	if err != nil || run.Billed != 3 || run.Failed != 2 || !strings.Contains(run.Error, "acc-bare") || !strings.Contains(run.Error, "no electricity meter") {
		t.Fatalf("run %+v, %v", run, err)
	}
}

func TestRunTariffSpans(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-03-01"), To: date(t, "2026-04-01")}
	fleet(t, st, 1, p.From, p.From.AddDays(1))
	putTariff(t, st, tariff.Tariff{ID: "flat", Name: "Flat", Currency: "EUR", Base: tariff.Period{Name: "all", Price: 300_000},
		Version: 2, EffectiveFrom: date(t, "2026-03-10")})
	if err := st.AssignTariff(ctx, store.TariffAssignment{UsagePointID: "up0000", TariffID: "default-tou", From: date(t, "2026-03-20")}); err != nil {
		t.Fatal(err)
	}
	var got []billing.TariffSpan
	r := &billing.Runner{Store: st, Compute: func(in billing.Input) (billing.Bill, error) {
		got = in.Tariffs
		return flatCompute(in)
	}}
	if _, err := r.Run(ctx, "g", p); err != nil {
		t.Fatal(err)
	}
	want := "flat@1 2026-03-01..2026-03-10; flat@2 2026-03-10..2026-03-20; default-tou@1 2026-03-20..2026-04-01"
	var parts []string
	for _, s := range got {
		parts = append(parts, fmt.Sprintf("%s@%d %s..%s", s.Tariff.ID, s.Tariff.Version, s.From, s.To))
	}
	if strings.Join(parts, "; ") != want {
		t.Fatalf("spans %s\nwant %s", strings.Join(parts, "; "), want)
	}
}

func TestRebillAfterAnEdit(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-04")}
	fleet(t, st, 4, p.From, p.To)
	r := &billing.Runner{Store: st, Compute: flatCompute}
	run, err := r.Run(ctx, "g", p)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := r.Rebill(ctx, store.BillQuery{RunID: run.ID}); err != nil || rep.Checked != 4 || rep.Rebilled != 0 {
		t.Fatalf("rebill of fresh bills %+v, %v", rep, err)
	}
	// A person edits a day of m0002, and a late actual arrives for m0001.
	ed := day("m0002", billing.ChannelImport, date(t, "2026-01-02"), 202)
	ed.Source, ed.User, ed.Reason = interval.SourceEdit, "alice", "meter swap"
	late := day("m0001", billing.ChannelImport, date(t, "2026-01-03"), 101)
	late.Values[40] = 5000
	if _, err := st.PutDays(ctx, []interval.Day{ed, late}); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Rebill(ctx, store.BillQuery{RunID: run.ID})
	if err != nil || rep.Checked != 4 || rep.Rebilled != 2 || rep.Failed != 0 {
		t.Fatalf("rebill %+v, %v", rep, err)
	}
	latest := allBills(t, st, store.BillQuery{AccountID: "acc0002", LatestOnly: true})
	if len(latest) != 1 || latest[0].Sequence != 2 || latest[0].Supersedes == 0 ||
		latest[0].Reason != "A+15m 2026-01-02 v1→v2: edit by alice (meter swap)" {
		t.Fatalf("rebill of acc0002 %+v", latest)
	}
	// 102 Wh → 202 Wh over one day's 96 quarter hours: +9.6 kWh at 0.25.
	var adj billing.Adjustment
	if err := json.Unmarshal(latest[0].Adjustment, &adj); err != nil {
		t.Fatal(err)
	}
	old, _ := st.Bill(ctx, latest[0].Supersedes)
	if latest[0].Total-old.Total != 240 {
		t.Fatalf("old %d new %d", old.Total, latest[0].Total)
	}
	l1 := allBills(t, st, store.BillQuery{AccountID: "acc0001", LatestOnly: true})
	if len(l1) != 1 || !strings.Contains(l1[0].Reason, "2026-01-03 v1→v2: late actual") {
		t.Fatalf("rebill of acc0001 %+v", l1)
	}
	// Nothing changed since: nothing to rebill.
	if rep, err := r.Rebill(ctx, store.BillQuery{RunID: run.ID}); err != nil || rep.Checked != 4 || rep.Rebilled != 0 {
		t.Fatalf("second rebill %+v, %v", rep, err)
	}
}

// estimator fills every missing interval with the one before it, as a new version, the way the MDM's estimation stores one.
type estimator struct {
	st    store.Store
	calls atomic.Int64
}

func (e *estimator) Run(ctx context.Context, meterID, channel string, from, to cim.Date, estimate bool) (mdm.VEEReport, error) {
	e.calls.Add(1)
	days, err := e.st.Days(ctx, meterID, channel, from, to)
	if err != nil {
		return mdm.VEEReport{}, err
	}
	var fill []interval.Day
	for _, d := range days {
		changed := false
		for i, q := range d.Quality {
			if q&cim.QualityMissing != 0 {
				d.Values[i], d.Quality[i], changed = d.Values[(i+len(d.Values)-1)%len(d.Values)], cim.QualityEstimated, true
			}
		}
		if changed {
			d.Source, d.Reason = interval.SourceEstimate, "linear"
			fill = append(fill, d)
		}
	}
	_, err = e.st.PutDays(ctx, fill)
	return mdm.VEEReport{Estimated: len(fill)}, err
}

func TestRunEstimatesMissingIntervalsFirst(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-03")}
	fleet(t, st, 3, p.From, p.To)
	if _, err := st.PutDays(ctx, []interval.Day{day("m0001", billing.ChannelImport, date(t, "2026-01-02"), 101, 10, 11)}); err != nil {
		t.Fatal(err)
	}
	est := &estimator{st: st}
	r := &billing.Runner{Store: st, Compute: flatCompute, Estimator: est, Policy: billing.Policy{Missing: billing.MissingEstimate}}
	run, err := r.Run(ctx, "g", p)
	if err != nil || run.Billed != 3 || run.Held != 0 {
		t.Fatalf("run %+v, %v", run, err)
	}
	if est.calls.Load() != 1 {
		t.Fatalf("estimator ran %d times, want once (one meter has gaps)", est.calls.Load())
	}
	b := allBills(t, st, store.BillQuery{AccountID: "acc0001"})
	doc, _ := billing.DecodeBill(b[0])
	if doc.DataVersions[1].Version != 3 || doc.Lines[0].Quantity != 101*96*2 {
		t.Fatalf("bill used %+v, %d Wh", doc.DataVersions, doc.Lines[0].Quantity)
	}
	// Under hold, the same gap holds the bill.
	if _, err := st.PutDays(ctx, []interval.Day{day("m0000", billing.ChannelImport, date(t, "2026-01-05"), 100, 3)}); err != nil {
		t.Fatal(err)
	}
	hold := &billing.Runner{Store: st, Compute: flatCompute, Policy: billing.Policy{Missing: billing.MissingHold}}
	run, err = hold.Run(ctx, "g", billing.Period{From: date(t, "2026-01-05"), To: date(t, "2026-01-06")})
	if err != nil || run.Held != 1 {
		t.Fatalf("held run %+v, %v", run, err)
	}
}

func TestCyclePeriod(t *testing.T) {
	for _, c := range []struct {
		day        int
		asOf, want string
	}{
		{15, "2026-03-20", "2026-02-15..2026-03-15"},
		{15, "2026-03-15", "2026-02-15..2026-03-15"},
		{15, "2026-03-14", "2026-01-15..2026-02-15"},
		{1, "2026-01-01", "2025-12-01..2026-01-01"},
	} {
		p, err := billing.CyclePeriod(c.day, date(t, c.asOf))
		if err != nil || p.From.String()+".."+p.To.String() != c.want {
			t.Errorf("cycle day %d as of %s: %s..%s, %v; want %s", c.day, c.asOf, p.From, p.To, err, c.want)
		}
	}
	if _, err := billing.CyclePeriod(31, date(t, "2026-01-31")); err == nil {
		t.Error("cycle day 31 accepted")
	}
	if _, err := billing.CyclePeriod(5, cim.Date{}); err == nil {
		t.Error("a cycle with no date to bill it as of accepted")
	}
}

func TestRunWithTheEngine(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-04")}
	fleet(t, st, 5, p.From, p.To)
	// acc0004 is on the default two-rate tariff, which is not stored.
	if err := st.AssignTariff(ctx, store.TariffAssignment{UsagePointID: "up0004", TariffID: "default-tou", From: date(t, "2025-01-01")}); err != nil {
		t.Fatal(err)
	}
	r := &billing.Runner{Store: st}
	run, err := r.Run(ctx, "g", p)
	if err != nil || run.Billed != 5 || run.Failed != 0 {
		t.Fatalf("run %+v, %v", run, err)
	}
	for _, rec := range allBills(t, st, store.BillQuery{RunID: run.ID}) {
		b, err := billing.DecodeBill(rec)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, l := range b.Lines {
			sum += l.Amount
		}
		if b.Status != billing.StatusReady || sum != b.Total || rec.Total != b.Total || len(b.DataVersions) != 3 || len(b.Determinants) == 0 {
			t.Fatalf("bill of %s: %+v", rec.AccountID, b)
		}
		t.Logf("%s: %d %s, %d lines", rec.AccountID, b.Total, b.Currency, len(b.Lines))
	}
	// acc0003 on the flat tariff: 29.664 kWh at 0.25 = 7.416.
	b := allBills(t, st, store.BillQuery{AccountID: "acc0003"})
	if len(b) != 1 || b[0].Total != 742 {
		t.Fatalf("acc0003 %+v", b)
	}
}

// BenchmarkBillRun bills a group of accounts with three stored days each
// through the engine, against the batch read of the same days
// (BenchmarkBillRun/read): their ratio is what a run costs beyond its
// data.
func BenchmarkBillRun(b *testing.B) {
	const n = 1000
	st, _ := storetest.OpenSQLite(b)
	p := billing.Period{From: date(b, "2026-01-01"), To: date(b, "2026-01-04")}
	fleet(b, st, n, p.From, p.To)
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			for from := 0; from < n; from += 500 {
				var rs []store.DayRange
				for i := from; i < from+500; i++ {
					m := fmt.Sprintf("m%04d", i)
					rs = append(rs, store.DayRange{MeterID: m, Channel: billing.ChannelImport, From: p.From, To: p.To.AddDays(-1)},
						store.DayRange{MeterID: m, Channel: billing.ChannelExport, From: p.From, To: p.To.AddDays(-1)})
				}
				if _, err := st.DaysOfMeters(ctx, rs); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "accounts/s")
	})
	b.Run("run", func(b *testing.B) {
		r := &billing.Runner{Store: st, BatchSize: 500}
		i := 0
		for b.Loop() {
			// Each round bills the accounts afresh as another group.
			b.StopTimer()
			i++
			var as []store.Account
			for k := range n {
				as = append(as, store.Account{ID: fmt.Sprintf("r%d-acc%04d", i, k), UsagePointID: fmt.Sprintf("up%04d", k), Group: fmt.Sprintf("round-%d", i), CycleDay: 4})
			}
			if err := st.PutAccounts(ctx, as...); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			run, err := r.Run(ctx, fmt.Sprintf("round-%d", i), p)
			if err != nil || run.Billed != n {
				b.Fatalf("run %+v, %v", run, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "accounts/s")
	})
}

func TestRunRatchetLooksBack(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	jan := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-04")}
	feb := billing.Period{From: date(t, "2026-02-01"), To: date(t, "2026-02-04")}
	fleet(t, st, 2, jan.From, jan.To)
	putTariff(t, st, tariff.Tariff{ID: "flat", Name: "Flat", Currency: "EUR", Base: tariff.Period{Name: "all", Price: 250_000},
		Demand:  []tariff.DemandCharge{{Code: "demand", Price: 5_000_000, RatchetPercent: 80, RatchetMonths: 11}},
		Version: 2, EffectiveFrom: date(t, "2025-01-01")})
	var days []interval.Day
	for d := feb.From; d != feb.To; d = d.AddDays(1) {
		days = append(days, day("m0000", billing.ChannelImport, d, 10), day("m0001", billing.ChannelImport, d, 10))
	}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	r := &billing.Runner{Store: st}
	if _, err := r.Run(ctx, "g", jan); err != nil {
		t.Fatal(err)
	}
	janBills := allBills(t, st, store.BillQuery{})
	// 101 Wh a quarter hour is a demand of 404 W.
	if len(janBills) != 2 || janBills[1].PeakW != 404 {
		t.Fatalf("january %+v", janBills)
	}
	// The run computes on several workers.
	var mu sync.Mutex
	got := map[string]int64{}
	r.Compute = func(in billing.Input) (billing.Bill, error) {
		mu.Lock()
		got[in.AccountID] = in.Ratchet
		mu.Unlock()
		return billing.Compute(in)
	}
	if _, err := r.Run(ctx, "g", feb); err != nil {
		t.Fatal(err)
	}
	if got["acc0000"] != 400 || got["acc0001"] != 404 {
		t.Fatalf("ratchet reference demands %v", got)
	}
}

// A run's batch reads the days of its accounts' meters in statements of a
// few hundred ranges each: every range gets its own meter's days.
func TestRunBatchReadKeepsRangesApart(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	p := billing.Period{From: date(t, "2026-01-01"), To: date(t, "2026-01-03")}
	const n = 700
	fleet(t, st, n, p.From, p.To)
	for _, count := range []int{n, 301, 5} {
		var rs []store.DayRange
		for i := range count {
			m := fmt.Sprintf("m%04d", i)
			rs = append(rs, store.DayRange{MeterID: m, Channel: billing.ChannelImport, From: p.From, To: p.To.AddDays(-1)},
				store.DayRange{MeterID: m, Channel: billing.ChannelExport, From: p.From, To: p.To.AddDays(-1)})
		}
		days, err := st.DaysOfMeters(ctx, rs)
		if err != nil || len(days) != len(rs) {
			t.Fatalf("%d ranges: %d answers, %v", len(rs), len(days), err)
		}
		for i, ds := range days {
			for _, d := range ds {
				if d.MeterID != rs[i].MeterID || d.Channel != rs[i].Channel {
					t.Fatalf("range %d (%s %s) got a day of %s %s", i, rs[i].MeterID, rs[i].Channel, d.MeterID, d.Channel)
				}
			}
			if rs[i].Channel == billing.ChannelImport && len(ds) != 2 {
				t.Fatalf("range %d (%s): %d days", i, rs[i].MeterID, len(ds))
			}
		}
	}
}
