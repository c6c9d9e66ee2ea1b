package headend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/google/uuid"
)

// ApprovalConfig is the four-eyes policy: which commands wait in
// awaiting-approval until a second person approves or rejects them.
type ApprovalConfig struct {
	// Types always wait. Nil: every critical type (disconnect, relay
	// mode, key change, firmware activation); empty, not nil: none.
	Types []cim.EndDeviceControlType
	// CalendarMeters is how many meters one user's set-activity-calendar
	// with one calendar reaches in a day before the rest wait (100 when
	// 0): a tariff change across a town is as much a lever as a
	// disconnect.
	CalendarMeters int
	// TTL is how long a command waits for its approval before it expires
	// (4 h when 0); never beyond the command's own expiry.
	TTL time.Duration
}

// approvalPolicy is an ApprovalConfig with its defaults, ready to ask.
type approvalPolicy struct {
	types          map[cim.EndDeviceControlType]bool
	calendarMeters int
	ttl            time.Duration
}

func newApprovalPolicy(c ApprovalConfig) (approvalPolicy, error) {
	p := approvalPolicy{types: map[cim.EndDeviceControlType]bool{}, calendarMeters: c.CalendarMeters, ttl: c.TTL}
	types := c.Types
	if types == nil {
		for t := range knownControls {
			if t.Critical() {
				types = append(types, t)
			}
		}
	}
	for _, t := range types {
		if !knownControls[t] {
			return p, fmt.Errorf("headend: approvals: unknown command type %q", t)
		}
		p.types[t] = true
	}
	if p.calendarMeters <= 0 {
		p.calendarMeters = 100
	}
	if p.ttl <= 0 {
		p.ttl = 4 * time.Hour
	}
	return p, nil
}

// Errors of Approve and Reject.
var (
	// ErrSelfApproval: the issuer of a command tried to approve it.
	ErrSelfApproval = errors.New("headend: a command may not be approved by its issuer")
	// ErrNotAwaiting: the command does not (or no longer) wait for an
	// approval.
	ErrNotAwaiting = errors.New("headend: command is not awaiting approval")
)

// EventSelfApproval is the security event raised on a meter when the
// issuer of a command to it tried to approve it: security (12), access
// (1), rejected (285), with no device type (0) since the head-end, not
// the meter, refused it.
const EventSelfApproval cim.EndDeviceEventType = "0.12.1.285"

// approvalTimeout bounds the store query of the calendar rule, which
// Issue's pipeline asks without a context of its own.
const approvalTimeout = 10 * time.Second

// needsApproval reports whether the approval policy holds c for a second
// person. A command already approved by someone other than its issuer
// (a campaign approved as a whole) goes ahead; the API never sets
// ApprovedBy.
func (h *HeadEnd) needsApproval(c cim.EndDeviceControl) bool {
	if c.ApprovedBy != "" && !sameUser(c.ApprovedBy, c.IssuedBy) {
		return false
	}
	if h.approvals.types[c.Type] {
		return true
	}
	if c.Type != cim.ControlSetCalendar {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), approvalTimeout)
	defer cancel()
	n, err := h.st.CountIssued(ctx, store.IssuedQuery{IssuedBy: c.IssuedBy, Type: cim.ControlSetCalendar, Since: h.now().Add(-24 * time.Hour),
		Param: "calendar", Value: c.Parameters["calendar"]})
	if err != nil {
		// Unable to count, the change may be the one over the limit:
		// it waits, rather than go out unseen.
		h.log.Warn("counting calendar changes; the command waits for approval", "meter", c.MeterID, "issuer", c.IssuedBy, "err", err)
		return true
	}
	return n+1 > h.approvals.calendarMeters
}

// sameUser compares user names as sign-in does, whatever their case: a
// name typed in capitals is no second person.
func sameUser(a, b string) bool { return strings.EqualFold(a, b) }

