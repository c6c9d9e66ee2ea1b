package greenbutton

import (
	"fmt"
	"time"
)

// dstRule is ESPI's DstRuleType: when, in a given year, daylight saving
// time starts or ends, packed into 32 bits and written as 8 hex digits.
//
//	bits  0-11  seconds past the hour, 0-3599
//	bits 12-16  hour, 0-23
//	bits 17-19  day of the week, 1 Monday … 7 Sunday (0: not used)
//	bits 20-24  day of the month, 1-31 (0: not used)
//	bits 25-27  operator: 0 on the day of the month; 1 on the weekday on or
//	            after it; 2-6 on the first … fifth such weekday of the
//	            month; 7 on the last such weekday of the month
//	bits 28-31  month, 1-12
//
// The time is the local wall clock at the change, read in the offset in
// force just before it: 02:00 for the European spring change (02:00 CET
// becomes 03:00 CEST) and 03:00 for the autumn one. The US changes come out
// as the well-known 360E2000 and B40E2000.
type dstRule uint32

func (r dstRule) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%08X", uint32(r)), nil }

// Rule operators.
const (
	opFirst = 2 // 2-6: the first … fifth weekday of the month
	opLast  = 7
)

// ruleAt encodes the change at instant t, where offset (seconds east of
// UTC) was in force until t. It always uses a weekday operator: any date
// is the nth or the last of its weekday in its month, and that is also how
// zones define their changes, so a reader applying the rule to the year
// lands on the real date.
func ruleAt(t time.Time, offset int) dstRule {
	wall := t.UTC().Add(time.Duration(offset) * time.Second)
	day, month := wall.Day(), wall.Month()
	weekday := int(wall.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	op := opFirst + (day-1)/7
	// Days 22-28 are both a fourth and, in a short month, the last such
	// weekday; zones are written "last Sunday", not "fourth Sunday".
	if day+7 > daysIn(month, wall.Year()) {
		op = opLast
	}
	secs := wall.Minute()*60 + wall.Second()
	return dstRule(uint32(month)<<28 | uint32(op)<<25 | uint32(weekday)<<17 | uint32(wall.Hour())<<12 | uint32(secs))
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

// localTimeParameters describes loc for the given year from the zone's own
// transitions in that year rather than from a table of rules, so that it
// follows whatever tzdata the binary runs with.
//
// tzOffset is the standard offset and dstOffset what DST adds to it, both
// taken from the change where the clock goes forward. That makes Dublin,
// whose tzdata calls winter time the "negative" DST, come out the way
// every reader expects: +0 with one hour of summer time. In the southern
// hemisphere DST starts late in the year and ends early in it; the rules
// say so although ESPI's text assumes the end follows the start. A zone
// without DST gets zero rules and a zero dstOffset. Only the first
// forward and backward change of the year are described: ESPI has room for
// one DST period a year.
func localTimeParameters(loc *time.Location, year int) timeConfiguration {
	from := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	to := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	_, offset := from.Zone()
	var p timeConfiguration
	var forward, backward bool
	for t := from; ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		_, next := end.Zone()
		switch {
		case next > offset && !forward:
			forward = true
			p.DSTStartRule = ruleAt(end, offset)
			p.TZOffset, p.DSTOffset = int64(offset), int64(next-offset)
		case next < offset && !backward:
			backward = true
			p.DSTEndRule = ruleAt(end, offset)
		}
		offset, t = next, end
	}
	if !forward || !backward {
		// No DST, or a one-off move of the standard offset: the offset the
		// year ends with is the zone's standard time from then on.
		return timeConfiguration{TZOffset: int64(offset)}
	}
	return p
}
