package headend_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// waitStatus polls the store until the command reaches one of the final
// states or the deadline passes.
func waitStatus(t *testing.T, st store.Store, mrid string, want cim.ControlStatus) cim.EndDeviceControl {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := st.Control(context.Background(), mrid)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("command %s is %s (%s), want %s", mrid, c.Status, c.Reason, want)
		}
		<-tick.C
	}
}

func TestCommandLifecycle(t *testing.T) {
	r := newRig(t, 4, 1, headend.CollectionConfig{Attempts: 2})
	r.now = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.h.RunCommands(ctx)
	}()

	c, created, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, CorrelationID: "op-1", IssuedBy: "olga", ApprovedBy: "sam"})
	if err != nil || !created {
		t.Fatalf("issue: %v %v", created, err)
	}
	again, created, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, CorrelationID: "op-1", IssuedBy: "olga", ApprovedBy: "sam"})
	if err != nil || created || again.MRID != c.MRID {
		t.Fatalf("re-issue with the same correlation id made a new command: %v %v %s/%s", created, err, again.MRID, c.MRID)
	}
	got := waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	if got.Reason != "done" {
		t.Errorf("reason %q", got.Reason)
	}
	steps, err := r.st.ControlSteps(ctx, c.MRID)
	if err != nil {
		t.Fatal(err)
	}
	var seq []cim.ControlStatus
	for _, s := range steps {
		seq = append(seq, s.Status)
	}
	if len(seq) != 3 || seq[0] != cim.ControlQueued || seq[1] != cim.ControlSent || seq[2] != cim.ControlConfirmed {
		t.Errorf("steps %v", seq)
	}

	// A meter that refuses: the command fails after its attempts.
	r.drv.mu.Lock()
	r.drv.behaviour["m00001"] = "refused"
	r.drv.mu.Unlock()
	f, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlReconnect})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.st, f.MRID, cim.ControlFailed)

	// Bad commands are refused at the door.
	for _, bad := range []cim.EndDeviceControl{
		{MeterID: "m00000", Type: "self-destruct"},
		{MeterID: "nobody", Type: cim.ControlPing},
		{Type: cim.ControlPing},
		{MeterID: "m00000", Type: cim.ControlPing, ExpiresAt: r.now.Add(-time.Hour)},
	} {
		if _, _, err := r.h.Issue(ctx, bad); !errors.Is(err, headend.ErrBadCommand) {
			t.Errorf("%+v: err %v, want ErrBadCommand", bad, err)
		}
	}
	cancel()
	<-done
}

func TestCommandScheduleAndExpiry(t *testing.T) {
	r := newRig(t, 2, 1, headend.CollectionConfig{})
	r.now = time.Now()
	ctx := context.Background()
	later, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlPing, ScheduledAt: r.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	short, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlPing, ExpiresAt: r.now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// The dispatcher starts two minutes later: the short-lived command
	// expired meanwhile, the scheduled one is not due yet.
	r.now = r.now.Add(2 * time.Minute)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.h.RunCommands(rctx)
	}()
	waitStatus(t, r.st, short.MRID, cim.ControlExpired)
	if c, _ := r.st.Control(ctx, later.MRID); c.Status != cim.ControlQueued {
		t.Fatalf("scheduled command is %s before its time", c.Status)
	}
	cancel()
	<-done
}

