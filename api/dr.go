package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/store"
)

// DemandResponse is what the API asks of package dr's service.
type DemandResponse interface {
	PutProgram(ctx context.Context, p dr.Program) (dr.Program, error)
	Program(ctx context.Context, id string) (dr.Program, error)
	Programs(ctx context.Context) ([]dr.Program, error)
	Enrol(ctx context.Context, e dr.Enrolment) (dr.Enrolment, error)
	Enrolments(ctx context.Context, programID string) ([]dr.Enrolment, error)
	CreateEvent(ctx context.Context, e dr.Event, by string) (dr.Event, bool, error)
	Event(ctx context.Context, id string) (dr.Event, error)
	Events(ctx context.Context, q store.DREventQuery) ([]dr.Event, error)
	ApproveEvent(ctx context.Context, id, by string) (dr.Event, error)
	CancelEvent(ctx context.Context, id, by, reason string) (dr.Event, error)
	Participations(ctx context.Context, eventID string) ([]dr.Participation, error)
	ParticipationsOf(ctx context.Context, usagePoint string, limit int) ([]dr.Participation, error)
	OptOut(ctx context.Context, eventID, usagePoint, by string) (dr.Participation, error)
	Results(ctx context.Context, eventID string) (dr.Results, error)
}

// drProgram is a program on the wire: durations in seconds.
type drProgram struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Kind             string    `json:"kind"`
	NoticeSeconds    int64     `json:"noticeSeconds"`
	RandomizeSeconds int64     `json:"randomizeSeconds"`
	Baseline         string    `json:"baseline"`
	Adjust           bool      `json:"adjust"`
	Incentive        int64     `json:"incentive"`
	Currency         string    `json:"currency"`
	FloorW           int64     `json:"floorW"`
	Approval         bool      `json:"approval"`
	CreatedAt        time.Time `json:"createdAt,omitzero"`
}

func drProgramOf(p dr.Program) drProgram {
	return drProgram{ID: p.ID, Name: p.Name, Kind: p.Kind, NoticeSeconds: int64(p.Notice / time.Second), RandomizeSeconds: int64(p.Randomize / time.Second),
		Baseline: p.Baseline, Adjust: p.Adjust, Incentive: p.Incentive, Currency: p.Currency, FloorW: p.FloorW, Approval: p.Approval, CreatedAt: p.CreatedAt}
}

// drParticipant is a participation on the wire, with its event when the
// household lists its own.
type drParticipant struct {
	EventID            string    `json:"eventId"`
	UsagePointID       string    `json:"usagePointId"`
	MeterID            string    `json:"meterId"`
	StartOffsetSeconds float64   `json:"startOffsetSeconds"`
	EndOffsetSeconds   float64   `json:"endOffsetSeconds"`
	NotifiedAt         time.Time `json:"notifiedAt,omitzero"`
	OptedOutAt         time.Time `json:"optedOutAt,omitzero"`
	DispatchedAt       time.Time `json:"dispatchedAt,omitzero"`
	CountermandedAt    time.Time `json:"countermandedAt,omitzero"`
	Event              *dr.Event `json:"event,omitempty"`
}

func drParticipantOf(p dr.Participation) drParticipant {
	return drParticipant{EventID: p.EventID, UsagePointID: p.UsagePointID, MeterID: p.MeterID,
		StartOffsetSeconds: p.StartOffset.Seconds(), EndOffsetSeconds: p.EndOffset.Seconds(),
		NotifiedAt: p.NotifiedAt, OptedOutAt: p.OptedOutAt, DispatchedAt: p.DispatchedAt, CountermandedAt: p.CountermandedAt}
}

// drReady answers 503 when the server runs no demand response.
func (a *API) drReady(w http.ResponseWriter) bool {
	if a.d.DR == nil {
		Error(w, http.StatusServiceUnavailable, "unavailable", "demand response is not run by this server")
		return false
	}
	return true
}

// drError answers the service's refusals with their status.
func (a *API) drError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, dr.ErrInvalid):
		Error(w, http.StatusUnprocessableEntity, "invalid", err.Error())
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, dr.ErrSelfApproval):
		Error(w, http.StatusForbidden, "self_approval", err.Error())
	case errors.Is(err, store.ErrConflict), errors.Is(err, dr.ErrClosed):
		Error(w, http.StatusConflict, "conflict", err.Error())
	default:
		a.internal(w, r, err)
	}
}

func (a *API) listDRPrograms(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	ps, err := a.d.DR.Programs(r.Context())
	if err != nil {
		a.drError(w, r, err)
		return
	}
	items := make([]drProgram, len(ps))
	for i, p := range ps {
		items[i] = drProgramOf(p)
	}
	JSON(w, map[string]any{"items": items})
}

func (a *API) getDRProgram(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	p, err := a.d.DR.Program(r.Context(), r.PathValue("id"))
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, drProgramOf(p))
}

