package headend_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// auditLog keeps what the head-end appends to the audit trail.
type auditLog struct {
	mu sync.Mutex
	rs []audit.Record
}

func (l *auditLog) Append(_ context.Context, r audit.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rs = append(l.rs, r)
	return nil
}

// find returns the records of one action on one target.
func (l *auditLog) find(action audit.Action, target string) []audit.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []audit.Record
	for _, r := range l.rs {
		if r.Action == action && r.Target == target {
			out = append(out, r)
		}
	}
	return out
}

// TestApprovalPolicy: which commands wait for a second person, by type,
// by pre-approval, and by how far one user's calendar change reaches.
func TestApprovalPolicy(t *testing.T) {
	r := newRig(t, 8, 1, headend.CollectionConfig{})
	r.now = time.Now()
	ctx := context.Background()
	h, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return r.now }, Approvals: headend.ApprovalConfig{CalendarMeters: 2}})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(h *headend.HeadEnd, c cim.EndDeviceControl) cim.ControlStatus {
		t.Helper()
		r.now = r.now.Add(time.Second) // the awaiting list's order
		got, _, err := h.Issue(ctx, c)
		if err != nil {
			t.Fatalf("issue %+v: %v", c, err)
		}
		return got.Status
	}
	for _, c := range []struct {
		c    cim.EndDeviceControl
		want cim.ControlStatus
	}{
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, IssuedBy: "olga"}, cim.ControlAwaitingApproval},
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlRelayMode, IssuedBy: "olga", Parameters: map[string]string{"mode": "0"}}, cim.ControlAwaitingApproval},
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlKeyChange, IssuedBy: "olga"}, cim.ControlAwaitingApproval},
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlFirmwareActivate, IssuedBy: "olga"}, cim.ControlAwaitingApproval},
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlReconnect, IssuedBy: "olga"}, cim.ControlQueued},
		{cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlPing, IssuedBy: "olga"}, cim.ControlQueued},
		// A campaign approved as a whole by a second person goes ahead...
		{cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlKeyChange, IssuedBy: "campaign", ApprovedBy: "sam"}, cim.ControlQueued},
		// ...one "approved" by its own issuer does not.
		{cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlDisconnect, IssuedBy: "olga", ApprovedBy: "olga"}, cim.ControlAwaitingApproval},
		{cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlDisconnect, IssuedBy: "olga", ApprovedBy: "OLGA"}, cim.ControlAwaitingApproval},
	} {
		if got := issue(h, c.c); got != c.want {
			t.Errorf("%s by %s (approved by %q): %s, want %s", c.c.Type, c.c.IssuedBy, c.c.ApprovedBy, got, c.want)
		}
	}

	// One user's calendar reaches two meters a day; from the third on,
	// the rest wait. Another calendar, or another user, counts apart.
	cal := func(m int, by, calendar string) cim.EndDeviceControl {
		return cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", m), Type: cim.ControlSetCalendar, IssuedBy: by, Parameters: map[string]string{"calendar": calendar}}
	}
	for i, want := range []cim.ControlStatus{cim.ControlQueued, cim.ControlQueued, cim.ControlAwaitingApproval, cim.ControlAwaitingApproval} {
		if got := issue(h, cal(i, "olga", "FLAT3")); got != want {
			t.Errorf("olga's calendar FLAT3 to meter %d: %s, want %s", i+1, got, want)
		}
	}
	if got := issue(h, cal(5, "olga", "TOU2")); got != cim.ControlQueued {
		t.Errorf("another calendar: %s", got)
	}
	if got := issue(h, cal(6, "piet", "FLAT3")); got != cim.ControlQueued {
		t.Errorf("another user's: %s", got)
	}
	// A day later the count starts again.
	r.now = r.now.Add(25 * time.Hour)
	if got := issue(h, cal(7, "olga", "FLAT3")); got != cim.ControlQueued {
		t.Errorf("the next day: %s", got)
	}

	// The awaiting list is oldest first, with the issuer and the deadline.
	aw, err := h.Awaiting(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(aw) != 8 || aw[0].Type != cim.ControlDisconnect || aw[0].IssuedBy != "olga" || aw[len(aw)-1].Type != cim.ControlSetCalendar {
		t.Fatalf("awaiting: %+v", aw)
	}
	if d := aw[0].Deadline.Sub(aw[0].Since); d != 4*time.Hour {
		t.Errorf("deadline %v after it began to wait, want the default 4h", d)
	}

	// No types: nothing waits by type. An unknown type is refused.
	none, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: plainSecrets{}, Now: func() time.Time { return r.now },
		Approvals: headend.ApprovalConfig{Types: []cim.EndDeviceControlType{}}, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if got := issue(none, cim.EndDeviceControl{MeterID: "m00002", Type: cim.ControlDisconnect, IssuedBy: "olga"}); got != cim.ControlQueued {
		t.Errorf("with no types held: %s", got)
	}
	if _, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: plainSecrets{},
		Approvals: headend.ApprovalConfig{Types: []cim.EndDeviceControlType{"self-destruct"}}}); err == nil {
		t.Error("an unknown type in the policy was accepted")
	}
}

