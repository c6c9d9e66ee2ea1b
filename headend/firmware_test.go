package headend_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// fwRig is a simulated fleet that trusts a firmware key, imported into a
// head-end that runs commands, over one SQLite store and an embedded bus.
type fwRig struct {
	fleet *sim.Fleet
	st    store.Store
	h     *headend.HeadEnd
	key   *ecdsa.PrivateKey
	ids   []string // meter mRIDs by fleet index
	trail *auditLog
}

// records are the records of one action with one outcome (auditLog is
// in approve_test.go).
func (m *auditLog) records(a audit.Action, outcome string) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Record
	for _, r := range m.rs {
		if r.Action == a && r.Outcome == outcome {
			out = append(out, r)
		}
	}
	return out
}

func newFirmwareRig(t testing.TB, n int, faultsOf func(int) sim.Fault) *fwRig {
	t.Helper()
	key, err := firmware.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// Real time: a scheduled command waits on the bus in real time.
	r := &fwRig{key: key, trail: &auditLog{}}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(5, ams, start)
	model.HistoryDays = 2
	model.Install = start.AddDate(0, 0, -2)
	model.Faults = meter.Faults{}
	r.fleet, err = sim.NewFleet(sim.Config{Meters: n, Seed: 5, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: time.Now,
		Model: model, FaultsOf: faultsOf, FirmwareKey: &key.PublicKey})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	rows := make([]manifest.Row, 0, n)
	for i := range n {
		row, err := r.fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
		r.ids = append(r.ids, headend.MeterID(row))
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
	if _, err := headend.Import(ctx, r.st, keys, dlmsDrivers, rows); err != nil {
		t.Fatal(err)
	}
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: b, Secrets: keys, Audit: r.trail,
		Drivers:    []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})},
		Collection: headend.CollectionConfig{Concurrency: 64, PerSegment: 64, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, JobTimeout: 30 * time.Second},
		Commands:   headend.CommandConfig{Poll: 100 * time.Millisecond, Sweep: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.fleet.Serve(ctx, ln) }()
	go func() { defer wg.Done(); r.h.RunCommands(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close(context.Background())
	})
	return r
}

