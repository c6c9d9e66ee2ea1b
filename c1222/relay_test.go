package c1222

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

var (
	relayAP  = MustApTitle("2.16.124.113620.1.22.0.100")
	relayKey = bytes.Repeat([]byte{0x17}, 16)
)

func startRelay(t *testing.T, cfg RelayConfig) (string, *Relay) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Listen(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), r
}

// TestClientThroughRelay: a meter dials the relay and registers; a client
// reaches it through the relay by its ApTitle, in ciphertext end to end;
// a second meter is reached by a static route; an unknown ApTitle is
// refused.
func TestClientThroughRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	relayRef := newRefusals()

	// The second meter listens; the relay reaches it by a static route.
	meter2AP := MustApTitle("2.16.124.113620.1.22.1.8")
	h2 := tableHandler{tables: map[uint16][]byte{1: []byte("SECOND-METER")}}
	addr2, _ := startMeter(t, MeterConfig{ApTitle: meter2AP, Keys: map[uint8][]byte{3: testKey}, MinMode: ModeCiphertext}, h2)

	raddr, relay := startRelay(t, RelayConfig{ApTitle: relayAP, Keys: map[uint8][]byte{1: relayKey}, MinMode: ModeAuthenticated,
		Routes: map[string]string{meter2AP.String(): addr2}, Refused: relayRef.add})

	h := tableHandler{tables: map[uint16][]byte{1: []byte("FIRST-METER"), 64: bigTable(2500)}}
	m, err := NewMeter(MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{3: testKey, 1: relayKey}, MinMode: ModeCiphertext, MaxAPDU: 700}, h)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", raddr)
	if err != nil {
		t.Fatal(err)
	}
	registered := make(chan Registered, 1)
	served := make(chan error, 1)
	mctx, mcancel := context.WithCancel(ctx)
	defer func() { mcancel(); <-served }()
	go func() {
		served <- m.ServeVia(mctx, conn, RegisterConfig{Relay: relayAP, Mode: ModeAuthenticated, KeyID: 1,
			SerialNumber: MustApTitle(".9.12345"), DeviceClass: []byte("AMGO"), NativeAddress: []byte("meter-7"), Period: 3600,
			Registered: func(r Registered) { registered <- r }})
	}()
	select {
	case r := <-registered:
		if !r.ApTitle.Equal(meterAP, Root) || r.Period != 3600 {
			t.Fatalf("registered %+v", r)
		}
	case err := <-served:
		t.Fatalf("registration: %v", err)
	case <-ctx.Done():
		t.Fatal("no registration")
	}
	if !relay.Registered(meterAP) {
		t.Fatal("relay does not list the meter")
	}

	c, err := Dial(ctx, raddr, Config{Called: meterAP, Calling: clientAP, Mode: ModeCiphertext, KeyID: 3, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, table := range []uint16{1, 64} {
		got, err := c.Exchange(ctx, []byte{0x30, 0, byte(table)})
		if err != nil {
			t.Fatal(err)
		}
		if want := h.handle([]byte{0x30, 0, byte(table)}); !bytes.Equal(got, want) {
			t.Fatalf("table %d through the relay: %d octets, want %d", table, len(got), len(want))
		}
	}

	c2, err := Dial(ctx, raddr, Config{Called: meter2AP, Calling: MustApTitle("2.16.124.113620.1.22.0.2"), Mode: ModeCiphertext, KeyID: 3, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	got, err := c2.Exchange(ctx, []byte{0x30, 0, 1})
	if err != nil || !bytes.Equal(got, h2.handle([]byte{0x30, 0, 1})) {
		t.Fatalf("static route: %x %v", got, err)
	}

	// The relay's own resolve service names the meter's native address.
	rcl, err := Dial(ctx, raddr, Config{Called: relayAP, Calling: clientAP, Mode: ModeAuthenticated, KeyID: 1, Key: relayKey})
	if err != nil {
		t.Fatal(err)
	}
	defer rcl.Close()
	res, err := rcl.Exchange(ctx, IDRequest(ReqResolve, meterAP))
	if err != nil || !bytes.Equal(res, append([]byte{0, 7}, "meter-7"...)) {
		t.Fatalf("resolve: %q %v", res, err)
	}

	// Nobody is registered under this one.
	lost, err := Dial(ctx, raddr, Config{Called: MustApTitle("2.16.124.113620.1.22.1.99"), Calling: clientAP, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Close()
	go lost.Exchange(ctx, []byte{0x30, 0, 1})
	if err := relayRef.wait(t); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unknown ApTitle refused with %v", err)
	}
}

func TestRegistrationCodec(t *testing.T) {
	r := Registration{NodeType: NodeEndDevice, ConnectionType: ConnConnectionMode, DeviceClass: []byte("AMGO"),
		ApTitle: meterAP, SerialNumber: MustApTitle(".9.1"), NativeAddress: []byte{10, 0, 0, 7}, Period: 86400}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRegistration(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.ApTitle.Equal(meterAP, Root) || back.SerialNumber.String() != ".9.1" || back.Period != 86400 ||
		!bytes.Equal(back.NativeAddress, r.NativeAddress) || string(back.DeviceClass) != "AMGO" {
		t.Fatalf("%+v", back)
	}
	for i := 1; i < len(b); i++ {
		if _, err := ParseRegistration(b[:i]); err == nil {
			t.Fatalf("truncated at %d parsed", i)
		}
	}
	ok := Registered{ApTitle: meterAP, Delay: 5, Period: 3600, Info: 0x40}
	got, err := ParseRegistered(ok.Marshal())
	if err != nil || got.Delay != 5 || got.Period != 3600 || got.Info != 0x40 {
		t.Fatalf("%+v %v", got, err)
	}
}

func FuzzParseRegistration(f *testing.F) {
	for _, name := range []string{"testdata/registration.bin", "testdata/registered.bin"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseRegistration(b); err == nil {
			if out, err := r.Marshal(); err == nil {
				if _, err := ParseRegistration(out); err != nil {
					t.Fatalf("re-encoded registration: %v", err)
				}
			}
		}
		if r, err := ParseRegistered(b); err == nil {
			if _, err := ParseRegistered(r.Marshal()); err != nil {
				t.Fatalf("re-encoded response: %v", err)
			}
		}
	})
}