// approvalDeadline is when a command waiting for approval expires: the
// policy's TTL after it began to wait, or its own expiry if sooner. A
// waiting command has not moved since it was issued, so UpdatedAt is
// when it began to wait.
func (h *HeadEnd) approvalDeadline(c cim.EndDeviceControl) time.Time {
	d := c.UpdatedAt.Add(h.approvals.ttl)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(d) {
		d = c.ExpiresAt
	}
	return d
}

// Awaiting is a command waiting for a second person's approval.
type Awaiting struct {
	cim.EndDeviceControl
	// Since is when it began to wait; Deadline is when it expires if
	// nobody approves it.
	Since    time.Time `json:"awaitingSince"`
	Deadline time.Time `json:"approvalDeadline"`
}

// Awaiting lists the commands waiting for approval, oldest first (the
// nearest to expiring), at most limit.
func (h *HeadEnd) Awaiting(ctx context.Context, limit int) ([]Awaiting, error) {
	cs, err := h.st.Controls(ctx, store.ControlQuery{Status: cim.ControlAwaitingApproval, Limit: limit, OldestFirst: true})
	if err != nil {
		return nil, fmt.Errorf("listing commands awaiting approval: %w", err)
	}
	out := make([]Awaiting, 0, len(cs))
	for _, c := range cs {
		out = append(out, Awaiting{EndDeviceControl: c, Since: c.UpdatedAt, Deadline: h.approvalDeadline(c)})
	}
	return out, nil
}

// awaiting loads a command that must be waiting for a decision.
func (h *HeadEnd) awaiting(ctx context.Context, mrid, by string) (cim.EndDeviceControl, error) {
	if by == "" {
		return cim.EndDeviceControl{}, fmt.Errorf("%w: a decision on command %s names no user", ErrBadCommand, mrid)
	}
	c, err := h.st.Control(ctx, mrid)
	if err != nil {
		return c, fmt.Errorf("command %s: %w", mrid, err)
	}
	if c.Status != cim.ControlAwaitingApproval {
		return c, fmt.Errorf("%w: command %s to meter %s is %s", ErrNotAwaiting, mrid, c.MeterID, c.Status)
	}
	return c, nil
}

// Approve lets a command that waits for approval go to its meter: by is
// the second person, never its issuer. The issuer's attempt is refused
// with ErrSelfApproval, kept in the audit trail and raised as a security
// event on the meter. A command past its approval deadline expires
// instead (ErrNotAwaiting).
func (h *HeadEnd) Approve(ctx context.Context, mrid, by string) (cim.EndDeviceControl, error) {
	c, err := h.awaiting(ctx, mrid, by)
	if err != nil {
		return c, err
	}
	if sameUser(by, c.IssuedBy) {
		h.refuseSelfApproval(ctx, c, by)
		return c, fmt.Errorf("%w: %s issued command %s (%s to meter %s) and may not approve it", ErrSelfApproval, by, c.MRID, c.Type, c.MeterID)
	}
	now := h.now()
	if deadline := h.approvalDeadline(c); !now.Before(deadline) {
		h.expireApproval(ctx, &c, deadline)
		return c, fmt.Errorf("%w: command %s to meter %s expired unapproved at %s", ErrNotAwaiting, c.MRID, c.MeterID, deadline.Format(time.RFC3339))
	}
	if err := h.decide(ctx, &c, cim.ControlQueued, by, "approved by "+by); err != nil {
		return c, err
	}
	h.record(ctx, audit.Record{Actor: by, Action: audit.CommandApprove, Target: c.MRID, Outcome: audit.OK,
		Details: map[string]string{"meter": c.MeterID, "type": string(c.Type), "issuer": c.IssuedBy}})
	h.offer(ctx, c)
	return c, nil
}

