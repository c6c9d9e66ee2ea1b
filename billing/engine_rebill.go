package billing

import (
	"github.com/amigo-ami/amigo/cim"
)

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
// same account and period, and why: every line matched by code and span,
// a line on one side only set against zero, and the days whose data
// version changed.
func Rebill(old, new Bill, reason string) Adjustment {
	adj := Adjustment{AccountID: new.AccountID, UsagePointID: new.UsagePointID, Currency: new.Currency, Period: new.Period, Reason: reason}
	type key struct {
		code     string
		from, to cim.Date
	}
	idx := map[key]int{}
	for _, l := range old.Lines {
		k := key{l.Code, l.From, l.To}
		if i, ok := idx[k]; ok {
			adj.Lines[i].Old += l.Amount
			continue
		}
		idx[k] = len(adj.Lines)
		adj.Lines = append(adj.Lines, AdjustmentLine{Code: l.Code, Description: l.Description, From: l.From, To: l.To, Old: l.Amount})
	}
	for _, l := range new.Lines {
		k := key{l.Code, l.From, l.To}
		i, ok := idx[k]
		if !ok {
			i = len(adj.Lines)
			idx[k] = i
			adj.Lines = append(adj.Lines, AdjustmentLine{Code: l.Code, Description: l.Description, From: l.From, To: l.To})
		}
		adj.Lines[i].New += l.Amount
		adj.Lines[i].Description = l.Description
	}
	for i := range adj.Lines {
		adj.Lines[i].Amount = adj.Lines[i].New - adj.Lines[i].Old
		adj.Total += adj.Lines[i].Amount
	}
	type day struct {
		meter, channel string
		date           cim.Date
	}
	vs := map[day]*VersionChange{}
	var order []day
	for _, v := range old.DataVersions {
		k := day{v.MeterID, v.Channel, v.Date}
		vs[k] = &VersionChange{MeterID: v.MeterID, Channel: v.Channel, Date: v.Date, Old: v.Version}
		order = append(order, k)
	}
	for _, v := range new.DataVersions {
		k := day{v.MeterID, v.Channel, v.Date}
		if vs[k] == nil {
			vs[k] = &VersionChange{MeterID: v.MeterID, Channel: v.Channel, Date: v.Date}
			order = append(order, k)
		}
		vs[k].New = v.Version
	}
	for _, k := range order {
		if c := vs[k]; c.Old != c.New {
			adj.Versions = append(adj.Versions, *c)
		}
	}
	return adj
}
