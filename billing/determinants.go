package billing

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

// quality counts the intervals behind a quantity.
type quality struct{ intervals, estimated, edited, missing int }

func (q *quality) add(f cim.Quality, missing bool) {
	q.intervals++
	switch {
	case missing:
		q.missing++
	case f&cim.QualityEstimated != 0:
		q.estimated++
	}
	if f&cim.QualityEdited != 0 {
		q.edited++
	}
}

// bucket is the energy of one TOU bucket of a span.
type bucket struct {
	key      string
	name     string // the TOU period's name
	price    int64
	register int
	imp, exp int64 // Wh, gross
	billed   int64 // Wh billed at price after netting
	iq, eq   quality
}

// demandAcc is the highest 15-minute demand of one demand charge.
type demandAcc struct {
	charge tariff.DemandCharge
	w      int64
	at     time.Time
	q      quality // of the quarter hour the maximum is from
	seen   bool
}

// tierAcc is the energy of one block.
type tierAcc struct {
	wh int64
	q  quality
}

// span is one tariff version's part of the period, as the interval walk
// leaves it.
type span struct {
	t        tariff.Tariff
	from, to cim.Date
	days     int
	buckets  []*bucket
	byKey    map[string]*bucket
	tiers    []tierAcc
	demand   []*demandAcc
	cppWh    int64 // billed import in event intervals (adder mode)
	cppQ     quality
	cppSeen  bool
	dynWh    int64
	dynNano  int64 // Σ Wh × µ/kWh: 10⁻⁹ of the currency
	surplus  int64 // Wh of export beyond import, to be credited
	netted   bool
	hasExp   bool
	impChan  string
	expChan  string
	tierCum  int64
	tierDay  cim.Date
	tierLims []int64
	profiles map[int]*dayProfile
	err      error // an amount that overflowed
	curTier  int
}

// dayProfile is a day's periods with their buckets and, per demand
// charge, whether each period is in its window; days of one season and
// day type share one.
type dayProfile struct {
	periods []tariff.TOUPeriod
	buckets []*bucket
	window  [][]bool // [charge][period]
}

// dayMemo holds the tariff day schedules a run's bills share. A bill asks
// tariff.Day once per day type of its tariff, and every account of a run
// on that tariff asks the same: that was half the engine's time. Only a
// run sets one, where a tariff's id and version stand for its content.
type dayMemo struct {
	mu sync.Mutex
	m  map[dayMemoKey]daySchedule
}

type dayMemoKey struct {
	id       string
	version  int
	from     cim.Date
	key      int       // the span's profile key: season and day type, or weekday
	holidays *cim.Date // the holiday list, by identity (a run keeps one per region)
	nh       int
}

type daySchedule struct {
	periods []tariff.TOUPeriod
	prefix  string
}

func newDayMemo() *dayMemo { return &dayMemo{m: map[dayMemoKey]daySchedule{}} }

// day is t.Day, memoised under key when m is not nil.
func (m *dayMemo) day(t *tariff.Tariff, key int, date cim.Date, holidays []cim.Date) ([]tariff.TOUPeriod, string) {
	if m == nil {
		return t.Day(date, holidays)
	}
	k := dayMemoKey{id: t.ID, version: t.Version, from: t.EffectiveFrom, key: key, nh: len(holidays)}
	if len(holidays) > 0 {
		k.holidays = &holidays[0]
	}
	m.mu.Lock()
	d, ok := m.m[k]
	m.mu.Unlock()
	if ok {
		return d.periods, d.prefix
	}
	d.periods, d.prefix = t.Day(date, holidays)
	m.mu.Lock()
	m.m[k] = d
	m.mu.Unlock()
	return d.periods, d.prefix
}

// profile returns the day profile of date, made once per season and day
// type (per weekday for the simple form).
func (s *span) profile(date cim.Date, holidays []cim.Date, memo *dayMemo) *dayProfile {
	key := int(time.Date(date.Year, date.Month, date.Day, 12, 0, 0, 0, time.UTC).Weekday())
	if len(s.t.Seasons) > 0 {
		key = 8*s.t.SeasonOf(date) + slices.Index(tariff.DayTypes, tariff.DayTypeOf(date, holidays))
	}
	if p := s.profiles[key]; p != nil {
		return p
	}
	periods, prefix := memo.day(&s.t, key, date, holidays)
	p := &dayProfile{periods: periods, buckets: make([]*bucket, len(periods))}
	for j, q := range periods {
		p.buckets[j] = s.bucket(prefix+q.Name, q.Name, q.Price, q.Register)
	}
	for _, d := range s.demand {
		win := make([]bool, len(periods))
		for j, q := range periods {
			win[j] = len(d.charge.Periods) == 0 || slices.Contains(d.charge.Periods, q.Name)
		}
		p.window = append(p.window, win)
	}
	if s.profiles == nil {
		s.profiles = map[int]*dayProfile{}
	}
	s.profiles[key] = p
	return p
}

