package sim_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// serveKeyed serves a fleet of n meters that keep their keys in dir,
// until the returned stop.
func serveKeyed(t *testing.T, n int, dir string) (*sim.Fleet, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now,
		Model: model, KeyStore: sim.DirKeys(dir)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return f, stop
}

func keyTransfer(t *testing.T, kek []byte, ek, ak [16]byte) axdr.Data {
	t.Helper()
	k := security.MustKey(kek)
	var items []axdr.Data
	for _, nk := range []struct {
		id  security.KeyID
		key []byte
	}{{security.KeyGlobalUnicast, ek[:]}, {security.KeyAuthentication, ak[:]}} {
		w, err := security.WrapKey(k, nk.key)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, axdr.Structure(axdr.Enum(uint8(nk.id)), axdr.OctetString(w)))
	}
	return axdr.Array(items...)
}

var keyTransferMethod = dlms.Method{Class: cosem.ClassSecuritySetup, OBIS: sim.SecuritySetupLN, Method: 2}

func TestKeyTransfer(t *testing.T) {
	dir := t.TempDir()
	f, stop := serveKeyed(t, 2, dir)
	ctx := context.Background()
	r := fleetManifest(t, f)[0]
	oldOpts := hlsOptions(t, r)
	var ek, ak [16]byte
	rand.Read(ek[:])
	rand.Read(ak[:])
	newOpts := oldOpts
	newOpts.Keys = security.Keys{Unicast: security.MustKey(ek[:]), Authentication: security.MustKey(ak[:])}

	// A wrap under another master key: refused, logged, nothing changed.
	c := dial(t, r, oldOpts)
	wrong := make([]byte, 16)
	if _, err := c.Action(ctx, keyTransferMethod, keyTransfer(t, wrong, ek, ak)); !errors.Is(err, dlms.ErrAccessDenied) {
		t.Fatalf("key transfer with a wrong wrap: %v, want access denied", err)
	}
	c.Release(ctx)
	c.Close()
	m, _ := f.Meter(0)
	lk := f.Lock(0)
	lk.Lock()
	evs := m.Events(f.Now(), meter.LogFraud)
	lk.Unlock()
	found := false
	for _, e := range evs {
		found = found || e.Code == meter.EventDecryptionFailure
	}
	if !found {
		t.Error("no decryption failure in the fraud log")
	}
	oldOpts.InvocationCounter = 1000 // above the first session's
	c = dial(t, r, oldOpts)

	// Wrapped under the meter's own master key: taken after the response.
	if _, err := c.Action(ctx, keyTransferMethod, keyTransfer(t, hexField(t, r, "kek"), ek, ak)); err != nil {
		t.Fatal(err)
	}
	c.Release(ctx)
	c.Close()
	check := func(when string) {
		t.Helper()
		if c, err := dlms.Dial(ctx, r.Address.String(), oldOpts); err == nil {
			c.Close()
			t.Fatalf("%s: the old keys still associate", when)
		}
		// The new key's counter starts again at zero (Green Book), and
		// the meter takes it.
		o := newOpts
		o.InvocationCounter = 0
		c := dial(t, r, o)
		if _, err := c.Get(ctx, attr(1, sim.SerialLN, 2), nil); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		c.Release(ctx)
		c.Close()
	}
	check("after the transfer")

	// A restarted simulator keeps the meter's new keys.
	stop()
	f, _ = serveKeyed(t, 2, dir)
	r = fleetManifest(t, f)[0]
	check("after a restart")
	gotEK, gotAK, err := f.Keys(0)
	if err != nil || gotEK != ek || gotAK != ak {
		t.Fatalf("keys after a restart differ (%v)", err)
	}
	// The other meter kept its own.
	r1 := fleetManifest(t, f)[1]
	c = dial(t, r1, hlsOptions(t, r1))
	c.Release(ctx)
}
