package api

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/store"
)

// Campaigns is what the API asks of the campaign engine.
type Campaigns interface {
	Create(ctx context.Context, s campaign.Spec) (campaign.Campaign, error)
	List(ctx context.Context, status store.CampaignStatus, limit int) ([]campaign.Campaign, error)
	Report(ctx context.Context, id string) (campaign.Report, error)
	Approve(ctx context.Context, id, by string) error
	Pause(ctx context.Context, id, by string) error
	Resume(ctx context.Context, id, by string) error
	Release(ctx context.Context, id, by string, maxFailureRate float64) error
	Cancel(ctx context.Context, id, by string) error
}

// maxCampaignMeters bounds one campaign's meter list in a request.
const maxCampaignMeters = 1_000_000

func (a *API) createCampaign(w http.ResponseWriter, r *http.Request) {
	var s campaign.Spec
	if !a.decode(w, r, &s) {
		return
	}
	if !checkFields(w, idField("kind", s.Kind), field{name: "name", value: s.Name, max: maxParamBytes, text: true}) ||
		!checkCount(w, "meters", len(s.Meters), maxCampaignMeters) || !checkCount(w, "params", len(s.Params), maxParams) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	// Keys are the security officer's: a key rotation needs their
	// permission besides the route's.
	if s.Kind == "key-rotation" && a.d.Auth != nil && !p.Role.Can(auth.ManageKeys) {
		Error(w, http.StatusForbidden, "forbidden", "a key-rotation campaign needs the manage-keys permission")
		return
	}
	s.CreatedBy = p.User
	c, err := a.d.Campaigns.Create(r.Context(), s)
	if errors.Is(err, campaign.ErrBadSpec) {
		Error(w, http.StatusUnprocessableEntity, "bad_campaign", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/campaigns/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "status", "limit") {
		return
	}
	limit, ok := limitParam(w, q.Get("limit"))
	if !ok {
		return
	}
	cs, err := a.d.Campaigns.List(r.Context(), store.CampaignStatus(q.Get("status")), limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if cs == nil {
		cs = []campaign.Campaign{}
	}
	JSON(w, map[string]any{"items": cs})
}

func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) {
	rep, err := a.d.Campaigns.Report(r.Context(), r.PathValue("id"))
	if a.campaignError(w, r, err) {
		return
	}
	JSON(w, rep)
}

type campaignDecision struct {
	// MaxFailureRate is a release's new threshold (0: keep).
	MaxFailureRate float64 `json:"maxFailureRate"`
}

// decideCampaign serves approve, pause, resume, release and cancel.
func (a *API) decideCampaign(w http.ResponseWriter, r *http.Request) {
	var d campaignDecision
	if r.ContentLength != 0 && !a.decode(w, r, &d) {
		return
	}
	p, _ := auth.FromContext(r.Context())
	id, by := r.PathValue("id"), p.User
	var err error
	action := path.Base(r.URL.Path)
	switch action {
	case "approve":
		err = a.d.Campaigns.Approve(r.Context(), id, by)
	case "pause":
		err = a.d.Campaigns.Pause(r.Context(), id, by)
	case "resume":
		err = a.d.Campaigns.Resume(r.Context(), id, by)
	case "release":
		err = a.d.Campaigns.Release(r.Context(), id, by, d.MaxFailureRate)
	case "cancel":
		err = a.d.Campaigns.Cancel(r.Context(), id, by)
	default:
		Error(w, http.StatusNotFound, "not_found", "no campaign action "+strconv.Quote(action))
		return
	}
	if a.campaignError(w, r, err) {
		return
	}
	rep, err := a.d.Campaigns.Report(r.Context(), id)
	if a.campaignError(w, r, err) {
		return
	}
	JSON(w, rep.Campaign)
}

// campaignError answers for a campaign engine's error and reports whether
// there was one.
func (a *API) campaignError(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", "no campaign "+strconv.Quote(r.PathValue("id")))
	case errors.Is(err, campaign.ErrSelfApproval):
		Error(w, http.StatusForbidden, "self_approval", err.Error())
	case errors.Is(err, store.ErrConflict):
		Error(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, campaign.ErrBadSpec):
		Error(w, http.StatusUnprocessableEntity, "bad_campaign", err.Error())
	default:
		a.internal(w, r, err)
	}
	return true
}
