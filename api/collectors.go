package api

import (
	"net/http"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
)

// CollectorTimes is what a head-end knows of its collectors beyond the
// stored results: session times and capacities. A head-end without it
// shows the view without session times.
type CollectorTimes interface {
	SessionTimes(day cim.Date) map[string]headend.SessionTime
	SegmentCapacity(segment string) int
}

// collectors serves the collector view of a collection day (default: the
// head-end's yesterday), worst collector first.
func (a *API) collectors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "day") {
		return
	}
	var day cim.Date
	if s := q.Get("day"); s != "" {
		d, err := cim.ParseDate(s)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_query", "day must be YYYY-MM-DD")
			return
		}
		day = d
	} else {
		now := time.Now()
		if a.d.HeadEnd != nil {
			now = a.d.HeadEnd.Now()
		}
		day = cim.DateOf(now.AddDate(0, 0, -1), now.Location())
	}
	var times map[string]headend.SessionTime
	var capacity func(string) int
	if ct, ok := a.d.HeadEnd.(CollectorTimes); ok {
		times, capacity = ct.SessionTimes(day), ct.SegmentCapacity
	}
	cs, err := headend.Collectors(r.Context(), a.d.Store, day, times, capacity)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, map[string]any{"day": day, "healthyRate": headend.HealthyRate, "collectors": cs})
}
