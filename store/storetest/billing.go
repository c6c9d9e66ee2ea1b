package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func testBilling(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	d := func(s string) cim.Date {
		v, err := cim.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Tariff versions: the same document again is a no-op, another is a
	// conflict.
	v1 := store.TariffVersion{ID: "tou-2", Version: 1, EffectiveFrom: d("2026-01-01"), Document: []byte(`{"v":1}`)}
	v2 := store.TariffVersion{ID: "tou-2", Version: 2, EffectiveFrom: d("2026-07-01"), Document: []byte(`{"v":2}`)}
	for _, v := range []store.TariffVersion{v2, v1, v1} {
		if err := s.PutTariffVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutTariffVersion(ctx, store.TariffVersion{ID: "tou-2", Version: 1, EffectiveFrom: d("2026-01-01"), Document: []byte(`{"v":9}`)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("another document under version 1: %v, want conflict", err)
	}
	if err := s.PutTariffVersion(ctx, store.TariffVersion{ID: "tou-2"}); err == nil {
		t.Fatal("accepted a version without a document")
	}
	vs, err := s.TariffVersions(ctx, "tou-2")
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || string(vs[0].Document) != `{"v":1}` || vs[1].EffectiveFrom != d("2026-07-01") {
		t.Fatalf("versions %+v, %v", vs, err)
	}

	// Assignments: by usage point, oldest first; the same date replaces.
	for _, a := range []store.TariffAssignment{
		{UsagePointID: "up1", TariffID: "flat", From: d("2026-03-01")},
		{UsagePointID: "up1", TariffID: "tou-1", From: d("2026-01-01")},
		{UsagePointID: "up1", TariffID: "tou-2", From: d("2026-03-01")},
		{UsagePointID: "up2", TariffID: "flat", From: d("2025-01-01")},
	} {
		if err := s.AssignTariff(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	as, err := s.TariffAssignments(ctx, []string{"up2", "up9", "up1"})
	if err != nil || len(as) != 3 || len(as[0]) != 1 || len(as[1]) != 0 || len(as[2]) != 2 ||
		as[2][0].TariffID != "tou-1" || as[2][1].TariffID != "tou-2" || as[2][1].From != d("2026-03-01") {
		t.Fatalf("assignments %+v, %v", as, err)
	}

	// Accounts, keyset paged within a group.
	var accts []store.Account
	for i := range 7 {
		g := "A"
		if i%3 == 2 {
			g = "B"
		}
		accts = append(accts, store.Account{ID: fmt.Sprintf("acc-%02d", i), UsagePointID: fmt.Sprintf("up%d", i), Group: g, CycleDay: 1})
	}
	if err := s.PutAccounts(ctx, accts...); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccounts(ctx, store.Account{ID: "bad", UsagePointID: "up1", CycleDay: 31}); err == nil {
		t.Fatal("accepted cycle day 31")
	}
	var ids []string
	after := ""
	for {
		page, err := s.Accounts(ctx, store.AccountQuery{Group: "A", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			ids = append(ids, a.ID)
		}
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(ids) != "[acc-00 acc-01 acc-03 acc-04 acc-06]" {
		t.Fatalf("group A: %v", ids)
	}
	if a, err := s.Account(ctx, "acc-02"); err != nil || a.Group != "B" || a.UsagePointID != "up2" {
		t.Fatalf("account %+v, %v", a, err)
	}
	if _, err := s.Account(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}

	// Billing points: the usage point and its electricity meter, not
	// the gas meter behind it.
	if err := s.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up1", ServiceCategory: cim.CommodityElectricity, TimeZone: "Europe/Amsterdam", TariffID: "tou-2"},
		cim.UsagePoint{MRID: "up2", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeters(ctx, cim.Meter{MRID: "m1-gas", UsagePointID: "up1", Kind: "gas", Parent: "m1-e"},
		cim.Meter{MRID: "m1-e", UsagePointID: "up1", Kind: "electricity-3p", Region: "north"}); err != nil {
		t.Fatal(err)
	}
	// The usage points on a tariff on a date: by the assignment in force,
	// before the first by the registered tariff.
	for _, c := range []struct {
		tariff, on, want string
	}{
		{"tou-2", "2026-03-01", "[up1]"}, {"tou-2", "2025-06-01", "[up1]"}, {"tou-2", "2026-02-01", "[]"},
		{"tou-1", "2026-02-01", "[up1]"}, {"flat", "2026-03-01", "[up2]"}, {"flat", "2024-12-31", "[]"}, {"none", "2026-03-01", "[]"},
	} {
		ups, err := s.UsagePointsOnTariff(ctx, c.tariff, d(c.on))
		if err != nil || fmt.Sprint(ups) != c.want {
			t.Errorf("usage points on %s on %s: %v, %v; want %s", c.tariff, c.on, ups, err, c.want)
		}
	}
	bp, err := s.BillingPoints(ctx, []string{"up1", "up2", "up404"})
	if err != nil || len(bp) != 2 || bp["up1"].MeterID != "m1-e" || bp["up1"].Region != "north" || bp["up1"].UsagePoint.TariffID != "tou-2" ||
		bp["up1"].UsagePoint.ServiceCategory != cim.CommodityElectricity || bp["up2"].MeterID != "" || bp["up2"].UsagePoint.TimeZone != "UTC" {
		t.Fatalf("billing points %+v, %v", bp, err)
	}

	// Prices and critical peaks.
	h0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.PutPrices(ctx, []store.HourPrice{{Feed: "epex", At: h0, Price: 100}, {Feed: "epex", At: h0.Add(time.Hour), Price: 120}, {Feed: "other", At: h0, Price: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPrices(ctx, []store.HourPrice{{Feed: "epex", At: h0, Price: 90}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPrices(ctx, []store.HourPrice{{Feed: "epex", At: h0.Add(time.Minute), Price: 90}}); err == nil {
		t.Fatal("accepted a price not on the hour")
	}
	ps, err := s.Prices(ctx, "epex", h0, h0.Add(24*time.Hour))
	if err != nil || len(ps) != 2 || ps[0].Price != 90 || ps[1].Price != 120 || !ps[1].At.Equal(h0.Add(time.Hour)) {
		t.Fatalf("prices %+v, %v", ps, err)
	}
	if err := s.PutCriticalPeaks(ctx, []store.CriticalPeakEvent{
		{TariffID: "tou-2", Start: h0.Add(17 * time.Hour), End: h0.Add(20 * time.Hour)},
		{TariffID: "tou-2", Start: h0.Add(41 * time.Hour), End: h0.Add(44 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCriticalPeaks(ctx, []store.CriticalPeakEvent{{TariffID: "tou-2", Start: h0, End: h0}}); err == nil {
		t.Fatal("accepted an empty event")
	}
	cp, err := s.CriticalPeaks(ctx, "tou-2", h0.Add(19*time.Hour), h0.Add(30*time.Hour))
	if err != nil || len(cp) != 1 || !cp[0].End.Equal(h0.Add(20*time.Hour)) {
		t.Fatalf("critical peaks %+v, %v", cp, err)
	}

	// A run is created once per group and period; starting again resumes.
	from, to := d("2026-01-01"), d("2026-02-01")
	run, created, err := s.StartBillRun(ctx, store.BillRun{Group: "A", From: from, To: to})
	if err != nil || !created || run.Status != store.RunRunning || run.Cursor != "" {
		t.Fatalf("start %+v %v %v", run, created, err)
	}
	again, created, err := s.StartBillRun(ctx, store.BillRun{Group: "A", From: from, To: to})
	if err != nil || created || again.ID != run.ID {
		t.Fatalf("start again %+v %v %v", again, created, err)
	}
	if _, _, err := s.StartBillRun(ctx, store.BillRun{Group: "A", From: to, To: from}); err == nil {
		t.Fatal("accepted an empty period")
	}
	bill := func(acc, status string, total int64) store.BillRecord {
		return store.BillRecord{AccountID: acc, UsagePointID: "up-" + acc, From: from, To: to, Status: status, Currency: "EUR",
			Total: total, CarryOut: 5, PeakW: 3000, Document: []byte(`{"total":` + fmt.Sprint(total) + `}`)}
	}
	got, err := s.CommitBillBatch(ctx, store.BillBatch{RunID: run.ID, Cursor: "acc-01",
		Bills: []store.BillRecord{bill("acc-00", "ready", 1000), bill("acc-01", "held", 0)}, Failed: 1})
	if err != nil || got.Cursor != "acc-01" || got.Billed != 2 || got.Held != 1 || got.Failed != 1 {
		t.Fatalf("batch 1: %+v, %v", got, err)
	}
	// A bill of an account and period billed already is skipped.
	got, err = s.CommitBillBatch(ctx, store.BillBatch{RunID: run.ID, Cursor: "acc-03",
		Bills: []store.BillRecord{bill("acc-01", "ready", 7), bill("acc-03", "flagged", 300)}})
	if err != nil || got.Cursor != "acc-03" || got.Billed != 3 || got.Skipped != 1 || got.Flagged != 1 {
		t.Fatalf("batch 2: %+v, %v", got, err)
	}
	billed, err := s.BilledAccounts(ctx, []string{"acc-00", "acc-01", "acc-03", "acc-04"}, from, to)
	if err != nil || len(billed) != 3 || billed["acc-04"] {
		t.Fatalf("billed %v, %v", billed, err)
	}
	if err := s.FinishBillRun(ctx, run.ID, store.RunFinished, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r, err := s.BillRun(ctx, run.ID); err != nil || r.Status != store.RunFinished || r.Finished.IsZero() {
		t.Fatalf("finished run %+v, %v", r, err)
	}
	if rs, err := s.BillRuns(ctx, "A", 0); err != nil || len(rs) != 1 {
		t.Fatalf("runs %+v, %v", rs, err)
	}
	if _, err := s.BillRun(ctx, run.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}

	list, err := s.Bills(ctx, store.BillQuery{RunID: run.ID})
	if err != nil || len(list) != 3 || list[0].AccountID != "acc-00" || list[0].Total != 1000 || string(list[0].Document) != `{"total":1000}` ||
		list[0].CarryOut != 5 || list[0].PeakW != 3000 || list[0].Sequence != 1 || list[0].From != from {
		t.Fatalf("bills %+v, %v", list, err)
	}
	first := list[0]

	// A rebill supersedes the latest only.
	rb := bill("acc-00", "ready", 1100)
	rb.Reason, rb.Adjustment = "late actual 2026-01-05", []byte(`{"delta":100}`)
	nb, err := s.SupersedeBill(ctx, first.ID, rb)
	if err != nil || nb.Sequence != 2 || nb.Supersedes != first.ID || nb.ID == 0 {
		t.Fatalf("rebill %+v, %v", nb, err)
	}
	if _, err := s.SupersedeBill(ctx, first.ID, rb); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("superseding a superseded bill: %v, want conflict", err)
	}
	latest, err := s.Bills(ctx, store.BillQuery{AccountID: "acc-00", LatestOnly: true})
	if err != nil || len(latest) != 1 || latest[0].ID != nb.ID || latest[0].Reason != rb.Reason || string(latest[0].Adjustment) != `{"delta":100}` {
		t.Fatalf("latest of acc-00 %+v, %v", latest, err)
	}
	if all, err := s.Bills(ctx, store.BillQuery{AccountID: "acc-00", From: from, To: to}); err != nil || len(all) != 2 {
		t.Fatalf("all of acc-00 %+v, %v", all, err)
	}
	last, err := s.LastBills(ctx, []string{"acc-00", "acc-03", "acc-06"}, to)
	if err != nil || len(last) != 2 || last["acc-00"].ID != nb.ID || last["acc-03"].Total != 300 {
		t.Fatalf("last bills %+v, %v", last, err)
	}
	if last, err := s.LastBills(ctx, []string{"acc-00"}, from); err != nil || len(last) != 0 {
		t.Fatalf("last bills before the period %+v, %v", last, err)
	}
	// Peaks: the latest bills' highest demand per account, over a window.
	peaks, err := s.PeakDemands(ctx, []string{"acc-00", "acc-03", "acc-06"}, from, to)
	if err != nil || len(peaks) != 2 || peaks["acc-00"] != 3000 {
		t.Fatalf("peaks %v, %v", peaks, err)
	}
	if peaks, err := s.PeakDemands(ctx, []string{"acc-00"}, to, to.AddDays(40)); err != nil || len(peaks) != 0 {
		t.Fatalf("peaks after the period %v, %v", peaks, err)
	}
	if _, err := s.Bill(ctx, nb.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown bill: %v", err)
	}
}