func (a *API) putDRProgram(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	var req drProgram
	if !a.decode(w, r, &req) {
		return
	}
	req.ID = r.PathValue("id")
	if !checkFields(w, idField("id", req.ID), textField("name", req.Name), idField("kind", req.Kind), idField("baseline", req.Baseline), idField("currency", req.Currency)) {
		return
	}
	if req.NoticeSeconds < 0 || req.NoticeSeconds > 7*24*3600 || req.RandomizeSeconds < 0 || req.RandomizeSeconds > math.MaxInt32 {
		Error(w, http.StatusUnprocessableEntity, "invalid", "noticeSeconds must be 0 to a week, randomizeSeconds 0 to 600")
		return
	}
	p, err := a.d.DR.PutProgram(r.Context(), dr.Program{ID: req.ID, Name: req.Name, Kind: req.Kind, Notice: time.Duration(req.NoticeSeconds) * time.Second,
		Randomize: time.Duration(req.RandomizeSeconds) * time.Second, Baseline: req.Baseline, Adjust: req.Adjust, Incentive: req.Incentive,
		Currency: req.Currency, FloorW: req.FloorW, Approval: req.Approval})
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, drProgramOf(p))
}

func (a *API) listDREnrolments(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := a.d.DR.Program(r.Context(), id); err != nil {
		a.drError(w, r, err)
		return
	}
	es, err := a.d.DR.Enrolments(r.Context(), id)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	if es == nil {
		es = []dr.Enrolment{}
	}
	JSON(w, map[string]any{"items": es})
}

