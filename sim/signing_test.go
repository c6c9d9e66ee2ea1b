package sim_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/wrapper"
)

var disconnect = dlms.Method{Class: 70, OBIS: sim.DisconnectLN, Method: 1}
var reconnect = dlms.Method{Class: 70, OBIS: sim.DisconnectLN, Method: 2}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func signWith(k *ecdsa.PrivateKey) dlms.SignFunc {
	return func(_ context.Context, data []byte) ([]byte, error) { return security.Sign(k, data) }
}

// tap is a transport that keeps the last APDU sent and can send a
// given one instead of the next: a man in the middle on the meter's link.
type tap struct {
	dlms.Transport
	mu   sync.Mutex
	last []byte
	swap []byte
}

func (t *tap) Send(ctx context.Context, b []byte) error {
	t.mu.Lock()
	if t.swap != nil {
		b, t.swap = t.swap, nil
	}
	t.last = bytes.Clone(b)
	t.mu.Unlock()
	return t.Transport.Send(ctx, b)
}

func tapped(tb testing.TB, r manifest.Row) (*dlms.Client, *tap) {
	tb.Helper()
	ctx := context.Background()
	w, err := wrapper.Dial(ctx, r.Address.String(), sim.ManagementClient, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tp := &tap{Transport: w}
	o := hlsOptions(tb, r)
	// One counter across the test's associations, as a head-end keeps.
	countersMu.Lock()
	if counters[r.Address.String()] == nil {
		counters[r.Address.String()] = security.NewCounter(1, nil)
	}
	o.Counter = counters[r.Address.String()]
	countersMu.Unlock()
	c, err := dlms.NewClient(tp, o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Associate(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, tp
}

var (
	countersMu sync.Mutex
	counters   = map[string]*security.Counter{}
)

func relayOf(f *sim.Fleet) meter.ControlState {
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	defer f.Lock(0).Unlock()
	st, _ := m.Relay()
	return st
}

// fraudCodes reads the fraud log over DLMS, as the head-end collects it.
func fraudCodes(tb testing.TB, c *dlms.Client) []meter.EventCode {
	tb.Helper()
	rows, _, err := c.ReadProfile(context.Background(), sim.FraudLogLN, start.Add(-24*time.Hour), start.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	var codes []meter.EventCode
	for _, r := range rows {
		if len(r.Items) < 2 {
			continue
		}
		if v, ok := r.Items[1].Uint(); ok {
			codes = append(codes, meter.EventCode(v))
		}
	}
	return codes
}

func count(codes []meter.EventCode, c meter.EventCode) int {
	n := 0
	for _, x := range codes {
		if x == c {
			n++
		}
	}
	return n
}

// TestSignedCommandAttacks injects replayed and forged commands at a
// meter provisioned with the head-end's command-signing key: each is
// refused, the relay stays as it was, and the meter logs the event the
// head-end collects.
func TestSignedCommandAttacks(t *testing.T) {
	hk := newKey(t)
	trust := sim.NewTrust(&hk.PublicKey)
	f := startFleetWith(t, 2, func(c *sim.Config) { c.Trust = trust })
	r := fleetManifest(t, f)[0]
	ctx := context.Background()
	c, tp := tapped(t, r)

	// The genuine command, signed with counter 1, runs; its bytes are
	// kept for the replay.
	if _, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 1, Sign: signWith(hk)}); err != nil {
		t.Fatalf("signed disconnect: %v", err)
	}
	if st := relayOf(f); st != meter.Disconnected {
		t.Fatalf("relay %s after a signed disconnect", st)
	}
	captured := tp.last
	if captured[0] != security.TagGeneralSigning {
		t.Fatalf("disconnect went out as APDU 0x%02X, not general-signing", captured[0])
	}
	if _, err := c.Action(ctx, reconnect, axdr.Int8(0)); err != nil {
		t.Fatalf("reconnect (not critical, unsigned): %v", err)
	}
	before := relayOf(f)
	c.Close()

	refusedAt := func(t *testing.T, err error, want meter.EventCode) {
		t.Helper()
		if err == nil {
			t.Fatal("the meter executed it")
		}
		if st := relayOf(f); st != before {
			t.Fatalf("relay %s, was %s", st, before)
		}
		m, _ := f.Meter(0)
		f.Lock(0).Lock()
		last := m.Events(f.Now(), meter.LogFraud)
		f.Lock(0).Unlock()
		if len(last) == 0 || last[len(last)-1].Code != want {
			t.Fatalf("last fraud event %v, want %d (err %v)", last, want, err)
		}
	}

	t.Run("unsigned", func(t *testing.T) {
		c, _ := tapped(t, r)
		_, err := c.Action(ctx, disconnect, axdr.Int8(0))
		var ae *dlms.ActionError
		if !errors.As(err, &ae) || ae.Result != apdu.ActionReadWriteDenied {
			t.Errorf("unsigned disconnect: %v, want read-write-denied", err)
		}
		refusedAt(t, err, meter.EventCommandUnsigned)
	})
	t.Run("bit flipped in the signature", func(t *testing.T) {
		flip := func(_ context.Context, data []byte) ([]byte, error) {
			sig, err := security.Sign(hk, data)
			sig[40] ^= 0x01
			return sig, err
		}
		c, _ := tapped(t, r)
		_, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 10, Sign: flip})
		var ee *dlms.ExceptionError
		if !errors.As(err, &ee) || ee.ServiceError != apdu.ServiceDecipheringError {
			t.Errorf("forged disconnect: %v, want an exception deciphering-error", err)
		}
		refusedAt(t, err, meter.EventCommandSignatureInvalid)
	})
	t.Run("signed by another key", func(t *testing.T) {
		c, _ := tapped(t, r)
		_, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 11, Sign: signWith(newKey(t))})
		refusedAt(t, err, meter.EventCommandSignatureInvalid)
	})
	t.Run("lower counter", func(t *testing.T) {
		c, _ := tapped(t, r)
		_, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 1, Sign: signWith(hk)})
		refusedAt(t, err, meter.EventCommandReplayed)
	})
	t.Run("replayed on a new association", func(t *testing.T) {
		c, tp := tapped(t, r)
		tp.mu.Lock()
		tp.swap = captured
		tp.mu.Unlock()
		_, err := c.Get(ctx, attr(1, sim.SerialLN, 2), nil)
		refusedAt(t, err, meter.EventCommandReplayed)
	})
	t.Run("signed by a revoked key", func(t *testing.T) {
		next := newKey(t)
		trust.Replace(&next.PublicKey)
		defer trust.Replace(&hk.PublicKey)
		c, _ := tapped(t, r)
		_, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 12, Sign: signWith(hk)})
		refusedAt(t, err, meter.EventCommandSignatureInvalid)
		c.Close()
		// The key that replaced it is obeyed.
		c, _ = tapped(t, r)
		if _, err := c.ActionSigned(ctx, disconnect, axdr.Int8(0), dlms.Signing{Counter: 13, Sign: signWith(next)}); err != nil {
			t.Fatalf("disconnect signed by the new key: %v", err)
		}
		if st := relayOf(f); st != meter.Disconnected {
			t.Fatalf("relay %s after a disconnect signed by the new key", st)
		}
	})

	// The head-end sees every refusal in the fraud log it collects.
	c2, _ := tapped(t, r)
	codes := fraudCodes(t, c2)
	for code, want := range map[meter.EventCode]int{meter.EventCommandUnsigned: 1, meter.EventCommandSignatureInvalid: 3, meter.EventCommandReplayed: 2} {
		if got := count(codes, code); got != want {
			t.Errorf("fraud log holds event %d %d times, want %d (log %v)", code, got, want, codes)
		}
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	last := m.Counters().Command
	f.Lock(0).Unlock()
	if last != 13 {
		t.Errorf("meter's last accepted originator counter %d, want 13", last)
	}
}

// TestUnprovisionedMeterIgnoresSigning: a meter without trusted keys
// keeps executing unsigned commands, as before.
func TestUnprovisionedMeterIgnoresSigning(t *testing.T) {
	f := startFleet(t, 1, nil)
	r := fleetManifest(t, f)[0]
	c, _ := tapped(t, r)
	if _, err := c.Action(context.Background(), disconnect, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	if st := relayOf(f); st != meter.Disconnected {
		t.Fatalf("relay %s", st)
	}
}

func TestParsePublicKeys(t *testing.T) {
	k := newKey(t)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	one := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	keys, err := sim.ParsePublicKeys(slices.Concat(one, one))
	if err != nil || len(keys) != 2 || !keys[0].Equal(&k.PublicKey) {
		t.Fatalf("two keys: %v, %v", keys, err)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"private key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
		"garbage":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := sim.ParsePublicKeys(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParsePublicKeys(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := sim.ParsePublicKeys(b)
		if err == nil && len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
	})
}
