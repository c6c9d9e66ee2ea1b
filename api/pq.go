package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/pq"
)

// pqRoutes are power quality's: the weekly EN 50160 report, the voltage
// along a feeder and the voltage events.
func (a *API) pqRoutes() []route {
	week := []param{{name: "week", typ: "string", required: true, doc: "the week's first day, YYYY-MM-DD (seven days from its midnight)"},
		{name: "feeder", typ: "string", doc: "only this feeder's meters"},
		{name: "tz", typ: "string", doc: "IANA zone of the week's midnights (default UTC)"}}
	return []route{
		{method: "GET", path: "/api/v1/pq/en50160", perm: auth.ReadData, tag: "power quality",
			summary: "The week's EN 50160 report per meter and feeder: share of 10-minute means within ±10 % per phase, extremes, sags, swells and interruptions; flags the meters and feeders out of bounds (CSV with Accept: text/csv)",
			query:   week, resp: "PQWeekReport", h: a.en50160},
		{method: "GET", path: "/api/v1/pq/en50160.csv", perm: auth.ReadData, tag: "power quality",
			summary: "The week's EN 50160 report as CSV, a row per meter and phase", query: week, respType: "text/csv", h: a.en50160},
		{method: "GET", path: "/api/v1/pq/feeders/{id}/voltage", perm: auth.ReadData, tag: "power quality",
			summary: "Each service's 10-minute mean voltage along a feeder at an instant, ordered by distance from the substation",
			query:   []param{{name: "at", typ: "string", doc: "RFC 3339 time (default now)"}}, resp: "FeederVoltage", h: a.feederVoltage},
		{method: "GET", path: "/api/v1/pq/events", perm: auth.ReadData, tag: "power quality",
			summary: "Sags, swells and interruptions with depth and duration, oldest first",
			query: []param{{name: "from", typ: "string", required: true, doc: "RFC 3339 time, or a date (from its UTC start)"},
				{name: "to", typ: "string", required: true, doc: "RFC 3339 time (exclusive), or a date (to its UTC end)"},
				{name: "meter", typ: "string", doc: "one meter (default: a feeder's, or every meter)"}, {name: "feeder", typ: "string"}},
			resp: "PQEventList", h: a.pqEvents},
	}
}

// reporter reads power quality from the store, with the grid when the
// store keeps one.
func (a *API) reporter() *pq.Reporter {
	r := &pq.Reporter{Source: a.d.Store}
	if t, ok := a.d.Store.(pq.Topology); ok {
		r.Topology = t
	}
	return r
}

func (a *API) en50160(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "week", "feeder", "tz") {
		return
	}
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_query", "tz: unknown time zone "+tz)
			return
		}
		loc = l
	}
	from, err := time.ParseInLocation(time.DateOnly, q.Get("week"), loc)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "week must be a date, YYYY-MM-DD")
		return
	}
	rep, err := a.reporter().Week(r.Context(), from, q.Get("feeder"))
	if errors.Is(err, pq.ErrNoFeeder) {
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".csv") || strings.Contains(r.Header.Get("Accept"), "text/csv") {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="en50160-`+from.Format(time.DateOnly)+`.csv"`)
		rep.WriteCSV(w)
		return
	}
	JSON(w, rep)
}

func (a *API) feederVoltage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "at") {
		return
	}
	at := time.Now()
	if s := q.Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_query", "at must be an RFC 3339 time")
			return
		}
		at = t
	}
	fv, err := a.reporter().Along(r.Context(), r.PathValue("id"), at)
	if errors.Is(err, pq.ErrNoFeeder) {
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, fv)
}

// pqSpan reads from and to: RFC 3339 times, or dates taken whole in UTC.
func pqSpan(q map[string][]string) (from, to time.Time, ok bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	parse := func(s string, end bool) (time.Time, bool) {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, true
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, false
		}
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, true
	}
	from, ok1 := parse(get("from"), false)
	to, ok2 := parse(get("to"), true)
	return from, to, ok1 && ok2 && from.Before(to)
}

func (a *API) pqEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "from", "to", "meter", "feeder") {
		return
	}
	from, to, ok := pqSpan(q)
	if !ok {
		Error(w, http.StatusBadRequest, "bad_query", "from and to must be RFC 3339 times or dates, from before to")
		return
	}
	if to.Sub(from) > 93*24*time.Hour {
		Error(w, http.StatusBadRequest, "bad_query", "at most 93 days at a time")
		return
	}
	evs, err := a.reporter().Events(r.Context(), q.Get("meter"), q.Get("feeder"), from, to)
	if errors.Is(err, pq.ErrNoFeeder) {
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, struct {
		Items []pq.Event `json:"items"`
	}{evs})
}
