package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// ObjectModels describes what the head-end learned of a meter's object
// model, through the meter's driver (headend.HeadEnd is one).
type ObjectModels interface {
	ObjectModel(ctx context.Context, m cim.Meter) (model, channels any, err error)
}

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
	var model, channels any
	if a.d.ObjectModels != nil {
		if model, channels, err = a.d.ObjectModels.ObjectModel(r.Context(), m); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	if model == nil {
		// Not learned yet (never read, or a protocol without one): an
		// answer, not an error, so the console shows it as such.
		JSON(w, map[string]any{"meter": m.MRID, "model": nil, "channels": []any{}})
		return
	}
	JSON(w, map[string]any{"meter": m.MRID, "model": model, "channels": channels})
}
