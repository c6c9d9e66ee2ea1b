package dlmsdriver

import (
	"testing"
	"time"
)

// A profile whose capture period is unknown takes its period from the
// spacing most of its entries keep: an off-grid first pair or a gap does
// not set it.
func TestSpacingIsTheMostCommon(t *testing.T) {
	at := func(hm ...int) []entry {
		base := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
		es := make([]entry, len(hm)/2)
		for i := range es {
			es[i].at = base.Add(time.Duration(hm[2*i])*time.Hour + time.Duration(hm[2*i+1])*time.Second)
		}
		return es
	}
	for _, tc := range []struct {
		name string
		es   []entry
		want time.Duration
	}{
		{"none", nil, 15 * time.Minute},
		{"one", at(7, 0), 15 * time.Minute},
		{"off-grid first pair", at(7, 0, 7, 450, 7, 900, 7, 1800, 7, 2700), 15 * time.Minute},
		{"a gap", at(1, 0, 3, 0, 3, 900, 3, 1800), 15 * time.Minute},
		{"hourly", at(1, 0, 2, 0, 3, 0, 5, 0), time.Hour},
	} {
		if got := spacing(tc.es); got != tc.want {
			t.Errorf("%s: spacing %s, want %s", tc.name, got, tc.want)
		}
	}
}
