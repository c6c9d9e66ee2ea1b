package mdm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/greenbutton"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// PortalStore is what the consumer portal reads: the usage point, the
// meters behind it and their stored days.
type PortalStore interface {
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
	Meters(ctx context.Context, q store.MeterQuery) ([]cim.Meter, error)
	Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error)
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error)
	RegisterReads(ctx context.Context, meterID, readingType string, from, to time.Time) ([]store.RegisterRead, error)
}

var (
	// ErrUnknownUsagePoint: the registry has no such usage point.
	ErrUnknownUsagePoint = errors.New("no such usage point")
	// ErrNoHouseholdMeter: the usage point has no electricity meter (gas
	// and water meters hang behind one on M-Bus, and are not shown alone).
	ErrNoHouseholdMeter = errors.New("no electricity meter at the usage point")
)

// Portal is what a household is shown of its own use: now, today against
// its typical day, the price in force, the month's use and cost so far,
// and its data to take away. Its clock is the caller's, since a simulated
// fleet runs faster than real time.
type Portal struct {
	Store PortalStore
	// Tariffs are the retail tariffs by id; a usage point naming none of
	// them is priced by tariff.Default.
	Tariffs map[string]tariff.Tariff
	// TariffOn, when set, names the tariff version a usage point is billed
	// on for a date (its account's assignment, as a bill run finds it), so
	// that the price shown is the price billed; ok false falls back to
	// Tariffs.
	TariffOn func(ctx context.Context, up cim.UsagePoint, on cim.Date) (t tariff.Tariff, ok bool, err error)
}

// Tariff returns the usage point's tariff, the default when it names none
// the server knows.
func (p *Portal) Tariff(up cim.UsagePoint) tariff.Tariff {
	if t, ok := p.Tariffs[up.TariffID]; ok {
		return t
	}
	return tariff.Default()
}

// Household returns a usage point and its electricity meter, the one the
// portal shows. A usage point not registered is ErrUnknownUsagePoint; one
// without an electricity meter is ErrNoHouseholdMeter, with the usage
// point returned.
func (p *Portal) Household(ctx context.Context, usagePointID string) (cim.UsagePoint, cim.Meter, error) {
	up, err := p.Store.UsagePoint(ctx, usagePointID)
	if errors.Is(err, store.ErrNotFound) {
		return up, cim.Meter{}, fmt.Errorf("mdm: usage point %s: %w", usagePointID, ErrUnknownUsagePoint)
	}
	if err != nil {
		return up, cim.Meter{}, fmt.Errorf("mdm: looking up usage point %s: %w", usagePointID, err)
	}
	ms, err := p.Store.Meters(ctx, store.MeterQuery{UsagePointID: up.MRID, Limit: 50})
	if err != nil {
		return up, cim.Meter{}, fmt.Errorf("mdm: meters of usage point %s: %w", up.MRID, err)
	}
	for _, m := range ms {
		if k := m.Kind; k == "" || strings.HasPrefix(k, "electricity") {
			return up, m, nil
		}
	}
	return up, cim.Meter{}, fmt.Errorf("mdm: usage point %s: %w", up.MRID, ErrNoHouseholdMeter)
}

// NowUse is the power of the latest interval read.
type NowUse struct {
	Watts float64   `json:"watts"`
	End   time.Time `json:"end"`
}

// TOUNow is the time-of-use price in force.
type TOUNow struct {
	Tariff   string    `json:"tariff"`
	Period   string    `json:"period"`
	Price    int64     `json:"price"` // millionths of the currency per kWh
	Currency string    `json:"currency"`
	Until    time.Time `json:"until"`
}

// MonthToDate is the use and its cost from the first of the month.
type MonthToDate struct {
	From cim.Date `json:"from"`
	Wh   int64    `json:"wh"`
	Cost int64    `json:"cost"` // millionths of the currency
	Days int      `json:"days"`
}

// DaySeries is a day's intervals as the portal draws them.
type DaySeries struct {
	Start    time.Time `json:"start"`
	Interval int       `json:"intervalSeconds"`
	// Values are Wh per interval; null where nothing was read (yet).
	Values []*int64 `json:"values"`
}

// Summary is what an in-home display shows.
type Summary struct {
	UsagePoint   string      `json:"usagePoint"`
	Meter        string      `json:"meter"`
	TimeZone     string      `json:"timeZone"`
	Now          *NowUse     `json:"now"`
	Today        DaySeries   `json:"today"`
	Typical      []*float64  `json:"typical"`
	TypicalDays  int         `json:"typicalDays"`
	Weekday      string      `json:"weekday"`
	TodaySoFar   int64       `json:"todaySoFar"`
	TypicalSoFar float64     `json:"typicalSoFar"`
	TOU          TOUNow      `json:"tou"`
	MonthToDate  MonthToDate `json:"monthToDate"`
	// Volumes are the gas and water meters of the household: those
	// behind its meter on M-Bus, and any at its usage point.
	Volumes []Volume `json:"volumes"`
}

