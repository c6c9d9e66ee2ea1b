package dr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// HistoryDays is how far back settlement reads a participant's days for
// its baseline.
const HistoryDays = 45

// PaymentRounding states how a payment is rounded: reduction in Wh times
// the incentive per kWh, divided by 1000, half up to a whole minor unit.
const PaymentRounding = "half-up to 1 minor unit"

// Statuses of a participant's result.
const (
	ResultSettled    = "settled"     // measured and paid
	ResultOptedOut   = "opted-out"   // settled at zero
	ResultNoData     = "no-data"     // the event day is not stored: nothing paid yet
	ResultNoBaseline = "no-baseline" // too few eligible days: nothing paid
)

// Result is one participant's measurement and settlement in an event.
type Result struct {
	UsagePointID string `json:"usagePointId"`
	MeterID      string `json:"meterId"`
	Status       string `json:"status"`
	// Start and End are the participant's own window, over which
	// baseline, actual and reduction are summed.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Method, Days and Adjustment are the baseline's.
	Method     string     `json:"method,omitempty"`
	Days       []cim.Date `json:"days,omitempty"`
	Adjustment float64    `json:"adjustment,omitempty"`
	BaselineWh int64      `json:"baselineWh"`
	ActualWh   int64      `json:"actualWh"`
	// ReductionWh is baseline − actual; negative when the load rose.
	ReductionWh int64 `json:"reductionWh"`
	// Missing counts the actual intervals in the window that were missing
	// (they count as no reduction); Estimated those estimated.
	Missing   int `json:"missing,omitempty"`
	Estimated int `json:"estimated,omitempty"`
	// Payment in minor units: 0 for a rise, an opt-out or no data.
	Payment int64  `json:"payment"`
	Note    string `json:"note,omitempty"`
}

// Results are an event's measurement and verification, participant by
// participant, and its totals.
type Results struct {
	EventID      string   `json:"eventId"`
	ProgramID    string   `json:"programId"`
	Status       string   `json:"status"`
	Currency     string   `json:"currency"`
	Incentive    int64    `json:"incentive"`
	Rounding     string   `json:"rounding"`
	Participants int      `json:"participants"`
	OptedOut     int      `json:"optedOut"`
	Settled      int      `json:"settled"`
	ReductionWh  int64    `json:"reductionWh"`
	Payment      int64    `json:"payment"`
	Results      []Result `json:"results"`
}

// Payment is reduction × incentive: Wh × minor units per kWh / 1000, half
// up; a rise in load is paid nothing, not charged.
func Payment(reductionWh, incentive int64) int64 {
	if reductionWh <= 0 || incentive <= 0 {
		return 0
	}
	return divRound(reductionWh*incentive, 1000)
}

// Results measures an event: per participant, the baseline by the
// program's method from the stored days (the latest version of each), the
// actual over the participant's own window, the reduction and the
// payment. Earlier events of the program and the region's holidays are
// not like days.
func (s *Service) Results(ctx context.Context, eventID string) (Results, error) {
	e, err := s.Event(ctx, eventID)
	if err != nil {
		return Results{}, err
	}
	p, err := s.Program(ctx, e.ProgramID)
	if err != nil {
		return Results{}, err
	}
	parts, err := s.Participations(ctx, eventID)
	if err != nil {
		return Results{}, err
	}
	rs := Results{EventID: e.ID, ProgramID: p.ID, Status: e.Status, Currency: p.Currency, Incentive: p.Incentive,
		Rounding: PaymentRounding, Participants: len(parts), Results: make([]Result, 0, len(parts))}
	earlier, err := s.st.DREvents(ctx, store.DREventQuery{ProgramID: p.ID, From: e.Start.AddDate(0, 0, -HistoryDays-2), Until: e.Start})
	if err != nil {
		return rs, err
	}
	temps := map[string]map[cim.Date]float64{}
	for _, pt := range parts {
		r, err := s.result(ctx, p, e, pt, earlier, temps)
		if err != nil {
			return rs, fmt.Errorf("event %s, usage point %s, meter %s: %w", e.ID, pt.UsagePointID, pt.MeterID, err)
		}
		switch r.Status {
		case ResultOptedOut:
			rs.OptedOut++
		case ResultSettled:
			rs.Settled++
			rs.ReductionWh += r.ReductionWh
			rs.Payment += r.Payment
		}
		rs.Results = append(rs.Results, r)
	}
	return rs, nil
}

