package headend

import (
	"context"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// Ping asks one meter whether it answers, through the same session path as
// the ping command (its segment's slots, its driver's association) but
// without a command record and without retries: outage management pings
// many meters to learn which are powered, and a meter that does not answer
// at once is the answer. The caller's context bounds the ping.
func (h *HeadEnd) Ping(ctx context.Context, meterID string) error {
	m, err := h.st.Meter(ctx, meterID)
	if err != nil {
		return fmt.Errorf("meter %s: %w", meterID, err)
	}
	if m.Parent != "" {
		return behindParent(m, string(cim.ControlPing))
	}
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return err
	}
	defer clear(t.Credentials)
	c := cim.EndDeviceControl{MRID: "ping/" + meterID, MeterID: meterID, Type: cim.ControlPing}
	err = h.withSession(ctx, m, t, drv, "ping", func(ctx context.Context, s Session) error {
		_, err := s.Execute(ctx, c)
		return err
	})
	if err != nil {
		return fmt.Errorf("meter %s: ping: %w", meterID, err)
	}
	return nil
}
