package mdm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// A series answers for what is stored; a meter not registered and a
// channel never stored are wrong questions, not empty answers.
func TestQueriesSeries(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1"}); err != nil {
		t.Fatal(err)
	}
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	d := gapDay("m1", date)
	storeDay(t, st, d)
	d.Channel = "V1"
	storeDay(t, st, d)
	q := &mdm.Queries{Store: st, Now: func() time.Time { return date.Start(time.UTC) }}

	if days, err := q.Series(ctx, "m1", "A+15m", date.AddDays(-3), date); err != nil || len(days) != 1 || days[0].Date != date {
		t.Fatalf("series %v, %v; want the day", days, err)
	}
	for _, c := range []struct {
		meter, channel string
		want           error
	}{
		{"m1", "A+15m", nil}, {"m1", "A-15m", nil}, {"m1", "V1", nil},
		{"nope", "A+15m", mdm.ErrUnknownMeter}, {"m1", "V9", mdm.ErrUnknownChannel},
	} {
		days, err := q.Series(ctx, c.meter, c.channel, date.AddDays(1), date.AddDays(2))
		if !errors.Is(err, c.want) || len(days) != 0 {
			t.Errorf("%s %s, a range with no day: %d days, %v; want %v", c.meter, c.channel, len(days), err, c.want)
		}
	}

	if _, err := q.Versions(ctx, "m1", "A+15m", date.AddDays(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("versions of a day not stored: %v", err)
	}
	d.Channel, d.Values[0], d.Quality[0] = "A+15m", 5, 0
	storeDay(t, st, d)
	if vs, err := q.Versions(ctx, "m1", "A+15m", date); err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Values[0] != 5 {
		t.Fatalf("versions %v, %v; want two, oldest first", vs, err)
	}
}

// Totals sum what was read or estimated, per day or month, and count
// what was missing, estimated and edited.
func TestQueriesTotals(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1"}); err != nil {
		t.Fatal(err)
	}
	first := cim.Date{Year: 2026, Month: 5, Day: 31}
	for k := range 3 {
		d := gapDay("m1", first.AddDays(k))
		for i := range 10 {
			d.Values[i], d.Quality[i] = 10, 0
		}
		d.Values[10], d.Quality[10] = 7, cim.QualityEstimated
		d.Values[11], d.Quality[11] = 3, cim.QualityEdited
		d.Values[12] = 1000 // missing: not a measurement
		storeDay(t, st, d)
	}
	q := &mdm.Queries{Store: st}

	days, err := q.Totals(ctx, "m1", "A+15m", first, first.AddDays(2), mdm.ByDay)
	if err != nil || len(days) != 3 {
		t.Fatalf("by day: %v, %v", days, err)
	}
	want := mdm.Total{Period: "2026-06-01", Total: 110, Intervals: 96, Missing: 84, Estimated: 1, Edited: 1}
	if days[1] != want {
		t.Fatalf("by day: %+v, want %+v", days[1], want)
	}
	months, err := q.Totals(ctx, "m1", "A+15m", first, first.AddDays(2), mdm.ByMonth)
	if err != nil || len(months) != 2 || months[0].Period != "2026-05" || months[1].Period != "2026-06" ||
		months[0].Total != 110 || months[1].Total != 220 || months[1].Intervals != 192 || months[1].Missing != 168 {
		t.Fatalf("by month: %+v, %v", months, err)
	}
	if none, err := q.Totals(ctx, "m1", "A+15m", first.AddDays(5), first.AddDays(6), mdm.ByDay); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("no day stored: %#v, %v; want an empty list", none, err)
	}
	if _, err := q.Totals(ctx, "nope", "A+15m", first, first, mdm.ByDay); !errors.Is(err, mdm.ErrUnknownMeter) {
		t.Fatalf("a meter not registered: %v", err)
	}
	if got := mdm.DayTotal(gapDay("m1", first)); got != 0 {
		t.Fatalf("a day nobody read totals %d", got)
	}
}

// The last reads are each register's latest of the last 40 days, by
// reading type.
func TestQueriesLastReads(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC)
	if _, err := st.PutRegisterReads(ctx, []cim.Reading{
		{MeterID: "m1", ReadingType: "A+/billing", TimeStamp: now.Add(-48 * time.Hour), Value: 100},
		{MeterID: "m1", ReadingType: "A+/billing", TimeStamp: now.Add(-24 * time.Hour), Value: 120},
		{MeterID: "m1", ReadingType: "A-/billing", TimeStamp: now.Add(-72 * time.Hour), Value: 7},
		{MeterID: "m1", ReadingType: "0.0.96.14.0", TimeStamp: now.AddDate(0, 0, -41), Value: 2},
		{MeterID: "m2", ReadingType: "A+/billing", TimeStamp: now.Add(-time.Hour), Value: 999},
	}); err != nil {
		t.Fatal(err)
	}
	rs, err := (&mdm.Queries{Store: st, Now: func() time.Time { return now }}).LastReads(ctx, "m1")
	if err != nil || len(rs) != 2 || rs[0].ReadingType != "A+/billing" || rs[0].Value != 120 || rs[1].ReadingType != "A-/billing" || rs[1].Value != 7 {
		t.Fatalf("last reads %+v, %v; want A+ at 120 and A- at 7", rs, err)
	}
}

// The exceptions queue pages oldest first with the count of all that
// match, and an exception is resolved once.
func TestExceptionsPages(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	var es []store.Exception
	for k := range 3 {
		es = append(es, store.Exception{MeterID: "m1", Channel: "A+15m", Date: date.AddDays(k), Version: 1, Rule: "gap", Interval: -1, Reason: "a gap"})
	}
	es = append(es, store.Exception{MeterID: "m2", Channel: "A+15m", Date: date, Version: 1, Rule: "gap", Interval: -1, Reason: "a gap"})
	if _, err := st.PutExceptions(ctx, es); err != nil {
		t.Fatal(err)
	}
	x := &mdm.Exceptions{Store: st}
	p, err := x.List(ctx, store.ExceptionQuery{MeterID: "m1", Limit: 2})
	if err != nil || len(p.Items) != 2 || !p.More || p.Total != 3 || p.Items[0].Date != date {
		t.Fatalf("first page %+v, %v; want two of three, oldest first, and more", p, err)
	}
	p, err = x.List(ctx, store.ExceptionQuery{MeterID: "m1", Limit: 2, After: p.Items[1].ID})
	if err != nil || len(p.Items) != 1 || p.More || p.Total != 3 || p.Items[0].Date != date.AddDays(2) {
		t.Fatalf("second page %+v, %v; want the last one", p, err)
	}
	id := p.Items[0].ID
	if err := x.Resolve(ctx, id, "alice", "read again"); err != nil {
		t.Fatal(err)
	}
	if err := x.Resolve(ctx, id, "bob", "read again"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("resolved twice: %v", err)
	}
	if err := x.Resolve(ctx, id+100, "bob", "read again"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("resolving one not queued: %v", err)
	}
	if p, err := x.List(ctx, store.ExceptionQuery{MeterID: "m1", OpenOnly: true, Limit: 10}); err != nil || p.Total != 2 || len(p.Items) != 2 {
		t.Fatalf("open after resolving one: %+v, %v", p, err)
	}
}
