package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/reliability"
	"github.com/amigo-ami/amigo/store"
)

func (a *API) outageRoutes(page []param) []route {
	period := []param{{name: "from", typ: "string", doc: "RFC 3339", required: true}, {name: "to", typ: "string", doc: "RFC 3339, exclusive", required: true},
		{name: "by", typ: "string", doc: "feeder or region (default: both)"}, {name: "excludeMED", typ: "boolean", doc: "leave out interruptions starting on major event days"},
		{name: "excludePlanned", typ: "boolean", doc: "leave out planned outages"}, {name: "tz", typ: "string", doc: "IANA zone whose days are the major event days' (default UTC)"},
		{name: "momentary", typ: "integer", doc: "seconds up to which an interruption is momentary (default 300)"}}
	return []route{
		{method: "GET", path: "/api/v1/outages", perm: auth.ReadFleet, tag: "outages", summary: "Outages, newest start first: those overlapping [from, to), by state, device, feeder, region, or open only",
			query: append([]param{{name: "from", typ: "string", doc: "RFC 3339"}, {name: "to", typ: "string", doc: "RFC 3339, exclusive"},
				{name: "state", typ: "string", doc: "comma-separated states"}, {name: "device", typ: "string"}, {name: "feeder", typ: "string"}, {name: "region", typ: "string"},
				{name: "open", typ: "boolean", doc: "only outages still without an end"}}, page...), resp: "OutageList", h: a.listOutages},
		{method: "GET", path: "/api/v1/outages/{id}", perm: auth.ReadFleet, tag: "outages", summary: "One outage with the path of its device and the services it interrupted on the topology of its start", resp: "OutageDetail", h: a.getOutage},
		{method: "GET", path: "/api/v1/outage-map", perm: auth.ReadFleet, tag: "outages", summary: "The topology's devices coloured by state (out, restored, momentary in 24 h, normal) and the outages that colour them", resp: "OutageMap", h: a.outageMap},
		{method: "GET", path: "/api/v1/reliability", perm: auth.ReadFleet, tag: "outages", summary: "IEEE 1366 indices (SAIDI, SAIFI, CAIDI, MAIFI) over [from, to), in total and per feeder and region, with major event days by the 2.5 beta method",
			query: period, resp: "ReliabilityReport", h: a.reliabilityReport},
		{method: "GET", path: "/api/v1/reliability.csv", perm: auth.ReadFleet, tag: "outages", summary: "The reliability report as CSV: one row for the total, then per feeder and region",
			query: period, respType: "text/csv", h: a.reliabilityCSV},
	}
}

// reliability is the reliability service over the store's outages and
// topology versions.
func (a *API) reliability(loc *time.Location, momentary time.Duration) *reliability.Service {
	return &reliability.Service{Outages: a.d.Store, Topology: a.d.Store, Location: loc, Momentary: momentary}
}

// outageError answers the service's refusals with their status.
func (a *API) outageError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, reliability.ErrInvalid):
		Error(w, http.StatusBadRequest, "bad_query", err.Error())
	case errors.Is(err, store.ErrNotFound), errors.Is(err, reliability.ErrNoTopology):
		Error(w, http.StatusNotFound, "not_found", err.Error())
	default:
		a.internal(w, r, err)
	}
}

// timeParams parses RFC 3339 query times into their targets.
func timeParams(w http.ResponseWriter, q map[string][]string, ts map[string]*time.Time) bool {
	for name, to := range ts {
		if s := first(q[name]); s != "" {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				Error(w, http.StatusBadRequest, "bad_query", name+" must be an RFC 3339 time")
				return false
			}
			*to = v
		}
	}
	return true
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// boolParam parses an optional boolean.
func boolParam(w http.ResponseWriter, name, s string) (bool, bool) {
	if s == "" {
		return false, true
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_query", name+" must be true or false")
		return false, false
	}
	return v, true
}

var outageStates = []outage.State{outage.Suspected, outage.Confirmed, outage.Restored, outage.Verified, outage.Momentary, outage.Dismissed}