// image signs a payload of n bytes as version v with key k.
func signedImage(t testing.TB, k *ecdsa.PrivateKey, v string, n int) []byte {
	t.Helper()
	img, err := firmware.Sign(k, sim.Manufacturer, "AMG-E1", v, bytes.Repeat([]byte(v), n/len(v)+1)[:n])
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events returns the codes of meter i's standard event log.
func (r *fwRig) events(t testing.TB, i int) map[meter.EventCode]int {
	t.Helper()
	m, err := r.fleet.Meter(i)
	if err != nil {
		t.Fatal(err)
	}
	lk := r.fleet.Lock(i)
	lk.Lock()
	defer lk.Unlock()
	out := map[meter.EventCode]int{}
	for _, e := range m.Events(time.Now(), meter.LogStandard) {
		out[e.Code]++
	}
	return out
}

// TestFirmwareTransferResumeVerifyActivate: an image reaches a meter and a
// meter that drops the session half-way (resumed in a new session, with
// only the missing blocks sent); a corrupt block and an untrusted key fail
// verification at the meter, the second with its event; the scheduled
// activation is a firmware-activate command, after which the meter
// reports the new version.
func TestFirmwareTransferResumeVerifyActivate(t *testing.T) {
	faults := []sim.Fault{0, sim.FaultImageDrop, sim.FaultImageCorrupt, sim.FaultImageUntrusted}
	r := newFirmwareRig(t, len(faults), func(i int) sim.Fault { return faults[i] })
	ctx := context.Background()
	const v = "AMG-IDIS-2.5.0"
	image := signedImage(t, r.key, v, 5000)
	blocks := (len(image) + sim.ImageBlockSize - 1) / sim.ImageBlockSize

	x, err := r.h.TransferImage(ctx, r.ids[0], image, &r.key.PublicKey)
	if err != nil || x.Blocks != blocks || x.Sent != blocks || x.Resumed {
		t.Fatalf("plain transfer: %+v %v", x, err)
	}
	x, err = r.h.TransferImage(ctx, r.ids[1], image, &r.key.PublicKey)
	if err != nil || !x.Resumed || x.Sent != blocks {
		t.Fatalf("dropped transfer: %+v %v, want resumed with %d blocks sent in all", x, err, blocks)
	}
	// Sent again: the meter holds the verified image; nothing is sent.
	if x, err = r.h.TransferImage(ctx, r.ids[1], image, &r.key.PublicKey); err != nil || x.Sent != 0 {
		t.Fatalf("transfer of a verified image: %+v %v", x, err)
	}
	for _, i := range []int{2, 3} {
		_, err := r.h.TransferImage(ctx, r.ids[i], image, &r.key.PublicKey)
		if !errors.Is(err, headend.ErrImageVerification) || errors.Is(err, headend.ErrImageSignature) != (i == 3) {
			t.Fatalf("meter %d (%s): %v, want ErrImageVerification (for the signature: meter 3)", i, faults[i], err)
		}
		if st := r.fleet.Image(i).Status(); st != objects.ImageVerificationFailed {
			t.Fatalf("meter %d: status %d", i, st)
		}
	}
	if ev := r.events(t, 3); ev[meter.EventFirmwareRefused] != 1 {
		t.Fatalf("untrusted meter's events: %v, want one firmware refused (%d)", ev, meter.EventFirmwareRefused)
	}
	if ev := r.events(t, 0); ev[meter.EventFirmwareReady] != 1 || ev[meter.EventFirmwareActivated] != 0 {
		t.Fatalf("meter 0's events before activation: %v", ev)
	}

	at := time.Now().Add(2 * time.Second)
	var ctls []cim.EndDeviceControl
	for _, i := range []int{0, 1, 2} {
		c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{Type: cim.ControlFirmwareActivate, MeterID: r.ids[i], ScheduledAt: at,
			Parameters: map[string]string{"image": v}, IssuedBy: "alice", ApprovedBy: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		ctls = append(ctls, c)
	}
	if got, _ := r.h.ActiveFirmware(ctx, r.ids[0]); got != sim.MakeOf(sim.ModelIDIS).Firmware {
		t.Fatalf("before its time meter 0 runs %q", got)
	}
	waitStatus(t, r.st, ctls[0].MRID, cim.ControlConfirmed)
	waitStatus(t, r.st, ctls[1].MRID, cim.ControlConfirmed)
	failed := waitStatus(t, r.st, ctls[2].MRID, cim.ControlFailed)
	t.Logf("corrupt meter's activation: %s", failed.Reason)
	for _, i := range []int{0, 1} {
		if got, err := r.h.ActiveFirmware(ctx, r.ids[i]); err != nil || got != v {
			t.Fatalf("meter %d runs %q (%v) after activation, want %s", i, got, err, v)
		}
		if ev := r.events(t, i); ev[meter.EventFirmwareActivated] != 1 {
			t.Fatalf("meter %d's events: %v", i, ev)
		}
	}
	if got := r.fleet.Image(2).Active(); got == v {
		t.Fatal("the corrupt image was activated")
	}
}

// TestFirmwareBadSignatureRefused: an image not signed by the trusted key
// is refused by the head-end before a byte is sent, with an audit record;
// sent anyway (straight over the driver), the meter refuses it at
// verification with its event, and its activation activates nothing.
func TestFirmwareBadSignatureRefused(t *testing.T) {
	r := newFirmwareRig(t, 1, nil)
	ctx := context.Background()
	rogue, err := firmware.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	const v = "AMG-IDIS-6.6.6"
	image := signedImage(t, rogue, v, 3000)
	if _, err := r.h.TransferImage(ctx, r.ids[0], image, &r.key.PublicKey); !errors.Is(err, headend.ErrImageRefused) || !errors.Is(err, firmware.ErrSignature) {
		t.Fatalf("rogue image: %v, want ErrImageRefused for a bad signature", err)
	}
	if st := r.fleet.Image(0).Status(); st != objects.ImageNotInitiated {
		t.Fatalf("the meter saw the refused image: status %d", st)
	}
	if rs := r.trail.records(audit.Firmware, audit.Refused); len(rs) != 1 || rs[0].Target != r.ids[0] || rs[0].Details["image"] != v {
		t.Fatalf("audit records of the refusal: %+v", rs)
	}
	// Sent anyway, as by a head-end that trusts the rogue key.
	_, err = r.h.TransferImage(ctx, r.ids[0], image, &rogue.PublicKey)
	if !errors.Is(err, headend.ErrImageSignature) {
		t.Fatalf("rogue image at the meter: %v, want ErrImageSignature", err)
	}
	if ev := r.events(t, 0); ev[meter.EventFirmwareRefused] != 1 || ev[meter.EventFirmwareReady] != 0 {
		t.Fatalf("meter events: %v, want the refusal (%d)", ev, meter.EventFirmwareRefused)
	}
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{Type: cim.ControlFirmwareActivate, MeterID: r.ids[0],
		Parameters: map[string]string{"image": v}, IssuedBy: "alice", ApprovedBy: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.st, c.MRID, cim.ControlFailed)
	if got, err := r.h.ActiveFirmware(ctx, r.ids[0]); err != nil || got != sim.MakeOf(sim.ModelIDIS).Firmware {
		t.Fatalf("after the refused image the meter runs %q (%v)", got, err)
	}
}
