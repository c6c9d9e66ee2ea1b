package iec62056

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dlms/dlmstrace"
	"github.com/amigo-ami/amigo/hdlc"
)

func TestParseIdentification(t *testing.T) {
	tests := []struct {
		in   string
		want Identification
		baud int
		err  error
	}{
		{"/GRX512345678\r\n", Identification{"GRX", '5', 0, "12345678"}, 9600, nil},
		{"/ISk5\\2MT382-1000\r\n", Identification{"ISk", '5', '2', "MT382-1000"}, 9600, nil},
		{"/LGZ4ZMD3104407.B32", Identification{"LGZ", '4', 0, "ZMD3104407.B32"}, 4800, nil},
		{"/ABCE", Identification{"ABC", 'E', 0, ""}, 9600, nil},
		{"/AB", Identification{}, 0, ErrSyntax},
		{"GRX512345678\r\n", Identification{}, 0, ErrSyntax},
		{"/GRX912345678\r\n", Identification{}, 0, ErrSyntax},
		{"/GRX5ABCDEFGHIJKLMNOPQ\r\n", Identification{}, 0, ErrSyntax},
		{"/GRX5abc\x01\r\n", Identification{}, 0, ErrSyntax},
	}
	for _, tc := range tests {
		got, err := ParseIdentification([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%q: %+v %v; want %+v %v", tc.in, got, err, tc.want, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if b, _ := got.Baud(); b != tc.baud {
			t.Errorf("%q: baud %d", tc.in, b)
		}
		enc, err := AppendIdentification(nil, got)
		if err != nil || string(bytes.TrimSuffix(enc, []byte("\r\n"))) != string(bytes.TrimSuffix([]byte(tc.in), []byte("\r\n"))) {
			t.Errorf("%q: re-encoded %q %v", tc.in, enc, err)
		}
	}
}

func TestAckAndRequest(t *testing.T) {
	ack := AppendAck(nil, ModeE('5'))
	if !bytes.Equal(ack, []byte{0x06, 0x32, 0x35, 0x32, 0x0D, 0x0A}) {
		t.Fatalf("ack % X", ack)
	}
	a, err := ParseAck(ack)
	if err != nil || !a.IsModeE() || a.BaudChar != '5' {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{"\x0625", "\x062X2\r\n", "\x15252\r\n", "\x06A52"} {
		if _, err := ParseAck([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	req, _ := AppendRequest(nil, "")
	if string(req) != "/?!\r\n" {
		t.Fatalf("%q", req)
	}
	req, _ = AppendRequest(nil, "12345678")
	if addr, err := ParseRequest(req); err != nil || addr != "12345678" {
		t.Fatalf("%q %v", addr, err)
	}
	if _, err := AppendRequest(nil, "a!b"); !errors.Is(err, ErrSyntax) {
		t.Fatal(err)
	}
	for c, want := range map[byte]int{'0': 300, '2': 1200, '6': 19200, 'A': 600, 'F': 19200} {
		if got, err := BaudRate(c); err != nil || got != want {
			t.Errorf("%c: %d %v", c, got, err)
		}
	}
	if z, err := BaudChar(9600); err != nil || z != '5' {
		t.Errorf("BaudChar: %c %v", z, err)
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); ch <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-ch
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TestTraceModeE replays the server side of trace 07, including the echoed
// acknowledgement, and requires our sign-on plus HDLC client to write the
// exact bytes the Gurux client wrote.
func TestTraceModeE(t *testing.T) {
	tf := dlmstrace.Load(t, "07-modeE-hdlc-none.json")
	for _, echoWait := range []time.Duration{0, time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cc, sc := tcpPair(t)
		script := make(chan error, 1)
		go func() {
			for i, s := range tf.Steps {
				b := s.Frame()
				if s.Dir == "S->C" {
					if _, err := sc.Write(b); err != nil {
						script <- err
						return
					}
					continue
				}
				got := make([]byte, len(b))
				if _, err := io.ReadFull(sc, got); err != nil || !bytes.Equal(got, b) {
					script <- errors.Join(err, errors.New("step "+string(rune('0'+i))+": client bytes differ: "+hex.EncodeToString(got)))
					return
				}
			}
			script <- nil
		}()
		var switched int
		id, err := SignOnModeE(ctx, cc, "", WithEchoWait(echoWait), WithBaudSwitch(func(b int) error { switched = b; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if id.Manufacturer != "GRX" || id.Ident != "12345678" || switched != 9600 {
			t.Fatalf("%+v switched to %d", id, switched)
		}
		cl, err := hdlc.NewClient(cc, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		for _, s := range tf.Steps {
			if s.APDUHex == "" {
				continue
			}
			want := s.APDU()
			if s.Dir == "C->S" {
				err = cl.Send(ctx, want)
			} else {
				var got []byte
				got, err = cl.Recv(ctx)
				if err == nil && !bytes.Equal(got, want) {
					t.Fatalf("APDU %X want %X", got, want)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-script; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoopbackModeE runs SignOnModeE against AcceptModeE over TCP, then an
// HDLC link on the same connection.
func TestLoopbackModeE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, sc := tcpPair(t)
	ident := Identification{Manufacturer: "AMG", BaudChar: '6', Enhanced: '2', Ident: "AMIGO01"}
	type res struct {
		ack  Ack
		baud int
		err  error
	}
	done := make(chan res, 1)
	go func() {
		var baud int
		ack, err := AcceptModeE(ctx, sc, ident, WithEcho(), WithDeviceAddress("4711"),
			WithBaudSwitch(func(b int) error { baud = b; return nil }))
		if err == nil {
			var srv *hdlc.Server
			srv, err = hdlc.NewServer(sc, hdlc.ServerAddress(1, 0, 1))
			if err == nil {
				var apdu []byte
				if apdu, err = srv.Recv(ctx); err == nil {
					err = srv.Send(ctx, apdu)
				}
			}
		}
		done <- res{ack, baud, err}
	}()
	// A request for another meter gets no answer; noise is skipped.
	if _, err := cc.Write([]byte("\x00\x7F/?9999!\r\n")); err != nil {
		t.Fatal(err)
	}
	var baud int
	id, err := SignOnModeE(ctx, cc, "4711", WithMaxBaud(9600), WithBaudSwitch(func(b int) error { baud = b; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if id != ident || baud != 9600 {
		t.Fatalf("%+v baud %d", id, baud)
	}
	cl, _ := hdlc.NewClient(cc, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0, 1))
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	req := bytes.Repeat([]byte{0xAB}, 300)
	if err := cl.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.Recv(ctx); err != nil || !bytes.Equal(got, req) {
		t.Fatalf("%d bytes %v", len(got), err)
	}
	r := <-done
	if r.err != nil || r.ack != ModeE('5') || r.baud != 9600 {
		t.Fatalf("server: %+v", r)
	}
}

func TestAcceptRejectsOtherModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, sc := tcpPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := AcceptModeE(ctx, sc, Identification{Manufacturer: "AMG", BaudChar: '5'})
		errc <- err
	}()
	if _, err := cc.Write([]byte("/?!\r\n")); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("/AMG5\r\n"))
	if _, err := io.ReadFull(cc, line); err != nil || string(line) != "/AMG5\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if _, err := cc.Write(AppendAck(nil, Ack{ProtocolNormal, '5', ModeDataReadout})); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrNotModeE) {
		t.Fatalf("%v", err)
	}
}

func FuzzParseIdentification(f *testing.F) {
	for _, s := range []string{"/GRX512345678\r\n", "/ISk5\\2MT382-1000\r\n", "/AB", "/?!\r\n", "\x06252\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentification(b)
		if err == nil {
			enc, err := AppendIdentification(nil, id)
			if err != nil {
				t.Fatalf("re-encode %+v: %v", id, err)
			}
			back, err := ParseIdentification(enc)
			if err != nil || back != id {
				t.Fatalf("round trip %+v vs %+v: %v", back, id, err)
			}
		}
		_, _ = ParseAck(b)
		_, _ = ParseRequest(b)
	})
}