func (a *API) listOutages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "from", "to", "state", "device", "feeder", "region", "open", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	oq := store.OutageQuery{Device: q.Get("device"), Feeder: q.Get("feeder"), Region: q.Get("region"), Limit: limit}
	if !timeParams(w, q, map[string]*time.Time{"from": &oq.From, "to": &oq.To}) {
		return
	}
	if oq.Open, ok = boolParam(w, "open", q.Get("open")); !ok {
		return
	}
	if s := q.Get("state"); s != "" {
		for _, st := range strings.Split(s, ",") {
			if !slices.Contains(outageStates, outage.State(st)) {
				Error(w, http.StatusBadRequest, "bad_query", "state must be among suspected, confirmed, restored, verified, momentary, dismissed")
				return
			}
			oq.States = append(oq.States, outage.State(st))
		}
	}
	es, err := a.d.Store.Outages(r.Context(), oq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if es == nil {
		es = []outage.Event{}
	}
	JSON(w, map[string]any{"items": es})
}

func (a *API) getOutage(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	d, err := a.reliability(nil, 0).Detail(r.Context(), r.PathValue("id"))
	if err != nil {
		a.outageError(w, r, err)
		return
	}
	JSON(w, d)
}

func (a *API) outageMap(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	gs, err := a.reliability(nil, 0).GridState(r.Context())
	if err != nil {
		a.outageError(w, r, err)
		return
	}
	JSON(w, gs)
}

// reliabilityQuery parses a report's query: the service, the request and
// the breakdown.
func (a *API) reliabilityQuery(w http.ResponseWriter, r *http.Request) (*reliability.Service, reliability.Request, string, bool) {
	q := r.URL.Query()
	var req reliability.Request
	if !knownParams(w, q, "from", "to", "by", "excludeMED", "excludePlanned", "tz", "momentary") ||
		!timeParams(w, q, map[string]*time.Time{"from": &req.From, "to": &req.To}) {
		return nil, req, "", false
	}
	if req.From.IsZero() || req.To.IsZero() {
		Error(w, http.StatusBadRequest, "bad_query", "from and to are required")
		return nil, req, "", false
	}
	var ok bool
	if req.ExcludeMED, ok = boolParam(w, "excludeMED", q.Get("excludeMED")); !ok {
		return nil, req, "", false
	}
	if req.ExcludePlanned, ok = boolParam(w, "excludePlanned", q.Get("excludePlanned")); !ok {
		return nil, req, "", false
	}
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			Error(w, http.StatusBadRequest, "bad_query", "tz must be an IANA time zone")
			return nil, req, "", false
		}
		loc = l
	}
	var momentary time.Duration
	if s := q.Get("momentary"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3600 {
			Error(w, http.StatusBadRequest, "bad_query", "momentary must be 1 to 3600 seconds")
			return nil, req, "", false
		}
		momentary = time.Duration(n) * time.Second
	}
	by := q.Get("by")
	if by != "" && by != "feeder" && by != "region" {
		Error(w, http.StatusBadRequest, "bad_query", "by must be feeder or region")
		return nil, req, "", false
	}
	return a.reliability(loc, momentary), req, by, true
}

func (a *API) reliabilityReport(w http.ResponseWriter, r *http.Request) {
	svc, req, by, ok := a.reliabilityQuery(w, r)
	if !ok {
		return
	}
	rep, err := svc.Report(r.Context(), req)
	if err == nil {
		rep, err = rep.By(by)
	}
	if err != nil {
		a.outageError(w, r, err)
		return
	}
	JSON(w, rep)
}

func (a *API) reliabilityCSV(w http.ResponseWriter, r *http.Request) {
	svc, req, by, ok := a.reliabilityQuery(w, r)
	if !ok {
		return
	}
	rep, err := svc.Report(r.Context(), req)
	if err != nil {
		a.outageError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="reliability.csv"`)
	if err := rep.WriteCSV(w, by); err != nil {
		a.d.Logger.Error("reliability csv", "err", err)
	}
}
