package tariff

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DayType is the kind of a local day a TOU day profile applies to. A date
// listed as a holiday of the tariff's region is a holiday whatever its
// weekday.
type DayType string

// Day types.
const (
	Working  DayType = "working"
	Saturday DayType = "saturday"
	Sunday   DayType = "sunday"
	Holiday  DayType = "holiday"
)

// DayTypes are all day types, in the order errors and calendars list them.
var DayTypes = []DayType{Working, Saturday, Sunday, Holiday}

// Clock is a local time of day in minutes after midnight, 0..1440. It is
// written "HH:MM" ("24:00" ends a day) so a tariff file reads as printed.
type Clock int

// String formats the clock as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// MarshalText implements encoding.TextMarshaler.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Clock) UnmarshalText(b []byte) error {
	h, m, ok := strings.Cut(string(b), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) != 2 || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 1440 {
		return fmt.Errorf("time of day %q: want HH:MM between 00:00 and 24:00", b)
	}
	*c = Clock(hh*60 + mm)
	return nil
}

// MonthDay is the first day of a season, the same every year, written
// "MM-DD".
type MonthDay struct {
	Month time.Month
	Day   int
}

// String formats as "MM-DD".
func (m MonthDay) String() string { return fmt.Sprintf("%02d-%02d", int(m.Month), m.Day) }

// MarshalText implements encoding.TextMarshaler.
func (m MonthDay) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MonthDay) UnmarshalText(b []byte) error {
	mo, d, ok := strings.Cut(string(b), "-")
	mm, err1 := strconv.Atoi(mo)
	dd, err2 := strconv.Atoi(d)
	if !ok || err1 != nil || err2 != nil || len(mo) != 2 || len(d) != 2 || mm < 1 || mm > 12 || dd < 1 || dd > daysIn[mm-1] {
		return fmt.Errorf("season start %q: want MM-DD", b)
	}
	*m = MonthDay{time.Month(mm), dd}
	return nil
}

var daysIn = [12]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func (m MonthDay) ord() int { return int(m.Month)*100 + m.Day }

// Season is a part of the year with its own day profiles; it runs from
// Start until the next season's start, wrapping round the new year.
type Season struct {
	Name  string       `json:"name" yaml:"name"`
	Start MonthDay     `json:"start" yaml:"start"`
	Days  []DayProfile `json:"days" yaml:"days"`
}

// DayProfile is the TOU periods of the day types it names. Within a
// season every day type has exactly one profile, and its periods cover
// 00:00 to 24:00 without overlap.
type DayProfile struct {
	Types   []DayType   `json:"types" yaml:"types"`
	Periods []TOUPeriod `json:"periods" yaml:"periods"`
}

// TOUPeriod is a priced part of a day. Its name is the bucket energy is
// counted in; Register (1..4) is the meter's energy register
// (1.8.1..1.8.4) the period maps to in the meter's activity calendar.
type TOUPeriod struct {
	Name     string `json:"name" yaml:"name"`
	From     Clock  `json:"from" yaml:"from"`
	To       Clock  `json:"to" yaml:"to"`
	Price    int64  `json:"price" yaml:"price"` // millionths of the currency per kWh
	Register int    `json:"register" yaml:"register"`
}

// Tiers are inclining or declining block prices on the energy imported,
// counted per day or per billing period. A block's price is charged in
// addition to the TOU price of the energy (a purely tiered tariff has
// TOU prices of zero).
type Tiers struct {
	// Basis is "day" (each local day starts at the first block) or
	// "period" (the billing period does).
	Basis string `json:"basis" yaml:"basis"`
	// StandardDays is the length of a standard billing period; with basis
	// "period" a shorter or longer span has its thresholds pro-rated:
	// threshold × days / StandardDays, rounded half up to a whole Wh.
	// Zero means 30.
	StandardDays int     `json:"standard_days,omitempty" yaml:"standard_days"`
	Blocks       []Block `json:"blocks" yaml:"blocks"`
}

// Block is one tier: energy up to UpToWh (cumulative, from the start of
// the day or period) at Price. The last block has UpToWh 0: no limit.
type Block struct {
	UpToWh int64 `json:"upto_wh,omitempty" yaml:"upto_wh"`
	Price  int64 `json:"price" yaml:"price"` // millionths of the currency per kWh
}

// DemandCharge prices the highest 15-minute demand of the billing period
// in the TOU periods it names (all hours when none). With a ratchet, the
// billed demand is at least RatchetPercent % of the reference demand (the
// highest demand of the previous months, which the caller supplies).
type DemandCharge struct {
	Code           string   `json:"code" yaml:"code"`
	Description    string   `json:"description,omitempty" yaml:"description"`
	Periods        []string `json:"periods,omitempty" yaml:"periods"`
	Price          int64    `json:"price" yaml:"price"` // millionths of the currency per kW and billing period
	RatchetPercent int64    `json:"ratchet_percent,omitempty" yaml:"ratchet_percent"`
	RatchetMonths  int      `json:"ratchet_months,omitempty" yaml:"ratchet_months"`
}

// Charge is a fixed amount per bill (Tariff.Fixed) or per day
// (Tariff.Daily), in millionths of the currency.
type Charge struct {
	Code        string `json:"code" yaml:"code"`
	Description string `json:"description,omitempty" yaml:"description"`
	Price       int64  `json:"price" yaml:"price"`
}

// Tax is a percentage line over the lines it names: a code names the
// line of that code and every line whose code starts with it and a dot
// ("energy" covers "energy.peak"). No names: every line that is no tax.
type Tax struct {
	Code        string   `json:"code" yaml:"code"`
	Description string   `json:"description,omitempty" yaml:"description"`
	RateBP      int64    `json:"rate_bp" yaml:"rate_bp"` // hundredths of a percent: 2100 is 21 %
	On          []string `json:"on,omitempty" yaml:"on"`
}

// Netting rules.
const (
	NetInterval = "interval" // import and export net within each interval
	NetPeriod   = "period"   // within each TOU bucket over the billing period
	NetBilling  = "billing"  // over the whole billing period
)

// NetMetering says how export offsets import and what surplus export
// earns.
type NetMetering struct {
	Netting string `json:"netting" yaml:"netting"`
	// ExportPrice credits surplus export, millionths of the currency per kWh.
	ExportPrice int64 `json:"export_price" yaml:"export_price"`
	// CarryOver keeps a bill's unused credit for the next bill instead of
	// leaving the bill negative.
	CarryOver bool `json:"carry_over,omitempty" yaml:"carry_over"`
}

// CriticalPeak prices energy in declared event hours: Price replaces the
// TOU price when set, otherwise Adder is charged on top of it.
type CriticalPeak struct {
	Price int64 `json:"price,omitempty" yaml:"price"`
	Adder int64 `json:"adder,omitempty" yaml:"adder"`
}

// Dynamic prices energy by an hourly price feed plus an adder; the TOU
// periods still name buckets, registers and demand windows.
type Dynamic struct {
	Feed  string `json:"feed" yaml:"feed"`
	Adder int64  `json:"adder,omitempty" yaml:"adder"`
}
