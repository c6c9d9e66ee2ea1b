package headend_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
)

// TestFirmwareCampaign is the firmware acceptance run: a campaign over
// fleetSize/10 simulated meters (1,000; 100 under the race detector), 2 %
// of which fail verification (1 % corrupt blocks, 1 % an untrusted key,
// each its own reason)
// and 2 % of which drop the session half-way (and are resumed), stops at
// its 1 % threshold; released at 5 % it completes, its report counts the
// failures by reason, and every meter that took the image runs it after
// the scheduled activation, the others their old firmware.
func TestFirmwareCampaign(t *testing.T) {
	n := fleetSize / 10
	faultsOf := func(i int) sim.Fault {
		switch i % 100 {
		case 37:
			return sim.FaultImageCorrupt
		case 87:
			return sim.FaultImageUntrusted
		case 21, 71:
			return sim.FaultImageDrop
		}
		return 0
	}
	r := newFirmwareRig(t, n, faultsOf)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const v = "AMG-IDIS-2.5.0"
	raw := signedImage(t, r.key, v, 2000)
	img, err := firmware.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutFirmwareImage(ctx, store.FirmwareImage{ID: v, Vendor: img.Vendor, Model: img.Model, Version: v,
		Size: int64(img.Size), SHA256: hex.EncodeToString(img.SHA256[:]), Image: raw, AddedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	fw := &headend.FirmwareUpdate{HeadEnd: r.h, Images: r.st, Trusted: &r.key.PublicKey}
	eng := campaign.New(r.st, campaign.Options{Steps: map[string]campaign.Step{headend.FirmwareKind: fw.Step},
		Poll: 50 * time.Millisecond, StepTimeout: time.Minute})
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done }()

	failing := 0
	for i := range n {
		if f := faultsOf(i); f == sim.FaultImageCorrupt || f == sim.FaultImageUntrusted {
			failing++
		}
	}
	activate := time.Now().Add(3 * time.Second)
	c, err := eng.Create(ctx, campaign.Spec{Name: "2.5.0 to the fleet", CreatedBy: "alice", Kind: headend.FirmwareKind, Meters: r.ids,
		Pilot: n / 50, MaxFailureRate: 0.01, MinFinished: n / 10, Concurrency: 16,
		Params: map[string]string{headend.FirmwareParamImage: v, headend.FirmwareParamActivate: activate.UTC().Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Approve(ctx, c.ID, "alice"); err == nil {
		t.Fatal("the campaign's creator approved it")
	}
	if err := eng.Approve(ctx, c.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	got := waitCampaign(t, eng, c.ID, store.CampaignStopped)
	finished := got.Counts.Done + got.Counts.Failed
	if got.Counts.PilotFailed != 0 || got.Counts.PilotLeft != 0 || finished < n/10 || got.Counts.Failed == 0 ||
		float64(got.Counts.Failed)/float64(finished) <= 0.01 || got.Counts.Pending == 0 {
		t.Fatalf("stopped with %+v", got.Counts)
	}
	t.Logf("stopped at its threshold after %s (%s): %+v", time.Since(t0).Round(time.Millisecond), got.Reason, got.Counts)
	if err := eng.Release(ctx, c.ID, "bob", 0.05); err != nil {
		t.Fatal(err)
	}
	got = waitCampaign(t, eng, c.ID, store.CampaignCompleted)
	t.Logf("completed after %s: %+v", time.Since(t0).Round(time.Millisecond), got.Counts)
	if got.Counts.Done != n-failing || got.Counts.Failed != failing {
		t.Fatalf("counts %+v, want %d done and %d failed", got.Counts, n-failing, failing)
	}
	rep, err := eng.Report(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", rep.Failures)
	want := map[string]int{headend.ErrImageVerification.Error(): failing / 2, headend.ErrImageSignature.Error(): failing / 2}
	if len(rep.Failures) != len(want) {
		t.Fatalf("failures by reason %+v, want %v", rep.Failures, want)
	}
	for _, f := range rep.Failures {
		if want[f.Error] != f.Count {
			t.Fatalf("failures by reason %+v, want %v", rep.Failures, want)
		}
	}

	// The activations wait for their time, then run.
	waitActivations(t, r, n-failing)
	// The activation is scheduled to the second, so it may run up to a
	// second before the instant asked for.
	if time.Now().Before(activate.Truncate(time.Second)) {
		t.Fatal("activations confirmed before their time")
	}
	for i := range n {
		f := faultsOf(i)
		want := v
		if f == sim.FaultImageCorrupt || f == sim.FaultImageUntrusted {
			want = sim.MakeOf(sim.ModelIDIS).Firmware
		}
		if a := r.fleet.Image(i).Active(); a != want {
			t.Fatalf("meter %d (%s) runs %q, want %q", i, f, a, want)
		}
	}
	cs, err := r.st.Controls(ctx, store.ControlQuery{MeterID: r.ids[21], Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].Type != cim.ControlFirmwareActivate || cs[0].IssuedBy != "alice" || cs[0].ApprovedBy != "bob" ||
		!cs[0].ScheduledAt.Equal(activate.Truncate(time.Second)) {
		t.Fatalf("meter 21's activation %+v %v, want one issued by alice, approved by bob, at %s", cs, err, activate)
	}
	for _, i := range []int{0, 21, 37} {
		a, err := r.h.ActiveFirmware(ctx, r.ids[i])
		if err != nil || a != r.fleet.Image(i).Active() {
			t.Fatalf("meter %d reports %q (%v)", i, a, err)
		}
	}
}

func waitCampaign(t *testing.T, eng *campaign.Engine, id string, want store.CampaignStatus) campaign.Campaign {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := eng.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s is %s %+v, want %s", id, c.Status, c.Counts, want)
		}
		<-tick.C
	}
}

// waitActivations waits until want firmware activations are confirmed.
func waitActivations(t *testing.T, r *fwRig, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		cs, err := r.st.Controls(context.Background(), store.ControlQuery{Status: cim.ControlConfirmed, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, c := range cs {
			if c.Type == cim.ControlFirmwareActivate {
				got++
			}
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d activations confirmed, want %d", got, want)
		}
		<-tick.C
	}
}