// TestCommandInFlightAtRestartFails: a command a stopped node left in
// "sent" fails once no live node could still hold it, and is never sent
// again; one sent a moment ago, perhaps by a node still running, is left
// alone by the same sweep.
func TestCommandInFlightAtRestartFails(t *testing.T) {
	r := newRig(t, 2, 1, headend.CollectionConfig{})
	r.now = time.Now()
	ctx := context.Background()
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, IssuedBy: "olga", ApprovedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00001", Type: cim.ControlDisconnect, IssuedBy: "olga", ApprovedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	// A node took the first a day ago and died before the meter answered;
	// another took the second just now.
	if err := r.st.TransitionControl(ctx, c.MRID, cim.ControlQueued, cim.ControlSent, "sent to the meter", r.now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.st.TransitionControl(ctx, live.MRID, cim.ControlQueued, cim.ControlSent, "sent to the meter", r.now); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.h.RunCommands(rctx)
	}()
	got := waitStatus(t, r.st, c.MRID, cim.ControlFailed)
	if got.Reason == "" {
		t.Error("no reason given")
	}
	// The sweep that failed the first saw the second too.
	if still, err := r.st.Control(ctx, live.MRID); err != nil || still.Status != cim.ControlSent {
		t.Errorf("a command another node may be carrying out: %+v %v, want it left in sent", still, err)
	}
	cancel()
	<-done
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	if r.drv.opens["m00000"] != 0 || r.drv.opens["m00001"] != 0 {
		t.Error("a command in flight was sent again without an operator")
	}
}

// TestCommandsTwoNodes runs two head-end nodes on one bus and one store:
// every command issued is carried out by one of them, once, and its steps
// reach the bus in order.
func TestCommandsTwoNodes(t *testing.T) {
	const n = 24
	r := newRig(t, n, 1, headend.CollectionConfig{})
	r.now = time.Now()
	second, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return r.now }, Metrics: prometheus.NewRegistry(), Commands: headend.CommandConfig{Batch: 2}, Safeguards: noSafeguards})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var nodes sync.WaitGroup
	for _, h := range []*headend.HeadEnd{r.h, second} {
		nodes.Go(func() { h.RunCommands(ctx) })
	}
	defer func() { cancel(); nodes.Wait() }()

	var issued []cim.EndDeviceControl
	for i := range n {
		// Issued through either node, and each retried once: the retry
		// is the same command.
		h := []*headend.HeadEnd{r.h, second}[i%2]
		c := cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", i), Type: cim.ControlDisconnect, CorrelationID: fmt.Sprintf("op-%d", i),
			IssuedBy: "olga", ApprovedBy: "sam"}
		got, created, err := h.Issue(ctx, c)
		if err != nil || !created {
			t.Fatalf("issue %d: %v %v", i, created, err)
		}
		if again, created, err := h.Issue(ctx, c); err != nil || created || again.MRID != got.MRID {
			t.Fatalf("re-issue %d: %v %v %s", i, created, err, again.MRID)
		}
		issued = append(issued, got)
	}
	for _, c := range issued {
		waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	}
	r.drv.mu.Lock()
	for _, c := range issued {
		if k := r.drv.opens[c.MeterID]; k != 1 {
			t.Errorf("command %s to %s: %d sessions, want 1", c.MRID, c.MeterID, k)
		}
	}
	r.drv.mu.Unlock()

	// The steps on the bus, per command, in the order they were stored.
	want := []cim.ControlStatus{cim.ControlQueued, cim.ControlSent, cim.ControlConfirmed}
	steps := map[string][]cim.ControlStatus{}
	offers := map[string]int{}
	err = r.bus.Stored(ctx, bus.Commands, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case bus.CommandStep:
			steps[m.MRID] = append(steps[m.MRID], m.Status)
		case bus.CommandIssued:
			offers[m.MRID]++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range issued {
		if !slices.Equal(steps[c.MRID], want) || offers[c.MRID] != 1 {
			t.Errorf("command %s: steps %v, offered %d times on the bus; want %v once", c.MRID, steps[c.MRID], offers[c.MRID], want)
		}
	}
}

// TestCommandLostOnTheBusIsSwept: a command stored but never published
// (the bus was away) is offered again by the sweep and carried out.
func TestCommandLostOnTheBusIsSwept(t *testing.T) {
	r := newRig(t, 1, 1, headend.CollectionConfig{})
	r.now = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Recorded as Issue records it, and nothing published.
	c, created, err := r.st.IssueControl(ctx, cim.EndDeviceControl{MRID: "lost-1", MeterID: "m00000", Type: cim.ControlPing,
		CorrelationID: "lost-1", Status: cim.ControlQueued, UpdatedAt: r.now, ExpiresAt: r.now.Add(time.Hour)})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.h.RunCommands(ctx)
	}()
	waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	cancel()
	<-done
}
