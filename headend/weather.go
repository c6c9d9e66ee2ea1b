package headend

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
)

// ErrBadWeather is wrapped by ParseWeather and ImportWeather for a feed
// they refuse; nothing of such a feed is stored.
var ErrBadWeather = errors.New("weather feed: invalid")

// WeatherColumns are the columns of a weather feed, in any order.
var WeatherColumns = []string{"region", "time", "temperature_c"}

// Bounds of a weather feed. A region is a registry label; temperatures
// outside what has ever been measured on the ground are a unit or typing
// error, and a disconnect safeguard must not be fed them.
const (
	maxWeatherRegion = 128
	maxWeatherLine   = 4 << 10
	minTemperatureC  = -95.0
	maxTemperatureC  = 65.0
)

// WeatherError is a bad line of a weather feed (the header is line 1).
type WeatherError struct {
	Line   int
	Column string // empty when the line as a whole is wrong
	Err    error
}

func (e *WeatherError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("weather line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("weather line %d, column %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns the cause; errors.Is(err, ErrBadWeather) holds as well.
func (e *WeatherError) Unwrap() []error { return []error{ErrBadWeather, e.Err} }

// ParseWeather reads a weather feed: CSV with the header
// region,time,temperature_c, one observation a line, times in RFC 3339
// and temperatures in degrees Celsius. The first bad line fails the whole
// feed with a *WeatherError naming it: a safeguard that silently used a
// part of a feed would decide on data nobody checked.
func ParseWeather(r io.Reader) ([]store.WeatherObservation, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &WeatherError{Line: 1, Err: errors.New("empty feed: no header")}
	}
	if err != nil {
		return nil, weatherCSVErr(err)
	}
	pos := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := pos[h]; dup {
			return nil, &WeatherError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		pos[h] = i
	}
	var idx [3]int
	for i, c := range WeatherColumns {
		j, ok := pos[c]
		if !ok {
			return nil, &WeatherError{Line: 1, Column: c, Err: errors.New("missing column")}
		}
		idx[i] = j
	}
	var out []store.WeatherObservation
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, weatherCSVErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			return nil, &WeatherError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(head))}
		}
		o, err := parseObservation(rec[idx[0]], rec[idx[1]], rec[idx[2]], line)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
}

func parseObservation(region, at, temp string, line int) (store.WeatherObservation, error) {
	bad := func(col string, err error) (store.WeatherObservation, error) {
		return store.WeatherObservation{}, &WeatherError{Line: line, Column: col, Err: err}
	}
	region, at, temp = strings.TrimSpace(region), strings.TrimSpace(at), strings.TrimSpace(temp)
	switch {
	case region == "":
		return bad("region", errors.New("empty"))
	case len(region) > maxWeatherRegion:
		return bad("region", fmt.Errorf("%d bytes, at most %d", len(region), maxWeatherRegion))
	case !utf8.ValidString(region):
		return bad("region", errors.New("not UTF-8"))
	case strings.ContainsFunc(region, unicode.IsControl):
		return bad("region", errors.New("holds a control character"))
	}
	if len(at) > 64 {
		return bad("time", fmt.Errorf("%d bytes, not a time", len(at)))
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return bad("time", fmt.Errorf("%q: want an RFC 3339 time such as 2026-01-10T06:00:00Z", at))
	}
	if t.Year() < 1970 {
		return bad("time", fmt.Errorf("%q: before 1970", at))
	}
	if len(temp) > 32 {
		return bad("temperature_c", fmt.Errorf("%d bytes, not a temperature", len(temp)))
	}
	c, err := strconv.ParseFloat(temp, 64)
	if err != nil || math.IsNaN(c) || math.IsInf(c, 0) {
		return bad("temperature_c", fmt.Errorf("%q: not a number of degrees Celsius", temp))
	}
	if c < minTemperatureC || c > maxTemperatureC {
		return bad("temperature_c", fmt.Errorf("%g °C: outside %g to %g", c, minTemperatureC, maxTemperatureC))
	}
	return store.WeatherObservation{Region: region, At: t.UTC(), TemperatureC: c}, nil
}

func weatherCSVErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &WeatherError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("%w: %w", ErrBadWeather, err)
}

// weatherBatch bounds one store transaction of a weather import.
const weatherBatch = 1000

// ImportWeather reads a weather feed (see ParseWeather) and keeps it for
// the disconnect safeguards. A feed with a bad line stores nothing; a
// good one is stored in batches, and importing it again changes nothing.
// by names who imports it, for the audit trail. It returns how many
// observations were stored.
func (h *HeadEnd) ImportWeather(ctx context.Context, r io.Reader, by string) (int, error) {
	if h.weather == nil {
		return 0, errors.New("weather: this head-end keeps no weather feed")
	}
	obs, err := ParseWeather(r)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(obs) > 0 {
		b := obs[:min(len(obs), weatherBatch)]
		k, err := h.weather.PutWeather(ctx, b)
		n += k
		if err != nil {
			return n, fmt.Errorf("weather: storing observations after the first %d: %w", n, err)
		}
		obs = obs[len(b):]
	}
	h.record(ctx, audit.Record{Actor: by, Action: audit.ConfigChange, Target: "weather", Outcome: audit.OK,
		Details: map[string]string{"observations": strconv.Itoa(n)}})
	return n, nil
}
