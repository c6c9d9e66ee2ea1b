package headend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
	"github.com/google/uuid"
)

// CommandConfig paces the command dispatcher.
type CommandConfig struct {
	// Poll is how long one fetch from the bus waits for a command.
	Poll time.Duration
	// Batch is how many issued commands one fetch takes.
	Batch int
	// Sweep is how often the queued commands that are due are offered on
	// the bus again, in case their first publish was lost (a minute when
	// 0). Their message id keeps a command offered twice stored once.
	Sweep time.Duration
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
	if c.Sweep <= 0 {
		c.Sweep = time.Minute
	}
	if c.Expiry <= 0 {
		c.Expiry = 24 * time.Hour
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
}

// commandConsumer is the durable consumer of issued commands that every
// head-end node shares: each command goes to one of them.
const commandConsumer = "headend-commands"

// ErrBadCommand is wrapped by Issue for a command it refuses.
var ErrBadCommand = errors.New("headend: bad command")

var knownControls = map[cim.EndDeviceControlType]bool{
	cim.ControlDisconnect: true, cim.ControlReconnect: true, cim.ControlArmReconnect: true, cim.ControlClockSync: true,
	cim.ControlDemandReset: true, cim.ControlSetCalendar: true, cim.ControlReadNow: true, cim.ControlPing: true,
	cim.ControlRelayMode: true, cim.ControlKeyChange: true, cim.ControlFirmwareActivate: true,
	cim.ControlLoadLimit: true, cim.ControlPriceSignal: true, cim.ControlLoadRelay: true,
}

// Issue takes a command in. It is checked against the safeguards (which
// refuse it, wrapping ErrRefused, or move its time), screened by the
// anomaly limits (over one, it waits quarantined for a security officer),
// held for a second person's approval when the policy names it critical,
// and otherwise queued: stored, then published on the bus for whichever
// head-end node runs RunCommands. c.IssuedBy names the person issuing it.
// A command whose CorrelationID was issued before is not taken again: the
// earlier one is returned with created false (and offered on the bus again
// while it is still queued).
func (h *HeadEnd) Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	if !knownControls[c.Type] {
		return c, false, fmt.Errorf("%w: unknown type %q", ErrBadCommand, c.Type)
	}
	if c.MeterID == "" {
		return c, false, fmt.Errorf("%w: no meter", ErrBadCommand)
	}
	m, err := h.st.Meter(ctx, c.MeterID)
	if err != nil {
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
	c.Reason = "" // the safeguards may leave a note
	if err := h.safeguard(ctx, m, &c); err != nil {
		h.record(ctx, audit.Record{Actor: c.IssuedBy, Action: audit.CommandRefuse, Target: c.MeterID, Outcome: audit.Refused,
			Details: map[string]string{"type": string(c.Type), "reason": err.Error()}})
		return c, false, err
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
	c.Status, c.UpdatedAt = cim.ControlQueued, now
	quarantine, why, err := h.screen(ctx, m, c)
	if err != nil {
		return c, false, fmt.Errorf("screening %s to meter %s: %w", c.Type, c.MeterID, err)
	}
	switch {
	case quarantine:
		c.Status, c.Reason = cim.ControlQuarantined, withNote(why, c.Reason)
	case h.needsApproval(c):
		c.Status, c.Reason = cim.ControlAwaitingApproval, withNote("awaiting approval by a second person", c.Reason)
	}
	got, created, err := h.st.IssueControl(ctx, c)
	if err != nil {
		return c, false, fmt.Errorf("issuing %s to meter %s: %w", c.Type, c.MeterID, err)
	}
	if created {
		h.m.commands.WithLabelValues(string(got.Type), string(got.Status)).Inc()
		h.record(ctx, audit.Record{Actor: got.IssuedBy, Action: audit.CommandIssue, Target: got.MRID, Outcome: audit.OK,
			Details: map[string]string{"meter": got.MeterID, "type": string(got.Type), "status": string(got.Status), "override": got.Override}})
		if got.Status == cim.ControlQuarantined {
			h.record(ctx, audit.Record{Action: audit.CommandQuarantine, Target: got.MRID, Outcome: audit.OK,
				Details: map[string]string{"meter": got.MeterID, "type": string(got.Type), "issuer": got.IssuedBy, "reason": got.Reason}})
		}
	}
	switch got.Status {
	case cim.ControlQueued:
		// Again for a retried issue: the first may have been stored and
		// not published, and the message ids keep it once on the bus.
		h.offer(ctx, got)
	case cim.ControlQuarantined, cim.ControlAwaitingApproval:
		if created {
			h.announce(ctx, got)
		}
	}
	return got, created, nil
}

// record appends to the audit trail. The action has happened: a trail
// that cannot take it is logged loudly, and does not undo it.
func (h *HeadEnd) record(ctx context.Context, r audit.Record) {
	if r.At.IsZero() {
		r.At = h.now()
	}
	if err := h.audit.Append(ctx, r); err != nil {
		h.log.Error("audit record not kept", "action", r.Action, "target", r.Target, "err", err)
	}
}

// offer publishes a queued command's step, then the command for a node to
// take: in that order, so that its steps reach the bus in order. When the
// bus does not take it, the sweep offers it again.
func (h *HeadEnd) offer(ctx context.Context, c cim.EndDeviceControl) {
	h.announce(ctx, c)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := h.bus.Publish(pctx, bus.CommandIssued(c)); err != nil {
		h.log.Warn("issued command not published; the sweep offers it again", "command", c.MRID, "err", err)
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// announce publishes a command's new status; the store already has it, so
// a failure here is logged and the next transition carries the state.
func (h *HeadEnd) announce(ctx context.Context, c cim.EndDeviceControl) {
	msg, err := h.bus.Seal(bus.CommandStep(c))
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = h.publish(ctx, []outMsg{{env: msg}})
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

// RunCommands takes issued commands from the bus and carries each to its
// meter when it is due, until ctx ends. Any number of head-end nodes may
// run it on one bus and store: they share one durable consumer, so each
// command reaches one node, and the queued → sent transition in the store
// is the claim, so that even a command offered twice runs once.
func (h *HeadEnd) RunCommands(ctx context.Context) error {
	var c *bus.Consumer
	for n := 1; c == nil; n++ {
		var err error
		c, err = h.bus.Consumer(ctx, bus.ConsumerConfig{Durable: commandConsumer, Description: "head-end commands",
			Stream: bus.Commands, Topic: bus.TopicCommandIssued, AckWait: time.Minute, MaxAckPending: max(1000, 4*h.kcfg.Batch)})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			h.log.Warn("command consumer", "attempt", n, "err", err)
			if retry.Wait(ctx, retry.Backoff(100*time.Millisecond, 5*time.Second, n)) != nil {
				return nil
			}
		}
	}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		h.sweepCommands(ctx)
	}()
	defer func() { <-sweepDone }()
	for failures := 0; ctx.Err() == nil; {
		ds, err := c.Fetch(ctx, h.kcfg.Batch, h.kcfg.Poll)
		if err != nil && len(ds) == 0 && ctx.Err() == nil {
			failures++
			h.log.Warn("fetching commands", "attempt", failures, "err", err)
			if retry.Wait(ctx, retry.Backoff(100*time.Millisecond, 5*time.Second, failures)) != nil {
				return nil
			}
			continue
		}
		failures = 0
		for _, d := range ds {
			if ctx.Err() != nil {
				d.NakAfter(0) // stopping: another node may take it now
				continue
			}
			h.take(ctx, d)
		}
	}
	return nil
}

// take settles one issued command from the bus: it runs it when it is
// due and still queued, hands it back until its time when scheduled later,
// and lets go of it when the store says it has moved on.
func (h *HeadEnd) take(ctx context.Context, d *bus.Delivery) {
	m, err := d.Decode()
	issued, ok := m.(bus.CommandIssued)
	if err != nil || !ok {
		reason := fmt.Sprintf("not an issued command: %v", err)
		if err := h.bus.DeadLetter(ctx, d, commandConsumer, reason); err != nil {
			h.log.Warn("dead-lettering a command message", "subject", d.Subject(), "err", err)
			d.NakAfter(time.Second)
			return
		}
		d.Ack()
		return
	}
	// The store, not the message, says where the command stands.
	c, err := h.st.Control(ctx, issued.MRID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.log.Warn("issued command is not in the store; dropped", "command", issued.MRID, "meter", issued.MeterID)
		d.Ack()
		return
	case err != nil:
		h.log.Warn("looking up an issued command", "command", issued.MRID, "err", err)
		d.NakAfter(time.Second)
		return
	case c.Status != cim.ControlQueued:
		d.Ack() // taken before, by this node or another
		return
	}
	if holder := h.carriedElsewhere(c.MeterID); holder != "" {
		// The live node holding the meter's shard carries it: handed back
		// soon, the bus offers it again until that node fetches it.
		d.NakAfter(200 * time.Millisecond)
		return
	}
	now := h.now()
	if wait := c.ScheduledAt.Sub(now); wait > 0 && (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt)) {
		d.NakAfter(wait)
		return
	}
	h.dispatch(ctx, c)
	d.Ack()
}

// sweepLimit is the most due commands one sweep offers again; a longer
// backlog drains over the sweeps that follow, as nodes take commands.
const sweepLimit = 1000

// offerDue offers every due queued command (up to sweepLimit) again.
func (h *HeadEnd) offerDue(ctx context.Context) {
	due, err := h.st.DueControls(ctx, h.now(), sweepLimit)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("listing due commands", "err", err)
		}
		return
	}
	for _, c := range due {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := h.bus.Publish(pctx, bus.CommandIssued(c))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("offering a due command again", "command", c.MRID, "err", err)
			}
			return // the bus is away: the next sweep tries again
		}
	}
}

