package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Safeguards configures the kill-switch safeguards: which guards stop a
// disconnect unless its issuer overrides them with a reason, their
// thresholds, the holidays, and the spread of reconnects.
//
//	safeguards:
//	  cold_c: -2
//	  hot_c: 35
//	  weather_max_age: 6h
//	  holidays: ["*:2026-12-25", "north:2026-06-24"]
//	  holidays_file: /etc/amigo/holidays.txt
//	  reconnect_window: 5m
type Safeguards struct {
	// Protection refuses a disconnect at a usage point flagged vulnerable
	// or medical.
	Protection bool `yaml:"protection"`
	// Weather refuses a disconnect where the latest temperature of the
	// meter's region, observed within WeatherMaxAge, is below ColdC or
	// above HotC.
	Weather       bool          `yaml:"weather"`
	ColdC         float64       `yaml:"cold_c"`
	HotC          float64       `yaml:"hot_c"`
	WeatherMaxAge time.Duration `yaml:"weather_max_age"`
	// Calendar refuses a disconnect on a weekend or a holiday, in the
	// usage point's time zone.
	Calendar bool `yaml:"calendar"`
	// Holidays are region:YYYY-MM-DD, "*" for every region; HolidaysFile
	// holds more, one a line ('#' starts a comment).
	Holidays     []string `yaml:"holidays"`
	HolidaysFile string   `yaml:"holidays_file"`
	// ReconnectWindow spreads reconnects over this long (0: not spread).
	ReconnectWindow time.Duration `yaml:"reconnect_window"`
}

// MaxReconnectWindow is the widest reconnect spread allowed.
const MaxReconnectWindow = 600 * time.Second

// DefaultSafeguards has every guard on: 0 °C and 35 °C within 6 hours,
// weekends, reconnects spread over 5 minutes.
func DefaultSafeguards() Safeguards {
	return Safeguards{Protection: true, Weather: true, ColdC: 0, HotC: 35, WeatherMaxAge: 6 * time.Hour,
		Calendar: true, ReconnectWindow: 300 * time.Second}
}

// Validate checks the settings, the holidays file included.
func (s Safeguards) Validate() error {
	switch {
	case s.ReconnectWindow < 0 || s.ReconnectWindow > MaxReconnectWindow:
		return fmt.Errorf("safeguards: reconnect_window %s: want 0 to %s", s.ReconnectWindow, MaxReconnectWindow)
	case s.ColdC >= s.HotC:
		return fmt.Errorf("safeguards: cold_c %g is not below hot_c %g", s.ColdC, s.HotC)
	case s.WeatherMaxAge <= 0:
		return fmt.Errorf("safeguards: weather_max_age %s: want a positive duration", s.WeatherMaxAge)
	}
	_, err := s.HolidayDates()
	return err
}

// HolidayDates returns the holidays by region ("*": every region), from
// Holidays and the file.
func (s Safeguards) HolidayDates() (map[string][]cim.Date, error) {
	out := map[string][]cim.Date{}
	for i, h := range s.Holidays {
		region, d, err := ParseHoliday(h)
		if err != nil {
			return nil, fmt.Errorf("safeguards: holidays[%d]: %w", i, err)
		}
		out[region] = append(out[region], d)
	}
	if s.HolidaysFile == "" {
		return out, nil
	}
	b, err := os.ReadFile(s.HolidaysFile)
	if err != nil {
		return nil, fmt.Errorf("safeguards: holidays file: %w", err)
	}
	more, err := ParseHolidays(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("safeguards: holidays file %s: %w", s.HolidaysFile, err)
	}
	for r, ds := range more {
		out[r] = append(out[r], ds...)
	}
	return out, nil
}

// maxHolidayLine bounds a line of a holidays file: a region and a date.
const maxHolidayLine = 256

// ParseHolidays reads a holidays file: region:YYYY-MM-DD a line, blank
// lines and '#' comments skipped. A bad line is named.
func ParseHolidays(r io.Reader) (map[string][]cim.Date, error) {
	out := map[string][]cim.Date{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxHolidayLine), maxHolidayLine)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		region, d, err := ParseHoliday(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out[region] = append(out[region], d)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line over %d bytes", maxHolidayLine)
		}
		return nil, err
	}
	return out, nil
}

// ParseHoliday parses region:YYYY-MM-DD; the region is "*" for every
// region, and may itself hold colons.
func ParseHoliday(s string) (string, cim.Date, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", cim.Date{}, fmt.Errorf("holiday %.64q: want region:YYYY-MM-DD", s)
	}
	region, day := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if region == "" {
		return "", cim.Date{}, fmt.Errorf("holiday %.64q: no region (\"*\" is every region)", s)
	}
	if len(region) > 128 {
		return "", cim.Date{}, fmt.Errorf("holiday: region of %d bytes, at most 128", len(region))
	}
	d, err := cim.ParseDate(day)
	if err != nil {
		return "", cim.Date{}, fmt.Errorf("holiday %.64q: date %.16q: want YYYY-MM-DD", s, day)
	}
	return region, d, nil
}
