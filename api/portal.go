package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// now is the clock of the data: the head-end's, which a simulated fleet
// runs faster than real time.
func (a *API) now() time.Time {
	if a.d.HeadEnd != nil {
		return a.d.HeadEnd.Now()
	}
	return time.Now()
}

// tariffOf returns the usage point's tariff, the default when it names
// none the server knows.
func (a *API) tariffOf(up cim.UsagePoint) tariff.Tariff {
	if t, ok := a.d.Tariffs[up.TariffID]; ok {
		return t
	}
	return tariff.Default()
}

// householdMeter answers for the {id} usage point and its electricity
// meter (the one the portal shows; gas and water meters hang behind it on
// M-Bus), or writes the 404 or 500 and returns false.
func (a *API) householdMeter(w http.ResponseWriter, r *http.Request) (cim.UsagePoint, cim.Meter, bool) {
	up, err := a.d.Store.UsagePoint(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no usage point "+r.PathValue("id"))
		return up, cim.Meter{}, false
	}
	if err != nil {
		a.internal(w, r, err)
		return up, cim.Meter{}, false
	}
	ms, err := a.d.Store.Meters(r.Context(), store.MeterQuery{UsagePointID: up.MRID, Limit: 50})
	if err != nil {
		a.internal(w, r, err)
		return up, cim.Meter{}, false
	}
	for _, m := range ms {
		if k, _ := m.Label("kind"); k == "" || strings.HasPrefix(k, "electricity") {
			return up, m, true
		}
	}
	Error(w, http.StatusNotFound, "not_found", "no electricity meter at usage point "+up.MRID)
	return up, cim.Meter{}, false
}

type nowUse struct {
	Watts float64   `json:"watts"`
	End   time.Time `json:"end"`
}

type touNow struct {
	Tariff   string    `json:"tariff"`
	Period   string    `json:"period"`
	Price    int64     `json:"price"` // millionths of the currency per kWh
	Currency string    `json:"currency"`
	Until    time.Time `json:"until"`
}

type monthToDate struct {
	From cim.Date `json:"from"`
	Wh   int64    `json:"wh"`
	Cost int64    `json:"cost"` // millionths of the currency
	Days int      `json:"days"`
}

type daySeries struct {
	Start    time.Time `json:"start"`
	Interval int       `json:"intervalSeconds"`
	// Values are Wh per interval; null where nothing was read (yet).
	Values []*int64 `json:"values"`
}

type summary struct {
	UsagePoint   string      `json:"usagePoint"`
	Meter        string      `json:"meter"`
	TimeZone     string      `json:"timeZone"`
	Now          *nowUse     `json:"now"`
	Today        daySeries   `json:"today"`
	Typical      []*float64  `json:"typical"`
	TypicalDays  int         `json:"typicalDays"`
	Weekday      string      `json:"weekday"`
	TodaySoFar   int64       `json:"todaySoFar"`
	TypicalSoFar float64     `json:"typicalSoFar"`
	TOU          touNow      `json:"tou"`
	MonthToDate  monthToDate `json:"monthToDate"`
}

// usagePointSummary is what an in-home display shows: use now, today
// against the typical same weekday of the last four weeks, the price in
// force and the month so far.
func (a *API) usagePointSummary(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	ctx := r.Context()
	up, m, ok := a.householdMeter(w, r)
	if !ok {
		return
	}
	loc, err := up.Location()
	if err != nil {
		a.internal(w, r, err)
		return
	}
	now := a.now()
	today := cim.DateOf(now, loc)
	ch := cim.EnergyImport15m.ID
	step := cim.EnergyImport15m.Interval
	n := today.Intervals(loc, step)
	out := summary{UsagePoint: up.MRID, Meter: m.MRID, TimeZone: loc.String(), Weekday: today.Start(loc).Weekday().String(),
		Today: daySeries{Start: today.Start(loc), Interval: int(step / time.Second), Values: make([]*int64, n)}, Typical: make([]*float64, n)}

	d, err := a.d.Store.Day(ctx, m.MRID, ch, today)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.internal(w, r, err)
		return
	}
	last := -1
	if err == nil && len(d.Values) == n {
		for i, v := range d.Values {
			if d.Quality[i]&cim.QualityMissing != 0 || d.End(i).After(now) {
				continue
			}
			out.Today.Values[i] = &v
			out.TodaySoFar += v
			last = i
		}
	}
	if last >= 0 {
		out.Now = &nowUse{Watts: float64(*out.Today.Values[last]) * float64(time.Hour) / float64(step), End: d.End(last)}
	}

	// Typical: each interval's mean over the same weekday of the last four
	// weeks, complete days of the same length only (a DST day does not
	// line up with an ordinary one).
	hist, err := a.d.Store.Days(ctx, m.MRID, ch, today.AddDays(-28), today.AddDays(-1))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	sums := make([]float64, n)
	for _, h := range hist {
		if h.Start.In(loc).Weekday() != today.Start(loc).Weekday() || len(h.Values) != n {
			continue
		}
		complete := true
		for _, q := range h.Quality {
			if q&cim.QualityMissing != 0 {
				complete = false
			}
		}
		if !complete {
			continue
		}
		out.TypicalDays++
		for i, v := range h.Values {
			sums[i] += float64(v)
		}
	}
	if out.TypicalDays > 0 {
		for i := range sums {
			v := sums[i] / float64(out.TypicalDays)
			out.Typical[i] = &v
			if i <= last {
				out.TypicalSoFar += v
			}
		}
	}

	t := a.tariffOf(up)
	p, until := t.At(now, loc)
	out.TOU = touNow{Tariff: t.Name, Period: p.Name, Price: p.Price, Currency: t.Currency, Until: until}

	first := cim.Date{Year: today.Year, Month: today.Month, Day: 1}
	month, err := a.d.Store.Days(ctx, m.MRID, ch, first, today)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out.MonthToDate.From = first
	for _, md := range month {
		vals := make([]int64, len(md.Values))
		for i, v := range md.Values {
			if md.Quality[i]&cim.QualityMissing == 0 {
				vals[i] = v
				out.MonthToDate.Wh += v
			}
		}
		out.MonthToDate.Cost += t.Cost(md.Start, md.Interval, vals, cim.EnergyImport15m.Multiplier, loc)
		out.MonthToDate.Days++
	}
	JSON(w, out)
}
