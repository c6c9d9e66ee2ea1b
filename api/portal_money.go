package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/amigo-ami/amigo/tariff"
	"net/http"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/store"
)

// drResultOf is what the bill summary asks of demand response beyond
// DemandResponse: one household's own result in an event.
type drResultOf interface {
	ResultOf(ctx context.Context, eventID, usagePoint string) (dr.Result, dr.Program, error)
}

// billSummaryEvents is how many of the household's latest events the
// summary settles.
const billSummaryEvents = 12

type moneyLine struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	Unit        string `json:"unit"`
	Rate        int64  `json:"rate"`
	RateUnit    string `json:"rateUnit"`
	Amount      int64  `json:"amount"`
	Rounding    string `json:"rounding"`
}

type moneyBill struct {
	From     cim.Date    `json:"from"`
	To       cim.Date    `json:"to"`
	Total    int64       `json:"total"`
	Status   string      `json:"status"`
	Flags    []string    `json:"flags"`
	EnergyWh int64       `json:"energyWh"`
	Lines    []moneyLine `json:"lines"`
}

func moneyBillOf(b *billing.Bill) *moneyBill {
	if b == nil {
		return nil
	}
	out := &moneyBill{From: b.Period.From, To: b.Period.To, Total: b.Total, Status: b.Status, Flags: b.Flags, Lines: make([]moneyLine, 0, len(b.Lines))}
	if out.Flags == nil {
		out.Flags = []string{}
	}
	for _, l := range b.Lines {
		out.Lines = append(out.Lines, moneyLine{Code: l.Code, Description: l.Description, Quantity: l.Quantity, Unit: l.Unit,
			Rate: l.Rate, RateUnit: l.RateUnit, Amount: l.Amount, Rounding: l.Rounding})
	}
	for _, d := range b.Determinants {
		if d.Kind == billing.KindEnergy && d.Channel == cim.EnergyImport15m.ID && d.Tier == 0 {
			out.EnergyWh += d.Value
		}
	}
	return out
}

type moneyForecast struct {
	moneyBill
	Basis        string `json:"basis"`
	LikeDays     int    `json:"likeDays"`
	DaysForecast int    `json:"daysForecast"`
}

type moneyFlat struct {
	Basis           string  `json:"basis"`
	Prices          []int64 `json:"prices"`
	SoFarTotal      int64   `json:"soFarTotal"`
	ForecastTotal   int64   `json:"forecastTotal"`
	Savings         int64   `json:"savings"`
	ForecastSavings int64   `json:"forecastSavings"`
}

