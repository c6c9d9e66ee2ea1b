package openadr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDuration bounds what a peer may send: a century is far beyond any
// event, report or poll period, and keeps every arithmetic step clear of
// overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads an ISO 8601 duration as xcal carries it (PT1H,
// PT10M, P1D, -PT5M, P1W, PT0.5S). Years and months have no fixed length,
// so only a zero count of them is accepted.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("openadr: duration %q: %s", orig, why)
	}
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") {
		return bad("does not start with P")
	}
	s = s[1:]
	if s == "" {
		return bad("no components")
	}
	var total float64 // seconds; components are bounded before summing
	inTime, seen := false, false
	order := "YMWD"
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return bad("second T")
			}
			inTime, order, s = true, "HMS", s[1:]
			if s == "" {
				return bad("T without a time component")
			}
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ',') {
			i++
		}
		if i == 0 || i == len(s) {
			return bad("a number without its designator")
		}
		num := strings.Replace(s[:i], ",", ".", 1)
		unit := s[i]
		s = s[i+1:]
		k := strings.IndexByte(order, unit)
		if k < 0 {
			return bad(fmt.Sprintf("designator %q out of place", unit))
		}
		order = order[k+1:]
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || v > 1e12 {
			return bad(fmt.Sprintf("number %q", num))
		}
		var unitSec float64
		switch {
		case !inTime && (unit == 'Y' || unit == 'M'):
			if v != 0 {
				return bad("years and months have no fixed length")
			}
		case !inTime && unit == 'W':
			unitSec = 7 * 86400
		case !inTime && unit == 'D':
			unitSec = 86400
		case unit == 'H':
			unitSec = 3600
		case unit == 'M':
			unitSec = 60
		case unit == 'S':
			unitSec = 1
		}
		total += v * unitSec
		seen = true
		if total > maxDuration.Seconds() {
			return bad("longer than a century")
		}
	}
	if !seen {
		return bad("no components")
	}
	d := time.Duration(total*1e9 + 0.5)
	if neg {
		d = -d
	}
	return d, nil
}

// FormatDuration prints d as an ISO 8601 duration in hours, minutes and
// seconds (PT1H, PT10M, PT0S), the form every 2.0b peer reads.
func FormatDuration(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteString("PT")
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if d > 0 || (h == 0 && m == 0) {
		sec := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		b.WriteString(sec)
		b.WriteByte('S')
	}
	return b.String()
}

// ParseDateTime reads an xcal date-time (RFC 3339 with or without
// fractional seconds). A time without a zone is taken as UTC, as peers
// that omit it mean.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("openadr: empty date-time")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("openadr: date-time %q is not RFC 3339", s)
}

// FormatDateTime prints t in UTC with a Z, with fractional seconds only
// when there are any.
func FormatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999999Z")
}
