package psem

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Requests encode to the octets C12.18 lays down and decode back.
func TestRequestVectors(t *testing.T) {
	var pw [PasswordLen]byte
	copy(pw[:], "secret")
	for _, c := range []struct {
		r   Request
		hex string
	}{
		{IdentRequest(), "20"},
		{ReadRequest(1), "300001"},
		{ReadOffsetRequest(64, 0x010203, 0x0405), "3f0040010203" + "0405"},
		{ReadIndexRequest(23, []uint16{1, 2}, 8), "3200170001000200" + "08"},
		{WriteRequest(7, []byte{0x09, 0x00, 0x05, 0x01}), "4000070004" + "09000501" + "f1"},
		{WriteOffsetRequest(2049, 16, []byte{0xFF, 0x01}), "4f0801000010" + "0002" + "ff01" + "00"},
		{WriteIndexRequest(5, []uint16{3}, []byte{0x80}), "410005" + "0003" + "0001" + "80" + "80"},
		{LogonRequest(2, "amigo"), "500002" + hex.EncodeToString([]byte("amigo     "))},
		{Request{Code: ReqSecurity, Password: pw}, "51" + hex.EncodeToString(pw[:])},
		{NegotiateRequest(512, 2, 6), "6102000206"},
		{NegotiateRequest(64, 1), "60004001"},
		{WaitRequest(30), "701e"},
		{TimingSetupRequest(Timing{6, 1, 4, 3}), "7106010403"},
		{AuthenticateRequest(1, []byte{1, 2, 3, 4, 5, 6, 7, 8}), "5309010102030405060708"},
		{Request{Code: ReqLogoff}, "52"},
		{Request{Code: ReqTerminate}, "21"},
		{Request{Code: ReqDisconnect}, "22"},
	} {
		got, err := c.r.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", c.r.Service(), err)
		}
		if want := unhex(t, c.hex); !bytes.Equal(got, want) {
			t.Errorf("%s: % x, want % x", c.r.Service(), got, want)
		}
		back, err := ParseRequest(got)
		if err != nil {
			t.Fatalf("%s: parse: %v", c.r.Service(), err)
		}
		if len(c.r.Bauds) == 0 {
			back.Bauds = nil
		}
		if !reflect.DeepEqual(back, c.r) {
			t.Errorf("%s: parsed %+v, want %+v", c.r.Service(), back, c.r)
		}
	}
}

