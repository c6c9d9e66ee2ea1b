package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// testBatchReads checks that each batch read answers every range exactly
// as the read of that range alone does: latest versions only, ranges that
// overlap or repeat, ranges that find nothing, open bounds, limits, and
// more ranges than one statement takes.
func testBatchReads(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	first := cim.Date{Year: 2026, Month: 10, Day: 20}
	var days []interval.Day
	var regs []store.RegisterRead
	var evs []cim.EndDeviceEvent
	meters := []string{"b1", "b2", "b3"}
	for mi, m := range meters {
		for k := range 10 {
			if mi == 2 && k%3 == 0 {
				continue // gaps
			}
			date := first.AddDays(k)
			for _, ch := range []string{"A+15m", "A-15m"} {
				d := interval.Day{MeterID: m, Channel: ch, Date: date, Start: date.Start(time.UTC), Interval: time.Hour,
					Values: make([]int64, 24), Quality: make([]cim.Quality, 24), Source: interval.SourceMeter}
				for j := range d.Values {
					d.Values[j] = int64(100*mi + 10*k + j)
				}
				days = append(days, d)
			}
			at := date.Start(time.UTC)
			regs = append(regs, store.RegisterRead{MeterID: m, ReadingType: "A+/billing", TimeStamp: at, Value: int64(1000 * k)},
				store.RegisterRead{MeterID: m, ReadingType: "A-/billing", TimeStamp: at, Value: int64(10 * k)})
			for j, typ := range []cim.EndDeviceEventType{cim.EventPowerOff, cim.EventPowerRestored, "3.31.0.68"} {
				evs = append(evs, cim.EndDeviceEvent{MRID: fmt.Sprintf("%s/%d/%d", m, k, j), MeterID: m, Type: typ,
					CreatedAt: at.Add(time.Duration(j%2) * time.Hour)}) // two events to an instant
			}
		}
	}
	if _, err := s.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	// A second version of some days: only the latest is read.
	var again []interval.Day
	for _, d := range days[:6] {
		d.Values = append([]int64(nil), d.Values...)
		d.Values[0] = -1
		d.Source, d.Reason, d.User = interval.SourceEdit, "fixed", "ops"
		again = append(again, d)
	}
	if _, err := s.PutDays(ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRegisterReads(ctx, regs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}

	var dr []store.DayRange
	var rr []store.ReadRange
	var er []store.EventRange
	// Enough ranges for full statements, more of them than run at once.
	for n := 0; n < 1700; n++ {
		m := meters[n%4%3]
		if n%4 == 3 {
			m = "nobody"
		}
		from := first.AddDays(n%12 - 2)
		to := from.AddDays(n % 5)
		dr = append(dr, store.DayRange{MeterID: m, Channel: []string{"A+15m", "A-15m", "X"}[n%3], From: from, To: to})
		rr = append(rr, store.ReadRange{MeterID: m, ReadingType: []string{"A+/billing", "A-/billing"}[n%2],
			From: from.Start(time.UTC), To: to.Start(time.UTC).Add(time.Duration(n%3) * time.Second)})
		e := store.EventRange{MeterID: m, From: from.Start(time.UTC), To: to.Start(time.UTC).Add(time.Hour), Limit: n % 4}
		switch n % 7 {
		case 5:
			e.From = time.Time{}
		case 6:
			e.To = time.Time{}
		}
		er = append(er, e)
	}
	// The first day range is empty (To before From).
	dr[0].To = dr[0].From.AddDays(-1)

	gotDays, err := s.DaysOfMeters(ctx, dr)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotDays) != len(dr) {
		t.Fatalf("%d answers to %d day ranges", len(gotDays), len(dr))
	}
	found := 0
	for i, r := range dr {
		want, err := s.Days(ctx, r.MeterID, r.Channel, r.From, r.To)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotDays[i], want) {
			t.Fatalf("day range %d %+v: got %d days %v, want %d %v", i, r, len(gotDays[i]), gotDays[i], len(want), want)
		}
		found += len(want)
	}
	if found == 0 {
		t.Fatal("no day range found a day: the test proves nothing")
	}

	gotRegs, err := s.RegisterReadsOfMeters(ctx, rr)
	if err != nil {
		t.Fatal(err)
	}
	found = 0
	for i, r := range rr {
		want, err := s.RegisterReads(ctx, r.MeterID, r.ReadingType, r.From, r.To)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRegs[i], want) {
			t.Fatalf("read range %d %+v: got %v, want %v", i, r, gotRegs[i], want)
		}
		found += len(want)
	}
	if found == 0 {
		t.Fatal("no read range found a read: the test proves nothing")
	}
	if _, err := s.RegisterReadsOfMeters(ctx, []store.ReadRange{{MeterID: "b1"}}); err == nil {
		t.Fatal("a read range without a reading type was taken")
	}

	for _, types := range [][]cim.EndDeviceEventType{nil, {cim.EventPowerOff, "3.31.0.68"}} {
		got, err := s.EventsOfMeters(ctx, types, er)
		if err != nil {
			t.Fatal(err)
		}
		found = 0
		for i, r := range er {
			limit := r.Limit
			if limit == 0 {
				limit = 1 << 20
			}
			want, err := s.Events(ctx, store.EventQuery{MeterID: r.MeterID, Types: types, From: r.From, To: r.To, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Fatalf("types %v, event range %d %+v: got %v, want %v", types, i, r, got[i], want)
			}
			found += len(want)
		}
		if found == 0 {
			t.Fatal("no event range found an event: the test proves nothing")
		}
	}

	// No ranges, no answers, and no error.
	if d, err := s.DaysOfMeters(ctx, nil); err != nil || len(d) != 0 {
		t.Fatalf("no day ranges: %v, %v", d, err)
	}
	if r, err := s.RegisterReadsOfMeters(ctx, nil); err != nil || len(r) != 0 {
		t.Fatalf("no read ranges: %v, %v", r, err)
	}
	if e, err := s.EventsOfMeters(ctx, nil, nil); err != nil || len(e) != 0 {
		t.Fatalf("no event ranges: %v, %v", e, err)
	}
}
