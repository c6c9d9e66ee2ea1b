package dsmr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Decimal is a P1 fixed-point number kept exactly: Digits × 10^Exp.
// "001234.567" is {1234567, -3}; a kWh register read this way is Wh
// without rounding.
type Decimal struct {
	Digits int64
	Exp    int
}

// ParseDecimal reads an unsigned or signed fixed-point number with at
// most 18 digits.
func ParseDecimal(s string) (Decimal, error) {
	if s == "" {
		return Decimal{}, errors.New("empty number")
	}
	neg := false
	body := s
	if body[0] == '-' || body[0] == '+' {
		neg, body = body[0] == '-', body[1:]
	}
	ip, fp, _ := strings.Cut(body, ".")
	digits := ip + fp
	if digits == "" || len(digits) > 18 {
		return Decimal{}, fmt.Errorf("number %q: want 1 to 18 digits", s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return Decimal{}, fmt.Errorf("number %q: not a digit %q", s, digits[i])
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return Decimal{}, fmt.Errorf("number %q: %w", s, err)
	}
	if neg {
		v = -v
	}
	return Decimal{Digits: v, Exp: -len(fp)}, nil
}

// Scaled returns d in units of 10^exp, truncated: Scaled(-3) of a kWh
// register is Wh.
func (d Decimal) Scaled(exp int) int64 {
	v := d.Digits
	for e := d.Exp; e < exp; e++ {
		v /= 10
	}
	for e := d.Exp; e > exp; e-- {
		v *= 10
	}
	return v
}

// Float64 returns d as a float, for display.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// String writes d with its own number of decimals.
func (d Decimal) String() string { return fixed(d.Digits, -d.Exp, 0) }

// fixed writes v × 10^-decimals with at least width integer digits,
// zero-padded as P1 lines are.
func fixed(v int64, decimals, width int) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	if decimals < 0 {
		s += strings.Repeat("0", -decimals)
		decimals = 0
	}
	for len(s) < decimals+max(width, 1) {
		s = "0" + s
	}
	if decimals > 0 {
		s = s[:len(s)-decimals] + "." + s[len(s)-decimals:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseTime reads a P1 timestamp YYMMDDhhmmssX: X is S in summer time
// (UTC+2) and W in winter time (UTC+1), the zones of every country DSMR
// and e-MUCS meters are used in. A meter whose clock is not set may omit
// X; it is then read as winter time.
func ParseTime(s string) (time.Time, error) {
	if len(s) != 12 && len(s) != 13 {
		return time.Time{}, fmt.Errorf("timestamp %q: want YYMMDDhhmmssX", s)
	}
	var n [6]int
	for i := range n {
		a, b := s[2*i], s[2*i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return time.Time{}, fmt.Errorf("timestamp %q: not a digit", s)
		}
		n[i] = int(a-'0')*10 + int(b-'0')
	}
	off := 3600
	if len(s) == 13 {
		switch s[12] {
		case 'S', 's':
			off = 7200
		case 'W', 'w':
		default:
			return time.Time{}, fmt.Errorf("timestamp %q: DST flag %q, want S or W", s, s[12])
		}
	}
	if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 59 {
		return time.Time{}, fmt.Errorf("timestamp %q: out of range", s)
	}
	t := time.Date(2000+n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, zoneOf(off))
	if t.Day() != n[2] {
		return time.Time{}, fmt.Errorf("timestamp %q: no such day", s)
	}
	return t, nil
}

var (
	cet  = time.FixedZone("CET", 3600)
	cest = time.FixedZone("CEST", 7200)
)

func zoneOf(off int) *time.Location {
	if off == 7200 {
		return cest
	}
	return cet
}

// FormatTime writes t as a P1 timestamp in Central European time, the
// DST flag following the EU rule (summer time from 01:00 UTC on the last
// Sunday of March to 01:00 UTC on the last Sunday of October).
func FormatTime(t time.Time) string {
	u := t.UTC()
	flag, loc := byte('W'), cet
	if summer(u) {
		flag, loc = 'S', cest
	}
	return u.In(loc).Format("060102150405") + string(flag)
}

func summer(u time.Time) bool {
	y := u.Year()
	return !u.Before(lastSunday(y, time.March)) && u.Before(lastSunday(y, time.October))
}

// lastSunday is 01:00 UTC on the last Sunday of month m of year y.
func lastSunday(y int, m time.Month) time.Time {
	d := time.Date(y, m+1, 0, 1, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -int(d.Weekday()))
}
