package billing

import "github.com/amigo-ami/amigo/cim"

// Adjustment is the difference between a bill and its rebill, line by
// line, with the reason the bill was recomputed.
type Adjustment struct {
	AccountID    string           `json:"account_id"`
	UsagePointID string           `json:"usage_point_id"`
	Currency     string           `json:"currency"`
	Period       Period           `json:"period"`
	Reason       string           `json:"reason"`
	Lines        []AdjustmentLine `json:"lines"`
	// Total is new total − old total, the sum of the lines' differences.
	Total int64 `json:"total"`
	// Versions are the days whose data version changed.
	Versions []VersionChange `json:"versions,omitempty"`
}

// AdjustmentLine is one line's old and new amount; Amount = New − Old.
// A line only on one side has zero on the other.
type AdjustmentLine struct {
	Code        string   `json:"code"`
	Description string   `json:"description"`
	From        cim.Date `json:"from"`
	To          cim.Date `json:"to"`
	Old         int64    `json:"old"`
	New         int64    `json:"new"`
	Amount      int64    `json:"amount"`
}

// VersionChange is a day whose data version differs between two bills;
// zero means the day was not used on that side.
type VersionChange struct {
	MeterID string   `json:"meter_id"`
	Channel string   `json:"channel"`
	Date    cim.Date `json:"date"`
	Old     int      `json:"old"`
	New     int      `json:"new"`
}

// Rebill returns what changes from old to new, a recomputation of the
// same account and period, and why.
func Rebill(old, new Bill, reason string) Adjustment {
	return Adjustment{AccountID: new.AccountID, UsagePointID: new.UsagePointID, Currency: new.Currency, Period: new.Period, Reason: reason}
}
