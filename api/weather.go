package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/headend"
)

// weatherPath is the weather feed's route; its body is CSV.
const weatherPath = "/api/v1/weather"

// WeatherImporter keeps the weather feed the disconnect safeguards read;
// the head-end does.
type WeatherImporter interface {
	ImportWeather(ctx context.Context, r io.Reader, by string) (int, error)
}

// importWeather keeps a weather feed (CSV body: region,time,temperature_c).
// A feed with a bad line is refused whole, naming the line.
func (a *API) importWeather(w http.ResponseWriter, r *http.Request) {
	wi, ok := a.d.HeadEnd.(WeatherImporter)
	if !ok {
		Error(w, http.StatusNotImplemented, "not_supported", "this server keeps no weather feed")
		return
	}
	p, _ := auth.FromContext(r.Context())
	n, err := wi.ImportWeather(r.Context(), r.Body, p.User)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		Error(w, http.StatusRequestEntityTooLarge, "too_large", "weather feed over the body limit; send it in parts")
	case errors.Is(err, headend.ErrBadWeather):
		Error(w, http.StatusBadRequest, "bad_weather", err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		JSON(w, struct {
			Observations int `json:"observations"`
		}{n})
	}
}
