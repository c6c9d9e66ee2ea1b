package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// Approver is what the approval routes need of the head-end: the
// commands that wait for a second person, and that person's decision.
type Approver interface {
	Awaiting(ctx context.Context, limit int) ([]headend.Awaiting, error)
	Approve(ctx context.Context, mrid, by string) (cim.EndDeviceControl, error)
	Reject(ctx context.Context, mrid, by, reason string) (cim.EndDeviceControl, error)
}

// approver is the head-end as an Approver; a head-end without approvals
// answers 501.
func (a *API) approver(w http.ResponseWriter) (Approver, bool) {
	ap, ok := a.d.HeadEnd.(Approver)
	if !ok {
		Error(w, http.StatusNotImplemented, "unsupported", "this head-end holds no commands for approval")
	}
	return ap, ok
}

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	ap, ok := a.approver(w)
	if !ok {
		return
	}
	items, err := ap.Awaiting(r.Context(), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if items == nil {
		items = []headend.Awaiting{}
	}
	JSON(w, page[headend.Awaiting]{Items: items})
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

func (a *API) approveCommand(w http.ResponseWriter, r *http.Request) {
	ap, ok := a.approver(w)
	if !ok {
		return
	}
	p, _ := auth.FromContext(r.Context())
	c, err := ap.Approve(r.Context(), r.PathValue("id"), p.User)
	a.decided(w, r, c, err)
}

func (a *API) rejectCommand(w http.ResponseWriter, r *http.Request) {
	var req rejectRequest
	if !a.decode(w, r, &req) || !checkFields(w, textField("reason", req.Reason)) {
		return
	}
	if req.Reason == "" {
		Error(w, http.StatusUnprocessableEntity, "bad_body", "reason is required")
		return
	}
	ap, ok := a.approver(w)
	if !ok {
		return
	}
	p, _ := auth.FromContext(r.Context())
	c, err := ap.Reject(r.Context(), r.PathValue("id"), p.User, req.Reason)
	a.decided(w, r, c, err)
}

// decided answers a decision: the command as it now stands, or why not.
func (a *API) decided(w http.ResponseWriter, r *http.Request, c cim.EndDeviceControl, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no command "+strconv.Quote(r.PathValue("id")))
	case errors.Is(err, headend.ErrSelfApproval):
		Error(w, http.StatusForbidden, "self_approval", err.Error())
	case errors.Is(err, headend.ErrNotAwaiting):
		Error(w, http.StatusConflict, "not_awaiting", err.Error())
	case errors.Is(err, headend.ErrBadCommand):
		Error(w, http.StatusUnprocessableEntity, "bad_decision", err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		JSON(w, c)
	}
}
