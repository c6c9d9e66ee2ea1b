package osgp

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

// tables is a small psem.Tables for the tests.
type tables struct {
	mu sync.Mutex
	t  map[uint16][]byte
}

func (s *tables) ReadTable(id uint16) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.t[id]
	if !ok {
		return nil, psem.IAR
	}
	return append([]byte(nil), b...), nil
}

func (s *tables) ReadOffset(id uint16, off uint32, n uint16) ([]byte, error) {
	b, err := s.ReadTable(id)
	if err != nil {
		return nil, err
	}
	if int(off)+int(n) > len(b) {
		return nil, psem.IAR
	}
	return b[off : int(off)+int(n)], nil
}

func (s *tables) ReadIndex(uint16, []uint16, uint16) ([]byte, error) { return nil, psem.SNS }

func (s *tables) WriteTable(id uint16, d []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == 1 {
		return psem.ISC
	}
	s.t[id] = append([]byte(nil), d...)
	return nil
}

func (s *tables) WriteOffset(id uint16, off uint32, d []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.t[id]
	if !ok || int(off)+len(d) > len(b) {
		return psem.IAR
	}
	copy(b[off:], d)
	return nil
}

func (s *tables) WriteIndex(uint16, []uint16, []byte) error { return psem.SNS }

var (
	legacyKey = []byte{0xDF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B}
	aesKey    = []byte("0123456789abcdef")
	meterNode = Node{Subnet: 3, Node: 17}
	headNode  = Node{Subnet: 1, Node: 1}
	domain    = []byte{0x42}
)

func newTables() *tables {
	big := make([]byte, 3000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return &tables{t: map[uint16][]byte{1: []byte("AMIGO METER 0001"), 23: {1, 2, 3, 4, 5, 6, 7, 8}, 64: big}}
}

// serve starts m on a loopback listener and returns its address.
func serve(t *testing.T, m *Meter) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, k Keys, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Self: headNode, Meter: meterNode, Domain: domain, Keys: k, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientMeterBothSuites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keys    Keys
		encrypt bool
	}{
		{"legacy", Keys{Legacy, legacyKey}, false},
		{"legacy-rc4", Keys{Legacy, legacyKey}, true},
		{"aes", Keys{AES128, aesKey}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTables()
			m := &Meter{Node: meterNode, Domain: domain, Keys: tc.keys, Tables: tb}
			c := dial(t, serve(t, m), tc.keys, func(c *Config) { c.Encrypt = tc.encrypt })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := c.ReadTable(ctx, 1)
			if err != nil || string(got) != "AMIGO METER 0001" {
				t.Fatalf("ST1 = %q, %v", got, err)
			}
			big, err := c.ReadTable(ctx, 64)
			if err != nil || !bytes.Equal(big, tb.t[64]) {
				t.Fatalf("ST64: %d octets, %v", len(big), err)
			}
			part, err := c.ReadPartial(ctx, 23, 2, 3)
			if err != nil || !bytes.Equal(part, []byte{3, 4, 5}) {
				t.Fatalf("partial = %v, %v", part, err)
			}
			if err := c.WritePartial(ctx, 23, 6, []byte{0xAA, 0xBB}); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteTable(ctx, 7, []byte{9, 0, 1}); err != nil {
				t.Fatal(err)
			}
			if got := tb.t[23]; !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6, 0xAA, 0xBB}) {
				t.Fatalf("ST23 after write = %v", got)
			}
			if got := tb.t[7]; !bytes.Equal(got, []byte{9, 0, 1}) {
				t.Fatalf("ST7 after write = %v", got)
			}
			_, err = c.ReadTable(ctx, 99)
			if !errors.Is(err, psem.IAR) {
				t.Fatalf("absent table: %v, want iar", err)
			}
			if err := c.WriteTable(ctx, 1, []byte{1}); !errors.Is(err, psem.ISC) {
				t.Fatalf("write of ST1: %v, want isc", err)
			}
			if m.LastSeq() != c.LastSeq() || c.LastSeq() != 7 {
				t.Fatalf("meter at %d, client at %d, want 7", m.LastSeq(), c.LastSeq())
			}
		})
	}
}