func (s *Service) result(ctx context.Context, p Program, e Event, pt Participation, earlier []store.DREvent, temps map[string]map[cim.Date]float64) (Result, error) {
	start, end := Window(e, pt)
	r := Result{UsagePointID: pt.UsagePointID, MeterID: pt.MeterID, Start: start, End: end}
	if pt.OptedOut() {
		r.Status, r.Note = ResultOptedOut, "opted out at "+pt.OptedOutAt.Format(time.RFC3339)
		return r, nil
	}
	if e.Status == StatusCancelled {
		r.Status, r.Note = ResultOptedOut, "event cancelled"
		return r, nil
	}
	loc := time.UTC
	region := ""
	if up, err := s.st.UsagePoint(ctx, pt.UsagePointID); err == nil && up.TimeZone != "" {
		if l, err := time.LoadLocation(up.TimeZone); err == nil {
			loc = l
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	if m, err := s.st.Meter(ctx, pt.MeterID); err == nil {
		region = m.Region
	} else if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	first, last := cim.DateOf(start, loc), cim.DateOf(end.Add(-time.Nanosecond), loc)
	days, err := s.st.Days(ctx, pt.MeterID, s.cfg.Channel, first.AddDays(-HistoryDays), last)
	if err != nil {
		return r, err
	}
	byDate := make(map[cim.Date]interval.Day, len(days))
	for _, d := range days {
		byDate[d.Date] = d
	}
	var exclude []cim.Date
	for _, x := range earlier {
		if x.ID != e.ID && x.Status != StatusCancelled {
			exclude = append(exclude, cim.DateOf(x.Start, loc))
		}
	}
	holidays := append(append([]cim.Date(nil), s.cfg.Holidays["*"]...), s.cfg.Holidays[region]...)
	var t map[cim.Date]float64
	if p.Baseline == MethodWeather {
		if t, err = s.temperatures(ctx, region, first.AddDays(-HistoryDays), last, loc, temps); err != nil {
			return r, err
		}
	}
	// A window across midnight is measured day by day.
	for d := first; !last.Before(d); d = d.AddDays(1) {
		day, ok := byDate[d]
		if !ok {
			r.Status, r.Note = ResultNoData, "no "+s.cfg.Channel+" day "+d.String()
			return r, nil
		}
		in := BaselineInput{Day: day, Start: start, End: end, Exclude: exclude, Temperatures: t, Holidays: holidays, Location: loc}
		for _, h := range days {
			if h.Date.Before(d) {
				in.History = append(in.History, h)
			}
		}
		var b Baseline
		switch p.Baseline {
		case MethodLikeDay:
			b, err = LikeDay(in)
		case MethodWeather:
			b, err = WeatherMatched(in)
		default:
			b, err = TenOfTen(in, p.Adjust)
		}
		if errors.Is(err, ErrNoBaseline) {
			r.Status, r.Note = ResultNoBaseline, err.Error()
			return r, nil
		}
		if err != nil {
			return r, err
		}
		r.Method, r.Days, r.Adjustment = b.Method, append(r.Days, b.Days...), b.Adjustment
		zero := Baseline{Values: make([]int64, len(day.Values))}
		r.BaselineWh += Reduction(b, withoutValues(day), start, end)
		r.ActualWh += -Reduction(zero, day, start, end)
		r.ReductionWh += Reduction(b, day, start, end)
		for i := range day.Values {
			if !day.End(i).After(start) || !day.Start.Add(time.Duration(i)*day.Interval).Before(end) {
				continue
			}
			switch {
			case missing(day, i):
				r.Missing++
			case i < len(day.Quality) && day.Quality[i]&cim.QualityEstimated != 0:
				r.Estimated++
			}
		}
	}
	r.Status = ResultSettled
	r.Payment = Payment(r.ReductionWh, p.Incentive)
	return r, nil
}

// withoutValues is the day with zero load and its quality kept, so that
// Reduction of a baseline against it is the baseline's own sum over the
// window where the actual was read.
func withoutValues(d interval.Day) interval.Day {
	d.Values = make([]int64, len(d.Values))
	return d
}

// temperatures are a region's daily mean temperatures over [from, to],
// each the mean of the latest observation in each quarter of the local
// day; cached per region for one settlement.
func (s *Service) temperatures(ctx context.Context, region string, from, to cim.Date, loc *time.Location, cache map[string]map[cim.Date]float64) (map[cim.Date]float64, error) {
	if t, ok := cache[region]; ok {
		return t, nil
	}
	t := map[cim.Date]float64{}
	for d := from; !to.Before(d); d = d.AddDays(1) {
		s0, s1 := d.Start(loc), d.AddDays(1).Start(loc)
		q := s1.Sub(s0) / 4
		var sum float64
		n := 0
		for i := 0; i < 4; i++ {
			o, err := s.st.LatestWeather(ctx, region, s0.Add(time.Duration(i)*q), s0.Add(time.Duration(i+1)*q-time.Nanosecond))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("weather of region %q on %s: %w", region, d, err)
			}
			sum += o.TemperatureC
			n++
		}
		if n > 0 {
			t[d] = sum / float64(n)
		}
	}
	cache[region] = t
	return t, nil
}