// approvalRig is a simulated fleet whose head-end keeps an audit trail,
// sweeps often and carries commands.
type approvalRig struct {
	*fleetRig
	h   *headend.HeadEnd
	log *auditLog
	ctx context.Context
}

func newApprovalRig(t *testing.T, meters int, ttl time.Duration) *approvalRig {
	t.Helper()
	r := newFleetRigIngest(t, meters, meter.Faults{}, headend.CollectionConfig{}, false)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	a := &approvalRig{fleetRig: r, log: &auditLog{}, ctx: ctx}
	var err error
	a.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: r.keys, Now: r.clk.Now, Audit: a.log,
		Drivers:   []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})},
		Commands:  headend.CommandConfig{Sweep: 50 * time.Millisecond, Poll: 100 * time.Millisecond},
		Approvals: headend.ApprovalConfig{TTL: ttl}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); a.h.RunCommands(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func (a *approvalRig) relay(i int) meter.ControlState {
	m, _ := a.fleet.Meter(i)
	a.fleet.Lock(i).Lock()
	defer a.fleet.Lock(i).Unlock()
	st, _ := m.Relay()
	return st
}

func (a *approvalRig) disconnect(t *testing.T, i int, by string) cim.EndDeviceControl {
	t.Helper()
	c, _, err := a.h.Issue(a.ctx, cim.EndDeviceControl{MeterID: headend.MeterID(a.rows[i]), Type: cim.ControlDisconnect, IssuedBy: by})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != cim.ControlAwaitingApproval {
		t.Fatalf("a disconnect issued by %s is %s, want it awaiting approval", by, c.Status)
	}
	return c
}

// TestInsiderApprovesOwnCommand is the attack of an insider who holds
// both the command and the approve permission: their approval of their
// own disconnect is refused, kept in the audit trail and raised as a
// security event on the meter, and nothing reaches the meter. A second
// person's approval then carries it out.
func TestInsiderApprovesOwnCommand(t *testing.T) {
	a := newApprovalRig(t, 2, 0)
	c := a.disconnect(t, 0, "mallory")
	if _, err := a.h.Approve(a.ctx, c.MRID, "Mallory"); !errors.Is(err, headend.ErrSelfApproval) {
		t.Fatalf("self-approval in capitals: %v, want ErrSelfApproval", err)
	}
	_, err := a.h.Approve(a.ctx, c.MRID, "mallory")
	if !errors.Is(err, headend.ErrSelfApproval) {
		t.Fatalf("self-approval: %v, want ErrSelfApproval", err)
	}
	t.Logf("refused: %v", err)
	recs := a.log.find(audit.CommandApprove, c.MRID)
	if len(recs) != 2 || recs[1].Outcome != audit.Refused || recs[1].Actor != "mallory" || recs[1].Details["reason"] != "self-approval" {
		t.Fatalf("audit records of the attempt: %+v", recs)
	}
	evs, err := a.st.Events(a.ctx, store.EventQuery{MeterID: c.MeterID, Type: headend.EventSelfApproval, Limit: 10})
	if err != nil || len(evs) != 2 || evs[0].Details["user"] == "" || evs[0].Details["command"] != c.MRID || evs[0].Severity != "major" {
		t.Fatalf("security event: %+v %v", evs, err)
	}
	t.Logf("event %s: %s", evs[0].Type, evs[0].Reason)

	// Another meter's approved disconnect goes through the same
	// dispatcher: once it is confirmed, the refused one has had every
	// chance to leak, and has not.
	other := a.disconnect(t, 1, "olga")
	if _, err := a.h.Approve(a.ctx, other.MRID, "sam"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.st, other.MRID, cim.ControlConfirmed)
	if a.relay(1) != meter.Disconnected {
		t.Fatal("the approved disconnect did not open the relay")
	}
	if got, _ := a.st.Control(a.ctx, c.MRID); got.Status != cim.ControlAwaitingApproval || got.ApprovedBy != "" {
		t.Fatalf("the self-approved command is %s (approved by %q)", got.Status, got.ApprovedBy)
	}
	if a.relay(0) == meter.Disconnected {
		t.Fatal("the self-approved disconnect reached the meter")
	}

	// A second person approves it: it runs, and its history names both.
	approved, err := a.h.Approve(a.ctx, c.MRID, "sam")
	if err != nil || approved.Status != cim.ControlQueued || approved.ApprovedBy != "sam" {
		t.Fatalf("approval: %+v %v", approved, err)
	}
	got := waitStatus(t, a.st, c.MRID, cim.ControlConfirmed)
	if got.IssuedBy != "mallory" || got.ApprovedBy != "sam" {
		t.Errorf("issued by %q, approved by %q", got.IssuedBy, got.ApprovedBy)
	}
	if a.relay(0) != meter.Disconnected {
		t.Fatal("the relay is closed after the approved disconnect was confirmed")
	}
	steps, err := a.st.ControlSteps(a.ctx, c.MRID)
	if err != nil || len(steps) != 4 || steps[0].Status != cim.ControlAwaitingApproval || steps[0].Actor != "mallory" ||
		steps[1].Status != cim.ControlQueued || steps[1].Actor != "sam" || steps[3].Status != cim.ControlConfirmed {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if recs := a.log.find(audit.CommandApprove, c.MRID); len(recs) != 3 || recs[2].Outcome != audit.OK || recs[2].Actor != "sam" {
		t.Fatalf("audit records: %+v", recs)
	}
	// Decided once: a second approval is no longer possible.
	if _, err := a.h.Approve(a.ctx, c.MRID, "trudy"); !errors.Is(err, headend.ErrNotAwaiting) {
		t.Fatalf("approval of a confirmed command: %v", err)
	}
}

// TestRejectedNeverSent: a rejected command is not sent, and cannot be
// approved afterwards.
func TestRejectedNeverSent(t *testing.T) {
	a := newApprovalRig(t, 2, 0)
	c := a.disconnect(t, 0, "olga")
	if _, err := a.h.Reject(a.ctx, c.MRID, "sam", ""); !errors.Is(err, headend.ErrBadCommand) {
		t.Fatalf("a rejection without a reason: %v", err)
	}
	got, err := a.h.Reject(a.ctx, c.MRID, "sam", "wrong customer")
	if err != nil || got.Status != cim.ControlRejected || got.ApprovedBy != "sam" {
		t.Fatalf("reject: %+v %v", got, err)
	}
	if _, err := a.h.Approve(a.ctx, c.MRID, "trudy"); !errors.Is(err, headend.ErrNotAwaiting) {
		t.Fatalf("approval after rejection: %v", err)
	}
	// A later approved command to the other meter has run: the
	// dispatcher had the rejected one in reach and left it.
	other := a.disconnect(t, 1, "olga")
	if _, err := a.h.Approve(a.ctx, other.MRID, "sam"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.st, other.MRID, cim.ControlConfirmed)
	if st, _ := a.st.Control(a.ctx, c.MRID); st.Status != cim.ControlRejected || st.Reason != "rejected by sam: wrong customer" {
		t.Fatalf("rejected command is %s (%s)", st.Status, st.Reason)
	}
	if a.relay(0) == meter.Disconnected {
		t.Fatal("the rejected disconnect reached the meter")
	}
	if recs := a.log.find(audit.CommandReject, c.MRID); len(recs) != 1 || recs[0].Actor != "sam" || recs[0].Details["reason"] != "wrong customer" {
		t.Fatalf("audit: %+v", recs)
	}
}

// TestApprovalExpires: an approval given after the TTL finds the command
// expired; one nobody approves is expired by the sweep; neither is sent.
func TestApprovalExpires(t *testing.T) {
	a := newApprovalRig(t, 2, time.Hour)
	late := a.disconnect(t, 0, "olga")
	forgotten := a.disconnect(t, 1, "olga")
	a.clk.Set(a.clk.Now().Add(time.Hour + time.Second))
	if _, err := a.h.Approve(a.ctx, late.MRID, "sam"); !errors.Is(err, headend.ErrNotAwaiting) {
		t.Fatalf("approval after the TTL: %v", err)
	}
	if got := waitStatus(t, a.st, late.MRID, cim.ControlExpired); got.ApprovedBy != "" {
		t.Errorf("expired command approved by %q", got.ApprovedBy)
	}
	got := waitStatus(t, a.st, forgotten.MRID, cim.ControlExpired)
	t.Logf("expired by the sweep: %s", got.Reason)
	for i := range 2 {
		if a.relay(i) == meter.Disconnected {
			t.Fatalf("meter %d: an expired disconnect reached it", i)
		}
	}
	if aw, err := a.h.Awaiting(a.ctx, 10); err != nil || len(aw) != 0 {
		t.Fatalf("still awaiting: %+v %v", aw, err)
	}
}
