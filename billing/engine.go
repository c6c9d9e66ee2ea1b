package billing

import (
	"errors"
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
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Channel string   `json:"channel"`
	Bucket  string   `json:"bucket,omitempty"`
	Tier    int      `json:"tier,omitempty"`
	From    cim.Date `json:"from"`
	To      cim.Date `json:"to"`
	Value   int64    `json:"value"`
	Unit    string   `json:"unit"`
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

// Compute makes the bill of in.
func Compute(in Input) (Bill, error) {
	return Bill{}, errors.New("billing: Compute not yet implemented")
}

func daysBetween(from, to cim.Date) int {
	a := time.Date(from.Year, from.Month, from.Day, 12, 0, 0, 0, time.UTC)
	b := time.Date(to.Year, to.Month, to.Day, 12, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()+12) / 24
}
