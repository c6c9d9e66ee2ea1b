package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func testWeather(t *testing.T, o Opener) {
	s, where := o.Open(t)
	t0 := time.Date(2026, 1, 10, 6, 0, 0, 0, time.UTC)
	if _, err := s.LatestWeather(ctx, "north", t0.Add(-time.Hour), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty feed: %v, want not found", err)
	}
	obs := []store.WeatherObservation{
		{Region: "north", At: t0.Add(-3 * time.Hour), TemperatureC: -4.5},
		{Region: "north", At: t0.Add(-time.Hour), TemperatureC: -2.25},
		{Region: "north", At: t0.Add(time.Hour), TemperatureC: 7}, // a forecast beyond "until"
		{Region: "south", At: t0.Add(-30 * time.Minute), TemperatureC: 38.5},
	}
	if n, err := s.PutWeather(ctx, obs); err != nil || n != len(obs) {
		t.Fatalf("put %d, %v", n, err)
	}
	got, err := s.LatestWeather(ctx, "north", t0.Add(-6*time.Hour), t0)
	if err != nil || got.TemperatureC != -2.25 || !got.At.Equal(t0.Add(-time.Hour)) || got.Region != "north" {
		t.Fatalf("latest north %+v %v", got, err)
	}
	// Only observations inside the window count.
	if _, err := s.LatestWeather(ctx, "north", t0.Add(-30*time.Minute), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("north in the last half hour: %v, want not found", err)
	}
	if got, err := s.LatestWeather(ctx, "south", t0.Add(-time.Hour), t0); err != nil || got.TemperatureC != 38.5 {
		t.Fatalf("latest south %+v %v", got, err)
	}
	if _, err := s.LatestWeather(ctx, "west", t0.Add(-time.Hour), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown region: %v, want not found", err)
	}
	// A corrected observation replaces the one at the same instant.
	if _, err := s.PutWeather(ctx, []store.WeatherObservation{{Region: "north", At: t0.Add(-time.Hour), TemperatureC: 1.5}}); err != nil {
		t.Fatal(err)
	}
	// Bad input is refused whole and loses nothing stored.
	for _, bad := range [][]store.WeatherObservation{
		{{Region: "", At: t0, TemperatureC: 1}},
		{{Region: "north", TemperatureC: 1}},
		{{Region: "north", At: t0.Add(-10 * time.Minute), TemperatureC: 3}, {Region: "north", At: t0, TemperatureC: math.NaN()}},
		{{Region: "north", At: t0, TemperatureC: math.Inf(1)}},
	} {
		if _, err := s.PutWeather(ctx, bad); err == nil {
			t.Errorf("bad batch %+v accepted", bad)
		}
	}
	s.Close()
	s2 := o.Reopen(t, where)
	got, err = s2.LatestWeather(ctx, "north", t0.Add(-6*time.Hour), t0)
	if err != nil || got.TemperatureC != 1.5 || !got.At.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("north after correction and reopen %+v %v", got, err)
	}
}
