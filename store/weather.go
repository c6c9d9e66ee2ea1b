package store

import (
	"context"
	"time"
)

// Weather is the imported weather feed: temperatures observed per region,
// which the kill-switch safeguards consult before a disconnect.
type Weather interface {
	// PutWeather stores observations; an observation of a region at an
	// instant already stored replaces it (a corrected feed is imported
	// again). It returns how many it stored.
	PutWeather(ctx context.Context, obs []WeatherObservation) (int, error)
	// LatestWeather returns the latest observation of a region at or
	// after since and not after until: ErrNotFound when there is none.
	LatestWeather(ctx context.Context, region string, since, until time.Time) (WeatherObservation, error)
}

// WeatherObservation is one temperature observed in a region.
type WeatherObservation struct {
	Region       string    `json:"region"`
	At           time.Time `json:"time"`
	TemperatureC float64   `json:"temperatureC"`
}
