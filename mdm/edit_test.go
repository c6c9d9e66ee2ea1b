package mdm_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// gapDay is a UTC day of quarter hours nobody has read.
func gapDay(meter string, date cim.Date) interval.Day {
	d := interval.Day{MeterID: meter, Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Quality {
		d.Quality[i] = cim.QualityMissing
	}
	return d
}

// storeDay stores d as a new version and returns it.
func storeDay(t testing.TB, st store.Store, d interval.Day) int {
	t.Helper()
	vs, err := st.PutDays(context.Background(), []interval.Day{d})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

// gatedStore holds the first reads of a day until every writer has made
// one, so that all of them change the same version and all but one find
// it stale when they store.
type gatedStore struct {
	mdm.DayWriter
	mu      sync.Mutex
	readers int           // writers still to read before the gate opens
	open    chan struct{} // closed when they all have
	stale   atomic.Int32
}

func (s *gatedStore) Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error) {
	d, err := s.DayWriter.Day(ctx, meterID, channel, date)
	s.mu.Lock()
	gated := s.readers > 0
	if gated {
		if s.readers--; s.readers == 0 {
			close(s.open)
		}
	}
	s.mu.Unlock()
	if gated {
		select {
		case <-s.open:
		case <-ctx.Done():
			return d, ctx.Err()
		}
	}
	return d, err
}

func (s *gatedStore) PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	ws, err := s.DayWriter.PutDaysIfLatest(ctx, days, bases)
	for _, w := range ws {
		if w.Stale {
			s.stale.Add(1)
		}
	}
	return ws, err
}

// Two people edit one day at once, each a different interval: both read
// version 1, one stores version 2, the other finds it stale, makes its
// edit again over version 2 and stores version 3. Neither edit is lost.
func TestEditsTwoWritersOneDay(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	storeDay(t, st, gapDay("m1", date))
	gs := &gatedStore{DayWriter: st, readers: 2, open: make(chan struct{})}
	e := &mdm.Edits{Store: gs}

	edits := []struct {
		user     string
		interval int
		value    int64
	}{{"alice", 3, 100}, {"bob", 5, 200}}
	got := make([]interval.Day, len(edits))
	errs := make([]error, len(edits))
	var wg sync.WaitGroup
	for i, ed := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = e.Edit(ctx, "m1", "A+15m", date, map[int]int64{ed.interval: ed.value}, ed.user, "read off the display")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := gs.stale.Load(); n != 1 {
		t.Fatalf("%d writes found the day stale, want 1", n)
	}
	if vs := []int{got[0].Version, got[1].Version}; vs[0]+vs[1] != 5 {
		t.Fatalf("the edits got versions %v, want 2 and 3", vs)
	}
	latest, err := st.Day(ctx, "m1", "A+15m", date)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Version != 3 || latest.Values[3] != 100 || latest.Values[5] != 200 ||
		latest.Quality[3] != cim.QualityEdited || latest.Quality[5] != cim.QualityEdited || latest.Quality[4] != cim.QualityMissing {
		t.Fatalf("version %d: intervals 3, 4, 5 = %v %v; want both edits over version 2", latest.Version, latest.Values[3:6], latest.Quality[3:6])
	}
	second := got[0]
	if second.Version != 3 {
		second = got[1]
	}
	if latest.User != second.User || latest.Source != interval.SourceEdit {
		t.Fatalf("the latest version is by %q (%s), want %q's edit", latest.User, latest.Source, second.User)
	}
}

// racingStore stores a reading before each of the next Times
// compare-and-swaps (all of them when Times is negative), as an ingest
// would between a writer's read of a day and its write: the k-th at
// interval Interval+k-1, as 55+k-1 Wh.
type racingStore struct {
	store.Store
	Interval, Times int
	raced           int
}

func (s *racingStore) PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	if s.Times < 0 || s.raced < s.Times {
		d, err := s.Store.Day(ctx, days[0].MeterID, days[0].Channel, days[0].Date)
		if err != nil {
			return nil, err
		}
		d.Values[s.Interval+s.raced], d.Quality[s.Interval+s.raced] = 55+int64(s.raced), 0
		s.raced++
		if _, err := s.Store.PutDays(ctx, []interval.Day{d}); err != nil {
			return nil, err
		}
	}
	return s.Store.PutDaysIfLatest(ctx, days, bases)
}

// A change overtaken every time gives up after its attempts and stores
// nothing; the other writer's versions stand.
func TestEditsOvertaken(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	storeDay(t, st, gapDay("m1", date))
	e := &mdm.Edits{Store: &racingStore{Store: st, Interval: 50, Times: -1}, Attempts: 3}
	_, err := e.Edit(ctx, "m1", "A+15m", date, map[int]int64{3: 100}, "alice", "read off the display")
	if !errors.Is(err, mdm.ErrOvertaken) {
		t.Fatalf("err %v, want ErrOvertaken", err)
	}
	vs, err := st.DayVersions(ctx, "m1", "A+15m", date)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 4 {
		t.Fatalf("%d versions, want the first and three of the other writer's", len(vs))
	}
	for _, v := range vs {
		if v.Source == interval.SourceEdit {
			t.Fatalf("version %d is the edit, stored though overtaken", v.Version)
		}
	}
}

// An edit the day cannot take is refused with the reason alone; a day
// never stored is not found. Neither stores anything.
func TestEditsRefusedAndNotFound(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	storeDay(t, st, gapDay("m1", date))
	e := &mdm.Edits{Store: st}

	_, err := e.Edit(ctx, "m1", "A+15m", date, map[int]int64{96: 1}, "alice", "typo")
	var refused *mdm.RefusedError
	if !errors.As(err, &refused) || err.Error() != "edit of m1 A+15m 2026-06-04: no interval 96 (the day has 96)" {
		t.Fatalf("err %v, want the day's refusal", err)
	}
	if _, err := e.Edit(ctx, "m1", "A+15m", date, map[int]int64{1: 1}, "", ""); !errors.As(err, &refused) {
		t.Fatalf("an edit by nobody: %v", err)
	}
	if _, err := e.Edit(ctx, "m1", "A+15m", date.AddDays(1), map[int]int64{1: 1}, "alice", "typo"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a day not stored: %v", err)
	}
	if vs, err := st.DayVersions(ctx, "m1", "A+15m", date); err != nil || len(vs) != 1 {
		t.Fatalf("%d versions (%v), want the first alone", len(vs), err)
	}
}

// ApplyOver changes the version its caller holds without reading it
// again, and a change equal to the latest version stores nothing new.
func TestEditsApplyOver(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	storeDay(t, st, gapDay("m1", date))
	base, err := st.Day(ctx, "m1", "A+15m", date)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := (&mdm.Edits{Store: st}).ApplyOver(ctx, base, func(d interval.Day) (interval.Day, error) {
		calls++
		return d, nil
	})
	if err != nil || calls != 1 || got.Version != 1 {
		t.Fatalf("an unchanged day: version %d after %d calls, %v; want version 1 after 1", got.Version, calls, err)
	}
}
