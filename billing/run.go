package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// The channels a bill reads: import and export energy per quarter hour.
const (
	ChannelImport = "A+15m"
	ChannelExport = "A-15m"
)

// Runner makes the bills of account groups: a run walks a group's
// accounts in id order, a batch at a time, computing a batch's bills on a
// few workers and committing them with the run's cursor in one
// transaction, so that a run stopped anywhere resumes after its last
// batch and never bills an account twice.
type Runner struct {
	Store RunStore
	// Policy is what a day with missing intervals does to a bill.
	Policy Policy
	// Estimator fills missing intervals first under MissingEstimate; nil
	// leaves them to the policy's fallback (the bill is held).
	Estimator Estimator
	// Holidays are the holiday dates by region, "*" for every region (as
	// config.Safeguards.HolidayDates returns them).
	Holidays map[string][]cim.Date
	// BatchSize is the accounts per batch (0: 500), Workers the bills
	// computed at once (0: 2).
	BatchSize, Workers int
	// Compute is the engine (nil: Compute).
	Compute func(Input) (Bill, error)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// CyclePeriod is the billing period that ends on the latest cycle day on
// or before asOf: a month long, [To − 1 month, To).
func CyclePeriod(cycleDay int, asOf cim.Date) (Period, error) {
	if cycleDay < 1 || cycleDay > 28 {
		return Period{}, fmt.Errorf("billing: cycle day %d, want 1..28", cycleDay)
	}
	if asOf.IsZero() {
		return Period{}, fmt.Errorf("billing: cycle day %d needs the date as of which it is billed", cycleDay)
	}
	to := cim.Date{Year: asOf.Year, Month: asOf.Month, Day: cycleDay}
	if asOf.Day < cycleDay {
		to = monthsBefore(to, 1)
	}
	return Period{From: monthsBefore(to, 1), To: to}, nil
}

func monthsBefore(d cim.Date, n int) cim.Date {
	return cim.DateOf(time.Date(d.Year, d.Month-time.Month(n), d.Day, 12, 0, 0, 0, time.UTC), time.UTC)
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run bills the accounts of group over p, resuming the run of that group
// and period where it stopped. A finished run is returned as it is:
// running it again bills nothing new.
func (r *Runner) Run(ctx context.Context, group string, p Period) (store.BillRun, error) {
	if !dateLess(p.From, p.To) {
		return store.BillRun{}, fmt.Errorf("billing: run of group %q: the period %s to %s is empty", group, p.From, p.To)
	}
	run, _, err := r.Store.StartBillRun(ctx, store.BillRun{Group: group, From: p.From, To: p.To, Started: r.now()})
	if err != nil {
		return run, fmt.Errorf("billing: run of group %q: %w", group, err)
	}
	if run.Status == store.RunFinished {
		return run, nil
	}
	size := r.BatchSize
	if size <= 0 {
		size = 500
	}
	// Three stages, a batch in each: the next batch is read while one is
	// computed and the one before committed. Batches are committed in
	// account order, each with the cursor after its last account, so a run
	// stopped anywhere still resumes after its last committed batch.
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	send := func(ch chan<- staged, s staged) bool {
		select {
		case ch <- s:
			return true
		case <-pctx.Done():
			return false
		}
	}
	read, computed := make(chan staged, 1), make(chan staged, 1)
	c := r.newCache(p)
	started := run // the goroutines read this, not run, which the commits advance
	wg.Go(func() {
		defer close(read)
		for cursor := started.Cursor; pctx.Err() == nil; {
			accts, err := r.Store.Accounts(pctx, store.AccountQuery{Group: group, After: cursor, Limit: size})
			if err != nil {
				send(read, staged{err: err})
				return
			}
			if len(accts) == 0 {
				return
			}
			s := staged{accts: accts}
			s.res, s.jobs, s.err = r.readBatch(pctx, c, started, accts, p)
			if !send(read, s) || s.err != nil {
				return
			}
			cursor = accts[len(accts)-1].ID
		}
	})
	wg.Go(func() {
		defer close(computed)
		for s := range read {
			if s.err == nil {
				s.err = r.computeBatch(&s.res, s.jobs)
				s.jobs = nil
			}
			// A batch computed after the run was cancelled is not
			// committed: the resumed run computes it again.
			if pctx.Err() != nil || !send(computed, s) || s.err != nil {
				return
			}
		}
	})
	var firstErr string
	for s := range computed {
		if s.err != nil {
			if ctx.Err() != nil {
				break
			}
			return run, r.fail(ctx, run, s.err)
		}
		if firstErr == "" && s.res.firstErr != "" {
			firstErr = s.res.firstErr
		}
		// A batch computed before the run was cancelled is committed
		// whole: cancelling stops the run after the batches in hand.
		next, err := r.Store.CommitBillBatch(context.WithoutCancel(ctx), s.res.BillBatch)
		if err != nil {
			return run, r.fail(ctx, run, err)
		}
		run = next
	}
	if err := ctx.Err(); err != nil {
		return run, fmt.Errorf("billing: run %d of group %q stopped after account %q: %w", run.ID, group, run.Cursor, err)
	}
	if firstErr != "" {
		firstErr = fmt.Sprintf("%d accounts failed; the first: %s", run.Failed, firstErr)
	}
	if err := r.Store.FinishBillRun(ctx, run.ID, store.RunFinished, firstErr, r.now()); err != nil {
		return run, fmt.Errorf("billing: run %d: %w", run.ID, err)
	}
	return r.Store.BillRun(ctx, run.ID)
}

// fail records why a run stopped, unless it was cancelled (then it is
// simply resumed later), and returns the error.
func (r *Runner) fail(ctx context.Context, run store.BillRun, err error) error {
	err = fmt.Errorf("billing: run %d of group %q after account %q: %w", run.ID, run.Group, run.Cursor, err)
	if ctx.Err() == nil {
		r.Store.FinishBillRun(context.WithoutCancel(ctx), run.ID, store.RunFailed, err.Error(), r.now())
	}
	return err
}

type batchResult struct {
	store.BillBatch
	firstErr string
}

// staged is a batch on its way through a run's stages.
type staged struct {
	accts []store.Account
	jobs  []job
	res   batchResult
	err   error
}

// job is one account's bill in the making.
type job struct {
	acct store.Account
	in   Input
	bill Bill
	err  error
	// rec is the bill as stored, made by the worker that computed it
	// when asked: encoding a bill costs a third of computing it.
	rec    store.BillRecord
	recErr error
}

// readBatch reads what a batch's bills are computed from, leaving out
// the accounts billed for p already.
func (r *Runner) readBatch(ctx context.Context, c *cache, run store.BillRun, accts []store.Account, p Period) (batchResult, []job, error) {
	res := batchResult{BillBatch: store.BillBatch{RunID: run.ID, Cursor: accts[len(accts)-1].ID}}
	ids := make([]string, len(accts))
	for i, a := range accts {
		ids[i] = a.ID
	}
	billed, err := r.Store.BilledAccounts(ctx, ids, p.From, p.To)
	if err != nil {
		return res, nil, err
	}
	todo := accts[:0:0]
	for _, a := range accts {
		if billed[a.ID] {
			res.Skipped++
			continue
		}
		todo = append(todo, a)
	}
	jobs, err := r.prepare(ctx, c, todo, p)
	return res, jobs, err
}

// computeBatch computes a batch's bills into res as the store keeps them.
func (r *Runner) computeBatch(res *batchResult, jobs []job) error {
	r.compute(jobs, true)
	res.Bills = make([]store.BillRecord, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		if j.err != nil {
			res.Failed++
			if res.firstErr == "" {
				res.firstErr = j.err.Error()
			}
			continue
		}
		if j.recErr != nil {
			return j.recErr
		}
		res.Bills = append(res.Bills, j.rec)
	}
	return nil
}

// record is a bill as the store keeps it.
func record(a store.Account, b Bill) (store.BillRecord, error) {
	doc, err := json.Marshal(b)
	if err != nil {
		return store.BillRecord{}, fmt.Errorf("bill of account %s: %w", a.ID, err)
	}
	var peak int64
	for _, d := range b.Determinants {
		if d.Kind == KindDemand && d.Value > peak {
			peak = d.Value
		}
	}
	return store.BillRecord{AccountID: a.ID, UsagePointID: a.UsagePointID, From: b.Period.From, To: b.Period.To, Sequence: 1,
		Status: b.Status, Currency: b.Currency, Total: b.Total, CarryOut: b.CarryOut, PeakW: peak, Document: doc}, nil
}

// DecodeBill reads a stored bill's document.
func DecodeBill(rec store.BillRecord) (Bill, error) {
	var b Bill
	if err := json.Unmarshal(rec.Document, &b); err != nil {
		return b, fmt.Errorf("bill %d of account %s: %w", rec.ID, rec.AccountID, err)
	}
	return b, nil
}

// compute computes the jobs' bills on the runner's workers, and with
// records their records too.
func (r *Runner) compute(jobs []job, records bool) {
	compute := r.Compute
	if compute == nil {
		compute = Compute
	}
	workers := r.Workers
	if workers <= 0 {
		workers = 2
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := &jobs[i]
				if j.err != nil {
					continue
				}
				j.bill, j.err = compute(j.in)
				if j.err != nil {
					j.err = fmt.Errorf("account %s (usage point %s): %w", j.acct.ID, j.acct.UsagePointID, j.err)
				} else if records {
					j.rec, j.recErr = record(j.acct, j.bill)
				}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
}

// prepare reads what the accounts' bills are computed from, in a few
// queries for the whole batch. An account that cannot be billed gets its
// error; an error reading the store is the batch's.
func (r *Runner) prepare(ctx context.Context, c *cache, accts []store.Account, p Period) ([]job, error) {
	jobs := make([]job, len(accts))
	if len(accts) == 0 {
		return jobs, nil
	}
	ups := make([]string, len(accts))
	ids := make([]string, len(accts))
	for i, a := range accts {
		ups[i], ids[i] = a.UsagePointID, a.ID
	}
	points, err := r.Store.BillingPoints(ctx, ups)
	if err != nil {
		return nil, err
	}
	assigns, err := r.Store.TariffAssignments(ctx, ups)
	if err != nil {
		return nil, err
	}
	last, err := r.Store.LastBills(ctx, ids, p.From)
	if err != nil {
		return nil, err
	}
	peaks := map[int]map[string]int64{} // by look-back in months, read when a tariff has a ratchet
	var ranges []store.DayRange
	at := make([]int, len(accts)) // the index of an account's import range; -1 none
	for i, a := range accts {
		j := &jobs[i]
		j.acct = a
		at[i] = -1
		pt, ok := points[a.UsagePointID]
		switch {
		case !ok:
			j.err = fmt.Errorf("account %s: usage point %s: %w", a.ID, a.UsagePointID, store.ErrNotFound)
			continue
		case pt.MeterID == "":
			j.err = fmt.Errorf("account %s: usage point %s has no electricity meter", a.ID, a.UsagePointID)
			continue
		}
		loc, err := c.location(pt.UsagePoint.TimeZone)
		if err != nil {
			j.err = fmt.Errorf("account %s: usage point %s: %w", a.ID, a.UsagePointID, err)
			continue
		}
		spans, err := c.spans(ctx, assigns[i], pt.UsagePoint.TariffID, p)
		if err != nil {
			j.err = fmt.Errorf("account %s: usage point %s: %w", a.ID, a.UsagePointID, err)
			continue
		}
		j.in = Input{AccountID: a.ID, UsagePointID: a.UsagePointID, Location: loc, Period: p, Tariffs: spans, Policy: r.Policy}
		region := spans[0].Tariff.Region
		if region == "" {
			region = pt.Region
		}
		j.in.Holidays = c.holidays(r.Holidays, region)
		j.in.memo = c.days
		if prev, ok := last[a.ID]; ok {
			j.in.CarryIn = prev.CarryOut
		}
		if months := ratchetMonths(spans); months > 0 {
			// One read per look-back for the whole batch: its accounts
			// are mostly on the same few tariffs.
			pk, ok := peaks[months]
			if !ok {
				if pk, err = r.Store.PeakDemands(ctx, ids, monthsBefore(p.From, months), p.From); err != nil {
					return nil, err
				}
				peaks[months] = pk
			}
			j.in.Ratchet = pk[a.ID]
		}
		for _, s := range spans {
			if s.Tariff.CriticalPeak != nil {
				cp, err := c.criticalPeaks(ctx, s.Tariff.ID)
				if err != nil {
					return nil, err
				}
				j.in.CriticalPeaks = append(j.in.CriticalPeaks, cp...)
			}
			if s.Tariff.Dynamic != nil {
				ps, err := c.prices(ctx, s.Tariff.Dynamic.Feed)
				if err != nil {
					return nil, err
				}
				j.in.Prices = append(j.in.Prices, ps...)
			}
		}
		at[i] = len(ranges)
		end := p.To.AddDays(-1)
		ranges = append(ranges, store.DayRange{MeterID: pt.MeterID, Channel: ChannelImport, From: p.From, To: end},
			store.DayRange{MeterID: pt.MeterID, Channel: ChannelExport, From: p.From, To: end})
	}
	days, err := r.Store.DaysOfMeters(ctx, ranges)
	if err != nil {
		return nil, err
	}
	if r.Policy.Missing == MissingEstimate && r.Estimator != nil {
		if err := r.estimate(ctx, ranges, days, p); err != nil {
			return nil, err
		}
	}
	for i := range jobs {
		if at[i] >= 0 {
			jobs[i].in.Import, jobs[i].in.Export = days[at[i]], days[at[i]+1]
		}
	}
	return jobs, nil
}

// ratchetMonths is the longest look-back of the spans' demand ratchets,
// at most a year; 0 when none has one.
func ratchetMonths(spans []TariffSpan) int {
	n := 0
	for _, s := range spans {
		for _, d := range s.Tariff.Demand {
			if d.RatchetPercent > 0 {
				n = max(n, min(d.RatchetMonths, 12))
			}
		}
	}
	return n
}

// estimate has the MDM fill the missing intervals of the import days
// that have any, then reads those days again.
func (r *Runner) estimate(ctx context.Context, ranges []store.DayRange, days [][]interval.Day, p Period) error {
	var again []int
	for i, rg := range ranges {
		if rg.Channel != ChannelImport || !incomplete(days[i], p) {
			continue
		}
		if _, err := r.Estimator.Run(ctx, rg.MeterID, rg.Channel, rg.From, rg.To, true); err != nil {
			return fmt.Errorf("estimating meter %s %s from %s to %s: %w", rg.MeterID, rg.Channel, rg.From, rg.To, err)
		}
		again = append(again, i)
	}
	if len(again) == 0 {
		return nil
	}
	sub := make([]store.DayRange, len(again))
	for k, i := range again {
		sub[k] = ranges[i]
	}
	fresh, err := r.Store.DaysOfMeters(ctx, sub)
	if err != nil {
		return err
	}
	for k, i := range again {
		days[i] = fresh[k]
	}
	return nil
}

// incomplete reports whether days lack a day of p or an interval.
func incomplete(days []interval.Day, p Period) bool {
	if len(days) < p.Days() {
		return true
	}
	for _, d := range days {
		if slices.ContainsFunc(d.Quality, func(q cim.Quality) bool { return q&cim.QualityMissing != 0 }) {
			return true
		}
	}
	return false
}

// cache holds what a run reads once for all its accounts: tariff versions,
// critical peaks and prices of the period, time zones.
type cache struct {
	st      RunStore
	p       Period
	mu      sync.Mutex
	tariffs map[string][]tariff.Tariff
	cpp     map[string][]CriticalPeak
	feeds   map[string][]HourPrice
	zones   map[string]*time.Location
	hols    map[string][]cim.Date
	days    *dayMemo
}

func (r *Runner) newCache(p Period) *cache {
	return &cache{st: r.Store, p: p, tariffs: map[string][]tariff.Tariff{}, cpp: map[string][]CriticalPeak{},
		feeds: map[string][]HourPrice{}, zones: map[string]*time.Location{}, hols: map[string][]cim.Date{}, days: newDayMemo()}
}

// window is the period in instants, with a day's margin either side for
// every time zone.
func (c *cache) window() (time.Time, time.Time) {
	return c.p.From.AddDays(-1).Start(time.UTC), c.p.To.AddDays(1).Start(time.UTC)
}

func (c *cache) location(name string) (*time.Location, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.zones[name]; ok {
		return l, nil
	}
	l, err := (cim.UsagePoint{TimeZone: name}).Location()
	if err != nil {
		return nil, err
	}
	c.zones[name] = l
	return l, nil
}

func (c *cache) holidays(all map[string][]cim.Date, region string) []cim.Date {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.hols[region]; ok {
		return h
	}
	h := append(slices.Clone(all["*"]), all[region]...)
	c.hols[region] = h
	return h
}

func (c *cache) criticalPeaks(ctx context.Context, tariffID string) ([]CriticalPeak, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cpp[tariffID]; ok {
		return v, nil
	}
	from, to := c.window()
	es, err := c.st.CriticalPeaks(ctx, tariffID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]CriticalPeak, len(es))
	for i, e := range es {
		out[i] = CriticalPeak{Start: e.Start, End: e.End}
	}
	c.cpp[tariffID] = out
	return out, nil
}

func (c *cache) prices(ctx context.Context, feed string) ([]HourPrice, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.feeds[feed]; ok {
		return v, nil
	}
	from, to := c.window()
	ps, err := c.st.Prices(ctx, feed, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]HourPrice, len(ps))
	for i, p := range ps {
		out[i] = HourPrice{Start: p.At, Price: p.Price}
	}
	c.feeds[feed] = out
	return out, nil
}

// versions returns a tariff's versions, oldest effective date first. A
// usage point on the default tariff, which is not stored, gets
// tariff.Default.
func (c *cache) versions(ctx context.Context, id string) ([]tariff.Tariff, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.tariffs[id]; ok {
		return v, nil
	}
	vs, err := c.st.TariffVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []tariff.Tariff
	for _, v := range vs {
		var t tariff.Tariff
		if err := json.Unmarshal(v.Document, &t); err != nil {
			return nil, fmt.Errorf("tariff %s version %d: %w", id, v.Version, err)
		}
		t.ID, t.Version, t.EffectiveFrom = v.ID, v.Version, v.EffectiveFrom
		out = append(out, t)
	}
	if len(out) == 0 && id == tariff.Default().ID {
		d := tariff.Default()
		d.Version, d.EffectiveFrom = 1, cim.Date{Year: 1970, Month: 1, Day: 1}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b tariff.Tariff) int {
		switch {
		case dateLess(a.EffectiveFrom, b.EffectiveFrom):
			return -1
		case dateLess(b.EffectiveFrom, a.EffectiveFrom):
			return 1
		}
		return a.Version - b.Version
	})
	c.tariffs[id] = out
	return out, nil
}

