package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
)

// AuditTrail is what the API appends to and lists: *audit.Log.
type AuditTrail interface {
	audit.Appender
	Records(ctx context.Context, q audit.Query) ([]audit.Record, error)
}

// Denied requests are recorded at up to deniedPerSecond a second, in
// bursts of deniedBurst; beyond that the trail counts them (audit.Limited).
const (
	deniedPerSecond = 20
	deniedBurst     = 200
)

// auditing is the API's side of the trail: the appender, and the bounded
// one that refused requests go through.
type auditing struct {
	trail  audit.Appender
	denied audit.Appender
}

func newAuditing(d Deps) auditing {
	var trail audit.Appender = audit.Nop{}
	if d.Audit != nil {
		trail = d.Audit
	}
	return auditing{trail: trail, denied: audit.NewLimited(trail, deniedPerSecond, deniedBurst)}
}

// auditAction is what a route's successful or refused call is recorded
// as, if anything: a route says so itself, and otherwise every route that
// changes state under the configure or manage-keys permission is a
// configuration or key change.
func auditAction(rt route) audit.Action {
	if rt.audit != "" {
		return rt.audit
	}
	if rt.method == http.MethodGet || rt.method == http.MethodHead {
		return ""
	}
	switch rt.perm {
	case auth.Configure:
		return audit.ConfigChange
	case auth.ManageKeys:
		return audit.KeyChange
	}
	return ""
}

// statusWriter keeps the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a streaming handler's flush on, for handlers that assert
// http.Flusher rather than use a ResponseController.
func (s *statusWriter) Flush() {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	http.NewResponseController(s.ResponseWriter).Flush()
}

// audited runs a route's handler and appends what it did to the trail: the
// route's action, and a refusal (401, 403) of any route as denied.
func (a *API) audited(rt route, p auth.Principal, w http.ResponseWriter, r *http.Request) {
	action := auditAction(rt)
	sw := &statusWriter{ResponseWriter: w}
	rt.h(sw, r)
	code := sw.code
	if code == 0 {
		code = http.StatusOK
	}
	target := r.PathValue("id")
	if target == "" {
		target = rt.method + " " + rt.path
	}
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		a.recordDenied(r, p.User, code, "refused by the handler")
		return
	}
	if action == "" {
		return
	}
	outcome := audit.OK
	switch {
	case code >= 500:
		outcome = audit.Failed
	case code >= 400:
		outcome = audit.Refused
	}
	d := map[string]string{"route": rt.method + " " + rt.path, "status": strconv.Itoa(code)}
	if q := r.URL.RawQuery; q != "" {
		d["query"] = q
	}
	if err := a.trail.Append(r.Context(), audit.Record{Actor: p.User, Action: action, Target: target, Outcome: outcome, Details: d}); err != nil {
		a.d.Logger.Error("audit record not kept", "action", action, "target", target, "err", err)
	}
}

// recordDenied appends a request refused by its route's permission.
func (a *API) recordDenied(r *http.Request, who string, code int, reason string) {
	if err := a.denied.Append(r.Context(), audit.Record{Actor: who, Action: audit.Denied, Target: r.Method + " " + r.URL.Path,
		Outcome: audit.Refused, Details: map[string]string{"status": strconv.Itoa(code), "reason": reason}}); err != nil {
		a.d.Logger.Error("audit record not kept", "action", audit.Denied, "err", err)
	}
}

// auditPage is a page of the trail, newest first.
type auditPage struct {
	Items []audit.Record `json:"items"`
	// Next is the cursor to pass as ?before= for the next (older) page.
	Next string `json:"next,omitempty"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "actor", "action", "from", "to", "before", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	aq := audit.Query{Actor: q.Get("actor"), Action: audit.Action(q.Get("action")), Newest: true, Limit: limit}
	if !checkFields(w, nameField("actor", aq.Actor), idField("action", string(aq.Action))) {
		return
	}
	var err error
	if aq.From, err = instantParam(q.Get("from"), false); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "from "+err.Error())
		return
	}
	if aq.To, err = instantParam(q.Get("to"), true); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "to "+err.Error())
		return
	}
	if s := q.Get("before"); s != "" {
		if aq.Before, err = strconv.ParseInt(s, 10, 64); err != nil || aq.Before < 1 {
			Error(w, http.StatusBadRequest, "bad_query", "before must be the next cursor of an earlier page")
			return
		}
	}
	if a.d.Audit == nil {
		Error(w, http.StatusNotFound, "not_found", "this server keeps no audit trail")
		return
	}
	recs, err := a.d.Audit.Records(r.Context(), aq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := auditPage{Items: recs}
	if p.Items == nil {
		p.Items = []audit.Record{}
	}
	if len(recs) == limit {
		p.Next = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	JSON(w, p)
}