type moneyDREvent struct {
	EventID     string    `json:"eventId"`
	ProgramID   string    `json:"programId"`
	ProgramName string    `json:"programName"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	EventStatus string    `json:"eventStatus"`
	Status      string    `json:"status"`
	Method      string    `json:"method,omitempty"`
	BaselineWh  int64     `json:"baselineWh"`
	ActualWh    int64     `json:"actualWh"`
	ReductionWh int64     `json:"reductionWh"`
	Payment     int64     `json:"payment"`
	Currency    string    `json:"currency"`
	Note        string    `json:"note,omitempty"`
}

type moneyDR struct {
	Events      []moneyDREvent `json:"events"`
	ReductionWh int64          `json:"reductionWh"`
	// Payment sums the payments in the summary's currency; payments in
	// another are listed with their events only.
	Payment int64 `json:"payment"`
}

type billSummary struct {
	UsagePointID    string         `json:"usagePointId"`
	AccountID       string         `json:"accountId,omitempty"`
	Currency        string         `json:"currency"`
	MinorUnitDigits int            `json:"minorUnitDigits"`
	Period          billing.Period `json:"period"`
	AsOf            cim.Date       `json:"asOf"`
	Tariff          string         `json:"tariff"`
	TariffName      string         `json:"tariffName"`
	SoFar           *moneyBill     `json:"soFar"`
	Forecast        *moneyForecast `json:"forecast"`
	Flat            *moneyFlat     `json:"flat"`
	DR              *moneyDR       `json:"dr"`
}

// cycleOf is what the usage point's bill in the cycle in progress on date
// is computed from, without its days: its account's cycle and tariff
// versions as a bill run finds them, or, for a usage point on no account,
// the calendar month under the tariff the portal prices it by.
func (a *API) cycleOf(ctx context.Context, up cim.UsagePoint, date cim.Date) (billing.Input, error) {
	in, err := a.runner().CycleInput(ctx, up.MRID, date)
	if !errors.Is(err, store.ErrNotFound) {
		return in, err
	}
	first := cim.Date{Year: date.Year, Month: date.Month, Day: 1}
	next := cim.DateOf(first.Start(time.UTC).AddDate(0, 1, 0), time.UTC)
	p := billing.Period{From: first, To: next}
	loc, err := up.Location()
	if err != nil {
		return billing.Input{}, fmt.Errorf("usage point %s: %w", up.MRID, err)
	}
	return billing.Input{UsagePointID: up.MRID, Location: loc, Period: p, Tariffs: []billing.TariffSpan{{Tariff: a.portal.Tariff(up), From: p.From, To: p.To}},
		Policy: billing.Policy{Missing: billing.MissingFlag}}, nil
}

// billSummary is the household's money: the bill of the cycle so far,
// its forecast to the cycle's end, the comparison with a flat tariff, and
// what its demand-response events saved and paid.
func (a *API) billSummary(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	ctx := r.Context()
	up, m, err := a.portal.Household(ctx, r.PathValue("id"))
	if !a.householdOK(w, r, err) {
		return
	}
	loc, err := up.Location()
	if err != nil {
		a.internal(w, r, fmt.Errorf("usage point %s: %w", up.MRID, err))
		return
	}
	today := cim.DateOf(a.now(), loc)
	in, err := a.cycleOf(ctx, up, today)
	if err != nil {
		a.internal(w, r, fmt.Errorf("billing cycle of usage point %s: %w", up.MRID, err))
		return
	}
	from := in.Period.From.AddDays(-7 * billing.LikeDayWeeks)
	if in.Import, err = a.d.Store.Days(ctx, m.MRID, cim.EnergyImport15m.ID, from, today.AddDays(-1)); err != nil {
		a.internal(w, r, fmt.Errorf("meter %s import %s..%s: %w", m.MRID, from, today, err))
		return
	}
	if in.Export, err = a.d.Store.Days(ctx, m.MRID, cim.EnergyExport15m.ID, from, today.AddDays(-1)); err != nil {
		a.internal(w, r, fmt.Errorf("meter %s export %s..%s: %w", m.MRID, from, today, err))
		return
	}
	f, err := billing.ForecastCycle(in, today)
	if err != nil {
		a.internal(w, r, fmt.Errorf("bill so far of usage point %s: %w", up.MRID, err))
		return
	}
	last := in.Tariffs[len(in.Tariffs)-1].Tariff
	out := billSummary{UsagePointID: up.MRID, AccountID: in.AccountID, Currency: last.Currency, MinorUnitDigits: billing.MinorDigits(last.Currency),
		Period: in.Period, AsOf: f.AsOf, Tariff: last.ID, TariffName: last.Name, SoFar: moneyBillOf(f.SoFar)}
	if last.Version > 0 {
		out.Tariff = fmt.Sprintf("%s@%d", last.ID, last.Version)
	}
	if f.Forecast != nil {
		out.Forecast = &moneyForecast{moneyBill: *moneyBillOf(f.Forecast), Basis: f.Basis, LikeDays: f.LikeDays, DaysForecast: f.DaysForecast}
	}
	if f.Flat != nil {
		out.Flat = &moneyFlat{Basis: f.Flat.Basis, Prices: f.Flat.Prices, SoFarTotal: f.Flat.SoFarTotal, ForecastTotal: f.Flat.ForecastTotal,
			Savings: f.Flat.Savings, ForecastSavings: f.Flat.ForecastSavings}
	}
	if out.DR, err = a.drSavings(ctx, up.MRID, out.Currency); err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, out)
}

// drSavings settles the household's latest events that have begun: its
// reduction against its baseline and what it was paid. Nil when the
// server runs no demand response.
func (a *API) drSavings(ctx context.Context, up, currency string) (*moneyDR, error) {
	rs, ok := a.d.DR.(drResultOf)
	if a.d.DR == nil || !ok {
		return nil, nil
	}
	ps, err := a.d.DR.ParticipationsOf(ctx, up, billSummaryEvents)
	if err != nil {
		return nil, err
	}
	out := &moneyDR{Events: []moneyDREvent{}}
	now := a.now()
	for _, p := range ps {
		e, err := a.d.DR.Event(ctx, p.EventID)
		if err != nil {
			return nil, err
		}
		// Only events that have begun have anything to measure; one never
		// told of is not the household's to see.
		if p.NotifiedAt.IsZero() || now.Before(e.Start) || e.Status == dr.StatusAwaitingApproval {
			continue
		}
		res, prog, err := rs.ResultOf(ctx, p.EventID, up)
		if err != nil {
			return nil, err
		}
		ev := moneyDREvent{EventID: e.ID, ProgramID: prog.ID, ProgramName: prog.Name, Start: e.Start, End: e.End, EventStatus: e.Status,
			Status: res.Status, Method: res.Method, BaselineWh: res.BaselineWh, ActualWh: res.ActualWh, ReductionWh: res.ReductionWh,
			Payment: res.Payment, Currency: prog.Currency, Note: res.Note}
		out.Events = append(out.Events, ev)
		if res.Status == dr.ResultSettled {
			out.ReductionWh += res.ReductionWh
			if prog.Currency == currency {
				out.Payment += res.Payment
			}
		}
	}
	slices.SortFunc(out.Events, func(a, b moneyDREvent) int { return b.Start.Compare(a.Start) })
	return out, nil
}

// moneyRoutes are the household's money.
func (a *API) moneyRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/usage-points/{id}/bill-summary", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal",
			summary: "The bill of the current cycle so far, its forecast to the cycle's end, savings against a flat tariff and from demand-response events; amounts in minor units",
			resp:    "BillSummary", h: a.billSummary},
	}
}

// billedTariff is the tariff version the usage point's account is billed
// on for a date; ok false for a usage point on no account.
func (a *API) billedTariff(ctx context.Context, up cim.UsagePoint, on cim.Date) (tariff.Tariff, bool, error) {
	in, err := a.runner().CycleInput(ctx, up.MRID, on)
	if errors.Is(err, store.ErrNotFound) {
		return tariff.Tariff{}, false, nil
	}
	if err != nil {
		return tariff.Tariff{}, false, err
	}
	for _, sp := range in.Tariffs {
		if !on.Before(sp.From) && on.Before(sp.To) {
			return sp.Tariff, true, nil
		}
	}
	return tariff.Tariff{}, false, nil
}
