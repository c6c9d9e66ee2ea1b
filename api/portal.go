package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/amigo-ami/amigo/mdm"
)

// now is the clock of the data: the head-end's, which a simulated fleet
// runs faster than real time.
func (a *API) now() time.Time {
	if a.d.HeadEnd != nil {
		return a.d.HeadEnd.Now()
	}
	return time.Now()
}

// householdOK writes the answer to a failed look-up of the {id} usage
// point's household meter, and reports whether there was none to write.
func (a *API) householdOK(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, mdm.ErrUnknownUsagePoint):
		Error(w, http.StatusNotFound, "not_found", "no usage point "+r.PathValue("id"))
	case errors.Is(err, mdm.ErrNoHouseholdMeter):
		// The usage point was found by this very id.
		Error(w, http.StatusNotFound, "not_found", "no electricity meter at usage point "+r.PathValue("id"))
	case err != nil:
		a.internal(w, r, err)
	default:
		return true
	}
	return false
}

// usagePointSummary is what an in-home display shows: use now, today
// against the typical same weekday of the last four weeks, the price in
// force and the month so far.
func (a *API) usagePointSummary(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	s, err := a.portal.Summary(r.Context(), r.PathValue("id"), a.now())
	if !a.householdOK(w, r, err) {
		return
	}
	JSON(w, s)
}