// Volume is a gas or water meter as the portal shows it: its volume on
// each of the last days, and its latest index.
type Volume struct {
	Meter      string      `json:"meter"`
	Kind       string      `json:"kind"`
	UsagePoint string      `json:"usagePoint,omitempty"`
	Days       []VolumeDay `json:"days"`
	Last       *VolumeRead `json:"last"`
}

// VolumeDay is one local day's volume; Complete when every interval of
// it is there (read or estimated), Source the version's ("meter",
// "estimate", "edit").
type VolumeDay struct {
	Date     cim.Date `json:"date"`
	M3       float64  `json:"m3"`
	Complete bool     `json:"complete"`
	Source   string   `json:"source"`
}

// VolumeRead is a meter's index as read, in m³.
type VolumeRead struct {
	M3 float64   `json:"m3"`
	At time.Time `json:"at"`
}

// volumeDays is how many days, today included, the portal shows of each
// gas and water meter.
const volumeDays = 7

// volumeMultipliers are those a gas or water meter's hourly volumes
// ("G60me-3") and index ("Ge-3") may be kept at: a meter counting in
// litres, tens or hundreds of litres, or m³.
var volumeMultipliers = []int{-3, -2, -1, 0}

func volumeID(kind string) string {
	if kind == "water" {
		return "W"
	}
	return "G"
}

func multiplied(mult int) string {
	if mult == 0 {
		return ""
	}
	return "e" + strconv.Itoa(mult)
}

// scaled is v at 10^mult: divided for a negative multiplier, so 1234
// litres are 1.234 m³ exactly as a decimal reads, not 1.2340000000000002.
func scaled(v int64, mult int) float64 {
	if mult < 0 {
		return float64(v) / math.Pow10(-mult)
	}
	return float64(v) * math.Pow10(mult)
}

