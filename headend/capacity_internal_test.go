package headend

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Session-time quantiles are within a bucket (19 %) of the truth, kept
// per day and segment, and old days give way to new ones.
func TestSessionTimes(t *testing.T) {
	var s sessionTimes
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	for i := 1; i <= 100; i++ {
		s.observe(day, "col-0001", time.Duration(i)*10*time.Millisecond)
	}
	s.observe(day, "col-0002", 3*time.Second)
	got := s.get(day)
	one := got["col-0001"]
	if one.Sessions != 100 {
		t.Fatalf("%d sessions, want 100", one.Sessions)
	}
	for _, c := range []struct {
		got, want time.Duration
	}{{one.Median, 500 * time.Millisecond}, {one.P95, 950 * time.Millisecond}, {got["col-0002"].Median, 3 * time.Second}} {
		if c.got < c.want || float64(c.got) > 1.19*float64(c.want) {
			t.Errorf("quantile %v, want %v to 19 %% above", c.got, c.want)
		}
	}
	if len(s.get(day.AddDays(1))) != 0 {
		t.Fatal("another day has session times")
	}
	for d := range sessionDays + 3 {
		s.observe(day.AddDays(d+1), "col-0001", time.Second)
	}
	if len(s.days) != sessionDays || len(s.get(day)) != 0 {
		t.Fatalf("%d days kept, the first one still there: %v", len(s.days), s.get(day))
	}
	if b := sessionBucket(100 * time.Hour); b != sessionBuckets-1 {
		t.Fatalf("a long session in bucket %d", b)
	}
	if b := sessionBucket(0); b != 0 {
		t.Fatalf("an instant session in bucket %d", b)
	}
}
