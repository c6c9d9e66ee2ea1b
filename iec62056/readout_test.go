package iec62056

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A data block as IEC 62056-21 annex A shows it, typed out: BCC 0x7F is
// the XOR of everything after STX through ETX.
func TestDataBlockCodec(t *testing.T) {
	sets := []DataSet{
		{Address: "0.0.0", Values: []Value{{Value: "12345678"}}},
		{Address: "1.8.0", Values: []Value{{Value: "001234.567", Unit: "kWh"}}},
		{Address: "1.6.0", Values: []Value{{Value: "02.345", Unit: "kW"}, {Value: "26-03-29 10:15"}}},
		{Address: "F.F", Values: []Value{{Value: "00"}}},
	}
	msg, err := AppendDataBlock(nil, sets)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x020.0.0(12345678)\r\n1.8.0(001234.567*kWh)\r\n1.6.0(02.345*kW)(26-03-29 10:15)\r\nF.F(00)\r\n!\r\n\x03"
	if string(msg[:len(msg)-1]) != want {
		t.Fatalf("block %q", msg)
	}
	if msg[len(msg)-1] != BCC([]byte(want[1:])) {
		t.Fatal("bcc")
	}
	got, err := ParseDataBlock(msg)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(sets) {
		t.Fatalf("%v\nwant %v", got, sets)
	}
	// A missing BCC, a wrong one, no end line: each a clear error.
	if _, err := ParseDataBlock(msg[:len(msg)-1]); !errors.Is(err, ErrBCC) {
		t.Errorf("missing BCC: %v", err)
	}
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 0x20
	if _, err := ParseDataBlock(bad); !errors.Is(err, ErrBCC) {
		t.Errorf("wrong BCC: %v", err)
	}
	noEnd := []byte("\x021.8.0(1)\r\n\x03")
	noEnd = append(noEnd, BCC(noEnd[1:]))
	if _, err := ParseDataBlock(noEnd); !errors.Is(err, ErrSyntax) {
		t.Errorf("no end line: %v", err)
	}
}