// Reject refuses a command that waits for approval: it is never sent. Its
// issuer may reject (withdraw) it too; only an approval needs a second
// person.
func (h *HeadEnd) Reject(ctx context.Context, mrid, by, reason string) (cim.EndDeviceControl, error) {
	if reason == "" {
		return cim.EndDeviceControl{}, fmt.Errorf("%w: rejecting command %s needs a reason", ErrBadCommand, mrid)
	}
	c, err := h.awaiting(ctx, mrid, by)
	if err != nil {
		return c, err
	}
	if err := h.decide(ctx, &c, cim.ControlRejected, by, "rejected by "+by+": "+reason); err != nil {
		return c, err
	}
	h.record(ctx, audit.Record{Actor: by, Action: audit.CommandReject, Target: c.MRID, Outcome: audit.OK,
		Details: map[string]string{"meter": c.MeterID, "type": string(c.Type), "issuer": c.IssuedBy, "reason": reason}})
	h.announce(ctx, c)
	return c, nil
}

// decide stores a person's decision on a waiting command. Another
// decision (or the expiry) that came first is ErrNotAwaiting.
func (h *HeadEnd) decide(ctx context.Context, c *cim.EndDeviceControl, to cim.ControlStatus, by, reason string) error {
	now := h.now()
	if err := h.st.DecideControl(ctx, c.MRID, cim.ControlAwaitingApproval, to, by, reason, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: command %s to meter %s was decided meanwhile", ErrNotAwaiting, c.MRID, c.MeterID)
		}
		return fmt.Errorf("deciding command %s to meter %s: %w", c.MRID, c.MeterID, err)
	}
	c.Status, c.Reason, c.UpdatedAt, c.ApprovedBy = to, reason, now, by
	h.m.commands.WithLabelValues(string(c.Type), string(to)).Inc()
	return nil
}

// refuseSelfApproval keeps the attempt where a security officer sees it:
// in the audit trail and among the meter's events.
func (h *HeadEnd) refuseSelfApproval(ctx context.Context, c cim.EndDeviceControl, by string) {
	why := fmt.Sprintf("approval refused: %s tried to approve the %s they issued (command %s)", by, c.Type, c.MRID)
	h.record(ctx, audit.Record{Actor: by, Action: audit.CommandApprove, Target: c.MRID, Outcome: audit.Refused,
		Details: map[string]string{"meter": c.MeterID, "type": string(c.Type), "issuer": c.IssuedBy, "reason": "self-approval"}})
	ev := cim.EndDeviceEvent{MRID: uuid.NewString(), MeterID: c.MeterID, Type: EventSelfApproval, CreatedAt: h.now(), Reason: why,
		Severity: "major", Details: map[string]string{"command": c.MRID, "type": string(c.Type), "user": by, "event": "self-approval"}}
	if _, err := h.st.AppendEvents(ctx, []cim.EndDeviceEvent{ev}); err != nil {
		h.log.Error("security event not kept", "event", "self-approval", "command", c.MRID, "meter", c.MeterID, "user", by, "err", err)
	}
	h.log.Warn(why, "meter", c.MeterID)
}

// expireApproval expires one waiting command whose deadline has passed.
func (h *HeadEnd) expireApproval(ctx context.Context, c *cim.EndDeviceControl, deadline time.Time) {
	reason := fmt.Sprintf("not approved by %s", deadline.Format(time.RFC3339))
	if err := h.transition(ctx, c, cim.ControlExpired, reason); err != nil && !errors.Is(err, store.ErrConflict) {
		h.log.Warn("expiring an unapproved command", "command", c.MRID, "meter", c.MeterID, "err", err)
	}
}

// approvalSweepLimit is the most waiting commands one sweep looks at; the
// oldest come first, and they are the ones that expire.
const approvalSweepLimit = 1000

// expireApprovals expires the commands whose approval was not given in
// time.
func (h *HeadEnd) expireApprovals(ctx context.Context) {
	cs, err := h.st.Controls(ctx, store.ControlQuery{Status: cim.ControlAwaitingApproval, Limit: approvalSweepLimit, OldestFirst: true})
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("listing commands awaiting approval", "err", err)
		}
		return
	}
	now := h.now()
	for _, c := range cs {
		if d := h.approvalDeadline(c); !now.Before(d) {
			h.expireApproval(ctx, &c, d)
		}
	}
}
