package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// schemaCheck reports every property of v, at any depth, that the
// OpenAPI document's schema (with its $refs, allOf and items) does not
// document.
type schemaCheck struct {
	t       *testing.T
	schemas map[string]map[string]any
}

func (c schemaCheck) resolve(s map[string]any) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		return c.resolve(c.schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
	}
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		return c.resolve(all[0].(map[string]any))
	}
	return s
}

func (c schemaCheck) check(where string, s map[string]any, v any) {
	c.t.Helper()
	s = c.resolve(s)
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for k, x := range v {
			ps, ok := props[k].(map[string]any)
			if !ok {
				c.t.Errorf("%s.%s is not documented", where, k)
				continue
			}
			c.check(where+"."+k, ps, x)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, x := range v {
			if items == nil {
				c.t.Errorf("%s[%d]: no items schema", where, i)
				return
			}
			c.check(where+"[]", items, x)
		}
	case nil:
		if s["nullable"] != true {
			c.t.Errorf("%s is null, which its schema does not allow", where)
		}
	case float64:
		if ty := s["type"]; ty != "integer" && ty != "number" {
			c.t.Errorf("%s is a number, documented %v", where, ty)
		}
	case string:
		if ty := s["type"]; ty != "string" {
			c.t.Errorf("%s is a string, documented %v", where, ty)
		}
	}
}

