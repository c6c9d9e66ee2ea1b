package headend_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/headend"
)

func TestParseWeather(t *testing.T) {
	obs, err := headend.ParseWeather(strings.NewReader("\ufefftemperature_c, region ,time\n-2.5,north,2026-12-07T08:00:00+01:00\n 35 , south ,2026-12-07T07:00:00Z\n"))
	if err != nil || len(obs) != 2 {
		t.Fatalf("%+v %v", obs, err)
	}
	if o := obs[0]; o.Region != "north" || o.TemperatureC != -2.5 || !o.At.Equal(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)) || o.At.Location() != time.UTC {
		t.Errorf("first %+v", o)
	}
	if o := obs[1]; o.Region != "south" || o.TemperatureC != 35 {
		t.Errorf("second %+v", o)
	}
	if obs, err := headend.ParseWeather(strings.NewReader("region,time,temperature_c\n")); err != nil || len(obs) != 0 {
		t.Errorf("header only: %+v %v", obs, err)
	}
	for _, c := range []struct {
		name, in string
		line     int
		column   string
		says     string
	}{
		{"empty", "", 1, "", "no header"},
		{"missing column", "region,time\nnorth,2026-12-07T08:00:00Z\n", 1, "temperature_c", "missing column"},
		{"column twice", "region,time,temperature_c,region\n", 1, "region", "twice"},
		{"short line", "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,1\nnorth,2026-12-07T09:00:00Z\n", 3, "", "2 fields, the header has 3"},
		{"no region", "region,time,temperature_c\n ,2026-12-07T08:00:00Z,1\n", 2, "region", "empty"},
		{"control in region", "region,time,temperature_c\n\"no\x1brth\",2026-12-07T08:00:00Z,1\n", 2, "region", "control character"},
		{"long region", "region,time,temperature_c\n" + strings.Repeat("r", 129) + ",2026-12-07T08:00:00Z,1\n", 2, "region", "129 bytes"},
		{"bad time", "region,time,temperature_c\nnorth,07/12/2026 08:00,1\n", 2, "time", "RFC 3339"},
		{"no zone", "region,time,temperature_c\nnorth,2026-12-07T08:00:00,1\n", 2, "time", "RFC 3339"},
		{"not a number", "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,cold\n", 2, "temperature_c", "not a number"},
		{"NaN", "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,NaN\n", 2, "temperature_c", "not a number"},
		{"Fahrenheit", "region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,98.6\n", 2, "temperature_c", "outside"},
		{"broken quote", "region,time,temperature_c\n\"north,2026-12-07T08:00:00Z,1\n", 2, "", ""},
	} {
		_, err := headend.ParseWeather(strings.NewReader(c.in))
		var we *headend.WeatherError
		if !errors.As(err, &we) || !errors.Is(err, headend.ErrBadWeather) {
			t.Errorf("%s: %v, want a WeatherError", c.name, err)
			continue
		}
		if we.Line != c.line || we.Column != c.column || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %q (line %d, column %q), want line %d, column %q, saying %q", c.name, err, we.Line, we.Column, c.line, c.column, c.says)
		}
	}
}

// FuzzParseWeather: any feed parses or is refused with a line, and what
// parses is in bounds.
func FuzzParseWeather(f *testing.F) {
	f.Add("region,time,temperature_c\nnorth,2026-12-07T08:00:00Z,-2.5\n")
	f.Add("time,temperature_c,region\n2026-12-07T08:00:00+01:00,1e1,south\n")
	f.Add("region,time,temperature_c\n\"a,b\",2026-12-07T08:00:00Z,0\n")
	f.Fuzz(func(t *testing.T, in string) {
		obs, err := headend.ParseWeather(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, headend.ErrBadWeather) {
				t.Fatalf("error without ErrBadWeather: %v", err)
			}
			var we *headend.WeatherError
			if errors.As(err, &we) && we.Line < 1 {
				t.Fatalf("error at line %d: %v", we.Line, err)
			}
			return
		}
		for _, o := range obs {
			if o.Region == "" || o.At.IsZero() || math.IsNaN(o.TemperatureC) || o.TemperatureC < -95 || o.TemperatureC > 65 {
				t.Fatalf("out of bounds: %+v", o)
			}
		}
	})
}
