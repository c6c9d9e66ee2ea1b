package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

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
		Quality: d.Quality, Version: d.Version, Source: d.Source, Reason: d.Reason, User: d.User, CreatedAt: d.CreatedAt}
	for i, v := range d.Values {
		if d.Quality[i]&cim.QualityMissing == 0 {
			o.Total += v
		}
	}
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

// seriesDays returns a meter channel's stored days in [from, to]. It
// answers 404 for a meter that is not registered, or a channel of which
// the meter has no day stored at all: an empty answer would read as "no
// data yet" where the question itself is wrong.
func (a *API) seriesDays(w http.ResponseWriter, r *http.Request, meter, channel string, from, to cim.Date) ([]interval.Day, bool) {
	if !checkFields(w, idField("channel", channel)) {
		return nil, false
	}
	ctx := r.Context()
	days, err := a.d.Store.Days(ctx, meter, channel, from, to)
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	if len(days) > 0 {
		return days, true
	}
	if _, err := a.d.Store.Meter(ctx, meter); errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no meter "+strconv.Quote(meter))
		return nil, false
	} else if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	if channel == cim.EnergyImport15m.ID || channel == cim.EnergyExport15m.ID {
		return days, true
	}
	// Rare: another channel, and nothing in the range. Its whole history
	// says whether the meter has it.
	ever, err := a.d.Store.Days(ctx, meter, channel, cim.DateOf(time.Unix(0, 0), time.UTC), cim.DateOf(time.Now(), time.UTC).AddDays(2))
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	if len(ever) == 0 {
		Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("meter %q has no channel %q stored (interval energy is %s, and %s where exported)",
			meter, channel, cim.EnergyImport15m.ID, cim.EnergyExport15m.ID))
		return nil, false
	}
	return days, true
}

// readings returns the latest version of each stored day in [from, to]
// with its quality flags: a month of quarter hours is one query.
func (a *API) readings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "channel", "from", "to") {
		return
	}
	from, ok := dateParam(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := dateParam(w, "to", q.Get("to"))
	if !ok {
		return
	}
	if to.Before(from) || from.AddDays(366).Before(to) {
		Error(w, http.StatusBadRequest, "bad_query", "to must be on or after from, at most a year later")
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
	vs, err := a.d.Store.DayVersions(r.Context(), id, ch, date)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if len(vs) == 0 {
		Error(w, http.StatusNotFound, "not_found", "no such day stored")
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
	// The edit goes over the version it was made on: readings the ingest
	// stores meanwhile must not vanish under it, so an overtaken edit is
	// made again on the latest version.
	for range 5 {
		d, err := a.d.Store.Day(r.Context(), id, ch, date)
		if errors.Is(err, store.ErrNotFound) {
			Error(w, http.StatusNotFound, "not_found", "no such day stored")
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		e, err := vee.Edit(d, vals, req.User, req.Reason)
		if err != nil {
			Error(w, http.StatusUnprocessableEntity, "bad_edit", err.Error())
			return
		}
		ws, err := a.d.Store.PutDaysIfLatest(r.Context(), []interval.Day{e}, []int{d.Version})
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if ws[0].Stale {
			continue
		}
		e.Version = ws[0].Version
		writeJSON(w, http.StatusCreated, toDayOut(e))
		return
	}
	Error(w, http.StatusConflict, "conflict", "the day kept changing while the edit was stored; try again")
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
	rep, err := mdm.RunVEE(r.Context(), a.d.Store, r.PathValue("id"), req.Channel, req.From, req.To, mdm.VEEOptions{
		Rules: a.ruleSets(), Estimation: vee.DefaultEstimation(), Estimate: req.Estimate, Today: cim.DateOf(time.Now(), time.UTC)})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, rep)
}

func (a *API) ruleSets() vee.RuleSets {
	if a.d.Rules != nil {
		return *a.d.Rules
	}
	return vee.DefaultRuleSets()
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
	rs := a.ruleSets()
	if id := r.URL.Query().Get("meter"); id != "" {
		m, err := a.d.Store.Meter(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			Error(w, http.StatusNotFound, "not_found", "meter "+id+" is not registered")
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		name, rules := rs.For(m)
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
	// One more than a page says whether there is a next one.
	eq.Limit = limit + 1
	es, err := a.d.Store.ListExceptions(r.Context(), eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	more := len(es) > limit
	if more {
		es = es[:limit]
	}
	total, err := a.d.Store.CountExceptions(r.Context(), eq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := page[store.Exception]{Items: es, Total: &total}
	if p.Items == nil {
		p.Items = []store.Exception{}
	}
	if more {
		p.Next = strconv.FormatInt(es[len(es)-1].ID, 10)
	}
	JSON(w, p)
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
	switch err := a.d.Store.ResolveException(r.Context(), id, req.User, req.Resolution, time.Now()); {
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
	from, ok := dateParam(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := dateParam(w, "to", q.Get("to"))
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
	if to.Before(from) || from.AddDays(366*3).Before(to) {
		Error(w, http.StatusBadRequest, "bad_query", "to must be on or after from, at most three years later")
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
	type total struct {
		Period    string `json:"period"`
		Total     int64  `json:"total"`
		Intervals int    `json:"intervals"`
		Missing   int    `json:"missing"`
		Estimated int    `json:"estimated"`
		Edited    int    `json:"edited"`
	}
	var out []total
	for _, d := range days {
		key := d.Date.String()
		if by == "month" {
			key = key[:7]
		}
		if len(out) == 0 || out[len(out)-1].Period != key {
			out = append(out, total{Period: key})
		}
		t := &out[len(out)-1]
		for i, v := range d.Values {
			t.Intervals++
			switch q := d.Quality[i]; {
			case q&cim.QualityMissing != 0:
				t.Missing++
				continue
			case q&cim.QualityEstimated != 0:
				t.Estimated++
			case q&cim.QualityEdited != 0:
				t.Edited++
			}
			t.Total += v
		}
	}
	if out == nil {
		out = []total{}
	}
	JSON(w, map[string]any{"meter": r.PathValue("id"), "channel": channel, "by": by, "totals": out})
}

// lastRead is the latest register reads of a meter (the last 40 days
// searched) and its newest stored interval day.
func (a *API) lastRead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := time.Now()
	rs, err := a.d.Store.RegisterReads(r.Context(), id, "", now.AddDate(0, 0, -40), now.Add(24*time.Hour))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	latest := map[string]cim.Reading{}
	for _, x := range rs {
		if cur, ok := latest[x.ReadingType]; !ok || x.TimeStamp.After(cur.TimeStamp) {
			latest[x.ReadingType] = x
		}
	}
	out := make([]cim.Reading, 0, len(latest))
	for _, x := range latest {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b cim.Reading) int { return strings.Compare(a.ReadingType, b.ReadingType) })
	JSON(w, map[string]any{"meter": id, "registers": out})
}