func (a *API) enrolDR(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	var req dr.Enrolment
	if !a.decode(w, r, &req) {
		return
	}
	req.ProgramID = r.PathValue("id")
	if !checkFields(w, idField("usagePointId", req.UsagePointID), idField("meterId", req.MeterID)) {
		return
	}
	e, err := a.d.DR.Enrol(r.Context(), req)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// drEventRequest is what an operator sends to create an event.
type drEventRequest struct {
	ID        string    `json:"id"`
	ProgramID string    `json:"programId"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Signal    dr.Signal `json:"signal"`
}

func (a *API) createDREvent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	var req drEventRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, idField("id", req.ID), idField("programId", req.ProgramID), idField("signal.currency", req.Signal.Currency), idField("signal.relay", req.Signal.Relay)) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	e, created, err := a.d.DR.CreateEvent(r.Context(), dr.Event{ID: req.ID, ProgramID: req.ProgramID, Start: req.Start, End: req.End, Signal: req.Signal}, p.User)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/dr/events/"+e.ID)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, e)
}

func (a *API) listDREvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "program", "status", "from", "to", "limit") || !a.drReady(w) {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	dq := store.DREventQuery{ProgramID: q.Get("program"), Status: q.Get("status"), Limit: limit}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"from", &dq.From}, {"to", &dq.Until}} {
		if s := q.Get(t.name); s != "" {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				Error(w, http.StatusBadRequest, "bad_query", t.name+" must be an RFC 3339 time")
				return
			}
			*t.to = v
		}
	}
	es, err := a.d.DR.Events(r.Context(), dq)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	if es == nil {
		es = []dr.Event{}
	}
	JSON(w, map[string]any{"items": es})
}

func (a *API) getDREvent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	e, err := a.d.DR.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, e)
}

func (a *API) approveDREvent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	e, err := a.d.DR.ApproveEvent(r.Context(), r.PathValue("id"), p.User)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, e)
}

type drCancelRequest struct {
	Reason string `json:"reason"`
}

func (a *API) cancelDREvent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	var req drCancelRequest
	if !a.decode(w, r, &req) || !checkFields(w, textField("reason", req.Reason)) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	e, err := a.d.DR.CancelEvent(r.Context(), r.PathValue("id"), p.User, req.Reason)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, e)
}

func (a *API) listDRParticipants(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := a.d.DR.Event(r.Context(), id); err != nil {
		a.drError(w, r, err)
		return
	}
	ps, err := a.d.DR.Participations(r.Context(), id)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	items := make([]drParticipant, len(ps))
	for i, p := range ps {
		items[i] = drParticipantOf(p)
	}
	JSON(w, map[string]any{"items": items})
}

func (a *API) drResults(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	res, err := a.d.DR.Results(r.Context(), r.PathValue("id"))
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, res)
}

// usagePointDREvents is the household's events, newest first, each with
// its notice and its own start and end: what the portal shows.
func (a *API) usagePointDREvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "limit") || !a.drReady(w) {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	up := r.PathValue("id")
	if !a.usagePointExists(w, r, up) {
		return
	}
	ps, err := a.d.DR.ParticipationsOf(r.Context(), up, limit)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	items := make([]drParticipant, 0, len(ps))
	for _, p := range ps {
		e, err := a.d.DR.Event(r.Context(), p.EventID)
		if err != nil {
			a.drError(w, r, err)
			return
		}
		// Not shown before the household is told, nor one never approved.
		if p.NotifiedAt.IsZero() {
			continue
		}
		it := drParticipantOf(p)
		it.Event = &e
		items = append(items, it)
	}
	JSON(w, map[string]any{"items": items})
}

// optOutDR takes the household out of an event: only the household itself,
// as with its consents.
func (a *API) optOutDR(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) || !a.drReady(w) {
		return
	}
	up := r.PathValue("id")
	p, ok := auth.FromContext(r.Context())
	if a.d.Auth != nil && (!ok || !p.Can(auth.ReadOwnData) || !slices.Contains(p.UsagePoints, up)) {
		Error(w, http.StatusForbidden, "forbidden", "only the household of usage point "+up+" opts out of its events")
		return
	}
	if !a.usagePointExists(w, r, up) {
		return
	}
	pt, err := a.d.DR.OptOut(r.Context(), r.PathValue("event"), up, p.User)
	if err != nil {
		a.drError(w, r, err)
		return
	}
	JSON(w, drParticipantOf(pt))
}

// drRoutes are the demand-response endpoints. An event is the decision to
// issue its commands, so creating and cancelling one are recorded as
// issuing them and its approval as theirs; a household's opt-out as the
// withdrawal of its consent to the event.
func (a *API) drRoutes(page []param) []route {
	return []route{
		{method: "GET", path: "/api/v1/dr/programs", perm: auth.ReadFleet, tag: "demand-response", summary: "Demand-response programs", resp: "DRProgramList", h: a.listDRPrograms},
		{method: "GET", path: "/api/v1/dr/programs/{id}", perm: auth.ReadFleet, tag: "demand-response", summary: "One program", resp: "DRProgram", h: a.getDRProgram},
		{method: "PUT", path: "/api/v1/dr/programs/{id}", perm: auth.Configure, tag: "demand-response", summary: "Create or change a program (randomizeSeconds at most 600; a load limit below floorW is refused)", body: "DRProgram", resp: "DRProgram", h: a.putDRProgram},
		{method: "GET", path: "/api/v1/dr/programs/{id}/enrolments", perm: auth.ReadFleet, tag: "demand-response", summary: "A program's enrolled usage points", resp: "DREnrolmentList", h: a.listDREnrolments},
		{method: "POST", path: "/api/v1/dr/programs/{id}/enrolments", perm: auth.Configure, tag: "demand-response", summary: "Enrol a usage point and its meter (again: replaces its enrolment)", body: "DREnrolment", status: 201, resp: "DREnrolment", h: a.enrolDR},
		{method: "POST", path: "/api/v1/dr/events", perm: auth.Command, tag: "demand-response", summary: "Create an event (idempotent by id: 200 with the first); it waits for a second person when its program says so", body: "DREventRequest", status: 201, resp: "DREvent", h: a.createDREvent, audit: audit.CommandIssue},
		{method: "GET", path: "/api/v1/dr/events", perm: auth.ReadFleet, tag: "demand-response", summary: "Events by start",
			query: append([]param{{name: "program", typ: "string"}, {name: "status", typ: "string"}, {name: "from", typ: "string", doc: "RFC 3339: starts at or after"},
				{name: "to", typ: "string", doc: "RFC 3339: starts before"}}, page...), resp: "DREventList", h: a.listDREvents},
		{method: "GET", path: "/api/v1/dr/events/{id}", perm: auth.ReadFleet, tag: "demand-response", summary: "One event", resp: "DREvent", h: a.getDREvent},
		{method: "POST", path: "/api/v1/dr/events/{id}/approve", perm: auth.Approve, tag: "demand-response", summary: "Approve an event awaiting approval (not its creator: 403 self_approval); its commands then go out under this approval", resp: "DREvent", h: a.approveDREvent, audit: audit.CommandApprove},
		{method: "POST", path: "/api/v1/dr/events/{id}/cancel", perm: auth.Command, tag: "demand-response", summary: "Cancel an event not over; commands sent are countermanded", body: "DRCancelRequest", resp: "DREvent", h: a.cancelDREvent, audit: audit.CommandIssue},
		{method: "GET", path: "/api/v1/dr/events/{id}/participants", perm: auth.ReadFleet, tag: "demand-response", summary: "An event's participants: offsets, notice, dispatch, opt-out", resp: "DRParticipantList", h: a.listDRParticipants},
		{method: "GET", path: "/api/v1/dr/events/{id}/results", perm: auth.ReadData, tag: "demand-response", summary: "Measurement and settlement: per participant baseline, actual, reduction and payment; totals", resp: "DRResults", h: a.drResults},
		{method: "GET", path: "/api/v1/usage-points/{id}/dr-events", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The household's demand-response events it was told of, newest first", query: page, resp: "DRParticipantList", h: a.usagePointDREvents},
		{method: "POST", path: "/api/v1/usage-points/{id}/dr-events/{event}/opt-out", perm: auth.ReadData, scope: scopeUsagePoint, tag: "portal", summary: "The household opts out of an event before or during it; its commands are never sent or countermanded; only the household itself", resp: "DRParticipant", h: a.optOutDR, audit: audit.ConsentRevoke},
	}
}
