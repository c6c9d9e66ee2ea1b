package headend_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// signingRig is a fleet whose meters trust one command-signing key, and
// two head-ends over one store and bus: one signs with that key, the
// other has no signer.
type signingRig struct {
	fleet    *sim.Fleet
	st       store.Store
	signed   *headend.HeadEnd
	unsigned *headend.HeadEnd
	ids      []string
}

func newSigningRig(t *testing.T, n int) *signingRig {
	t.Helper()
	now := time.Date(2026, 3, 31, 11, 0, 0, 0, ams)
	clock := func() time.Time { return now }
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := vault.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(5, ams, now)
	model.HistoryDays = 2
	model.Install = now.AddDate(0, 0, -2)
	model.Faults = meter.Faults{}
	r := &signingRig{}
	r.fleet, err = sim.NewFleet(sim.Config{Meters: n, Seed: 5, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock,
		Model: model, Trust: sim.NewTrust(signer.PublicKey())})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var rows []manifest.Row
	for i := range n {
		row, err := r.fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		r.ids = append(r.ids, row.Serial)
	}
	r.st, _ = storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	drivers := []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}
	if _, err := headend.Import(ctx, r.st, keys, drivers, rows); err != nil {
		t.Fatal(err)
	}
	kc := headend.CommandConfig{Sweep: 20 * time.Millisecond, Poll: 50 * time.Millisecond, Attempts: 1}
	cc := headend.CollectionConfig{RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond}
	r.signed, err = headend.New(headend.Options{Store: r.st, Bus: b, Safeguards: noSafeguards, Secrets: keys, Now: clock, Drivers: drivers,
		Commands: kc, Collection: cc, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	r.unsigned, err = headend.New(headend.Options{Store: r.st, Bus: b, Safeguards: noSafeguards, Secrets: keys, Now: clock, Drivers: drivers,
		Commands: kc, Collection: cc})
	if err != nil {
		t.Fatal(err)
	}
	if !r.signed.SigningKey().Equal(signer.PublicKey()) || r.unsigned.SigningKey() != nil {
		t.Fatal("SigningKey does not report the signer")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.fleet.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait(); b.Close(context.Background()) })
	return r
}

// run carries commands with h until the test ends or stop is called.
func (r *signingRig) run(t *testing.T, h *headend.HeadEnd) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.RunCommands(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// issue issues c with h, approving it by a second person when the policy
// holds it for approval.
func (r *signingRig) issue(t *testing.T, h *headend.HeadEnd, c cim.EndDeviceControl) cim.EndDeviceControl {
	t.Helper()
	ctx := context.Background()
	c.IssuedBy = "alice"
	got, _, err := h.Issue(ctx, c)
	if err != nil {
		t.Fatalf("issue %s: %v", c.Type, err)
	}
	if got.Status == cim.ControlAwaitingApproval {
		if err := r.st.DecideControl(ctx, got.MRID, cim.ControlAwaitingApproval, cim.ControlQueued, "bob", "approved", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func (r *signingRig) relay(i int) (meter.ControlState, uint64) {
	m, _ := r.fleet.Meter(i)
	r.fleet.Lock(i).Lock()
	defer r.fleet.Lock(i).Unlock()
	st, _ := m.Relay()
	return st, m.Counters().Command
}

// TestHeadEndSignsCriticalCommands: a disconnect through the head-end's
// command pipeline reaches a provisioned meter signed under a counter
// reserved in the store, and is executed; the same command from a
// head-end without the key is refused by the meter and fails.
func TestHeadEndSignsCriticalCommands(t *testing.T) {
	r := newSigningRig(t, 2)
	ctx := context.Background()

	stop := r.run(t, r.unsigned)
	c := r.issue(t, r.unsigned, cim.EndDeviceControl{MeterID: r.ids[1], Type: cim.ControlDisconnect})
	got := waitStatus(t, r.st, c.MRID, cim.ControlFailed)
	if st, n := r.relay(1); st != meter.Connected || n != 0 {
		t.Fatalf("unsigned disconnect: relay %s, counter %d", st, n)
	}
	if !strings.Contains(got.Reason, "read-write-denied") {
		t.Errorf("failure reason %q does not say the meter refused", got.Reason)
	}
	stop()

	r.run(t, r.signed)
	for i, want := range []uint64{1, 2} {
		typ := cim.ControlDisconnect
		if i == 1 {
			typ = cim.ControlReconnect // not critical: unsigned, no counter
		}
		c := r.issue(t, r.signed, cim.EndDeviceControl{MeterID: r.ids[0], Type: typ})
		waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
		if i == 0 {
			if st, n := r.relay(0); st != meter.Disconnected || n != want {
				t.Fatalf("signed disconnect: relay %s, meter's counter %d, want %d", st, n, want)
			}
		}
	}
	c = r.issue(t, r.signed, cim.EndDeviceControl{MeterID: r.ids[0], Type: cim.ControlRelayMode, Parameters: map[string]string{"mode": "2"}})
	waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	if _, n := r.relay(0); n != 2 {
		t.Fatalf("meter's counter %d after two signed commands, want 2", n)
	}
	// The store handed out exactly the two values used: the next is 2.
	next, err := r.st.ReserveCounters(ctx, []store.CounterReservation{{MeterID: r.ids[0], Name: headend.CommandCounter, N: 1}})
	if err != nil || next[0] != 2 {
		t.Fatalf("next originator counter %v (%v), want 2", next, err)
	}
}
