package c1222

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/psem"
)

var (
	meterAP  = MustApTitle("2.16.124.113620.1.22.1.7")
	clientAP = MustApTitle("2.16.124.113620.1.22.0.1")
	testKey  = bytes.Repeat([]byte{0x42}, 16)
)

// tableHandler answers full reads (0x30) of fixed tables, echoing the
// PSEM response layout: ok, count, data, checksum.
type tableHandler struct{ tables map[uint16][]byte }

func (h tableHandler) Exchange(_ context.Context, req []byte) ([]byte, error) {
	return h.handle(req), nil
}

func (h tableHandler) handle(req []byte) []byte {
	if len(req) != 3 || req[0] != 0x30 {
		return []byte{0x02}
	}
	t, ok := h.tables[uint16(req[1])<<8|uint16(req[2])]
	if !ok {
		return []byte{0x05}
	}
	out := []byte{0x00, byte(len(t) >> 8), byte(len(t))}
	out = append(out, t...)
	var sum byte
	for _, c := range t {
		sum += c
	}
	return append(out, -sum)
}

type refusals struct {
	mu   sync.Mutex
	errs []error
	ch   chan struct{}
}

func newRefusals() *refusals { return &refusals{ch: make(chan struct{}, 100)} }

func (r *refusals) add(_ ApTitle, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// wait blocks until the next refusal and returns it.
func (r *refusals) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no refusal reported")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs[len(r.errs)-1]
}

// startMeter serves a meter on a loopback listener.
func startMeter(t *testing.T, cfg MeterConfig, h psem.Exchanger) (string, *Meter) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMeter(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Listen(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), m
}

func bigTable(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestClientMeterModes(t *testing.T) {
	h := tableHandler{tables: map[uint16][]byte{1: []byte("AMIGO-METER-0001"), 64: bigTable(3000)}}
	for _, mode := range []SecurityMode{ModeClear, ModeAuthenticated, ModeCiphertext} {
		t.Run(mode.String(), func(t *testing.T) {
			ref := newRefusals()
			addr, _ := startMeter(t, MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{3: testKey}, MinMode: mode, Refused: ref.add, MaxAPDU: 512}, h)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, addr, Config{Called: meterAP, Calling: clientAP, Mode: mode, KeyID: 3, Key: testKey, MaxAPDU: 512})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, table := range []uint16{1, 64} {
				r, err := c.Exchange(ctx, []byte{0x30, byte(table >> 8), byte(table)})
				if err != nil {
					t.Fatal(err)
				}
				want := h.handle([]byte{0x30, byte(table >> 8), byte(table)})
				if !bytes.Equal(r, want) {
					t.Fatalf("table %d: %d octets, want %d", table, len(r), len(want))
				}
			}
			// A request larger than the meter's segment size goes out in
			// segments too.
			big := append([]byte{0x40, 0x00, 0x40}, bigTable(2000)...)
			r, err := c.Exchange(ctx, big)
			if err != nil || !bytes.Equal(r, []byte{0x02}) {
				t.Fatalf("segmented request: %x %v", r, err)
			}
		})
	}
}

// rawRequest seals one request by hand, as an attacker's or a peer's.
func rawRequest(t *testing.T, mode SecurityMode, key []byte, inv uint32, req []byte) *APDU {
	t.Helper()
	a := &APDU{Called: meterAP, Calling: clientAP, CallingInvocation: inv}
	var keys *Keys
	if mode != ModeClear {
		a.HasAuth, a.KeyID, a.IV = true, 3, []byte{1, 2, 3, byte(inv)}
		keys, _ = NewKeys(map[uint8][]byte{3: key})
	}
	if err := Seal(a, &EPSEM{Mode: mode, Services: [][]byte{req}}, keys, Root); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestMeterRefusals sends a wrong key, a replay, a tampered message and a
// too-weak one, each followed by a good request on the same connection:
// the good one's answer is the next thing that arrives, so nothing
// answered the refused ones.
func TestMeterRefusals(t *testing.T) {
	h := tableHandler{tables: map[uint16][]byte{1: []byte("AMIGO")}}
	ref := newRefusals()
	addr, _ := startMeter(t, MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{3: testKey}, MinMode: ModeAuthenticated, Refused: ref.add}, h)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := newStream(conn, Root)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, _ := NewKeys(map[uint8][]byte{3: testKey})

	inv := uint32(100)
	exchangeGood := func() {
		t.Helper()
		inv++
		if err := s.write(ctx, rawRequest(t, ModeCiphertext, testKey, inv, []byte{0x30, 0, 1}), 0); err != nil {
			t.Fatal(err)
		}
		r, _, err := s.read(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if r.CalledInvocation != inv {
			t.Fatalf("answer to invocation %d, want %d: a refused request was answered", r.CalledInvocation, inv)
		}
		e, err := Open(r, keys, Root)
		if err != nil || e.Services[0][0] != 0 {
			t.Fatalf("good request: %v %+v", err, e)
		}
	}
	send := func(a *APDU) {
		t.Helper()
		if err := s.write(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
	}

	exchangeGood()

	send(rawRequest(t, ModeCiphertext, bytes.Repeat([]byte{1}, 16), 500, []byte{0x30, 0, 1}))
	if err := ref.wait(t); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key refused with %v", err)
	}
	exchangeGood()

	replay := rawRequest(t, ModeCiphertext, testKey, 600, []byte{0x30, 0, 1})
	send(replay)
	if r, _, err := s.read(ctx, time.Time{}); err != nil || r.CalledInvocation != 600 {
		t.Fatalf("first sending: %v", err)
	}
	send(replay)
	if err := ref.wait(t); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay refused with %v", err)
	}
	exchangeGood()

	tampered := rawRequest(t, ModeAuthenticated, testKey, 700, []byte{0x30, 0, 1})
	tampered.EPSEM[3] ^= 0x01 // table 0 instead of 1
	send(tampered)
	if err := ref.wait(t); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered refused with %v", err)
	}
	exchangeGood()

	send(rawRequest(t, ModeClear, nil, 800, []byte{0x30, 0, 1}))
	if err := ref.wait(t); !errors.Is(err, ErrWeakSecurity) {
		t.Fatalf("clear request refused with %v", err)
	}
	exchangeGood()

	other := rawRequest(t, ModeCiphertext, testKey, 900, []byte{0x30, 0, 1})
	other.Called = MustApTitle("2.16.124.113620.1.22.1.8")
	send(other)
	if err := ref.wait(t); !errors.Is(err, ErrNotForMe) {
		t.Fatalf("request for another meter refused with %v", err)
	}
	exchangeGood()
}

// TestClientWrongKey: a client with the wrong key gets an error, and the
// meter reports why it did not answer.
func TestClientWrongKey(t *testing.T) {
	ref := newRefusals()
	addr, _ := startMeter(t, MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{3: testKey}, MinMode: ModeCiphertext, Refused: ref.add},
		tableHandler{tables: map[uint16][]byte{1: []byte("A")}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, Config{Called: meterAP, Calling: clientAP, Mode: ModeCiphertext, KeyID: 3, Key: bytes.Repeat([]byte{9}, 16), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() { _, err := c.Exchange(ctx, []byte{0x30, 0, 1}); errc <- err }()
	if err := ref.wait(t); !errors.Is(err, ErrAuth) {
		t.Fatalf("meter refused with %v", err)
	}
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client: %v", err)
	}
}
