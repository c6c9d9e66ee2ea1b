package headend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
	"github.com/google/uuid"
)

// CommandConfig paces the command dispatcher.
type CommandConfig struct {
	// Poll is how often due commands are looked for when none was issued.
	Poll time.Duration
	// Batch is how many due commands one pass takes.
	Batch int
	// Expiry is the lifetime of a command issued without ExpiresAt.
	Expiry time.Duration
	// Attempts is how often a command whose session failed is tried
	// before it fails.
	Attempts int
}

func (c *CommandConfig) defaults() {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.Expiry <= 0 {
		c.Expiry = 24 * time.Hour
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
}

// ErrBadCommand is wrapped by Issue for a command it refuses.
var ErrBadCommand = errors.New("headend: bad command")

var knownControls = map[cim.EndDeviceControlType]bool{
	cim.ControlDisconnect: true, cim.ControlReconnect: true, cim.ControlArmReconnect: true, cim.ControlClockSync: true,
	cim.ControlDemandReset: true, cim.ControlSetCalendar: true, cim.ControlReadNow: true, cim.ControlPing: true,
}

// Issue queues a command. A command whose CorrelationID was issued before
// is not queued again: the earlier one is returned with created false.
func (h *HeadEnd) Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	if !knownControls[c.Type] {
		return c, false, fmt.Errorf("%w: unknown type %q", ErrBadCommand, c.Type)
	}
	if c.MeterID == "" {
		return c, false, fmt.Errorf("%w: no meter", ErrBadCommand)
	}
	if _, err := h.st.Meter(ctx, c.MeterID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c, false, fmt.Errorf("%w: meter %s is not registered", ErrBadCommand, c.MeterID)
		}
		return c, false, err
	}
	now := h.now()
	c.MRID = uuid.NewString()
	if c.CorrelationID == "" {
		c.CorrelationID = c.MRID
	}
	if c.ExpiresAt.IsZero() {
		base := now
		if c.ScheduledAt.After(now) {
			base = c.ScheduledAt
		}
		c.ExpiresAt = base.Add(h.kcfg.Expiry)
	}
	if !c.ExpiresAt.After(now) {
		return c, false, fmt.Errorf("%w: expires before it is issued", ErrBadCommand)
	}
	c.Status, c.UpdatedAt, c.Reason = cim.ControlQueued, now, ""
	got, created, err := h.st.IssueControl(ctx, c)
	if err != nil {
		return c, false, fmt.Errorf("issuing %s to meter %s: %w", c.Type, c.MeterID, err)
	}
	if created {
		h.m.commands.WithLabelValues(string(got.Type), string(got.Status)).Inc()
		h.announce(ctx, got)
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	return got, created, nil
}

// announce publishes a command's new status; the store already has it, so
// a failure here is logged and the next transition carries the state.
func (h *HeadEnd) announce(ctx context.Context, c cim.EndDeviceControl) {
	msg, err := h.controlMsg(c)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = h.publish(ctx, []outMsg{msg})
		cancel()
	}
	if err != nil {
		h.log.Warn("command status not published", "command", c.MRID, "status", c.Status, "err", err)
	}
}

// transition moves a command on, stores the step and publishes it.
func (h *HeadEnd) transition(ctx context.Context, c *cim.EndDeviceControl, to cim.ControlStatus, reason string) error {
	now := h.now()
	if err := h.st.TransitionControl(ctx, c.MRID, c.Status, to, reason, now); err != nil {
		return err
	}
	c.Status, c.Reason, c.UpdatedAt = to, reason, now
	h.m.commands.WithLabelValues(string(c.Type), string(to)).Inc()
	h.announce(ctx, *c)
	return nil
}

// RunCommands carries due commands to their meters until ctx ends. Several
// head-end nodes may run it against one store: the queued → sent
// transition is the claim, and only one node wins it.
func (h *HeadEnd) RunCommands(ctx context.Context) error {
	h.recoverInFlight(ctx)
	t := time.NewTicker(h.kcfg.Poll)
	defer t.Stop()
	for {
		due, err := h.st.DueControls(ctx, h.now(), h.kcfg.Batch)
		if err != nil && ctx.Err() == nil {
			h.log.Warn("listing due commands", "err", err)
		}
		for _, c := range due {
			h.dispatch(ctx, c)
		}
		if len(due) == h.kcfg.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.wake:
		}
	}
}

// recoverInFlight fails the commands a previous run left in "sent": the
// head-end cannot know whether the meter carried them out, so it says so
// rather than repeat a disconnect on its own.
func (h *HeadEnd) recoverInFlight(ctx context.Context) {
	sent, err := h.st.Controls(ctx, store.ControlQuery{Status: cim.ControlSent, Limit: 10000})
	if err != nil {
		h.log.Warn("listing commands in flight", "err", err)
		return
	}
	for _, c := range sent {
		if err := h.transition(ctx, &c, cim.ControlFailed, "head-end restarted while the command was in flight; outcome unknown, read the meter's state"); err != nil && !errors.Is(err, store.ErrConflict) {
			h.log.Warn("failing an interrupted command", "command", c.MRID, "err", err)
		}
	}
}

// dispatch claims one due command and runs it in the background.
func (h *HeadEnd) dispatch(ctx context.Context, c cim.EndDeviceControl) {
	if !c.ExpiresAt.IsZero() && !h.now().Before(c.ExpiresAt) {
		if err := h.transition(ctx, &c, cim.ControlExpired, "not carried out before it expired"); err != nil && !errors.Is(err, store.ErrConflict) {
			h.log.Warn("expiring command", "command", c.MRID, "err", err)
		}
		return
	}
	if err := h.transition(ctx, &c, cim.ControlSent, "sent to the meter"); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			h.log.Warn("claiming command", "command", c.MRID, "err", err)
		}
		return
	}
	go func() {
		result, err := h.execute(ctx, c)
		to, reason := cim.ControlConfirmed, result
		if err != nil {
			to, reason = cim.ControlFailed, err.Error()
		}
		if ctx.Err() != nil {
			// Shutting down: leave it in sent; the next start fails it as
			// interrupted.
			return
		}
		if err := h.transition(context.WithoutCancel(ctx), &c, to, reason); err != nil {
			h.log.Warn("recording command outcome", "command", c.MRID, "err", err)
		}
	}()
}

// execute carries one command to its meter, retrying a failed session.
func (h *HeadEnd) execute(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	m, err := h.st.Meter(ctx, c.MeterID)
	if err != nil {
		return "", fmt.Errorf("meter %s: %w", c.MeterID, err)
	}
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return "", err
	}
	var result string
	for n := 1; ; n++ {
		err = h.withSession(ctx, m, t, drv, string(c.Type), func(ctx context.Context, s Session) error {
			if c.Type == cim.ControlClockSync && c.Parameters["time"] == "" {
				if err := s.SetClock(ctx, h.now()); err != nil {
					return err
				}
				result = "clock set to head-end time"
				return nil
			}
			r, err := s.Execute(ctx, c)
			result = r
			return err
		})
		if err == nil || errors.Is(err, ErrUnsupported) || n >= h.kcfg.Attempts || ctx.Err() != nil {
			break
		}
		if cause := h.cause(m, err); cause == OutcomeAuth || cause == OutcomeProtocol {
			break
		}
		if !c.ExpiresAt.IsZero() && h.now().After(c.ExpiresAt) {
			break
		}
		if retry.Wait(ctx, retry.Backoff(h.ccfg.RetryBase, h.ccfg.RetryMax, n)) != nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("meter %s: %s: %w", c.MeterID, c.Type, err)
	}
	return result, nil
}
