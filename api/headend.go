package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
)

// HeadEnd is what the API needs of the head-end.
type HeadEnd interface {
	Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error)
	Read(ctx context.Context, meterID string, objects []string) ([]headend.Value, error)
	Progress() headend.Progress
	// StartRun starts a run for day in the background: headend.ErrBusy if
	// a run is already going, headend.ErrBadDay for a day it refuses.
	StartRun(day cim.Date, o headend.RunOptions) error
	Now() time.Time
	// ImportFrom registers the meters of a manifest as it is read.
	ImportFrom(ctx context.Context, src headend.RowSource) (headend.ImportReport, error)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors, and the body is capped.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.d.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", mbe.Limit))
			return false
		}
		Error(w, http.StatusBadRequest, "bad_body", "body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		Error(w, http.StatusBadRequest, "bad_body", "body: trailing data after the JSON value")
		return false
	}
	return true
}

type readRequest struct {
	// Objects are OBIS codes, optionally with ":attribute".
	Objects []string `json:"objects"`
}

func (a *API) readMeter(w http.ResponseWriter, r *http.Request) {
	var req readRequest
	if r.ContentLength != 0 && !a.decode(w, r, &req) {
		return
	}
	if len(req.Objects) > 64 {
		Error(w, http.StatusBadRequest, "bad_body", "at most 64 objects per read")
		return
	}
	id := r.PathValue("id")
	vals, err := a.d.HeadEnd.Read(r.Context(), id, req.Objects)
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no meter "+strconv.Quote(id))
	case errors.Is(err, headend.ErrUnsupported):
		Error(w, http.StatusNotImplemented, "unsupported", err.Error())
	case err != nil:
		// The meter, not the server, failed: say what happened.
		Error(w, http.StatusBadGateway, "meter_unreachable", err.Error())
	default:
		JSON(w, map[string]any{"meter": id, "readAt": a.d.HeadEnd.Now(), "values": vals})
	}
}

type commandRequest struct {
	Meter         string                   `json:"meter"`
	Type          cim.EndDeviceControlType `json:"type"`
	CorrelationID string                   `json:"correlationId"`
	Priority      int                      `json:"priority"`
	ScheduledAt   time.Time                `json:"scheduledDateTime"`
	ExpiresAt     time.Time                `json:"expiresDateTime"`
	Parameters    map[string]string        `json:"parameters"`
	// Override is the reason for overriding a safeguard.
	Override string `json:"override"`
}

func (a *API) issueCommand(w http.ResponseWriter, r *http.Request) {
	var req commandRequest
	if !a.decode(w, r, &req) {
		return
	}
	if !checkFields(w, idField("meter", req.Meter), idField("type", string(req.Type)), idField("correlationId", req.CorrelationID)) ||
		!checkCount(w, "parameters", len(req.Parameters), maxParams) {
		return
	}
	for k, v := range req.Parameters {
		if !checkFields(w, idField("parameters key", k), field{name: "parameters." + k, value: v, max: maxParamBytes, text: true}) {
			return
		}
	}
	if !checkFields(w, field{name: "override", value: req.Override, max: maxParamBytes, text: true}) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	c, created, err := a.d.HeadEnd.Issue(r.Context(), cim.EndDeviceControl{MeterID: req.Meter, Type: req.Type,
		CorrelationID: req.CorrelationID, Priority: req.Priority, ScheduledAt: req.ScheduledAt, ExpiresAt: req.ExpiresAt,
		Parameters: req.Parameters, IssuedBy: p.User, Override: req.Override})
	switch {
	case errors.Is(err, headend.ErrBadCommand):
		Error(w, http.StatusUnprocessableEntity, "bad_command", err.Error())
	case errors.Is(err, headend.ErrRefused):
		Error(w, http.StatusConflict, "refused", err.Error())
	case err != nil:
		a.internal(w, r, err)
	case created:
		w.Header().Set("Location", "/api/v1/commands/"+c.MRID)
		writeJSON(w, http.StatusCreated, c)
	default:
		w.Header().Set("Location", "/api/v1/commands/"+c.MRID)
		JSON(w, c)
	}
}

func (a *API) listCommands(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "meter", "status", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	cs, err := a.d.Store.Controls(r.Context(), store.ControlQuery{MeterID: q.Get("meter"), Status: cim.ControlStatus(q.Get("status")), Limit: limit})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if cs == nil {
		cs = []cim.EndDeviceControl{}
	}
	JSON(w, page[cim.EndDeviceControl]{Items: cs})
}

type commandDetail struct {
	cim.EndDeviceControl
	Steps []store.ControlStep `json:"steps"`
}

func (a *API) getCommand(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := a.d.Store.Control(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no command "+strconv.Quote(id))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	steps, err := a.d.Store.ControlSteps(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	JSON(w, commandDetail{c, steps})
}

func (a *API) collectionProgress(w http.ResponseWriter, r *http.Request) {
	JSON(w, a.d.HeadEnd.Progress())
}

type runRequest struct {
	Day cim.Date `json:"day"`
	// Spread spreads the run over the head-end's window, as the daily run
	// is; a run started by hand starts every meter at once by default.
	Spread bool `json:"spread"`
}

func (a *API) startCollection(w http.ResponseWriter, r *http.Request) {
	var req runRequest
	if r.ContentLength != 0 && !a.decode(w, r, &req) {
		return
	}
	switch err := a.d.HeadEnd.StartRun(req.Day, headend.RunOptions{Spread: req.Spread}); {
	case errors.Is(err, headend.ErrBadDay):
		Error(w, http.StatusBadRequest, "bad_day", err.Error())
	case errors.Is(err, headend.ErrBusy):
		Error(w, http.StatusConflict, "busy", "a collection run is already in progress")
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusAccepted, a.d.HeadEnd.Progress())
	}
}

