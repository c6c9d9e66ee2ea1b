package hdlc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a real 127.0.0.1 TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// echoServer serves APDUs until the client disconnects, answering each
// request with reply(request).
func echoServer(ctx context.Context, s *Server, reply func([]byte) []byte) error {
	for {
		apdu, err := s.Recv(ctx)
		if errors.Is(err, ErrDisconnected) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(ctx, reply(apdu)); err != nil {
			return err
		}
	}
}

func TestLoopbackSegmentation(t *testing.T) {
	tests := []struct {
		name         string
		client, srv  Params
		want         Params
		reqLen, resp int
	}{
		{"defaults", DefaultParams(), DefaultParams(), DefaultParams(), 1000, 3000},
		{"client smaller", Params{64, 48, 1, 1}, DefaultParams(), Params{64, 48, 1, 1}, 500, 700},
		{"server smaller", Params{512, 512, 1, 1}, Params{100, 90, 1, 1}, Params{90, 100, 1, 1}, 2000, 2000},
		{"window 3", Params{64, 64, 3, 3}, Params{128, 128, 7, 7}, Params{64, 64, 3, 3}, 1000, 1500},
		{"window asymmetric", Params{32, 40, 2, 5}, Params{128, 128, 4, 7}, Params{32, 40, 2, 4}, 333, 777},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			cc, sc := tcpPair(t)
			srv, err := NewServer(sc, ServerAddress(1, 17, 2), WithParams(tc.srv))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				done <- echoServer(ctx, srv, func(req []byte) []byte { return pattern(tc.resp, req[0]) })
			}()
			cl, err := NewClient(cc, ClientAddress(16), ServerAddress(1, 17, 2), WithParams(tc.client))
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if got := cl.Params(); got != tc.want {
				t.Fatalf("client params %+v, want %+v", got, tc.want)
			}
			for i := range 3 {
				req := pattern(tc.reqLen+i, byte(i))
				if err := cl.Send(ctx, req); err != nil {
					t.Fatal(err)
				}
				resp, err := cl.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(resp, pattern(tc.resp, req[0])) {
					t.Fatalf("round %d: response of %d bytes differs", i, len(resp))
				}
			}
			if got := srv.Params(); got != tc.want.Reverse() {
				t.Errorf("server params %+v, want %+v", got, tc.want.Reverse())
			}
			if err := cl.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestClientReplaysTrace runs our client against a scripted server that
// replays the server side of a trace, and requires our client to write
// exactly the bytes the Gurux client wrote.
func TestClientReplaysTrace(t *testing.T) {
	for _, tf := range hdlcTraces(t) {
		if tf.Name != "02-hdlc-none.json" && tf.Name != "11-hdlc-lls-profile-range.json" {
			continue
		}
		t.Run(tf.Name, func(t *testing.T) {
			ctx := testCtx(t)
			cc, sc := tcpPair(t)
			script := make(chan error, 1)
			go func() {
				for i, s := range tf.Steps {
					raw := mustHex(t, s.Hex)
					if s.Dir == "S->C" {
						if _, err := sc.Write(raw); err != nil {
							script <- err
							return
						}
						continue
					}
					got := make([]byte, len(raw))
					if _, err := io.ReadFull(sc, got); err != nil {
						script <- err
						return
					}
					if !bytes.Equal(got, raw) {
						script <- fmt.Errorf("step %d: client wrote %X, trace has %X", i, got, raw)
						return
					}
				}
				script <- nil
			}()
			cl, err := NewClient(cc, ClientAddress(uint8(tf.ClientSAP)), ServerAddress(1, 0, 1))
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tf.Steps {
				raw := mustHex(t, s.Hex)
				f, _, err := DecodeFrame(raw)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case f.Control.Kind() == KindSNRM:
					err = cl.Connect(ctx)
				case f.Control.Kind() == KindDISC:
					err = cl.Disconnect(ctx)
				case s.Dir == "C->S" && s.APDUHex != "":
					err = cl.Send(ctx, mustHex(t, s.APDUHex))
				case s.Dir == "S->C" && s.APDUHex != "":
					var got []byte
					got, err = cl.Recv(ctx)
					if err == nil && !bytes.Equal(got, mustHex(t, s.APDUHex)) {
						t.Fatalf("step %d: got %X", i, got)
					}
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if err := <-script; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// peer is a scripted raw-frame station for protocol edge cases.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *Reader
}

func newPeer(t *testing.T, c net.Conn) *peer { return &peer{t, c, NewReader(c)} }

func (p *peer) write(f Frame) {
	p.t.Helper()
	b, err := AppendFrame(nil, f)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) expect(k Kind) Frame {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := p.r.ReadFrame()
	if err != nil {
		p.t.Fatalf("waiting for %v: %v", k, err)
	}
	if f.Control.Kind() != k {
		p.t.Fatalf("got %v, want %v", f.Control, k)
	}
	f.Info = bytes.Clone(f.Info)
	return f
}

func TestServerStates(t *testing.T) {
	ctx := testCtx(t)
	cc, sc := tcpPair(t)
	me, cli, other := ServerAddress(1, 0, 1), ClientAddress(16), ClientAddress(17)
	srv, err := NewServer(sc, me)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		apdu []byte
		err  error
	}
	results := make(chan result, 4)
	go func() {
		for {
			apdu, err := srv.Recv(ctx)
			results <- result{apdu, err}
			if err != nil && !errors.Is(err, ErrDisconnected) {
				return
			}
		}
	}()
	p := newPeer(t, cc)
	// Before SNRM: I-frames and DISC get DM.
	p.write(Frame{Dst: me, Src: cli, Control: IControl(0, 0, true), Info: []byte{0xE6, 0xE6, 0x00, 0x01}})
	p.expect(KindDM)
	p.write(Frame{Dst: me, Src: cli, Control: UControl(KindDISC, true)})
	p.expect(KindDM)
	// Frames for another server are ignored: the next answer is the UA.
	p.write(Frame{Dst: ServerAddress(2, 0, 1), Src: cli, Control: UControl(KindSNRM, true)})
	p.write(Frame{Dst: me, Src: cli, Control: UControl(KindSNRM, true), Info: AppendParams(nil, Params{64, 200, 1, 1})})
	ua := p.expect(KindUA)
	if got, _ := ParseParams(ua.Info); got != (Params{128, 64, 1, 1}) {
		t.Fatalf("UA params %+v", got)
	}
	// Another client is not connected.
	p.write(Frame{Dst: me, Src: other, Control: RRControl(0, true)})
	if f := p.expect(KindDM); f.Dst != other {
		t.Fatalf("DM to %v", f.Dst)
	}
	// RR poll while idle is answered with RR.
	p.write(Frame{Dst: me, Src: cli, Control: RRControl(0, true)})
	p.expect(KindRR)
	// A segmented request is pulled with RR.
	p.write(Frame{Segmented: true, Dst: me, Src: cli, Control: IControl(0, 0, true), Info: []byte{0xE6, 0xE6, 0x00, 0xC0, 0x01}})
	if rr := p.expect(KindRR); rr.Control.NR() != 1 {
		t.Fatalf("RR N(R)=%d", rr.Control.NR())
	}
	p.write(Frame{Dst: me, Src: cli, Control: IControl(1, 0, true), Info: []byte{0xC1, 0x00}})
	if r := <-results; r.err != nil || !bytes.Equal(r.apdu, []byte{0xC0, 0x01, 0xC1, 0x00}) {
		t.Fatalf("apdu %X %v", r.apdu, r.err)
	}
	if err := srv.Send(ctx, []byte{0xC4, 0x01}); err != nil {
		t.Fatal(err)
	}
	resp := p.expect(KindI)
	if resp.Control.NS() != 0 || resp.Control.NR() != 2 || !bytes.Equal(resp.Info, []byte{0xE6, 0xE7, 0x00, 0xC4, 0x01}) {
		t.Fatalf("response %v % X", resp.Control, resp.Info)
	}
	// Wrong N(S) is rejected with FRMR; an unexpected UA too.
	p.write(Frame{Dst: me, Src: cli, Control: IControl(5, 1, true), Info: []byte{0xE6, 0xE6, 0x00, 0x01}})
	if f := p.expect(KindFRMR); len(f.Info) != 3 || f.Info[0] != byte(IControl(5, 1, true)) {
		t.Fatalf("FRMR % X", f.Info)
	}
	p.write(Frame{Dst: me, Src: cli, Control: UControl(KindUA, true)})
	p.expect(KindFRMR)
	// DISC ends the link and is reported.
	p.write(Frame{Dst: me, Src: cli, Control: UControl(KindDISC, true)})
	p.expect(KindUA)
	if r := <-results; !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("after DISC: %v", r.err)
	}
	if srv.Connected() {
		t.Fatal("still connected")
	}
	cc.Close()
	if r := <-results; r.err == nil {
		t.Fatal("no error after close")
	}
}

func TestClientPeerErrors(t *testing.T) {
	me, srvAddr := ClientAddress(16), ServerAddress(1, 0, 1)
	ua := Frame{Dst: me, Src: srvAddr, Control: UControl(KindUA, true)}
	tests := []struct {
		name  string
		reply func(p *peer)
		check func(error) bool
	}{
		{"DM", func(p *peer) { p.write(Frame{Dst: me, Src: srvAddr, Control: UControl(KindDM, true)}) },
			func(err error) bool { return errors.Is(err, ErrDM) }},
		{"FRMR", func(p *peer) {
			p.write(Frame{Dst: me, Src: srvAddr, Control: UControl(KindFRMR, true), Info: []byte{0x10, 0x00, 0x01}})
		}, func(err error) bool { var e *FrameRejectError; return errors.As(err, &e) && len(e.Info) == 3 }},
		{"bad N(R)", func(p *peer) {
			p.write(Frame{Dst: me, Src: srvAddr, Control: IControl(0, 5, true), Info: []byte{0xE6, 0xE7, 0x00, 1}})
		}, func(err error) bool { var e *SequenceError; return errors.As(err, &e) && e.Field == "N(R)" }},
		{"bad LLC", func(p *peer) {
			p.write(Frame{Dst: me, Src: srvAddr, Control: IControl(0, 1, true), Info: []byte{0xE6, 0xE6, 0x00, 1}})
		}, func(err error) bool { return errors.Is(err, ErrLLC) }},
		{"RNR then data", func(p *peer) {
			p.write(Frame{Dst: me, Src: srvAddr, Control: RNRControl(0, true)})
			if rr := p.expect(KindRR); !rr.Control.PF() {
				p.t.Error("poll without P")
			}
			// A frame for another client is skipped.
			p.write(Frame{Dst: ClientAddress(1), Src: srvAddr, Control: IControl(0, 1, true), Info: []byte{0xE6, 0xE7, 0x00, 9}})
			p.write(Frame{Dst: me, Src: srvAddr, Control: IControl(0, 1, true), Info: []byte{0xE6, 0xE7, 0x00, 1}})
		}, func(err error) bool { return err == nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			cc, sc := tcpPair(t)
			p := newPeer(t, sc)
			cl, err := NewClient(cc, me, srvAddr, WithPollInterval(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				p.expect(KindSNRM)
				p.write(ua)
				p.expect(KindI)
				tc.reply(p)
			}()
			if err := cl.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := cl.Send(ctx, []byte{0xC0}); err != nil {
				t.Fatal(err)
			}
			_, err = cl.Recv(ctx)
			if !tc.check(err) {
				t.Fatalf("Recv error %v (%T)", err, err)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	cc, _ := tcpPair(t)
	cl, err := NewClient(cc, ClientAddress(16), ServerAddress(1, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cl.Connect(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cl.Connect(ctx2) }()
	cancel2()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	if _, err := cl.Recv(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("recv before connect: %v", err)
	}
}

// TestOverPipe runs the link over net.Pipe, the stand-in for a serial line:
// no TCP, synchronous writes, deadlines supported.
func TestOverPipe(t *testing.T) {
	ctx := testCtx(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv, _ := NewServer(b, ServerAddress(1, 0x3FFF, 4))
	done := make(chan error, 1)
	go func() { done <- echoServer(ctx, srv, func(req []byte) []byte { return req }) }()
	cl, _ := NewClient(a, ClientAddress(1), ServerAddress(1, 0x3FFF, 4), WithParams(Params{40, 40, 1, 1}))
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	req := pattern(300, 9)
	if err := cl.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.Recv(ctx); err != nil || !bytes.Equal(got, req) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	if err := cl.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
