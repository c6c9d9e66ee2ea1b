package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

func testRetention(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	r, ok := s.(store.Retention)
	if !ok {
		t.Fatalf("%s store has no retention", s.Kind())
	}
	loc := time.UTC
	dates := []cim.Date{
		{Year: 2026, Month: 1, Day: 15},
		{Year: 2026, Month: 5, Day: 20},
		{Year: 2026, Month: 11, Day: 30},
		{Year: 2026, Month: 12, Day: 1},
		// Far past any month made ahead: it must still be taken.
		{Year: 2031, Month: 7, Day: 4},
	}
	var days []interval.Day
	for i, d := range dates {
		days = append(days, day("m1", d, loc, int64(100*i)), day("m2", d, loc, int64(100*i+1)))
	}
	if _, err := s.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	// A second version of an old day goes with its month.
	edit := day("m1", dates[1], loc, 7)
	edit.Source, edit.User, edit.Reason = interval.SourceEdit, "alice", "meter swap"
	if v, err := s.PutDays(ctx, []interval.Day{edit}); err != nil || v[0] != 2 {
		t.Fatalf("edit: version %v, %v", v, err)
	}
	present := func(want ...cim.Date) {
		t.Helper()
		for _, m := range []string{"m1", "m2"} {
			got, err := s.Days(ctx, m, "A+15m", cim.Date{Year: 2000, Month: 1, Day: 1}, cim.Date{Year: 2099, Month: 12, Day: 31})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("meter %s: %d days, want %d (%v)", m, len(got), len(want), want)
			}
			for i := range want {
				if got[i].Date != want[i] {
					t.Fatalf("meter %s: day %d is %v, want %v", m, i, got[i].Date, want[i])
				}
			}
		}
	}

	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	if _, err := r.Maintain(ctx, now, -1); err == nil {
		t.Fatal("a negative retention was taken")
	}
	// Two nodes at once: both succeed, neither loses a row.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Maintain(ctx, now, 0)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	present(dates...)
	// Once done, it is done.
	rep, err := r.Maintain(ctx, now, 0)
	if err != nil || !rep.Empty() {
		t.Fatalf("second maintenance changed %+v, %v", rep, err)
	}
	if d, err := s.Day(ctx, "m1", "A+15m", dates[1]); err != nil || d.Version != 2 || d.User != "alice" {
		t.Fatalf("edited day after maintenance: %+v, %v", d, err)
	}

	// One month kept: on 7 December, November and December stay.
	rep, err = r.Maintain(ctx, now, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Empty() {
		t.Fatal("retention removed nothing")
	}
	present(dates[2:]...)
	for _, v := range []cim.Date{dates[0], dates[1]} {
		if _, err := s.Day(ctx, "m1", "A+15m", v); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired day %v: %v, want not found", v, err)
		}
	}
	if rep, err := r.Maintain(ctx, now, 1); err != nil || len(rep.Dropped) != 0 || rep.Deleted != 0 {
		t.Fatalf("retention again removed %+v, %v", rep, err)
	}
	// Writing goes on as before, in a month made ahead and past them.
	later := []cim.Date{{Year: 2027, Month: 2, Day: 1}, {Year: 2032, Month: 1, Day: 1}}
	for _, d := range later {
		if _, err := s.PutDays(ctx, []interval.Day{day("m1", d, loc, 5), day("m2", d, loc, 6)}); err != nil {
			t.Fatalf("day %v after retention: %v", d, err)
		}
	}
	if _, err := r.Maintain(ctx, now, 1); err != nil {
		t.Fatal(err)
	}
	present(dates[2], dates[3], later[0], dates[4], later[1])
}
