// Package tariff owns retail tariffs as a utility files them: versions in
// force from a local date, seasons, day types and the region's holidays,
// time-of-use periods mapped to meter registers, block tiers, demand
// charges with a ratchet, fixed and daily charges, taxes, net metering,
// critical peak and dynamic prices; the price in force at an instant and
// the tariff's TOU as a neutral calendar for meters. It is pure: the
// billing engine gives it days and dates, it gives back prices. Prices
// are integers in millionths of the currency unit per kWh, so sums stay
// exact.
package tariff

import (
	"slices"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Tariff is one version of a retail tariff. Its TOU is either Seasons
// (seasons of day profiles by day type, each covering the whole day) or,
// when it has none, the simple form: Periods by weekday, the first that
// covers an instant applies, and Base where none does.
type Tariff struct {
	ID       string   `json:"id" yaml:"id"`
	Name     string   `json:"name" yaml:"name"`
	Currency string   `json:"currency" yaml:"currency"`
	Periods  []Period `json:"periods,omitempty" yaml:"periods"`
	// Base names the price outside every period.
	Base Period `json:"base" yaml:"base"`

	// Version numbers the versions of one tariff id; each is in force
	// from its EffectiveFrom (a local date of the usage point) until the
	// next version's.
	Version       int      `json:"version,omitempty" yaml:"version"`
	EffectiveFrom cim.Date `json:"effective_from,omitzero" yaml:"effective_from,omitempty"`
	// Region names the holiday calendar whose dates are holidays.
	Region string `json:"region,omitempty" yaml:"region"`

	Seasons      []Season       `json:"seasons,omitempty" yaml:"seasons"`
	Tiers        *Tiers         `json:"tiers,omitempty" yaml:"tiers"`
	Demand       []DemandCharge `json:"demand,omitempty" yaml:"demand"`
	Fixed        []Charge       `json:"fixed,omitempty" yaml:"fixed"`
	Daily        []Charge       `json:"daily,omitempty" yaml:"daily"`
	Taxes        []Tax          `json:"taxes,omitempty" yaml:"taxes"`
	NetMetering  *NetMetering   `json:"net_metering,omitempty" yaml:"net_metering"`
	CriticalPeak *CriticalPeak  `json:"critical_peak,omitempty" yaml:"critical_peak"`
	Dynamic      *Dynamic       `json:"dynamic,omitempty" yaml:"dynamic"`
}

// Period is a named price in force on some weekdays between two local
// times of day.
type Period struct {
	Name string `json:"name" yaml:"name"`
	// Days are the weekdays it applies (0 Sunday … 6 Saturday); empty:
	// every day.
	Days []time.Weekday `json:"days,omitempty" yaml:"days"`
	// From and To are minutes after local midnight; To may be 1440.
	From int `json:"from" yaml:"from"`
	To   int `json:"to" yaml:"to"`
	// Price is in millionths of the currency unit per kWh.
	Price int64 `json:"price" yaml:"price"`
	// Register is the meter register (1..4) the period maps to; zero
	// lets TOUCalendar number the periods in order, Base first.
	Register int `json:"register,omitempty" yaml:"register"`
}

// Default is the tariff of usage points that name none: a two-rate
// household tariff, peak on weekdays from 07:00 to 23:00.
func Default() Tariff {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	return Tariff{ID: "default-tou", Name: "Two-rate household", Currency: "EUR",
		Periods: []Period{{Name: "peak", Days: weekdays, From: 7 * 60, To: 23 * 60, Price: 320_000}},
		Base:    Period{Name: "off-peak", Price: 240_000}}
}

// At returns the period in force at t in loc, and when it ends (the next
// change of price, at most a day ahead).
func (t Tariff) At(at time.Time, loc *time.Location) (Period, time.Time) {
	lt := at.In(loc)
	p := t.period(lt)
	// Walk forward a minute at a time: periods are on minute
	// boundaries of the local day, and DST days are not 24 hours long.
	end := lt.Truncate(time.Minute)
	for range 24 * 60 {
		end = end.Add(time.Minute)
		if q := t.period(end); q.Name != p.Name || q.Price != p.Price {
			break
		}
	}
	return p, end
}

func (t Tariff) period(lt time.Time) Period {
	m := lt.Hour()*60 + lt.Minute()
	if len(t.Seasons) > 0 {
		// Without the region's holidays here, a holiday prices as its weekday.
		ps, prefix := t.Day(cim.DateOf(lt, lt.Location()), nil)
		if len(ps) == 0 {
			return t.Base
		}
		p := PeriodAt(ps, m)
		return Period{Name: prefix + p.Name, From: int(p.From), To: int(p.To), Price: p.Price, Register: p.Register}
	}
	for _, p := range t.Periods {
		if m >= p.From && m < p.To && (len(p.Days) == 0 || slices.Contains(p.Days, lt.Weekday())) {
			return p
		}
	}
	return t.Base
}

// Cost prices interval energy: values in Wh × 10^multiplier, interval i
// starting at start + i×step, priced by the period in force at its start.
// The result is in millionths of the currency unit, each interval's share
// truncated toward zero.
func (t Tariff) Cost(start time.Time, step time.Duration, values []int64, multiplier int8, loc *time.Location) int64 {
	num, den := int64(1), int64(1000)
	for range max(multiplier, -multiplier) {
		if multiplier > 0 {
			num *= 10
		} else {
			den *= 10
		}
	}
	var micro int64
	for i, v := range values {
		p := t.period(start.Add(time.Duration(i) * step).In(loc))
		micro += v * num * p.Price / den
	}
	return micro
}