// sweepCommands offers the due queued commands on the bus again, now and
// every Sweep, and when an offer failed: a command whose publish was lost
// is not lost with it.
func (h *HeadEnd) sweepCommands(ctx context.Context) {
	t := time.NewTicker(h.kcfg.Sweep)
	defer t.Stop()
	for {
		h.offerDue(ctx)
		h.recoverInFlight(ctx)
		h.expireApprovals(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.wake:
		}
	}
}

// inFlightLimit is the longest a live node holds a command in "sent":
// every attempt's deadline and the longest wait between attempts.
func (h *HeadEnd) inFlightLimit() time.Duration {
	return time.Duration(h.kcfg.Attempts) * (h.ccfg.JobTimeout + h.ccfg.RetryMax)
}

// recoverInFlight fails the commands left in "sent" for longer than any
// live node holds one: the node that took them stopped. The head-end
// cannot know whether the meter carried them out, so it says so rather
// than repeat a disconnect on its own. A command sent more recently may
// be running on another node, and is left to it.
func (h *HeadEnd) recoverInFlight(ctx context.Context) {
	sent, err := h.st.Controls(ctx, store.ControlQuery{Status: cim.ControlSent, Limit: 10000})
	if err != nil {
		h.log.Warn("listing commands in flight", "err", err)
		return
	}
	limit := h.inFlightLimit()
	for _, c := range sent {
		if h.now().Sub(c.UpdatedAt) <= limit {
			continue
		}
		reason := fmt.Sprintf("not finished within %s of being sent (its head-end stopped); outcome unknown, read the meter's state", limit)
		if err := h.transition(ctx, &c, cim.ControlFailed, reason); err != nil && !errors.Is(err, store.ErrConflict) {
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
			// Shutting down: leave it in sent; a sweep fails it as
			// interrupted once no live node could still hold it.
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
	if m.Parent != "" {
		return "", behindParent(m, string(c.Type))
	}
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return "", err
	}
	t.Signer = h.signerFor(c)
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
