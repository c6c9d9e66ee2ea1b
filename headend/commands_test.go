package headend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
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

	c, created, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, CorrelationID: "op-1"})
	if err != nil || !created {
		t.Fatalf("issue: %v %v", created, err)
	}
	again, created, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect, CorrelationID: "op-1"})
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

func TestCommandInFlightAtRestartFails(t *testing.T) {
	r := newRig(t, 1, 1, headend.CollectionConfig{})
	r.now = time.Now()
	ctx := context.Background()
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlDisconnect})
	if err != nil {
		t.Fatal(err)
	}
	// A node took it and died before the meter answered.
	if err := r.st.TransitionControl(ctx, c.MRID, cim.ControlQueued, cim.ControlSent, "sent to the meter", r.now); err != nil {
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
	cancel()
	<-done
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	if r.drv.opens["m00000"] != 0 {
		t.Error("an interrupted disconnect was sent again without an operator")
	}
}
