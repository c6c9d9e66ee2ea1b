package billing

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

// Period is a billing period, [From, To) in local dates of the usage point.
type Period struct {
	From cim.Date `json:"from"`
	To   cim.Date `json:"to"`
}

// Days returns the number of local days in the period.
func (p Period) Days() int { return daysBetween(p.From, p.To) }

// Spans returns the versions of one tariff in force over p, each from its
// EffectiveFrom until the next version's, as Input.Tariffs wants them. A
// period starting before the first version is an error.
func Spans(versions []tariff.Tariff, p Period) ([]TariffSpan, error) {
	vs := slices.Clone(versions)
	slices.SortStableFunc(vs, func(a, b tariff.Tariff) int {
		if c := dateOrd(a.EffectiveFrom) - dateOrd(b.EffectiveFrom); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	var out []TariffSpan
	for i, v := range vs {
		to := p.To
		if i+1 < len(vs) && before(vs[i+1].EffectiveFrom, to) {
			to = vs[i+1].EffectiveFrom
		}
		from := v.EffectiveFrom
		if before(from, p.From) {
			from = p.From
		}
		if !before(from, to) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == from && out[n-1].Tariff.EffectiveFrom == v.EffectiveFrom {
			out[n-1] = TariffSpan{Tariff: v, From: out[n-1].From, To: to} // a later version of the same date replaces it
			continue
		}
		out = append(out, TariffSpan{Tariff: v, From: from, To: to})
	}
	if len(out) == 0 || out[0].From != p.From {
		id := ""
		if len(versions) > 0 {
			id = versions[0].ID
		}
		return nil, fmt.Errorf("tariff %q: no version in force on %s", id, p.From)
	}
	return out, nil
}

// TariffSpan is a tariff version in force over [From, To) of a period.
type TariffSpan struct {
	Tariff tariff.Tariff `json:"tariff"`
	From   cim.Date      `json:"from"`
	To     cim.Date      `json:"to"`
}

// CriticalPeak is an event declared for the tariff: energy in intervals
// starting in [Start, End) is priced by the tariff's critical peak.
type CriticalPeak struct {
	EventID string    `json:"event_id,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// HourPrice is one hour of a dynamic price feed, in millionths of the
// currency per kWh, for the hour starting at Start.
type HourPrice struct {
	Start time.Time `json:"start"`
	Price int64     `json:"price"`
}

// What a bill does about missing intervals (Policy.Missing).
const (
	// MissingEstimate: the run had the MDM estimate the days first, so
	// the engine sees estimated intervals; any still missing hold the bill.
	MissingEstimate = "estimate"
	MissingHold     = "hold" // the bill is held
	MissingFlag     = "flag" // the bill is ready to send but flagged
)

// Bill statuses.
const (
	StatusReady   = "ready"
	StatusHeld    = "held"
	StatusFlagged = "flagged"
)

// Policy says how data quality affects a bill. A day with missing
// intervals never bills zero silently: the bill is held or flagged.
type Policy struct {
	// Missing is MissingEstimate, MissingHold or MissingFlag; empty is hold.
	Missing string `json:"missing"`
	// MaxEstimatedPermille holds a bill whose share of estimated import
	// intervals is above it (in ‰); zero: no limit.
	MaxEstimatedPermille int `json:"max_estimated_permille,omitempty"`
	// EstimatedDemand is what a billed demand from an estimated interval
	// does: "" (nothing), MissingFlag or MissingHold.
	EstimatedDemand string `json:"estimated_demand,omitempty"`
}

// Input is everything one bill is computed from; the engine does no I/O.
type Input struct {
	AccountID, UsagePointID string
	Location                *time.Location
	Period                  Period
	// Tariffs are the versions in force, covering the period without gaps.
	Tariffs []TariffSpan
	// Import and Export are the latest version of each day (channels
	// "A+15m" and "A-15m"); Export is empty without generation.
	Import, Export []interval.Day
	// Holidays are the dates of the tariff's region.
	Holidays      []cim.Date
	CriticalPeaks []CriticalPeak
	// Prices is the dynamic price feed over the period.
	Prices []HourPrice
	// CarryIn is export credit carried in from the last bill, minor units.
	CarryIn int64
	// Ratchet is the ratchet's reference demand in W (the highest demand
	// of the months the tariff's ratchet looks back over).
	Ratchet int64
	Policy  Policy
	// memo shares tariff day schedules between the bills of a run.
	memo *dayMemo
}

// Line is one charge of a bill. Amount is in minor units of the currency,
// rounded from the exact product as Rounding states; a bill's total is the
// sum of its lines' amounts.
type Line struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	// Quantity is in Unit: "Wh", "W", "day", "bill" or, for taxes and
	// credits, "minor" (minor units of the currency).
	Quantity int64  `json:"quantity"`
	Unit     string `json:"unit"`
	// Rate is in RateUnit: millionths of the currency per kWh, per kW,
	// per day or per bill; basis points for taxes.
	Rate     int64  `json:"rate"`
	RateUnit string `json:"rate_unit"`
	Amount   int64  `json:"amount"`
	Rounding string `json:"rounding"`
	// Tariff is "id@version" of the tariff the line was priced by, and
	// From/To the span of the period it covers.
	Tariff string   `json:"tariff,omitempty"`
	From   cim.Date `json:"from"`
	To     cim.Date `json:"to"`
}

// Determinant kinds.
const (
	KindEnergy = "energy" // Wh in a bucket (and tier) of a channel
	KindDemand = "demand" // W, the highest 15-minute demand in a window
	KindNet    = "net"    // Wh, import less export under the netting rule
)

// Determinant is one measured quantity a bill is priced from, with the
// quality of the intervals behind it.
type Determinant struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Channel string `json:"channel"`
	Bucket  string `json:"bucket,omitempty"`
	Tier    int    `json:"tier,omitempty"`
	// Register is the meter register (1..4) a TOU bucket maps to, so the
	// meters' TOU registers can be checked against the buckets.
	Register int      `json:"register,omitempty"`
	From     cim.Date `json:"from"`
	To       cim.Date `json:"to"`
	Value    int64    `json:"value"`
	Unit     string   `json:"unit"`
	// At is, for demand, the start of the interval the maximum is from.
	At        time.Time `json:"at,omitzero"`
	Intervals int       `json:"intervals"`
	Estimated int       `json:"estimated"`
	Edited    int       `json:"edited"`
	Missing   int       `json:"missing"`
}

// DataVersion is one stored day a bill used; a bill is stale when any of
// them is no longer the latest version of its day.
type DataVersion struct {
	MeterID string   `json:"meter_id"`
	Channel string   `json:"channel"`
	Date    cim.Date `json:"date"`
	Version int      `json:"version"`
}

// Bill is a computed bill.
type Bill struct {
	AccountID    string        `json:"account_id"`
	UsagePointID string        `json:"usage_point_id"`
	Currency     string        `json:"currency"`
	Period       Period        `json:"period"`
	Lines        []Line        `json:"lines"`
	Determinants []Determinant `json:"determinants"`
	DataVersions []DataVersion `json:"data_versions"`
	Total        int64         `json:"total"`
	Status       string        `json:"status"`
	Flags        []string      `json:"flags,omitempty"`
	// CarryOut is the export credit carried to the next bill, minor units.
	CarryOut int64 `json:"carry_out"`
}

// Compute makes the bill of in: it walks every interval of every local
// day of the period under the tariff version in force that day, gathers
// the determinants, prices them as lines in minor units and applies the
// policy. It fails, naming what and where, on input it cannot bill
// honestly (no tariff for a day, a missing dynamic price, days of
// different shapes); missing data does not fail, it holds or flags.
func Compute(in Input) (Bill, error) {
	where := fmt.Sprintf("bill of account %s, usage point %s, %s to %s", in.AccountID, in.UsagePointID, in.Period.From, in.Period.To)
	if in.Location == nil {
		return Bill{}, fmt.Errorf("%s: no time zone", where)
	}
	if !before(in.Period.From, in.Period.To) {
		return Bill{}, fmt.Errorf("%s: the period is empty", where)
	}
	spans, err := clipSpans(in.Tariffs, in.Period)
	if err != nil {
		return Bill{}, fmt.Errorf("%s: %w", where, err)
	}
	w := &walker{in: in}
	if w.imp, err = indexDays(in.Import, "import", in.Period); err != nil {
		return Bill{}, fmt.Errorf("%s: %w", where, err)
	}
	if w.exp, err = indexDays(in.Export, "export", in.Period); err != nil {
		return Bill{}, fmt.Errorf("%s: %w", where, err)
	}
	if len(in.Prices) > 0 {
		w.prices = make(map[int64]int64, len(in.Prices))
		for _, p := range in.Prices {
			w.prices[p.Start.Unix()] = p.Price
		}
	}
	bill := Bill{AccountID: in.AccountID, UsagePointID: in.UsagePointID, Currency: spans[0].t.Currency, Period: in.Period, Status: StatusReady}
	periodDays := int64(in.Period.Days())
	for _, s := range spans {
		if s.t.Currency != bill.Currency {
			return Bill{}, fmt.Errorf("%s: tariff %s@%d is in %s, the bill in %s", where, s.t.ID, s.t.Version, s.t.Currency, bill.Currency)
		}
		for d := s.from; before(d, s.to); d = d.AddDays(1) {
			if err := w.walkDay(s, d); err != nil {
				return Bill{}, fmt.Errorf("%s: %w", where, err)
			}
		}
		s.net()
		bill.Determinants = append(bill.Determinants, s.determinants()...)
		bill.Lines = append(bill.Lines, s.lines(in, periodDays)...)
		if s.err != nil {
			return Bill{}, fmt.Errorf("%s: %w", where, s.err)
		}
	}
	bill.DataVersions = w.versions
	slices.SortStableFunc(bill.DataVersions, func(a, b DataVersion) int {
		if a.Channel != b.Channel {
			return strings.Compare(a.Channel, b.Channel)
		}
		return dateOrd(a.Date) - dateOrd(b.Date)
	})
	bill.Lines, bill.CarryOut = carry(bill.Lines, in, spans[len(spans)-1].t, bill.Currency)
	for _, l := range bill.Lines {
		bill.Total += l.Amount
	}
	applyPolicy(&bill, in.Policy, w, spans)
	return bill, nil
}

// clipSpans orders the tariff spans and cuts them to the period; they
// must cover it without gaps or overlaps.
func clipSpans(ts []TariffSpan, p Period) ([]*span, error) {
	if len(ts) == 0 {
		return nil, errors.New("no tariff")
	}
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b TariffSpan) int { return dateOrd(a.From) - dateOrd(b.From) })
	var out []*span
	at := p.From
	for _, t := range sorted {
		from, to := t.From, t.To
		if !to.IsZero() && !before(p.From, to) {
			continue // ends before the period
		}
		if !before(from, p.To) {
			continue // starts after it
		}
		if before(from, at) {
			if len(out) > 0 {
				return nil, fmt.Errorf("tariffs %s@%d and %s@%d overlap on %s", out[len(out)-1].t.ID, out[len(out)-1].t.Version, t.Tariff.ID, t.Tariff.Version, from)
			}
			from = at
		}
		if from != at {
			return nil, fmt.Errorf("no tariff in force from %s to %s", at, from)
		}
		if to.IsZero() || before(p.To, to) {
			to = p.To
		}
		if err := t.Tariff.Validate(); err != nil {
			return nil, err
		}
		s := &span{t: t.Tariff, from: from, to: to, days: daysBetween(from, to), byKey: map[string]*bucket{}}
		if tr := s.t.Tiers; tr != nil {
			std := int64(tr.StandardDays)
			if std == 0 {
				std = 30
			}
			s.tiers = make([]tierAcc, len(tr.Blocks))
			for _, b := range tr.Blocks {
				lim := b.UpToWh
				if tr.Basis == "period" && lim != 0 {
					lim, _ = mulRound(std, lim, int64(s.days))
				}
				s.tierLims = append(s.tierLims, lim)
			}
		}
		for _, d := range s.t.Demand {
			s.demand = append(s.demand, &demandAcc{charge: d})
		}
		out = append(out, s)
		at = to
	}
	if at != p.To {
		return nil, fmt.Errorf("no tariff in force from %s to %s", at, p.To)
	}
	return out, nil
}

// applyPolicy sets the bill's status from the quality of its data.
func applyPolicy(b *Bill, p Policy, w *walker, spans []*span) {
	held, flagged := false, false
	if len(w.missing) > 0 {
		if p.Missing == MissingFlag {
			flagged = true
		} else {
			held = true
		}
		b.Flags = append(b.Flags, w.missing...)
		if p.Missing == MissingEstimate {
			b.Flags = append(b.Flags, "intervals still missing after estimation")
		}
	}
	if p.MaxEstimatedPermille > 0 && w.impQ.intervals > 0 &&
		int64(w.impQ.estimated)*1000 > int64(p.MaxEstimatedPermille)*int64(w.impQ.intervals) {
		held = true
		b.Flags = append(b.Flags, fmt.Sprintf("%d of %d import intervals estimated, above %d ‰", w.impQ.estimated, w.impQ.intervals, p.MaxEstimatedPermille))
	}
	if p.EstimatedDemand != "" {
		for _, s := range spans {
			for _, d := range s.demand {
				if d.seen && d.q.estimated > 0 && d.w >= ratchetW(d.charge, w.in.Ratchet) {
					b.Flags = append(b.Flags, fmt.Sprintf("demand %s: the maximum %d W at %s is from an estimated interval", d.charge.Code, d.w, d.at.In(w.in.Location).Format(time.RFC3339)))
					if p.EstimatedDemand == MissingHold {
						held = true
					} else {
						flagged = true
					}
				}
			}
		}
	}
	switch {
	case held:
		b.Status = StatusHeld
	case flagged:
		b.Status = StatusFlagged
	}
}

// dateOrd orders dates as integers; cim.Date.Before formats strings.
func dateOrd(d cim.Date) int { return d.Year*10000 + int(d.Month)*100 + d.Day }

func before(a, b cim.Date) bool { return dateOrd(a) < dateOrd(b) }

func daysBetween(from, to cim.Date) int {
	a := time.Date(from.Year, from.Month, from.Day, 12, 0, 0, 0, time.UTC)
	b := time.Date(to.Year, to.Month, to.Day, 12, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()+12) / 24
}