// A client starting below the meter's last number is refused once, with
// the meter's number, and catches up.
func TestSequenceCatchUp(t *testing.T) {
	for _, k := range []Keys{{Legacy, legacyKey}, {AES128, aesKey}} {
		m := &Meter{Node: meterNode, Domain: domain, Keys: k, Tables: newTables()}
		m.SetLastSeq(1000)
		c := dial(t, serve(t, m), k, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.ReadTable(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		if c.LastSeq() != 1001 || m.LastSeq() != 1001 {
			t.Fatalf("%s: client %d meter %d, want 1001", k.Suite, c.LastSeq(), m.LastSeq())
		}
	}
}

// A request replayed byte for byte is refused, and the refusal repeats
// one message whatever is replayed.
func TestReplayRefused(t *testing.T) {
	for _, k := range []Keys{{Legacy, legacyKey}, {AES128, aesKey}} {
		m := &Meter{Node: meterNode, Domain: domain, Keys: k, Tables: newTables()}
		req := func(seq uint32, tid uint8) []byte {
			f := Frame{Src: headNode, Dst: meterNode, Domain: domain, Kind: KindRequest, TID: tid}
			body, _ := AppendRequest(nil, Request{Op: OpRead, Table: 1})
			f.APDU, _ = Seal(k, header(f), KindRequest, seq, body, false)
			b, _ := AppendFrame(nil, f)
			return b
		}
		if r, err := m.Handle("peer", req(5, 1)); err != nil || r == nil {
			t.Fatalf("first: %v", err)
		}
		r1, err := m.Handle("peer", req(5, 1))
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := m.Handle("peer", req(3, 2))
		f1, _ := ParseFrame(r1)
		f2, _ := ParseFrame(r2)
		if !bytes.Equal(f1.APDU, f2.APDU) {
			t.Fatalf("%s: refusals differ", k.Suite)
		}
		s, err := Open(k, header(f1), KindResponse, f1.APDU)
		if err != nil || !s.Refusal || s.Seq != 5 {
			t.Fatalf("%s: refusal %+v, %v", k.Suite, s, err)
		}
	}
}

func TestWrongKeyRefused(t *testing.T) {
	for _, tc := range []struct{ meter, client Keys }{
		{Keys{Legacy, legacyKey}, Keys{Legacy, append([]byte{0xDE}, legacyKey[1:]...)}},
		{Keys{AES128, aesKey}, Keys{AES128, []byte("0123456789abcdeF")}},
		{Keys{AES128, aesKey}, Keys{Legacy, legacyKey}},
	} {
		m := &Meter{Node: meterNode, Domain: domain, Keys: tc.meter, Tables: newTables(), Guard: &Guard{}}
		c := dial(t, serve(t, m), tc.client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ReadTable(ctx, 1)
		cancel()
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s client on %s meter: %v, want ErrClosed", tc.client.Suite, tc.meter.Suite, err)
		}
		if m.Guard.Failures() != 1 || m.LastSeq() != 0 {
			t.Fatalf("failures %d, last %d", m.Guard.Failures(), m.LastSeq())
		}
	}
}

func TestTamperedDigestRefused(t *testing.T) {
	for _, k := range []Keys{{Legacy, legacyKey}, {AES128, aesKey}} {
		body, _ := AppendRequest(nil, Request{Op: OpRead, Table: 1})
		f := Frame{Src: headNode, Dst: meterNode, Domain: domain, Kind: KindRequest, TID: 1}
		apdu, _ := Seal(k, header(f), KindRequest, 9, body, false)
		// Every single-bit change anywhere in the message, digest, sequence
		// number or address is refused.
		f.APDU = apdu
		good, _ := AppendFrame(nil, f)
		for i := 1; i < len(good); i++ {
			for bit := range 8 {
				b := append([]byte(nil), good...)
				b[i] ^= 1 << bit
				g, err := ParseFrame(b)
				if err != nil || g.Kind != KindRequest {
					continue
				}
				if same, _ := AppendFrame(nil, g); bytes.Equal(same, good) {
					continue // a bit the framing ignores (the node octet's top bit)
				}
				if _, err := Open(k, header(g), g.Kind, g.APDU); err == nil {
					t.Fatalf("%s: octet %d bit %d changed and still verifies", k.Suite, i, bit)
				}
			}
		}
		m := &Meter{Node: meterNode, Domain: domain, Keys: k, Tables: newTables(), Guard: &Guard{}}
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 0x01
		if r, err := m.Handle("mallory", bad); r != nil || !errors.Is(err, ErrDigest) {
			t.Fatalf("%s: tampered tag answered %x, %v", k.Suite, r, err)
		}
		if r, err := m.Handle("alice", good); err != nil || r == nil {
			t.Fatalf("%s: good message after a tampered one: %v", k.Suite, err)
		}
	}
}

// The guard trips after Threshold failures from one address: the meter
// then refuses everything from it, even a valid message, raises one
// alarm, and other peers go on.
func TestOracleGuardMeter(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var alarms []Alarm
	g := &Guard{Threshold: 3, Window: time.Minute, Lockout: time.Hour, Now: func() time.Time { return now },
		OnAlarm: func(a Alarm) { alarms = append(alarms, a) }}
	k := Keys{Legacy, legacyKey}
	m := &Meter{Node: meterNode, Domain: domain, Keys: k, Tables: newTables(), Guard: g}
	msg := func(seq uint32, forge bool) []byte {
		body, _ := AppendRequest(nil, Request{Op: OpRead, Table: 1})
		f := Frame{Src: headNode, Dst: meterNode, Domain: domain, Kind: KindRequest, TID: 1}
		f.APDU, _ = Seal(k, header(f), KindRequest, seq, body, false)
		if forge {
			f.APDU[len(f.APDU)-1-int(seq%8)] ^= byte(seq)
		}
		b, _ := AppendFrame(nil, f)
		return b
	}
	// Failures spread wider than the window do not add up.
	for i := range 4 {
		m.Handle("10.0.0.9", msg(uint32(i+1), true))
		now = now.Add(40 * time.Second)
	}
	if g.Alarms() != 0 || g.Locked("10.0.0.9") {
		t.Fatalf("spread failures tripped the guard: %d alarms", g.Alarms())
	}
	for i := range 3 {
		m.Handle("10.0.0.9", msg(uint32(10+i), true))
	}
	if g.Alarms() != 1 || len(alarms) != 1 || alarms[0].Peer != "10.0.0.9" || alarms[0].Failures != 3 {
		t.Fatalf("alarms %d %+v", g.Alarms(), alarms)
	}
	if r, err := m.Handle("10.0.0.9", msg(20, false)); r != nil || !errors.Is(err, ErrLockedOut) {
		t.Fatalf("locked peer answered: %v", err)
	}
	if r, err := m.Handle("10.0.0.10", msg(21, false)); r == nil || err != nil {
		t.Fatalf("another peer refused: %v", err)
	}
	now = now.Add(61 * time.Minute)
	if r, err := m.Handle("10.0.0.9", msg(22, false)); r == nil || err != nil {
		t.Fatalf("lockout did not end: %v", err)
	}
	if g.Alarms() != 1 {
		t.Fatalf("%d alarms", g.Alarms())
	}
}

// Over TCP: an attacker guessing digests is cut off after the threshold,
// reconnecting does not help, and the guard's count is what it tried.
func TestOracleGuardOverTCP(t *testing.T) {
	g := &Guard{Threshold: 4}
	m := &Meter{Node: meterNode, Domain: domain, Keys: Keys{AES128, aesKey}, Tables: newTables(), Guard: g}
	addr := serve(t, m)
	wrong := Keys{AES128, []byte("AAAAAAAAAAAAAAAA")}
	for i := range 4 {
		c := dial(t, addr, wrong, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.ReadTable(ctx, 1); !errors.Is(err, ErrClosed) {
			t.Fatalf("guess %d: %v", i, err)
		}
		cancel()
	}
	if g.Alarms() != 1 || !g.Locked("127.0.0.1") {
		t.Fatalf("alarms %d", g.Alarms())
	}
	// The right key from the same address is refused too while locked.
	c := dial(t, addr, Keys{AES128, aesKey}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ReadTable(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("locked out peer with the right key: %v", err)
	}
}

// The client side: answers with forged digests count against the meter,
// and past the threshold the client stops talking to it.
func TestOracleGuardClient(t *testing.T) {
	k := Keys{Legacy, legacyKey}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A man in the middle answering every request with a forged digest.
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				for {
					b, err := ReadFrame(conn, 0)
					if err != nil {
						return
					}
					f, _ := ParseFrame(b)
					s, _ := PeekSeqFrame(f)
					out := Frame{Src: meterNode, Dst: headNode, Domain: domain, Kind: KindResponse, TID: f.TID}
					body, _ := AppendResponse(nil, OpRead, Response{Code: psem.OK, Data: []byte("forged")})
					out.APDU, _ = Seal(Keys{Legacy, make([]byte, 12)}, header(out), KindResponse, s, body, false)
					rb, _ := AppendFrame(nil, out)
					if WriteFrame(conn, rb) != nil {
						return
					}
				}
			}()
		}
	}()
	var alarms int
	g := &Guard{Threshold: 3, OnAlarm: func(Alarm) { alarms++ }}
	c := dial(t, ln.Addr().String(), k, func(c *Config) { c.Guard, c.Peer = g, "meter-7" })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := c.ReadTable(ctx, 1); !errors.Is(err, ErrDigest) {
			t.Fatalf("forged answer %d: %v", i, err)
		}
	}
	if _, err := c.ReadTable(ctx, 1); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("after the threshold: %v", err)
	}
	if alarms != 1 || g.Alarms() != 1 {
		t.Fatalf("%d alarms", alarms)
	}
}

