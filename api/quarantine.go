package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// Quarantine is the head-end's quarantine of commands over the anomaly
// limits, as the quarantine routes use it.
type Quarantine interface {
	Quarantine(ctx context.Context, f headend.QuarantineFilter, after string, limit int) ([]store.QuarantineGroup, []cim.EndDeviceControl, error)
	Release(ctx context.Context, f headend.QuarantineFilter, by string) (headend.QuarantineDecision, error)
	Discard(ctx context.Context, f headend.QuarantineFilter, by, reason string) (headend.QuarantineDecision, error)
}

// maxDecisionIDs bounds the commands one decision names by id; a larger
// burst is decided by its filter.
const maxDecisionIDs = 10000

// quarantineOf is the head-end's quarantine, or an answer that there is
// none.
func (a *API) quarantineOf(w http.ResponseWriter) (Quarantine, bool) {
	q, ok := a.d.HeadEnd.(Quarantine)
	if !ok {
		Error(w, http.StatusNotImplemented, "no_quarantine", "this head-end keeps no quarantine")
	}
	return q, ok
}

type quarantinePage struct {
	Groups []store.QuarantineGroup `json:"groups"`
	Items  []cim.EndDeviceControl  `json:"items"`
	Next   string                  `json:"next,omitempty"`
}

func (a *API) listQuarantine(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if !knownParams(w, qs, "issuer", "type", "from", "to", "after", "limit") {
		return
	}
	limit, ok := limitParam(w, qs.Get("limit"))
	if !ok || !checkFields(w, nameField("issuer", qs.Get("issuer")), idField("type", qs.Get("type")), idField("after", qs.Get("after"))) {
		return
	}
	f := headend.QuarantineFilter{IssuedBy: qs.Get("issuer"), Type: cim.EndDeviceControlType(qs.Get("type"))}
	var err error
	if f.From, err = instantParam(qs.Get("from"), false); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "from "+err.Error())
		return
	}
	if f.To, err = instantParam(qs.Get("to"), true); err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "to "+err.Error())
		return
	}
	q, ok := a.quarantineOf(w)
	if !ok {
		return
	}
	gs, cs, err := q.Quarantine(r.Context(), f, qs.Get("after"), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := quarantinePage{Groups: gs, Items: cs}
	if p.Groups == nil {
		p.Groups = []store.QuarantineGroup{}
	}
	if p.Items == nil {
		p.Items = []cim.EndDeviceControl{}
	}
	if len(cs) == limit {
		p.Next = cs[len(cs)-1].MRID
	}
	JSON(w, p)
}

// decisionRequest picks quarantined commands by filter or by id.
type decisionRequest struct {
	IssuedBy string                   `json:"issuedBy"`
	Type     cim.EndDeviceControlType `json:"type"`
	From     time.Time                `json:"from"`
	To       time.Time                `json:"to"`
	IDs      []string                 `json:"ids"`
	// Reason is why a discard is made (required for one).
	Reason string `json:"reason"`
}

func (a *API) decideQuarantine(release bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req decisionRequest
		if !a.decode(w, r, &req) {
			return
		}
		if !checkFields(w, nameField("issuedBy", req.IssuedBy), idField("type", string(req.Type)), textField("reason", req.Reason)) ||
			!checkCount(w, "ids", len(req.IDs), maxDecisionIDs) {
			return
		}
		for _, id := range req.IDs {
			if !checkFields(w, idField("ids", id)) {
				return
			}
		}
		if !release && req.Reason == "" {
			Error(w, http.StatusBadRequest, "bad_request", "reason is required to discard")
			return
		}
		q, ok := a.quarantineOf(w)
		if !ok {
			return
		}
		p, _ := auth.FromContext(r.Context())
		f := headend.QuarantineFilter{IssuedBy: req.IssuedBy, Type: req.Type, From: req.From, To: req.To, IDs: req.IDs}
		var d headend.QuarantineDecision
		var err error
		if release {
			d, err = q.Release(r.Context(), f, p.User)
		} else {
			d, err = q.Discard(r.Context(), f, p.User, req.Reason)
		}
		switch {
		case errors.Is(err, headend.ErrNoFilter), errors.Is(err, headend.ErrBadCommand):
			Error(w, http.StatusUnprocessableEntity, "bad_decision", err.Error())
		case err != nil:
			a.internal(w, r, err)
		default:
			JSON(w, d)
		}
	}
}