func (a *API) dayParam(w http.ResponseWriter, r *http.Request) (cim.Date, bool) {
	d, err := cim.ParseDate(r.PathValue("day"))
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_path", "day must be YYYY-MM-DD")
		return d, false
	}
	return d, true
}

func (a *API) collectionDay(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "segment") {
		return
	}
	day, ok := a.dayParam(w, r)
	if !ok {
		return
	}
	sum, err := a.d.Store.CollectionSummary(r.Context(), day, q.Get("segment"))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	var tot store.CollectionSummary
	tot.Failed = map[string]int{}
	for _, s := range sum {
		tot.Total += s.Total
		tot.OK += s.OK
		tot.Complete += s.Complete
		tot.Readings += s.Readings
		for k, v := range s.Failed {
			tot.Failed[k] += v
		}
	}
	if sum == nil {
		sum = []store.CollectionSummary{}
	}
	rate := 0.0
	if tot.Total > 0 {
		rate = float64(tot.OK) / float64(tot.Total)
	}
	JSON(w, map[string]any{"day": day, "total": tot.Total, "ok": tot.OK, "complete": tot.Complete, "readings": tot.Readings,
		"failed": tot.Failed, "successRate": rate, "segments": sum})
}

func (a *API) collectionResults(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "segment", "outcome", "after", "limit") {
		return
	}
	day, ok := a.dayParam(w, r)
	if !ok {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	rs, err := a.d.Store.CollectionResults(r.Context(), day, q.Get("segment"), q.Get("outcome"), q.Get("after"), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := page[store.CollectionResult]{Items: rs}
	if p.Items == nil {
		p.Items = []store.CollectionResult{}
	}
	if len(rs) == limit {
		p.Next = rs[len(rs)-1].MeterID
	}
	JSON(w, p)
}

func knownParams(w http.ResponseWriter, q map[string][]string, names ...string) bool {
next:
	for k := range q {
		for _, n := range names {
			if k == n {
				continue next
			}
		}
		Error(w, http.StatusBadRequest, "bad_query", fmt.Sprintf("unknown query parameter %q", k))
		return false
	}
	return true
}

func limitParam(w http.ResponseWriter, s string) (int, bool) {
	if s == "" {
		return 100, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		Error(w, http.StatusBadRequest, "bad_query", "limit must be an integer from 1 to 1000")
		return 0, false
	}
	return n, true
}

type importBad struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Error  string `json:"error"`
}

// importPath is the import's route, whose body the general limit does
// not cap.
const importPath = "/api/v1/meters/import"

// maxManifestBytes bounds an import's body, which is read as a stream in
// batches rather than held: a million meters' manifest is about 300 MB.
const maxManifestBytes = 1 << 30

// importTime bounds an import: a large shipment takes longer to send and
// register than the server's read and write timeouts allow a request.
const importTime = time.Hour

// importMeters registers the meters of a shipment manifest (CSV body) as
// it arrives. Bad rows are reported by line; the good ones are imported.
func (a *API) importMeters(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(importTime)
	// Not every ResponseWriter can move its deadlines (a test recorder
	// cannot); then the server's own apply.
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	tooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("manifest over %d bytes", mbe.Limit))
			return true
		}
		return false
	}
	rd, err := manifest.NewReader(http.MaxBytesReader(w, r.Body, maxManifestBytes))
	if err != nil {
		if !tooLarge(err) {
			Error(w, http.StatusBadRequest, "bad_manifest", err.Error())
		}
		return
	}
	placed := &gridRows{src: rd}
	rep, err := a.d.HeadEnd.ImportFrom(ctx, placed)
	if err != nil {
		// Batches before the failure are in: say how far it got, since
		// sending the file again completes it.
		done := fmt.Sprintf("; %d rows before it were imported (%d new), and sending the file again completes the rest",
			rep.Accepted(), rep.Created)
		switch {
		case tooLarge(err):
		case errors.Is(err, manifest.ErrManifest):
			Error(w, http.StatusBadRequest, "bad_manifest", err.Error()+done)
		default:
			a.internal(w, r, fmt.Errorf("%w%s", err, done))
		}
		return
	}
	out := struct {
		Created   int         `json:"created"`
		Updated   int         `json:"updated"`
		Unchanged int         `json:"unchanged"`
		Accepted  int         `json:"accepted"`
		Rejected  int         `json:"rejected"`
		Bad       []importBad `json:"bad"`
		// The grid's version the manifest's network columns made, if
		// any, or why they made none.
		TopologyVersion int    `json:"topologyVersion,omitempty"`
		TopologyError   string `json:"topologyError,omitempty"`
	}{rep.Created, rep.Updated, rep.Unchanged, rep.Accepted(), rep.Rejected, []importBad{}, 0, ""}
	if v, err := a.placeImported(ctx, placed, rep); err != nil {
		out.TopologyError = err.Error()
	} else {
		out.TopologyVersion = v
	}
	for _, b := range rep.Bad {
		out.Bad = append(out.Bad, importBad{b.Line, b.Column, b.Err.Error()})
	}
	JSON(w, out)
}