// walker turns days into span accumulators.
type walker struct {
	in       Input
	imp, exp map[cim.Date]interval.Day
	prices   map[int64]int64
	missing  []string // per day, for flags
	impQ     quality  // all import intervals of the period
	versions []DataVersion
}

func indexDays(days []interval.Day, what string, p Period) (map[cim.Date]interval.Day, error) {
	m := make(map[cim.Date]interval.Day, len(days))
	for _, d := range days {
		if before(d.Date, p.From) || !before(d.Date, p.To) {
			continue
		}
		if _, dup := m[d.Date]; dup {
			return nil, fmt.Errorf("%s day %s of meter %s given twice", what, d.Date, d.MeterID)
		}
		if len(d.Values) != len(d.Quality) {
			return nil, fmt.Errorf("%s day %s of meter %s: %d values, %d qualities", what, d.Date, d.MeterID, len(d.Values), len(d.Quality))
		}
		if d.Interval <= 0 {
			return nil, fmt.Errorf("%s day %s of meter %s: no interval length", what, d.Date, d.MeterID)
		}
		m[d.Date] = d
	}
	return m, nil
}

const quarter = 15 * time.Minute

// maxWh bounds one interval's energy (1 GWh, a 4 GW quarter hour): beyond
// it a value is a meter's glitch, and sums of it would overflow.
const maxWh = 1_000_000_000

// walkDay adds one local day to s.
func (w *walker) walkDay(s *span, date cim.Date) error {
	loc := w.in.Location
	di, haveImp := w.imp[date]
	de, haveExp := w.exp[date]
	step, start := quarter, date.Start(loc)
	n := date.Intervals(loc, quarter)
	if haveImp {
		step, n = di.Interval, len(di.Values)
		if !di.Start.IsZero() {
			start = di.Start
		}
		w.versions = append(w.versions, DataVersion{di.MeterID, di.Channel, date, di.Version})
		s.impChan = di.Channel
	}
	if haveImp {
		if want := date.Intervals(loc, step); n != want {
			return fmt.Errorf("import day %s of meter %s: %d intervals of %s, the local day in %s has %d", date, di.MeterID, n, step, loc, want)
		}
	}
	if haveExp {
		if de.Interval != step || len(de.Values) != n {
			return fmt.Errorf("export day %s of meter %s: %d intervals of %s against import's %d of %s", date, de.MeterID, len(de.Values), de.Interval, n, step)
		}
		w.versions = append(w.versions, DataVersion{de.MeterID, de.Channel, date, de.Version})
		s.hasExp = true
		s.expChan = de.Channel
	}
	prof := s.profile(date, w.in.Holidays, w.in.memo)
	periods, pb := prof.periods, prof.buckets
	nm := s.t.NetMetering
	cpp := s.t.CriticalPeak
	if s.t.Tiers != nil && (s.t.Tiers.Basis == "day" || s.tierDay.IsZero()) {
		s.tierCum, s.curTier = 0, 0
		s.tierDay = date
	}
	// Demand: quarter hours built from shorter intervals that divide
	// them; longer intervals give their own average power.
	group := 1
	if step < quarter && quarter%step == 0 {
		group = int(quarter / step)
	}
	var gWh int64
	var gQ quality
	var gAt, gPeriod, gLeft int
	// On a day whose UTC offset does not change (all but two a year), an
	// interval's wall clock is its distance from local midnight.
	lt0 := start.In(loc)
	_, off0 := lt0.Zone()
	_, off1 := start.Add(time.Duration(n)*step - time.Nanosecond).In(loc).Zone()
	fast := off0 == off1 && lt0.Hour() == 0 && lt0.Minute() == 0 && lt0.Second() == 0
	needAt := !fast || s.t.Dynamic != nil || (cpp != nil && len(w.in.CriticalPeaks) > 0)
	missing := 0
	for i := range n {
		var at time.Time
		if needAt {
			at = start.Add(time.Duration(i) * step)
		}
		var m, sec int
		if fast {
			el := time.Duration(i) * step
			m, sec = int(el/time.Minute), int(el%time.Minute/time.Second)
		} else {
			lt := at.In(loc)
			m, sec = lt.Hour()*60+lt.Minute(), lt.Second()
		}
		j := len(periods) - 1
		for k, q := range periods {
			if m >= int(q.From) && m < int(q.To) {
				j = k
				break
			}
		}
		p := periods[j]
		var iv, ev int64
		var iqf, eqf cim.Quality
		imiss, emiss := true, true
		if haveImp {
			iv, iqf = di.Values[i], di.Quality[i]
			imiss = iqf&cim.QualityMissing != 0
			if imiss {
				iv = 0
			}
		}
		if haveExp {
			ev, eqf = de.Values[i], de.Quality[i]
			emiss = eqf&cim.QualityMissing != 0
			if emiss {
				ev = 0
			}
		}
		if imiss {
			missing++
		}
		if iv > maxWh || iv < -maxWh || ev > maxWh || ev < -maxWh {
			return fmt.Errorf("day %s of meter %s, interval %d: %d Wh import, %d Wh export: beyond %d Wh an interval", date, cmp.Or(di.MeterID, de.MeterID), i, iv, ev, int64(maxWh))
		}
		w.impQ.add(iqf, imiss)
		// The energy billed at the interval: import, or with netting per
		// interval what import exceeds export by.
		billed := iv
		if nm != nil && nm.Netting == tariff.NetInterval {
			billed = max(iv-ev, 0)
			s.surplus += max(ev-iv, 0)
		}
		inEvent := cpp != nil && needAt && w.inEvent(at)
		b := pb[j]
		if inEvent && cpp.Price > 0 {
			b = s.bucket("cpp", "cpp", cpp.Price, p.Register)
		}
		b.imp += iv
		b.exp += ev
		b.billed += billed
		b.iq.add(iqf, imiss)
		if haveExp {
			b.eq.add(eqf, emiss)
		}
		if inEvent && cpp.Price == 0 {
			s.cppWh += billed
			s.cppQ.add(iqf, imiss)
			s.cppSeen = true
		}
		if s.t.Dynamic != nil {
			hour := at.Add(-time.Duration(m%60)*time.Minute - time.Duration(sec)*time.Second)
			hp, ok := w.prices[hour.Unix()]
			if !ok {
				return fmt.Errorf("no dynamic price of feed %s for the hour from %s", s.t.Dynamic.Feed, hour.In(loc).Format(time.RFC3339))
			}
			s.dynWh += billed
			c, ok := mulRound(1, billed, hp+s.t.Dynamic.Adder)
			if !ok || (c > 0 && s.dynNano > math.MaxInt64-c) || (c < 0 && s.dynNano < math.MinInt64-c) {
				return fmt.Errorf("dynamic energy cost overflows at %s", at.In(loc).Format(time.RFC3339))
			}
			s.dynNano += c
		}
		if s.t.Tiers != nil {
			s.addTiers(billed, iqf, imiss)
		}
		if len(s.demand) > 0 {
			if gLeft == 0 {
				gWh, gQ, gAt, gPeriod, gLeft = 0, quality{}, i, j, group
			}
			gWh += iv
			gQ.add(iqf, imiss)
			if gLeft--; gLeft == 0 || i == n-1 {
				gLeft = 0
				var wDemand int64
				if group > 1 || step == quarter {
					wDemand = gWh * int64(time.Hour/quarter)
				} else {
					wDemand = gWh * int64(time.Hour/time.Second) / int64(step/time.Second)
				}
				for c, d := range s.demand {
					if !prof.window[c][gPeriod] {
						continue
					}
					if !d.seen || wDemand > d.w {
						d.w, d.at, d.q, d.seen = wDemand, start.Add(time.Duration(gAt)*step), gQ, true
					}
				}
			}
		}
	}
	if missing > 0 {
		w.missing = append(w.missing, fmt.Sprintf("import %s: %d of %d intervals missing", date, missing, n))
	}
	return nil
}