// PeekSeqFrame is the sequence number of a frame's secured APDU.
func PeekSeqFrame(f Frame) (uint32, error) {
	_, s, err := PeekSeq(f.APDU)
	return s, err
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Src: headNode, Dst: meterNode, Kind: KindRequest, TID: 15, APDU: []byte{1, 2}},
		{Priority: true, Src: meterNode, Dst: headNode, Domain: []byte{1, 2, 3}, Kind: KindResponse, TID: 3, APDU: []byte{9}},
		{Src: headNode, Dst: Node{Subnet: 9}, UniqueID: []byte{0, 1, 2, 3, 4, 5}, Domain: []byte{1, 2, 3, 4, 5, 6}, Kind: KindUnacked, APDU: []byte{7}},
	} {
		b, err := AppendFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ParseFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if g.Priority != f.Priority || g.Src != f.Src || g.Dst != f.Dst || !bytes.Equal(g.UniqueID, f.UniqueID) ||
			!bytes.Equal(g.Domain, f.Domain) || g.Kind != f.Kind || g.TID != f.TID || !bytes.Equal(g.APDU, f.APDU) {
			t.Fatalf("%+v became %+v", f, g)
		}
	}
	// The octets of a subnet/node request in a one-octet domain.
	b, _ := AppendFrame(nil, Frame{Src: Node{1, 1}, Dst: Node{3, 17}, Domain: []byte{0x42}, Kind: KindRequest, TID: 5, APDU: []byte{0x10}})
	if want := []byte{0x00, 0x19, 0x01, 0x81, 0x03, 0x91, 0x42, 0x05, 0x10}; !bytes.Equal(b, want) {
		t.Fatalf("frame % x, want % x", b, want)
	}
}