func TestDataSets(t *testing.T) {
	for in, want := range map[string]string{
		"1.8.0(001234.5*kWh)":                  "[1.8.0(001234.5*kWh)]",
		"1.8.1(1*kWh)1.8.2(2*kWh)":             "[1.8.1(1*kWh) 1.8.2(2*kWh)]",
		"1-0:1.8.0*255(1.5*kWh)(7)":            "[1-0:1.8.0*255(1.5*kWh)(7)]",
		"(ERROR)":                              "[(ERROR)]",
		"C.1.0()":                              "[C.1.0()]",
		"P.01(2603291015)(00)(15)(1)(1.5)(kW)": "[P.01(2603291015)(00)(15)(1)(1.5)(kW)]",
	} {
		got, err := ParseDataSets([]byte(in))
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("%q: %v %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.8.0", "1.8.0(1", "1.8.0(a(b)", "1.8.0(1*k*h)", "01234567890123456(1)", "a!(1)"} {
		if _, err := ParseDataSets([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCommandCodec(t *testing.T) {
	for _, c := range []Command{Password('1', "00000000"), Read("1.8.0"), Write("0.9.1", Value{Value: "10:15:00"}), Break, P0} {
		msg, err := AppendCommand(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCommand(msg)
		if err != nil || fmt.Sprint(got.Data) != fmt.Sprint(c.Data) || got.C != c.C || got.D != c.D {
			t.Errorf("%s: %+v %v", c, got, err)
		}
	}
	// B0 as the standard spells it: SOH B 0 ETX, BCC 'q' (0x42^0x30^0x03).
	b0, _ := AppendCommand(nil, Break)
	if string(b0) != "\x01B0\x03q" {
		t.Errorf("B0 %q", b0)
	}
	p1, _ := AppendCommand(nil, Password('1', "secret"))
	if string(p1[:len(p1)-1]) != "\x01P1\x02(secret)\x03" {
		t.Errorf("P1 %q", p1)
	}
	if s := Password('1', "secret").String(); bytes.Contains([]byte(s), []byte("secret")) {
		t.Errorf("a password in a log line: %s", s)
	}
	em, _ := AppendError(nil, "ERR02")
	if _, err := ParseDataMessage(em); !errors.Is(err, ErrMeter) {
		t.Errorf("error message: %v", err)
	}
}

func TestModeOf(t *testing.T) {
	for c, want := range map[Identification]Mode{
		{Manufacturer: "AMG", BaudChar: '5'}:                ModeC,
		{Manufacturer: "AMG", BaudChar: '5', Enhanced: '2'}: ModeEnhanced,
		{Manufacturer: "AMG", BaudChar: 'E'}:                ModeB,
		{Manufacturer: "AMG", BaudChar: 'X'}:                ModeA,
	} {
		if got := ModeOf(c); got != want {
			t.Errorf("%+v: %s want %s", c, got, want)
		}
	}
	if ReadoutBaud(ModeA, Identification{BaudChar: 'X'}) != 300 || ReadoutBaud(ModeB, Identification{BaudChar: 'E'}) != 9600 ||
		ReadoutBaud(ModeC, Identification{BaudChar: '4'}) != 4800 || ReadoutBaud(ModeD, Identification{BaudChar: '3'}) != 2400 {
		t.Error("readout rates")
	}
}

// testMeter is a Meter over a map of registers with a P1 password.
type testMeter struct {
	mu   sync.Mutex
	regs map[string]Value
	pw   string
	fail error
}

func (m *testMeter) Readout() ([]DataSet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []DataSet
	for _, a := range []string{"0.0.0", "1.8.0", "0.9.1"} {
		out = append(out, DataSet{Address: a, Values: []Value{m.regs[a]}})
	}
	return out, nil
}
func (m *testMeter) Operand() string { return "12345678" }
func (m *testMeter) Authorize(level byte, pw string) bool {
	return level == '1' && pw == m.pw
}
func (m *testMeter) Read(level byte, addr string) (DataSet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.regs[addr]
	if !ok {
		return DataSet{}, MeterError("ERR05")
	}
	return DataSet{Address: addr, Values: []Value{v}}, nil
}
func (m *testMeter) Write(level byte, addr string, vs []Value) error {
	if level < '1' {
		return MeterError("ACCESS")
	}
	if addr != "0.9.1" || len(vs) != 1 {
		return MeterError("READONLY")
	}
	m.mu.Lock()
	m.regs[addr] = vs[0]
	m.mu.Unlock()
	return nil
}

func newTestMeter() *testMeter {
	return &testMeter{pw: "00000000", regs: map[string]Value{
		"0.0.0": {Value: "12345678"}, "1.8.0": {Value: "001234.567", Unit: "kWh"}, "0.9.1": {Value: "10:15:00"}}}
}

// serve runs the meter side on one end of a TCP pair, recording the baud
// rates it switches to.
func serve(t *testing.T, ident Identification, m Meter, opts ...Option) (client net.Conn, bauds func() []int) {
	t.Helper()
	c, s := tcpPair(t)
	var mu sync.Mutex
	var rates []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts = append(opts, WithBaudSwitch(func(b int) error { mu.Lock(); rates = append(rates, b); mu.Unlock(); return nil }))
	go func() { done <- ServeReadout(ctx, s, ident, m, opts...) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, func() []int { mu.Lock(); defer mu.Unlock(); return append([]int(nil), rates...) }
}

func TestReadoutModes(t *testing.T) {
	for _, tc := range []struct {
		mode     Mode
		baudChar byte
		client   []int // rates the client switches to
		meter    []int // and the meter, back to 300 at the end
	}{
		{ModeA, 'X', nil, []int{300}},
		{ModeB, 'E', []int{9600}, []int{9600, 300}},
		{ModeC, '5', []int{4800}, []int{4800, 300}}, // the client caps at 4800
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			m := newTestMeter()
			// Reaction times as on an optical head, scaled down.
			c, meterBauds := serve(t, Identification{Manufacturer: "AMG", BaudChar: tc.baudChar, Ident: "RDOUT1"}, m, WithDeviceAddress("12345678"), WithReactionTime(2*time.Millisecond), WithEcho())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var client []int
			id, sets, err := Readout(ctx, c, "12345678", WithMaxBaud(4800), WithReactionTime(2*time.Millisecond),
				WithBaudSwitch(func(b int) error { client = append(client, b); return nil }))
			if err != nil {
				t.Fatal(err)
			}
			if ModeOf(id) != tc.mode || id.Ident != "RDOUT1" {
				t.Errorf("identification %+v", id)
			}
			want, _ := m.Readout()
			if fmt.Sprint(sets) != fmt.Sprint(want) {
				t.Errorf("readout %v, want %v", sets, want)
			}
			if fmt.Sprint(client) != fmt.Sprint(tc.client) {
				t.Errorf("client switched to %v, want %v", client, tc.client)
			}
			// The meter is at rest again: a second readout works, and
			// the meter switched back to 300 baud in between.
			if _, sets, err = Readout(ctx, c, ""); err != nil || len(sets) != 3 {
				t.Fatalf("second readout: %v %v", sets, err)
			}
			if got := meterBauds(); fmt.Sprint(got[:len(tc.meter)]) != fmt.Sprint(tc.meter) {
				t.Errorf("meter switched to %v, want %v first", got, tc.meter)
			}
		})
	}
}

func TestReadoutOtherAddressIgnored(t *testing.T) {
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: '5'}, newTestMeter(), WithDeviceAddress("12345678"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := Readout(ctx, c, "87654321", WithTimeout(300*time.Millisecond))
	if !isTimeout(err) {
		t.Fatalf("a meter answered another's address: %v", err)
	}
	if _, _, err := Readout(ctx, c, "12345678"); err != nil {
		t.Fatal(err)
	}
}

func TestModeD(t *testing.T) {
	c, s := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := newTestMeter()
	go SendModeD(ctx, s, Identification{Manufacturer: "AMG", BaudChar: '3', Ident: "PUSH"}, m)
	id, sets, err := ReadModeD(ctx, c)
	if err != nil || id.Ident != "PUSH" || len(sets) != 3 || sets[1].Values[0].Value != "001234.567" {
		t.Fatalf("%+v %v %v", id, sets, err)
	}
}

func TestProgramming(t *testing.T) {
	m := newTestMeter()
	// The meter echoes the acknowledgement, as through an optical head.
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: '5', Ident: "PROG"}, m, WithEcho())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Program(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Operand != "12345678" {
		t.Errorf("operand %q", p.Operand)
	}
	if d, err := p.Read(ctx, "1.8.0"); err != nil || d.Values[0] != (Value{"001234.567", "kWh"}) {
		t.Fatalf("read %v %v", d, err)
	}
	if _, err := p.Read(ctx, "9.9.9"); !errors.Is(err, ErrMeter) {
		t.Errorf("unknown address: %v", err)
	}
	if err := p.Write(ctx, "0.9.1", Value{Value: "11:00:00"}); !errors.Is(err, ErrMeter) {
		t.Errorf("write without password: %v", err)
	}
	if err := p.Password(ctx, '1', "wrong"); !errors.Is(err, ErrPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if err := p.Password(ctx, '1', "00000000"); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, "0.9.1", Value{Value: "11:00:00"}); err != nil {
		t.Fatal(err)
	}
	if d, err := p.Read(ctx, "0.9.1"); err != nil || d.Values[0].Value != "11:00:00" {
		t.Fatalf("read back %v %v", d, err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The break put the meter at rest: a readout follows.
	if _, sets, err := Readout(ctx, c, ""); err != nil || sets[2].Values[0].Value != "11:00:00" {
		t.Fatalf("readout after programming: %v %v", sets, err)
	}
}

// A meter whose readout lacks its BCC: the client says so.
func TestReadoutMissingBCC(t *testing.T) {
	c, s := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		buf := make([]byte, 64)
		s.Read(buf)
		s.Write([]byte("/AMG5BAD\r\n"))
		s.Read(buf)
		s.Write([]byte("\x021.8.0(1*kWh)\r\n!\r\n\x03"))
		s.Close()
	}()
	_, _, err := Readout(ctx, c, "")
	if !errors.Is(err, ErrBCC) {
		t.Fatalf("%v", err)
	}
}

func TestProgrammingNeedsModeC(t *testing.T) {
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: 'X'}, newTestMeter())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Program(ctx, c, ""); !errors.Is(err, ErrMode) {
		t.Fatal(err)
	}
}

func TestReadoutError(t *testing.T) {
	m := newTestMeter()
	m.fail = MeterError("ERR99")
	c, _ := serve(t, Identification{Manufacturer: "AMG", BaudChar: '5'}, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := Readout(ctx, c, ""); !errors.Is(err, ErrMeter) || !bytes.Contains([]byte(err.Error()), []byte("ERR99")) {
		t.Fatalf("%v", err)
	}
}

func seeds(f *testing.F, name string) {
	files, _ := filepath.Glob(filepath.Join("testdata", name, "*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseDataBlock(f *testing.F) {
	seeds(f, "blocks")
	f.Fuzz(func(t *testing.T, b []byte) {
		sets, err := ParseDataBlock(b)
		if err != nil {
			return
		}
		enc, err := AppendDataBlock(nil, sets)
		if err != nil {
			return // e.g. an over-long value spread over two sets
		}
		back, err := ParseDataBlock(enc)
		if err != nil || fmt.Sprint(back) != fmt.Sprint(sets) {
			t.Fatalf("%q: re-encoded %q: %v %v", b, enc, back, err)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	seeds(f, "commands")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		enc, err := AppendCommand(nil, c)
		if err != nil {
			return
		}
		back, err := ParseCommand(enc)
		if err != nil || back.C != c.C || back.D != c.D || fmt.Sprint(back.Data) != fmt.Sprint(c.Data) {
			t.Fatalf("%q: %+v %v", b, back, err)
		}
	})
}

func FuzzParseDataMessage(f *testing.F) {
	seeds(f, "commands")
	seeds(f, "blocks")
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseDataMessage(b)
		ParseAnyIdentification(b)
	})
}
