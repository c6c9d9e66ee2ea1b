package headend

import (
	"context"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// Value is one object read on demand, rendered for people and JSON.
type Value struct {
	// Object names what was read, e.g. "1.0.1.8.0.255" or "1.0.1.8.0.255:2".
	Object string `json:"object"`
	Value  any    `json:"value,omitempty"`
	// Scaler and Unit qualify a register value: Value × 10^Scaler Unit.
	Scaler int    `json:"scaler,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Reader is a Session that reads named objects on demand.
type Reader interface {
	// Read reads each object; a per-object failure goes in its Value's
	// Error. No objects means the driver's default register set.
	Read(ctx context.Context, objects []string) ([]Value, error)
}

// Read reads objects of one meter now, through the same session limits as
// collection.
func (h *HeadEnd) Read(ctx context.Context, meterID string, objects []string) ([]Value, error) {
	m, err := h.st.Meter(ctx, meterID)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", meterID, err)
	}
	return h.readMeter(ctx, m, objects)
}

func (h *HeadEnd) readMeter(ctx context.Context, m cim.Meter, objects []string) ([]Value, error) {
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return nil, err
	}
	defer clear(t.Credentials)
	var out []Value
	err = h.withSession(ctx, m, t, drv, "read", func(ctx context.Context, s Session) error {
		r, ok := s.(Reader)
		if !ok {
			return fmt.Errorf("meter %s: %w: on-demand read", m.MRID, ErrUnsupported)
		}
		v, err := r.Read(ctx, objects)
		out = v
		return err
	})
	return out, err
}