func (s *span) bucket(key, name string, price int64, reg int) *bucket {
	b := s.byKey[key]
	if b != nil && b.price != price {
		// One name at two prices (different day types) is two buckets.
		key = fmt.Sprintf("%s@%d", key, price)
		b = s.byKey[key]
	}
	if b == nil {
		b = &bucket{key: key, name: name, price: price, register: reg}
		s.byKey[key] = b
		s.buckets = append(s.buckets, b)
	}
	return b
}

// addTiers splits e Wh over the blocks from the running total on.
func (s *span) addTiers(e int64, f cim.Quality, missing bool) {
	// Most intervals stay in the block the last one ended in.
	if j := s.curTier; s.tierLims[j] == 0 || s.tierCum+e < s.tierLims[j] {
		s.tiers[j].wh += e
		s.tiers[j].q.add(f, missing)
		s.tierCum += e
		return
	}
	touched := false
	for j := range s.tiers {
		lim := s.tierLims[j]
		if lim != 0 && s.tierCum >= lim {
			continue
		}
		take := e
		if lim != 0 {
			take = min(e, lim-s.tierCum)
		}
		if take > 0 || !touched {
			s.tiers[j].wh += take
			s.tiers[j].q.add(f, missing)
			touched = true
		}
		s.tierCum += take
		s.curTier = j
		e -= take
		if e <= 0 {
			return
		}
	}
}

func (w *walker) inEvent(at time.Time) bool {
	for _, e := range w.in.CriticalPeaks {
		if !at.Before(e.Start) && at.Before(e.End) {
			return true
		}
	}
	return false
}