// Volumes returns the gas and water meters of the household whose meter
// is m at usage point up, with their last days to today and their latest
// index.
func (p *Portal) Volumes(ctx context.Context, up cim.UsagePoint, m cim.Meter, today cim.Date, now time.Time) ([]Volume, error) {
	behind, err := p.Store.Meters(ctx, store.MeterQuery{Parent: m.MRID, Limit: 16})
	if err != nil {
		return nil, fmt.Errorf("mdm: meters behind meter %s: %w", m.MRID, err)
	}
	here, err := p.Store.Meters(ctx, store.MeterQuery{UsagePointID: up.MRID, Limit: 50})
	if err != nil {
		return nil, fmt.Errorf("mdm: meters of usage point %s: %w", up.MRID, err)
	}
	out := []Volume{}
	seen := map[string]bool{}
	for _, sm := range append(behind, here...) {
		if (sm.Kind != "gas" && sm.Kind != "water") || seen[sm.MRID] || sm.Status == "removed" {
			continue
		}
		seen[sm.MRID] = true
		v := Volume{Meter: sm.MRID, Kind: sm.Kind, UsagePoint: sm.UsagePointID, Days: []VolumeDay{}}
		id := volumeID(sm.Kind)
		for _, mult := range volumeMultipliers {
			ch := id + "60m" + multiplied(mult)
			days, err := p.Store.Days(ctx, sm.MRID, ch, today.AddDays(-volumeDays+1), today)
			if err != nil {
				return nil, fmt.Errorf("mdm: meter %s channel %s: %w", sm.MRID, ch, err)
			}
			if len(days) == 0 {
				continue
			}
			for _, d := range days {
				vd := VolumeDay{Date: d.Date, Complete: true, Source: string(d.Source)}
				var sum int64
				for i, x := range d.Values {
					if d.Quality[i]&cim.QualityMissing != 0 {
						vd.Complete = false
						continue
					}
					sum += x
				}
				vd.M3 = scaled(sum, mult)
				v.Days = append(v.Days, vd)
			}
			break
		}
		for _, mult := range volumeMultipliers {
			rt := id + multiplied(mult)
			reads, err := p.Store.RegisterReads(ctx, sm.MRID, rt, now.AddDate(0, 0, -volumeDays), now.Add(time.Hour))
			if err != nil {
				return nil, fmt.Errorf("mdm: meter %s register %s: %w", sm.MRID, rt, err)
			}
			if len(reads) > 0 {
				last := reads[len(reads)-1]
				v.Last = &VolumeRead{M3: scaled(last.Value, mult), At: last.TimeStamp}
				break
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// Summary is a household's use at now: use now, today against the
// typical same weekday of the last four weeks, the price in force and the
// month so far. The usage point is found as Household finds it.
func (p *Portal) Summary(ctx context.Context, usagePointID string, now time.Time) (Summary, error) {
	up, m, err := p.Household(ctx, usagePointID)
	if err != nil {
		return Summary{}, err
	}
	loc, err := up.Location()
	if err != nil {
		return Summary{}, fmt.Errorf("mdm: usage point %s: %w", up.MRID, err)
	}
	today := cim.DateOf(now, loc)
	ch := cim.EnergyImport15m.ID
	step := cim.EnergyImport15m.Interval
	n := today.Intervals(loc, step)
	out := Summary{UsagePoint: up.MRID, Meter: m.MRID, TimeZone: loc.String(), Weekday: today.Start(loc).Weekday().String(),
		Today: DaySeries{Start: today.Start(loc), Interval: int(step / time.Second), Values: make([]*int64, n)}}

	d, err := p.Store.Day(ctx, m.MRID, ch, today)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, fmt.Errorf("mdm: meter %s channel %s %s: %w", m.MRID, ch, today, err)
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
		out.Now = &NowUse{Watts: float64(*out.Today.Values[last]) * float64(time.Hour) / float64(step), End: d.End(last)}
	}

	if out.Typical, out.TypicalDays, err = p.Baseline(ctx, m.MRID, today, loc); err != nil {
		return out, err
	}
	for i, v := range out.Typical {
		if v != nil && i <= last {
			out.TypicalSoFar += *v
		}
	}

	t := p.Tariff(up)
	if p.TariffOn != nil {
		bt, ok, err := p.TariffOn(ctx, up, today)
		if err != nil {
			return out, fmt.Errorf("mdm: tariff of usage point %s on %s: %w", up.MRID, today, err)
		}
		if ok {
			t = bt
		}
	}
	pr, until := t.At(now, loc)
	out.TOU = TOUNow{Tariff: t.Name, Period: pr.Name, Price: pr.Price, Currency: t.Currency, Until: until}

	if out.MonthToDate, err = p.MonthToDate(ctx, m.MRID, t, today, loc); err != nil {
		return out, err
	}
	out.Volumes, err = p.Volumes(ctx, up, m, today, now)
	return out, err
}

// baselineWeeks is how many past same weekdays make a typical day.
const baselineWeeks = 4

// Baseline is a meter's typical day for date: each quarter hour's mean
// imported energy over the same weekday of the four weeks before, of the
// complete days of the same length only (a DST day does not line up with
// an ordinary one, and a gap would drag the mean down). It returns one
// value per interval of date, all nil when no such day was found, and how
// many days the means are over.
func (p *Portal) Baseline(ctx context.Context, meterID string, date cim.Date, loc *time.Location) ([]*float64, int, error) {
	ch := cim.EnergyImport15m.ID
	n := date.Intervals(loc, cim.EnergyImport15m.Interval)
	typical := make([]*float64, n)
	hist, err := p.Store.Days(ctx, meterID, ch, date.AddDays(-7*baselineWeeks), date.AddDays(-1))
	if err != nil {
		return typical, 0, fmt.Errorf("mdm: meter %s channel %s: the weeks before %s: %w", meterID, ch, date, err)
	}
	weekday := date.Start(loc).Weekday()
	sums := make([]float64, n)
	days := 0
	for _, h := range hist {
		if h.Start.In(loc).Weekday() != weekday || len(h.Values) != n {
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
		days++
		for i, v := range h.Values {
			sums[i] += float64(v)
		}
	}
	if days > 0 {
		for i := range sums {
			v := sums[i] / float64(days)
			typical[i] = &v
		}
	}
	return typical, days, nil
}

// MonthToDate is a meter's imported energy and its cost under t from the
// first of date's month through date; missing intervals count as nothing.
func (p *Portal) MonthToDate(ctx context.Context, meterID string, t tariff.Tariff, date cim.Date, loc *time.Location) (MonthToDate, error) {
	ch := cim.EnergyImport15m.ID
	first := cim.Date{Year: date.Year, Month: date.Month, Day: 1}
	out := MonthToDate{From: first}
	month, err := p.Store.Days(ctx, meterID, ch, first, date)
	if err != nil {
		return out, fmt.Errorf("mdm: meter %s channel %s %s..%s: %w", meterID, ch, first, date, err)
	}
	for _, md := range month {
		vals := make([]int64, len(md.Values))
		for i, v := range md.Values {
			if md.Quality[i]&cim.QualityMissing == 0 {
				vals[i] = v
				out.Wh += v
			}
		}
		out.Cost += t.Cost(md.Start, md.Interval, vals, cim.EnergyImport15m.Multiplier, loc)
		out.Days++
	}
	return out, nil
}

// Export gathers a household's interval data in [from, to] for Green
// Button: imported energy always, exported energy where the meter has
// any. The caller names the document (Self) and its time.
func (p *Portal) Export(ctx context.Context, usagePointID string, from, to cim.Date) (greenbutton.Export, error) {
	up, m, err := p.Household(ctx, usagePointID)
	if err != nil {
		return greenbutton.Export{}, err
	}
	e := greenbutton.Export{UsagePoint: up}
	for _, rt := range []cim.ReadingType{cim.EnergyImport15m, cim.EnergyExport15m} {
		days, err := p.Store.Days(ctx, m.MRID, rt.ID, from, to)
		if err != nil {
			return e, fmt.Errorf("mdm: meter %s channel %s %s..%s: %w", m.MRID, rt.ID, from, to, err)
		}
		if len(days) > 0 || rt.ID == cim.EnergyImport15m.ID {
			e.Channels = append(e.Channels, greenbutton.Channel{ReadingType: rt, Days: days})
		}
	}
	return e, nil
}