// StoredTariff is a tariff version as the store keeps it: the document is
// the tariff's JSON. A version number and effective date are required.
func StoredTariff(t tariff.Tariff) (store.TariffVersion, error) {
	if t.ID == "" || t.Version < 1 || t.EffectiveFrom.IsZero() {
		return store.TariffVersion{}, fmt.Errorf("tariff %q: an id, a version of 1 or more and an effective date are required", t.ID)
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return store.TariffVersion{}, fmt.Errorf("tariff %s version %d: %w", t.ID, t.Version, err)
	}
	return store.TariffVersion{ID: t.ID, Version: t.Version, EffectiveFrom: t.EffectiveFrom, Document: doc}, nil
}

// ErrNoTariff is returned when no tariff version is in force on a day of a
// period.
var ErrNoTariff = errors.New("no tariff version in force")

// spans cuts p where the usage point's assignment or its tariff's version
// changes: each span is one version in force. Before its first dated
// assignment a usage point is on its registered tariff (cim.UsagePoint.TariffID),
// and on tariff.Default when it names none.
func (c *cache) spans(ctx context.Context, assigns []store.TariffAssignment, registered string, p Period) ([]TariffSpan, error) {
	if registered == "" {
		registered = tariff.Default().ID
	}
	idAt := func(d cim.Date) string {
		id := registered
		for _, a := range assigns {
			if !dateLess(d, a.From) {
				id = a.TariffID
			}
		}
		return id
	}
	cuts := []cim.Date{p.From}
	inside := func(d cim.Date) bool { return dateLess(p.From, d) && dateLess(d, p.To) }
	ids := map[string]bool{idAt(p.From): true}
	for _, a := range assigns {
		if inside(a.From) {
			cuts = append(cuts, a.From)
			ids[a.TariffID] = true
		}
	}
	for id := range ids {
		vs, err := c.versions(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if inside(v.EffectiveFrom) {
				cuts = append(cuts, v.EffectiveFrom)
			}
		}
	}
	slices.SortFunc(cuts, func(a, b cim.Date) int {
		if dateLess(a, b) {
			return -1
		}
		if dateLess(b, a) {
			return 1
		}
		return 0
	})
	cuts = slices.Compact(cuts)
	var out []TariffSpan
	for i, from := range cuts {
		to := p.To
		if i+1 < len(cuts) {
			to = cuts[i+1]
		}
		id := idAt(from)
		vs, err := c.versions(ctx, id)
		if err != nil {
			return nil, err
		}
		k := -1
		for j, v := range vs {
			if !dateLess(from, v.EffectiveFrom) {
				k = j
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("tariff %q on %s: %w", id, from, ErrNoTariff)
		}
		t := vs[k]
		if n := len(out); n > 0 && out[n-1].Tariff.ID == t.ID && out[n-1].Tariff.Version == t.Version {
			out[n-1].To = to
			continue
		}
		out = append(out, TariffSpan{Tariff: t, From: from, To: to})
	}
	return out, nil
}

// dateLess is cim.Date.Before without formatting: a run compares dates
// for every account.
func dateLess(a, b cim.Date) bool {
	if a.Year != b.Year {
		return a.Year < b.Year
	}
	if a.Month != b.Month {
		return a.Month < b.Month
	}
	return a.Day < b.Day
}