// TestBillSummary: the household sees its bill so far, the forecast, the
// flat comparison and its settled event with its reduction and payment,
// in the documented shape; another household does not.
func TestBillSummary(t *testing.T) {
	r := newAuthRig(t)
	ctx := context.Background()
	now := time.Now().UTC()
	today := cim.DateOf(now, time.UTC)
	// The event: the two whole hours before the last whole hour, today or
	// late yesterday.
	evStart := now.Truncate(time.Hour).Add(-3 * time.Hour)
	evEnd := evStart.Add(2 * time.Hour)
	var days []interval.Day
	for d := today.AddDays(-70); !today.Before(d); d = d.AddDays(1) {
		day := interval.Day{MeterID: "m1", Channel: "A+15m", Date: d, Start: d.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range day.Values {
			day.Values[i] = 40
			if at := day.Start.Add(time.Duration(i) * 15 * time.Minute); !at.Before(evStart) && at.Before(evEnd) {
				day.Values[i] = 10
			}
		}
		days = append(days, day)
	}
	if _, err := r.st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}

	clock := now.Add(-4 * time.Hour)
	svc := dr.New(r.st, &drIssuer{cmds: map[string]cim.EndDeviceControl{}}, dr.Config{Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)})
	if _, err := svc.PutProgram(ctx, dr.Program{ID: "peak", Name: "Winter peak", Kind: dr.KindLoadLimit, Notice: 2 * time.Hour,
		Baseline: dr.Method10of10, Incentive: 50, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enrol(ctx, dr.Enrolment{ProgramID: "peak", UsagePointID: "up-1", MeterID: "m1", From: clock.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateEvent(ctx, dr.Event{ID: "E1", ProgramID: "peak", Start: evStart, End: evEnd, Signal: dr.Signal{ThresholdW: 1000}}, "olga"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{evStart.Add(-time.Hour), evStart, evEnd.Add(time.Minute)} {
		clock = at
		if err := svc.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, DR: svc, MaxBodyBytes: 4096}))
	defer ts.Close()
	anna, bert, admin := r.login(t, "anna"), r.login(t, "bert"), r.login(t, "admin")
	for _, s := range []*session{anna, bert, admin} {
		s.base = ts.URL
	}
	var spec struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	_, _, doc := admin.call("GET", "/api/v1/openapi.json", "")
	if err := json.Unmarshal([]byte(doc), &spec); err != nil {
		t.Fatal(err)
	}

	code, m, body := anna.call("GET", "/api/v1/usage-points/up-1/bill-summary", "")
	if code != 200 {
		t.Fatalf("bill summary: %d %s", code, body)
	}
	schemaCheck{t, spec.Components.Schemas}.check("BillSummary", map[string]any{"$ref": "#/components/schemas/BillSummary"}, m)
	if m["currency"] != "EUR" || m["minorUnitDigits"] != 2.0 || m["asOf"] != today.String() || m["tariff"] != "default-tou" {
		t.Fatalf("summary head: %s", body)
	}
	first := cim.Date{Year: today.Year, Month: today.Month, Day: 1}
	if p := m["period"].(map[string]any); p["from"] != first.String() {
		t.Fatalf("period %v", p)
	}
	sum := func(b map[string]any) float64 {
		var s float64
		for _, l := range b["lines"].([]any) {
			s += l.(map[string]any)["amount"].(float64)
		}
		return s
	}
	elapsed := float64(today.Day - 1)
	var soFarWh float64
	for _, d := range days {
		for _, v := range d.Values {
			switch {
			case d.Date.Before(today) && !d.Date.Before(first):
				soFarWh += float64(v)
			}
		}
	}
	monthDays := float64(first.AddDays(31).AddDays(-first.AddDays(31).Day).Day)
	if elapsed > 0 {
		so := m["soFar"].(map[string]any)
		if so["energyWh"] != soFarWh || so["total"] != sum(so) || so["total"].(float64) <= 0 || so["status"] != "ready" {
			t.Errorf("so far: %v", so)
		}
	} else if m["soFar"] != nil {
		t.Errorf("a bill so far on the cycle's first day: %v", m["soFar"])
	}
	fc := m["forecast"].(map[string]any)
	// Like days are all 40 Wh a quarter hour unless the event fell on
	// yesterday (a run just after midnight).
	evenLike := cim.DateOf(evStart, time.UTC) == today
	if (evenLike && fc["energyWh"] != soFarWh+(monthDays-elapsed)*96*40) || fc["total"] != sum(fc) || fc["likeDays"] != 28.0 || fc["daysForecast"] != monthDays-elapsed || fc["basis"] == "" {
		t.Errorf("forecast: %v", fc)
	}
	if fl := m["flat"].(map[string]any); len(fl["prices"].([]any)) != 1 || !strings.Contains(fl["basis"].(string), "averaged") {
		t.Errorf("flat: %v", fl)
	}
	d := m["dr"].(map[string]any)
	evs := d["events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("dr: %v", d)
	}
	// Baseline 40 Wh a quarter hour, actual 10, over 8 quarter hours:
	// 240 Wh reduced, at 50 cents per kWh 12 cents.
	if e := evs[0].(map[string]any); e["eventId"] != "E1" || e["status"] != dr.ResultSettled || e["reductionWh"] != 240.0 || e["payment"] != 12.0 ||
		d["payment"] != 12.0 || d["reductionWh"] != 240.0 {
		t.Errorf("dr savings: %v", d)
	}

	if code, _, _ := bert.call("GET", "/api/v1/usage-points/up-1/bill-summary", ""); code != 403 {
		t.Errorf("another household's bill: %d", code)
	}
	if code, _, _ := admin.call("GET", "/api/v1/usage-points/up-9/bill-summary", ""); code != 404 {
		t.Errorf("an unknown usage point: %d", code)
	}
	if code, _, _ := anna.call("GET", "/api/v1/usage-points/up-1/bill-summary?x=1", ""); code != 400 {
		t.Errorf("an unknown parameter: %d", code)
	}
}

// TestBillSummaryOfAnAccount: a usage point on an account is shown its
// account's cycle under its assigned tariff version.
func TestBillSummaryOfAnAccount(t *testing.T) {
	r := newAuthRig(t)
	ctx := context.Background()
	today := cim.DateOf(time.Now(), time.UTC)
	var days []interval.Day
	for d := today.AddDays(-70); d.Before(today); d = d.AddDays(1) {
		day := interval.Day{MeterID: "m2", Channel: "A+15m", Date: d, Start: d.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range day.Values {
			day.Values[i] = 50
		}
		days = append(days, day)
	}
	if _, err := r.st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	res := tariff.Tariff{ID: "res", Name: "Residential", Currency: "EUR", Version: 1, EffectiveFrom: today.AddDays(-400),
		Base: tariff.Period{Name: "all day", Price: 300_000}, Fixed: []tariff.Charge{{Code: "meter", Description: "Metering", Price: 1_500_000}}}
	v, err := billing.StoredTariff(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutTariffVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := r.st.AssignTariff(ctx, store.TariffAssignment{UsagePointID: "up-2", TariffID: "res", From: today.AddDays(-400)}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutAccounts(ctx, store.Account{ID: "acc-2", UsagePointID: "up-2", Group: "north", CycleDay: 10}); err != nil {
		t.Fatal(err)
	}
	bert := r.login(t, "bert")
	code, m, body := bert.call("GET", "/api/v1/usage-points/up-2/bill-summary", "")
	if code != 200 {
		t.Fatalf("bill summary: %d %s", code, body)
	}
	p, _ := billing.CurrentCycle(10, today)
	pm := m["period"].(map[string]any)
	if m["accountId"] != "acc-2" || m["tariff"] != "res@1" || m["tariffName"] != "Residential" || pm["from"] != p.From.String() || pm["to"] != p.To.String() {
		t.Fatalf("account's cycle: %s", body)
	}
	fc := m["forecast"].(map[string]any)
	// 50 Wh a quarter hour is 4.8 kWh a day, at 0.30 EUR: 1.44 EUR a day,
	// and the fixed 1.50 EUR once.
	if want := float64(p.Days())*144 + 150; fc["total"] != want {
		t.Errorf("forecast total %v, want %v: %s", fc["total"], want, body)
	}
	if fl := m["flat"].(map[string]any); fl["forecastSavings"] != 0.0 {
		t.Errorf("a flat tariff saves against itself: %v", fl)
	}
	// The price the portal shows now is the tariff the account is billed on.
	code, m, body = bert.call("GET", "/api/v1/usage-points/up-2/summary", "")
	if code != 200 {
		t.Fatalf("summary: %d %s", code, body)
	}
	if tou := m["tou"].(map[string]any); tou["tariff"] != "Residential" || tou["price"] != 300_000.0 || tou["period"] != "all day" {
		t.Errorf("price now %v, want the billed tariff's", tou)
	}
}
