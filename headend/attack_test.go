package headend_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// sessionCounter counts the sessions the head-end opens to meters: the
// commands that reached one.
type sessionCounter struct {
	headend.Driver
	opens atomic.Int64
}

func (d *sessionCounter) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	d.opens.Add(1)
	return d.Driver.Open(ctx, t)
}

// attackServed is how many meters of an attack rig the simulated fleet
// serves: the first, which the commands that pass the screen reach.
const attackServed = 200

// attackRig is a simulated fleet registered with a head-end node that
// screens commands by the default policy, carries those that pass to the
// meters, and keeps an audit trail.
type attackRig struct {
	*fleetRig
	h     *headend.HeadEnd
	drv   *sessionCounter
	audit *auditLog
	ids   []string
}

func newAttackRig(t *testing.T, n int) *attackRig {
	t.Helper()
	served := min(n, attackServed)
	r := &attackRig{fleetRig: newFleetRigWith(t, served, meter.Faults{}, headend.CollectionConfig{}, rigOptions{noIngest: true}),
		drv: &sessionCounter{Driver: dlmsDrivers[0]}, audit: &auditLog{}}
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows)
	if err != nil || rep.Created != served {
		t.Fatalf("import: %+v %v", rep, err)
	}
	for _, row := range r.rows {
		r.ids = append(r.ids, headend.MeterID(row))
	}
	// The rest of the fleet is registered as well; the simulated meters
	// serve the ones a command could reach first.
	var batch []cim.Meter
	for i := served; i < n; i++ {
		batch = append(batch, cim.Meter{MRID: fmt.Sprintf("atk-%06d", i), Protocol: "dlms", Segment: fmt.Sprintf("cell-%d", i/1000), Status: "installed"})
		r.ids = append(r.ids, batch[len(batch)-1].MRID)
		if len(batch) == 5000 || i == n-1 {
			if err := r.st.PutRegistry(ctx, store.RegistryBatch{Meters: batch}); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Safeguards: noSafeguards, Secrets: r.keys, Drivers: []headend.Driver{r.drv}, Now: r.clk.Now,
		Metrics: prometheus.NewRegistry(), Anomaly: anomaly.Default(), Audit: r.audit,
		Collection: headend.CollectionConfig{RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.h.RunCommands(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// issueAll issues one disconnect per meter index, by user(k), one after
// another as a script would, and returns the commands in order.
func (r *attackRig) issueAll(t *testing.T, idx []int, user func(int) string) []cim.EndDeviceControl {
	t.Helper()
	out := make([]cim.EndDeviceControl, len(idx))
	for k, i := range idx {
		c, _, err := r.h.Issue(context.Background(), cim.EndDeviceControl{MeterID: r.ids[i], Type: cim.ControlDisconnect, IssuedBy: user(k)})
		if err != nil {
			t.Fatalf("issue %d: %v", k, err)
		}
		out[k] = c
	}
	return out
}

// relay reads a simulated meter's relay.
func (r *attackRig) relay(i int) meter.ControlState {
	m, _ := r.fleet.Meter(i)
	r.fleet.Lock(i).Lock()
	defer r.fleet.Lock(i).Unlock()
	st, _ := m.Relay()
	return st
}

// waitConfirmed waits until every command is confirmed by its meter.
func (r *attackRig) waitConfirmed(t *testing.T, cs []cim.EndDeviceControl) {
	t.Helper()
	for _, c := range cs {
		waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	}
}

// withStatus picks the commands in status st.
func withStatus(cs []cim.EndDeviceControl, st cim.ControlStatus) []cim.EndDeviceControl {
	var out []cim.EndDeviceControl
	for _, c := range cs {
		if c.Status == st {
			out = append(out, c)
		}
	}
	return out
}

// quarantineEvents returns the quarantine alarms on the bus.
func quarantineEvents(t *testing.T, r *attackRig) []cim.EndDeviceEvent {
	t.Helper()
	var out []cim.EndDeviceEvent
	for _, e := range busEvents(t, r.bus) {
		if e.Type == anomaly.EventQuarantined {
			out = append(out, e)
		}
	}
	return out
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// TestAttackCompromisedOperatorDisconnects: a compromised operator
// account disconnects every meter of the fleet. The first ten (the
// user's hourly limit) reach their meters; every other command is
// quarantined with the limit named, an alarm names the burst, and a
// security officer discards the whole burst with one filter.
func TestAttackCompromisedOperatorDisconnects(t *testing.T) {
	n := attackMeters
	if testing.Short() {
		n = min(n, 1000)
	}
	start := time.Now()
	r := newAttackRig(t, n)
	t.Logf("%d meters registered in %v", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	cs := r.issueAll(t, seq(0, n), func(int) string { return "mallory" })
	t.Logf("%d disconnects issued in %v", n, time.Since(start).Round(time.Millisecond))
	var passed []cim.EndDeviceControl
	for _, c := range cs {
		// Past the screen, a command goes to its meter, or waits for a
		// second person when the approval policy holds it.
		switch c.Status {
		case cim.ControlQueued, cim.ControlAwaitingApproval:
			passed = append(passed, c)
		case cim.ControlQuarantined:
			if !strings.Contains(c.Reason, `disconnect commands in the last hour by user "mallory", over the limit of 10`) {
				t.Fatalf("quarantined for %q", c.Reason)
			}
		default:
			t.Fatalf("command %s: %s", c.MRID, c.Status)
		}
	}
	if len(passed) != 10 {
		t.Fatalf("%d commands passed the screen, want the limit of 10", len(passed))
	}
	queued := withStatus(passed, cim.ControlQueued)
	r.waitConfirmed(t, queued)
	got := statuses(t, r.st)
	if got[cim.ControlConfirmed] != len(queued) || got[cim.ControlQuarantined] != n-10 || r.drv.opens.Load() != int64(len(queued)) {
		t.Fatalf("statuses %v, %d sessions: want %d confirmed on as many meters, %d quarantined", got, r.drv.opens.Load(), len(queued), n-10)
	}
	index := map[string]int{}
	for i, id := range r.ids {
		index[id] = i
	}
	for _, c := range queued {
		if st := r.relay(index[c.MeterID]); st != meter.Disconnected {
			t.Errorf("meter %s relay %v after its confirmed disconnect", c.MeterID, st)
		}
	}
	for _, c := range cs[10:min(n, attackServed)] {
		if st := r.relay(index[c.MeterID]); st == meter.Disconnected {
			t.Errorf("meter %s, whose disconnect is quarantined, disconnected", c.MeterID)
		}
	}
	alarms := quarantineEvents(t, r)
	if len(alarms) == 0 || alarms[0].Details["issuer"] != "mallory" || !strings.Contains(alarms[0].Reason, "over the limit of 10") || alarms[0].Severity != "major" {
		t.Fatalf("quarantine alarms %+v", alarms)
	}
	if k := r.audit.count(audit.CommandQuarantine); k != n-10 {
		t.Errorf("%d quarantine records in the audit trail, want %d", k, n-10)
	}

	// The security officer sees one group and discards it with one filter.
	gs, _, err := r.h.Quarantine(context.Background(), headend.QuarantineFilter{}, "", 10)
	if err != nil || len(gs) != 1 || gs[0].IssuedBy != "mallory" || gs[0].Count != n-10 {
		t.Fatalf("quarantine groups %+v %v", gs, err)
	}
	start = time.Now()
	d, err := r.h.Discard(context.Background(), headend.QuarantineFilter{IssuedBy: "mallory", Type: cim.ControlDisconnect}, "sec", "compromised account")
	if err != nil || d.Discarded != n-10 {
		t.Fatalf("discard: %+v %v", d, err)
	}
	t.Logf("%d quarantined commands discarded in %v", d.Discarded, time.Since(start).Round(time.Millisecond))
	if got := statuses(t, r.st); got[cim.ControlDiscarded] != n-10 || got[cim.ControlQuarantined] != 0 || r.drv.opens.Load() != int64(len(queued)) {
		t.Errorf("after the discard: %v, %d sessions", got, r.drv.opens.Load())
	}
}

// TestAttackBurstSplitAcrossUsers: twenty accounts each stay under their
// own hourly limit of ten, over twenty segments; the fleet-wide limit of a
// hundred catches the burst.
func TestAttackBurstSplitAcrossUsers(t *testing.T) {
	const users, each = 20, 9
	r := newAttackRig(t, users*each)
	ctx := context.Background()
	// Spread the meters over many segments, so the segments' own limits
	// are not the ones that catch it.
	for i, id := range r.ids {
		m, err := r.st.Meter(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		m.Segment = fmt.Sprintf("feeder-%d", i%users)
		if err := r.st.PutMeters(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	cs := r.issueAll(t, seq(0, users*each), func(k int) string { return fmt.Sprintf("op-%02d", k%users) })
	var passed []cim.EndDeviceControl
	held := 0
	for _, c := range cs {
		switch c.Status {
		case cim.ControlQueued, cim.ControlAwaitingApproval:
			passed = append(passed, c)
		case cim.ControlQuarantined:
			held++
			if !strings.Contains(c.Reason, "disconnect commands in the last hour fleet-wide, over the limit of 100") {
				t.Errorf("quarantined for %q", c.Reason)
			}
		}
	}
	if len(passed) != 100 || held != users*each-100 {
		t.Fatalf("%d passed, %d held: want 100 and %d", len(passed), held, users*each-100)
	}
	queued := withStatus(passed, cim.ControlQueued)
	r.waitConfirmed(t, queued)
	if r.drv.opens.Load() != int64(len(queued)) {
		t.Errorf("%d sessions, want %d", r.drv.opens.Load(), len(queued))
	}
	if len(quarantineEvents(t, r)) == 0 {
		t.Error("no quarantine alarm")
	}
}

// TestAttackQuarantinedBatchResent: a batch held under one account is
// sent again under another, which is under every limit: it is held again,
// naming the command it repeats; after a discard too. What a security
// officer releases is carried out.
func TestAttackQuarantinedBatchResent(t *testing.T) {
	r := newAttackRig(t, 30)
	ctx := context.Background()
	first := r.issueAll(t, seq(0, 30), func(int) string { return "mallory" })
	heldBy := map[string]string{}
	var held []int
	for i, c := range first {
		if c.Status == cim.ControlQuarantined {
			heldBy[c.MeterID] = c.MRID
			held = append(held, i)
		}
	}
	if len(held) != 20 {
		t.Fatalf("%d of 30 held, want 20", len(held))
	}
	again := r.issueAll(t, held[:5], func(int) string { return "trudy" })
	for _, c := range again {
		if c.Status != cim.ControlQuarantined || !strings.Contains(c.Reason, "already has disconnect command "+heldBy[c.MeterID]) ||
			!strings.Contains(c.Reason, `"mallory"`) {
			t.Errorf("re-sent command %s: %s (%s)", c.MeterID, c.Status, c.Reason)
		}
	}
	// Discarded, mallory's batch still holds trudy's next try.
	if d, err := r.h.Discard(ctx, headend.QuarantineFilter{IssuedBy: "mallory", IDs: []string{first[held[5]].MRID}}, "sec", "not planned"); err != nil || d.Discarded != 1 {
		t.Fatalf("discard: %+v %v", d, err)
	}
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: first[held[5]].MeterID, Type: cim.ControlDisconnect, IssuedBy: "trudy"})
	if err != nil || c.Status != cim.ControlQuarantined || !strings.Contains(c.Reason, "discarded") {
		t.Errorf("re-sent after a discard: %s %q %v", c.Status, c.Reason, err)
	}
	// The officer releases the rest of mallory's batch: it reaches the
	// meters; trudy's copies stay held.
	d, err := r.h.Release(ctx, headend.QuarantineFilter{IssuedBy: "mallory"}, "sec")
	if err != nil || d.Released+d.AwaitingApproval != 19 {
		t.Fatalf("release: %+v %v", d, err)
	}
	var released []cim.EndDeviceControl
	var meters []int
	for _, i := range append(held[:5:5], held[6:]...) {
		c, err := r.st.Control(ctx, first[i].MRID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == cim.ControlAwaitingApproval {
			continue // the approval policy holds it for a second person
		}
		released, meters = append(released, c), append(meters, i)
	}
	if len(released) != d.Released {
		t.Fatalf("%d released commands queued, the release said %d", len(released), d.Released)
	}
	r.waitConfirmed(t, released)
	for _, i := range meters {
		if st := r.relay(i); st != meter.Disconnected {
			t.Errorf("released disconnect of meter %d: relay %v", i, st)
		}
	}
	if k, want := r.drv.opens.Load(), int64(len(withStatus(first, cim.ControlQueued))+d.Released); k != want {
		t.Errorf("%d sessions, want %d (those queued at once and those released)", k, want)
	}
	if cs, err := r.st.Controls(ctx, store.ControlQuery{Status: cim.ControlQuarantined, Limit: 100}); err != nil || len(cs) != 6 {
		t.Errorf("%d still quarantined (trudy's), want 6: %v", len(cs), err)
	}
}
