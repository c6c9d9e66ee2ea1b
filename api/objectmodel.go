package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/store"
)

// objectModel answers what the head-end learned of a meter: the object
// model it reads the meter by (shared by the meters of its kind) and the
// channel map drawn from it; model null when nothing was learned yet.
func (a *API) objectModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, err := a.d.Store.Meter(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		Error(w, http.StatusNotFound, "not_found", "no meter "+strconv.Quote(id))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	om, ok := a.d.Store.(store.ObjectModels)
	var model *dlmsdriver.Model
	if ok && m.Protocol == "dlms" {
		if model, err = dlmsdriver.TemplateOf(r.Context(), om, m); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	if model == nil {
		// Not learned yet (never read, or not a DLMS meter): an answer,
		// not an error, so the console shows it as such.
		JSON(w, map[string]any{"meter": m.MRID, "model": nil, "channels": []dlmsdriver.Channel{}})
		return
	}
	JSON(w, map[string]any{"meter": m.MRID, "model": model, "channels": model.Channels()})
}
