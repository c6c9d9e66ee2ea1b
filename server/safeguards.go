package server

import (
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/headend"
)

// safeguards turns the settings into the head-end's safeguards.
func safeguards(c config.Safeguards) (*headend.SafeguardConfig, error) {
	days, err := c.HolidayDates()
	if err != nil {
		return nil, err
	}
	return &headend.SafeguardConfig{Protection: c.Protection, Weather: c.Weather, ColdC: c.ColdC, HotC: c.HotC,
		WeatherMaxAge: c.WeatherMaxAge, Calendar: c.Calendar, Holidays: days, ReconnectWindow: c.ReconnectWindow}, nil
}
