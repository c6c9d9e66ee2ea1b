package vee

import (
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// likeDayAverage is the mean total of the complete history days on the
// same weekday as d; when there is none, of the days of the same kind
// (working day or weekend). Never of unlike days: an office's Saturday
// is half its Monday, and a week of Mondays is no basis for a Saturday.
// Days with a power failure are left out.
func likeDayAverage(d interval.Day, hist []interval.Day) (float64, int) {
	wd := weekday(d.Date)
	var sum float64
	var n int
	for pass := 0; pass < 2 && n == 0; pass++ {
		for _, h := range hist {
			hd := weekday(h.Date)
			if pass == 0 && hd != wd || pass == 1 && weekend(hd) != weekend(wd) {
				continue
			}
			t, ok := dayTotal(h)
			if !ok {
				continue
			}
			sum += float64(t)
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// weekday is the calendar day's weekday, whatever the zone its start
// instant is written in.
func weekday(d cim.Date) time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func weekend(wd time.Weekday) bool { return wd == time.Saturday || wd == time.Sunday }

// dayTotal sums a day with every interval present and no power failure.
func dayTotal(d interval.Day) (int64, bool) {
	var t int64
	for i, v := range d.Values {
		if d.Quality[i]&(cim.QualityMissing|cim.QualityPowerDown|cim.QualityEstimated) != 0 {
			return 0, false
		}
		t += v
	}
	return t, len(d.Values) > 0
}
