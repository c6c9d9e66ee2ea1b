package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// services are the meter data services the handlers call, over the
// API's store.
type services struct {
	queries    *mdm.Queries
	edits      *mdm.Edits
	estimates  *mdm.Estimates
	exceptions *mdm.Exceptions
	portal     *mdm.Portal
}

func newServices(d Deps) services {
	rules := vee.DefaultRuleSets()
	if d.Rules != nil {
		rules = *d.Rules
	}
	return services{
		queries:    &mdm.Queries{Store: d.Store},
		edits:      &mdm.Edits{Store: d.Store},
		estimates:  &mdm.Estimates{Store: d.Store, Rules: rules, Estimation: vee.DefaultEstimation()},
		exceptions: &mdm.Exceptions{Store: d.Store},
		portal:     &mdm.Portal{Store: d.Store, Tariffs: d.Tariffs},
	}
}

// dayOut is a stored day as the API shows it.
type dayOut struct {
	Day       cim.Date        `json:"day"`
	Channel   string          `json:"channel"`
	Start     time.Time       `json:"start"`
	Interval  int             `json:"intervalSeconds"`
	Values    []int64         `json:"values"`
	Quality   []cim.Quality   `json:"quality"`
	Version   int             `json:"version"`
	Source    interval.Source `json:"source"`
	Reason    string          `json:"reason,omitempty"`
	User      string          `json:"user,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	Total     int64           `json:"total"`
}

func toDayOut(d interval.Day) dayOut {
	o := dayOut{Day: d.Date, Channel: d.Channel, Start: d.Start, Interval: int(d.Interval / time.Second), Values: d.Values,
		Quality: d.Quality, Version: d.Version, Source: d.Source, Reason: d.Reason, User: d.User, CreatedAt: d.CreatedAt, Total: mdm.DayTotal(d)}
	return o
}

func dateParam(w http.ResponseWriter, name, s string) (cim.Date, bool) {
	d, err := cim.ParseDate(s)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_query", name+" must be YYYY-MM-DD")
		return d, false
	}
	return d, true
}

// dateRange reads the from and to query parameters, both required, with to
// on or after from and at most span days later (said as within in the
// error), or writes the 400 and returns false.
func dateRange(w http.ResponseWriter, q url.Values, span int, within string) (from, to cim.Date, ok bool) {
	if from, ok = dateParam(w, "from", q.Get("from")); !ok {
		return from, to, false
	}
	if to, ok = dateParam(w, "to", q.Get("to")); !ok {
		return from, to, false
	}
	if to.Before(from) || from.AddDays(span).Before(to) {
		Error(w, http.StatusBadRequest, "bad_query", "to must be on or after from, at most "+within)
		return from, to, false
	}
	return from, to, true
}

// seriesDays returns a meter channel's stored days in [from, to], or
// writes the error and returns false.
func (a *API) seriesDays(w http.ResponseWriter, r *http.Request, meter, channel string, from, to cim.Date) ([]interval.Day, bool) {
	if !checkFields(w, idField("channel", channel)) {
		return nil, false
	}
	days, err := a.queries.Series(r.Context(), meter, channel, from, to)
	return days, a.seriesOK(w, r, meter, channel, err)
}

// seriesOK reports whether a query of a meter channel's series went
// well, and writes the error where it did not: a 404 for a meter that is
// not registered, or a channel of which the meter has no day stored at
// all.
func (a *API) seriesOK(w http.ResponseWriter, r *http.Request, meter, channel string, err error) bool {
	switch {
	case errors.Is(err, mdm.ErrUnknownMeter):
		Error(w, http.StatusNotFound, "not_found", "no meter "+strconv.Quote(meter))
	case errors.Is(err, mdm.ErrUnknownChannel):
		Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("meter %q has no channel %q stored (interval energy is %s, and %s where exported)",
			meter, channel, cim.EnergyImport15m.ID, cim.EnergyExport15m.ID))
	case err != nil:
		a.internal(w, r, err)
	default:
		return true
	}
	return false
}

// readings returns the latest version of each stored day in [from, to]
// with its quality flags: a month of quarter hours is one query.
func (a *API) readings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "channel", "from", "to") {
		return
	}
	from, to, ok := dateRange(w, q, 366, "a year later")
	if !ok {
		return
	}
	channel := q.Get("channel")
	if channel == "" {
		channel = cim.EnergyImport15m.ID
	}
	days, ok := a.seriesDays(w, r, r.PathValue("id"), channel, from, to)
	if !ok {
		return
	}
	out := make([]dayOut, len(days))
	var total int64
	for i, d := range days {
		out[i] = toDayOut(d)
		total += out[i].Total
	}
	JSON(w, map[string]any{"meter": r.PathValue("id"), "channel": channel, "days": out, "total": total})
}

func (a *API) dayPath(w http.ResponseWriter, r *http.Request) (string, string, cim.Date, bool) {
	d, ok := dateParam(w, "day", r.PathValue("day"))
	return r.PathValue("id"), r.PathValue("channel"), d, ok
}

func (a *API) dayVersions(w http.ResponseWriter, r *http.Request) {
	id, ch, date, ok := a.dayPath(w, r)
	if !ok {
		return
	}
	vs, err := a.queries.Versions(r.Context(), id, ch, date)
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no such day stored")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := make([]dayOut, len(vs))
	for i, d := range vs {
		out[i] = toDayOut(d)
	}
	JSON(w, map[string]any{"versions": out})
}

// actor is who made a change: the signed-in user, whatever the body
// claims; the body's user only where there is no authentication.
func (a *API) actor(r *http.Request, claimed string) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.User
	}
	return claimed
}

type editRequest struct {
	User   string           `json:"user"`
	Reason string           `json:"reason"`
	Values map[string]int64 `json:"values"` // interval index → value
}

// editDay stores a person's edit as a new version; the older versions
// stay.
func (a *API) editDay(w http.ResponseWriter, r *http.Request) {
	id, ch, date, ok := a.dayPath(w, r)
	if !ok {
		return
	}
	var req editRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, nameField("user", req.User), textField("reason", req.Reason)) ||
		!checkCount(w, "values", len(req.Values), maxDayIntervals) {
		return
	}
	req.User = a.actor(r, req.User)
	vals := map[int]int64{}
	for k, v := range req.Values {
		i, err := strconv.Atoi(k)
		if err != nil {
			Error(w, http.StatusBadRequest, "bad_body", "values: keys are interval indexes")
			return
		}
		vals[i] = v
	}
	e, err := a.edits.Edit(r.Context(), id, ch, date, vals, req.User, req.Reason)
	var refused *mdm.RefusedError
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no such day stored")
	case errors.As(err, &refused):
		Error(w, http.StatusUnprocessableEntity, "bad_edit", refused.Error())
	case errors.Is(err, mdm.ErrOvertaken):
		Error(w, http.StatusConflict, "conflict", "the day kept changing while the edit was stored; try again")
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, toDayOut(e))
	}
}

type veeRequest struct {
	Channel  string   `json:"channel"`
	From     cim.Date `json:"from"`
	To       cim.Date `json:"to"`
	Estimate bool     `json:"estimate"`
}

func (a *API) runVEE(w http.ResponseWriter, r *http.Request) {
	var req veeRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.From.IsZero() || req.To.IsZero() || req.To.Before(req.From) || req.From.AddDays(366).Before(req.To) {
		Error(w, http.StatusBadRequest, "bad_body", "from and to are required, to on or after from, at most a year apart")
		return
	}
	if req.Channel == "" {
		req.Channel = cim.EnergyImport15m.ID
	}
	rep, err := a.estimates.Run(r.Context(), r.PathValue("id"), req.Channel, req.From, req.To, req.Estimate)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, rep)
}

// ruleSet is a validation rule set as the API shows it.
type ruleSet struct {
	Name  string     `json:"name"`
	Match *vee.Match `json:"match,omitempty"`
	Rules vee.Rules  `json:"rules"`
}

// listRuleSets answers which rules apply to which meters, in the order
// they are tried; with ?meter= it answers which one applies to that meter.
func (a *API) listRuleSets(w http.ResponseWriter, r *http.Request) {
	rs := a.estimates.Rules
	if id := r.URL.Query().Get("meter"); id != "" {
		name, rules, err := a.estimates.RuleSet(r.Context(), id)
		if errors.Is(err, mdm.ErrUnknownMeter) {
			Error(w, http.StatusNotFound, "not_found", "meter "+id+" is not registered")
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		JSON(w, ruleSet{Name: name, Rules: rules})
		return
	}
	out := make([]ruleSet, 0, len(rs.Groups)+1)
	for _, g := range rs.Groups {
		out = append(out, ruleSet{Name: g.Name, Match: &g.Match, Rules: g.Rules})
	}
	out = append(out, ruleSet{Name: vee.DefaultGroup, Rules: rs.Default})
	JSON(w, map[string]any{"ruleSets": out})
}

// listExceptions pages through the exceptions queue, oldest first, with
// the count of all that match so a console can say how many there are.
func (a *API) listExceptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "meter", "rule", "open", "from", "to", "after", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	eq := store.ExceptionQuery{MeterID: q.Get("meter"), Rule: q.Get("rule"), Limit: limit}
	switch q.Get("open") {
	case "", "false":
	case "true":
		eq.OpenOnly = true
	default:
		Error(w, http.StatusBadRequest, "bad_query", "open must be true or false")
		return
	}
	for _, p := range []struct {
		name string
		d    *cim.Date
	}{{"from", &eq.From}, {"to", &eq.To}} {
		if s := q.Get(p.name); s != "" {
			if *p.d, ok = dateParam(w, p.name, s); !ok {
				return
			}
		}
	}
	if !eq.From.IsZero() && !eq.To.IsZero() && eq.To.Before(eq.From) {
		Error(w, http.StatusBadRequest, "bad_query", "to must be on or after from")
		return
	}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			Error(w, http.StatusBadRequest, "bad_query", "after must be the next cursor of an earlier page")
			return
		}
		eq.After = n
	}
	p, err := a.exceptions.List(r.Context(), eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := page[store.Exception]{Items: p.Items, Total: &p.Total}
	if out.Items == nil {
		out.Items = []store.Exception{}
	}
	if p.More {
		out.Next = strconv.FormatInt(p.Items[len(p.Items)-1].ID, 10)
	}
	JSON(w, out)
}

type resolveRequest struct {
	User       string `json:"user"`
	Resolution string `json:"resolution"`
}

func (a *API) resolveException(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_path", "exception id must be a number")
		return
	}
	var req resolveRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, nameField("user", req.User), textField("resolution", req.Resolution)) {
		return
	}
	req.User = a.actor(r, req.User)
	if req.User == "" || req.Resolution == "" {
		Error(w, http.StatusUnprocessableEntity, "bad_body", "user and resolution are required")
		return
	}
	switch err := a.exceptions.Resolve(r.Context(), id, req.User, req.Resolution); {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no exception "+r.PathValue("id"))
	case errors.Is(err, store.ErrConflict):
		Error(w, http.StatusConflict, "conflict", err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// totals sums a channel's stored days per day or per calendar month, with
// how many intervals were missing and estimated, so a bill or a portal can
// say how much of a total is measured.
func (a *API) totals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "channel", "from", "to", "by") {
		return
	}
	from, to, ok := dateRange(w, q, 366*3, "three years later")
	if !ok {
		return
	}
	by := q.Get("by")
	if by == "" {
		by = "day"
	}
	if by != "day" && by != "month" {
		Error(w, http.StatusBadRequest, "bad_query", "by must be day or month")
		return
	}
	channel := q.Get("channel")
	if channel == "" {
		channel = cim.EnergyImport15m.ID
	}
	if !checkFields(w, idField("channel", channel)) {
		return
	}
	out, err := a.queries.Totals(r.Context(), r.PathValue("id"), channel, from, to, mdm.TotalsBy(by))
	if !a.seriesOK(w, r, r.PathValue("id"), channel, err) {
		return
	}
	JSON(w, map[string]any{"meter": r.PathValue("id"), "channel": channel, "by": by, "totals": out})
}

// lastRead is the latest register reads of a meter (the last 40 days
// searched) and its newest stored interval day.
func (a *API) lastRead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	out, err := a.queries.LastReads(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, map[string]any{"meter": id, "registers": out})
}