func TestRequestRefusals(t *testing.T) {
	for name, b := range map[string]string{
		"empty":          "",
		"write checksum": "4000070001" + "09" + "00",
		"write count":    "4000070002" + "09" + "f7",
		"short read":     "3000",
		"negotiate n":    "62004001" + "06",
		"logon short":    "50000261",
		"unknown":        "99",
		"auth length":    "5305" + "01",
	} {
		if _, err := ParseRequest(unhex(t, b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ReadOffsetRequest(1, 1<<24, 1).Marshal(); err == nil {
		t.Error("a 25-bit offset encoded")
	}
	if _, err := LogonRequest(1, "elevenchars").Marshal(); err == nil {
		t.Error("an 11-octet user encoded")
	}
}

func TestResponseCodecs(t *testing.T) {
	data := []byte("AMGO")
	resp := TableResponse(data)
	if want := unhex(t, "000004414d474f"+"dc"); !bytes.Equal(resp, want) {
		t.Fatalf("table response % x, want % x", resp, want)
	}
	if got, err := ParseTableResponse(resp); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%q %v", got, err)
	}
	resp[len(resp)-1]++
	if _, err := ParseTableResponse(resp); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad checksum: %v", err)
	}
	var c Code
	if _, err := ParseTableResponse([]byte{byte(ISC)}); !errors.As(err, &c) || c != ISC {
		t.Fatalf("isc: %v", err)
	}
	id := Ident{Std: StdC1221, Ver: 1, Rev: 0, Features: []Feature{AuthTicketFeature([]byte{1, 2, 3, 4, 5, 6, 7, 8})}}
	b := id.Marshal()
	if want := unhex(t, "00020100"+"020100080102030405060708"+"00"); !bytes.Equal(b, want) {
		t.Fatalf("ident % x, want % x", b, want)
	}
	back, err := ParseIdent(b)
	if err != nil || !reflect.DeepEqual(back, id) {
		t.Fatalf("ident back %+v %v", back, err)
	}
	if alg, ticket, ok := back.Auth(); !ok || alg != AlgDES || len(ticket) != 8 {
		t.Fatalf("auth feature %d % x %v", alg, ticket, ok)
	}
	if _, err := ParseIdent(unhex(t, "00000100")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ident without its end: %v", err)
	}
	n := Negotiated{PacketSize: 512, Packets: 2, Baud: 6}
	if got, err := ParseNegotiated(n.Marshal()); err != nil || got != n {
		t.Fatalf("negotiate %+v %v", got, err)
	}
	tm := Timing{30, 2, 4, 5}
	if got, err := ParseTiming(tm.Marshal()); err != nil || got != tm {
		t.Fatalf("timing %+v %v", got, err)
	}
}

// memTables is a table store for the service tests.
type memTables map[uint16][]byte

func (m memTables) ReadTable(id uint16) ([]byte, error) {
	if t, ok := m[id]; ok {
		return t, nil
	}
	return nil, IAR
}
func (m memTables) ReadOffset(id uint16, off uint32, n uint16) ([]byte, error) {
	t, ok := m[id]
	if !ok || int(off)+int(n) > len(t) {
		return nil, IAR
	}
	return t[off : int(off)+int(n)], nil
}
func (m memTables) ReadIndex(id uint16, index []uint16, n uint16) ([]byte, error) {
	return m.ReadOffset(id, uint32(index[0]), n)
}
func (m memTables) WriteTable(id uint16, data []byte) error {
	if id == ProcInitiateTable {
		m[ProcResponseTable] = append(append([]byte{}, data[:3]...), 0, 0x2A)
		return nil
	}
	if _, ok := m[id]; !ok {
		return IAR
	}
	m[id] = append([]byte(nil), data...)
	return nil
}
func (m memTables) WriteOffset(id uint16, off uint32, data []byte) error {
	t, ok := m[id]
	if !ok || int(off)+len(data) > len(t) {
		return IAR
	}
	copy(t[off:], data)
	return nil
}
func (m memTables) WriteIndex(id uint16, index []uint16, data []byte) error {
	return m.WriteOffset(id, uint32(index[0]), data)
}

// readOnly refuses writes, as a store's view for a reader would.
type readOnly struct{ memTables }

func (readOnly) WriteTable(uint16, []byte) error          { return ISC }
func (readOnly) WriteOffset(uint16, uint32, []byte) error { return ISC }

var desKey = []byte{0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1}

func newTestServer(m memTables) *Server {
	return NewServer(readOnly{m}, ServerConfig{
		Ident: Ident{Std: StdC1221, Ver: 1},
		Security: func(uid uint16, user string, pw [PasswordLen]byte) (Tables, error) {
			if string(bytes.TrimRight(pw[:], "\x00")) != "master" {
				return nil, ISC
			}
			return m, nil
		},
		AuthKey: func(id uint8) ([]byte, Tables, error) {
			if id != 1 {
				return nil, nil, ISC
			}
			return desKey, m, nil
		},
		Timing: &Timing{Traffic: 60, InterChar: 2, Response: 5, Retries: 5},
	})
}

// The service sequence: nothing but ident from base, nothing but
// negotiate, timing setup, logon and the rest from ID, reads once logged
// on, writes once security grants them.
func TestServerStateMachine(t *testing.T) {
	ctx := context.Background()
	m := memTables{1: []byte("AMGOMODEL"), 8: make([]byte, 4)}
	s := newTestServer(m)
	c := NewClient(s)
	var code Code
	if _, err := c.Read(ctx, 1); !errors.As(err, &code) || code != ISSS {
		t.Fatalf("read in base state: %v", err)
	}
	if err := c.Logon(ctx, 1, "x"); !errors.As(err, &code) || code != ISSS {
		t.Fatalf("logon in base state: %v", err)
	}
	if _, err := c.Ident(ctx); err != nil {
		t.Fatal(err)
	}
	if s.State() != StateID {
		t.Fatalf("state %v after ident", s.State())
	}
	if n, err := c.Negotiate(ctx, 20000, 0, 6, 8); err != nil || n != (Negotiated{8192, 1, 6}) {
		t.Fatalf("negotiate: %+v %v", n, err)
	}
	if tm, err := c.TimingSetup(ctx, Timing{Traffic: 120, InterChar: 1, Response: 0, Retries: 3}); err != nil || tm != (Timing{60, 1, 5, 3}) {
		t.Fatalf("timing setup: %+v %v", tm, err)
	}
	if _, err := c.Read(ctx, 1); !errors.As(err, &code) || code != ISSS {
		t.Fatalf("read before logon: %v", err)
	}
	if err := c.Logon(ctx, 7, "reader"); err != nil {
		t.Fatal(err)
	}
	if uid, user := s.User(); uid != 7 || user != "reader" {
		t.Fatalf("user %d %q", uid, user)
	}
	if got, err := c.ReadOffset(ctx, 1, 4, 5); err != nil || string(got) != "MODEL" {
		t.Fatalf("read offset %q %v", got, err)
	}
	if got, err := c.ReadIndex(ctx, 1, []uint16{0}, 4); err != nil || string(got) != "AMGO" {
		t.Fatalf("read index %q %v", got, err)
	}
	if err := c.Write(ctx, 1, []byte("X")); !errors.As(err, &code) || code != ISC {
		t.Fatalf("write before security: %v", err)
	}
	var se *ServiceError
	if err := c.Security(ctx, []byte("guess")); !errors.As(err, &code) || code != ISC || !errors.As(err, &se) || se.Service != "security" {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.Security(ctx, []byte("master")); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteOffset(ctx, 1, 0, []byte("ZZ")); err != nil {
		t.Fatal(err)
	}
	if string(m[1]) != "ZZGOMODEL" {
		t.Fatalf("table after write %q", m[1])
	}
	if resp, err := c.Procedure(ctx, 9, []byte{1}); err != nil || !bytes.Equal(resp, []byte{0x2A}) {
		t.Fatalf("procedure % x %v", resp, err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, 1, []byte("X")); !errors.As(err, &code) || code != ISSS {
		t.Fatalf("write after logoff: %v", err)
	}
	if err := c.Terminate(ctx); err != nil || s.State() != StateBase {
		t.Fatalf("terminate: %v, state %v", err, s.State())
	}
	if got := s.Handle([]byte{0x99}).Data; !bytes.Equal(got, []byte{byte(SNS)}) {
		t.Fatalf("unknown service answered % x", got)
	}
}

// C12.21 authentication: the ticket from ident, encrypted with the DES
// key, opens writes; a wrong key is refused, and a ticket serves once.
func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	m := memTables{1: []byte("AMGO")}
	s := newTestServer(m)
	c := NewClient(s)
	var code Code
	open := func() {
		t.Helper()
		if _, err := c.Ident(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Logon(ctx, 1, "field"); err != nil {
			t.Fatal(err)
		}
	}
	open()
	if err := c.Authenticate(ctx, 1, []byte("wrongkey")); !errors.As(err, &code) || code != ISC {
		t.Fatalf("wrong key: %v", err)
	}
	if err := c.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	open()
	if err := c.Authenticate(ctx, 1, desKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, 1, []byte("OK")); err != nil {
		t.Fatalf("write once authenticated: %v", err)
	}
	if err := c.Authenticate(ctx, 1, desKey); !errors.As(err, &code) || code != ISSS {
		t.Fatalf("the same ticket twice: %v", err)
	}
}

// Session-less, as C12.22 uses the service layer: reads without ident or
// logon.
func TestSessionless(t *testing.T) {
	s := NewServer(memTables{1: []byte("AMGO")}, ServerConfig{Sessionless: true})
	if got, err := NewClient(s).Read(context.Background(), 1); err != nil || string(got) != "AMGO" {
		t.Fatalf("%q %v", got, err)
	}
}
