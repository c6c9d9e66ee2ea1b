package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/store"
)

// purposes are the consents a household can give: only what amigo has a
// use for, so that a consent on record always means something.
var purposes = []string{store.ConsentHomeNetwork}

// consentList is a usage point's consents in force.
type consentList struct {
	Items []store.Consent `json:"items"`
}

func (a *API) listConsents(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	up := r.PathValue("id")
	if !a.usagePointExists(w, r, up) {
		return
	}
	cs, err := a.d.Store.ListConsents(r.Context(), store.ConsentQuery{UsagePoint: up})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if cs == nil {
		cs = []store.Consent{}
	}
	JSON(w, consentList{Items: cs})
}

// household is who may give or withdraw a usage point's consent: a
// consumer account of that very usage point. Staff read the household's
// data under their own permissions; consenting for it is not theirs to do.
func (a *API) household(w http.ResponseWriter, r *http.Request) (auth.Principal, string, bool) {
	up, purpose := r.PathValue("id"), r.PathValue("purpose")
	if !slices.Contains(purposes, purpose) {
		Error(w, http.StatusNotFound, "not_found", "no consent purpose "+purpose+"; known: "+purposes[0])
		return auth.Principal{}, "", false
	}
	p, ok := auth.FromContext(r.Context())
	if !ok || !p.Can(auth.ReadOwnData) || !slices.Contains(p.UsagePoints, up) {
		Error(w, http.StatusForbidden, "forbidden", "only the household of usage point "+up+" gives or withdraws its consent")
		return auth.Principal{}, "", false
	}
	if !a.usagePointExists(w, r, up) {
		return auth.Principal{}, "", false
	}
	return p, purpose, true
}

func (a *API) usagePointExists(w http.ResponseWriter, r *http.Request, up string) bool {
	_, err := a.d.Store.UsagePoint(r.Context(), up)
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no usage point "+up)
		return false
	case err != nil:
		a.internal(w, r, err)
		return false
	}
	return true
}

func (a *API) grantConsent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	p, purpose, ok := a.household(w, r)
	if !ok {
		return
	}
	up := r.PathValue("id")
	c, err := a.d.Store.GrantConsent(r.Context(), store.Consent{UsagePoint: up, Purpose: purpose, GrantedBy: p.User, GrantedAt: time.Now().UTC()})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.consentChanged(r, p, audit.ConsentGrant, up, purpose)
	JSON(w, c)
}

func (a *API) revokeConsent(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	p, purpose, ok := a.household(w, r)
	if !ok {
		return
	}
	up := r.PathValue("id")
	err := a.d.Store.RevokeConsent(r.Context(), up, purpose)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Withdrawn already: the household's wish holds, and says so.
	case err != nil:
		a.internal(w, r, err)
		return
	default:
		a.consentChanged(r, p, audit.ConsentRevoke, up, purpose)
	}
	w.WriteHeader(http.StatusNoContent)
}

// consentChanged records the decision and tells whoever acts on the
// consent (the home network bridge) at once.
func (a *API) consentChanged(r *http.Request, p auth.Principal, action audit.Action, up, purpose string) {
	if err := a.trail.Append(r.Context(), audit.Record{Actor: p.User, Action: action, Target: up, Outcome: audit.OK,
		Details: map[string]string{"purpose": purpose}}); err != nil {
		a.d.Logger.Error("audit record not kept", "action", action, "target", up, "err", err)
	}
	if a.d.ConsentChanged != nil {
		a.d.ConsentChanged(up, purpose)
	}
}