// A meter answers only frames for its own address in its domain, by
// subnet/node or by its unique ID.
func TestMeterAddressing(t *testing.T) {
	k := Keys{AES128, aesKey}
	uid := []byte{0x04, 0x01, 0x02, 0x03, 0x04, 0x05}
	m := &Meter{Node: meterNode, Domain: domain, UniqueID: uid, Keys: k, Tables: newTables()}
	seq := uint32(0)
	ask := func(f Frame) []byte {
		seq++
		body, _ := AppendRequest(nil, Request{Op: OpRead, Table: 1})
		f.Src, f.Kind, f.TID = headNode, KindRequest, 2
		f.APDU, _ = Seal(k, header(f), KindRequest, seq, body, false)
		b, _ := AppendFrame(nil, f)
		r, err := m.Handle("peer", b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for name, f := range map[string]Frame{
		"another node":   {Dst: Node{meterNode.Subnet, meterNode.Node + 1}, Domain: domain},
		"another subnet": {Dst: Node{meterNode.Subnet + 1, meterNode.Node}, Domain: domain},
		"another domain": {Dst: meterNode, Domain: []byte{0x43}},
		"no domain":      {Dst: meterNode},
		"another id":     {Dst: Node{Subnet: meterNode.Subnet}, UniqueID: []byte{9, 9, 9, 9, 9, 9}, Domain: domain},
	} {
		if r := ask(f); r != nil {
			t.Errorf("%s: answered", name)
		}
	}
	for name, f := range map[string]Frame{
		"its node":      {Dst: meterNode, Domain: domain},
		"its unique id": {Dst: Node{Subnet: meterNode.Subnet}, UniqueID: uid, Domain: domain},
	} {
		r := ask(f)
		g, err := ParseFrame(r)
		if err != nil || g.Src != meterNode || g.Dst != headNode || g.TID != 2 {
			t.Fatalf("%s: answer %+v %v", name, g, err)
		}
		s, err := Open(k, header(g), KindResponse, g.APDU)
		if err != nil || s.Seq != seq {
			t.Fatalf("%s: %+v %v", name, s, err)
		}
		resp, err := ParseResponse(s.Body, OpRead)
		if err != nil || string(resp.Data) != "AMIGO METER 0001" {
			t.Fatalf("%s: %+v %v", name, resp, err)
		}
	}
}

// A read larger than the meter answers is refused rstl, not cut.
func TestMaxResponse(t *testing.T) {
	k := Keys{Legacy, legacyKey}
	m := &Meter{Node: meterNode, Domain: domain, Keys: k, Tables: newTables(), MaxResponse: 1000}
	c := dial(t, serve(t, m), k, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ReadTable(ctx, 64); !errors.Is(err, psem.RSTL) {
		t.Fatalf("ST64 of 3000 octets: %v, want rstl", err)
	}
	b, err := c.ReadPartial(ctx, 64, 1000, 1000)
	if err != nil || len(b) != 1000 || b[0] != byte(1000*7%256) {
		t.Fatalf("partial read: %d octets %v", len(b), err)
	}
}
