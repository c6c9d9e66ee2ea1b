package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func init() {
	queries["putWeather"] = `INSERT INTO weather(region, at_us, temperature_c) VALUES (?, ?, ?)
		ON CONFLICT (region, at_us) DO UPDATE SET temperature_c = excluded.temperature_c`
	queries["latestWeather"] = `SELECT at_us, temperature_c FROM weather WHERE region = ? AND at_us >= ? AND at_us <= ?
		ORDER BY at_us DESC LIMIT 1`
}

// PutWeather implements store.Weather. The batch commits whole or not at
// all, so an import that fails half-way can simply be sent again.
func (s *DB) PutWeather(ctx context.Context, obs []store.WeatherObservation) (int, error) {
	for _, o := range obs {
		if o.Region == "" || o.At.IsZero() {
			return 0, errors.New("weather: an observation needs a region and a time")
		}
		if math.IsNaN(o.TemperatureC) || math.IsInf(o.TemperatureC, 0) {
			return 0, fmt.Errorf("weather: region %s at %s: temperature is not a number", o.Region, o.At.UTC().Format(time.RFC3339))
		}
	}
	if len(obs) == 0 {
		return 0, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putWeather"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range obs {
			if _, err := st.ExecContext(rowContext(ctx), o.Region, o.At.UnixMicro(), o.TemperatureC); err != nil {
				return fmt.Errorf("weather: region %s at %s: %w", o.Region, o.At.UTC().Format(time.RFC3339), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(obs), nil
}

// LatestWeather implements store.Weather.
func (s *DB) LatestWeather(ctx context.Context, region string, since, until time.Time) (store.WeatherObservation, error) {
	o := store.WeatherObservation{Region: region}
	var atUS int64
	err := s.queryRow(ctx, s.q["latestWeather"], region, since.UnixMicro(), until.UnixMicro()).Scan(&atUS, &o.TemperatureC)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("weather of region %q since %s: %w", region, since.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("weather of region %q: %w", region, err)
	}
	o.At = time.UnixMicro(atUS).UTC()
	return o, nil
}

var _ store.Weather = (*DB)(nil)
