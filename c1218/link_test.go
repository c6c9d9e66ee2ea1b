package c1218

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/psem"
)

var testPassword = []byte("amigo-c12-password!!")

func testServer(st psem.Tables) *psem.Server {
	return psem.NewServer(st, psem.ServerConfig{
		Ident: psem.Ident{Std: psem.StdC1218, Ver: 2, Rev: 0},
		Security: func(uid uint16, user string, pw [psem.PasswordLen]byte) (psem.Tables, error) {
			if !bytes.Equal(pw[:], testPassword) {
				return nil, psem.ISC
			}
			return nil, nil
		},
	})
}

// startMeter serves st on a loopback port until the test ends.
func startMeter(t *testing.T, st psem.Tables, opts ...Option) string {
	t.Helper()
	return startMeterWith(t, func() *psem.Server { return testServer(st) }, opts...)
}

// startMeterWith serves the links newServer answers on a loopback port
// until the test ends.
func startMeterWith(t *testing.T, newServer func() *psem.Server, opts ...Option) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeListener(ctx, ln, func(net.Conn) *psem.Server { return newServer() }, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestPacketVectors(t *testing.T) {
	if got := CRC([]byte("123456789")); got != 0x906E {
		t.Fatalf("CRC-16/X-25 check value 0x%04X, want 0x906E", got)
	}
	// The ident request every C12.18 trace opens with.
	got := Packet{Data: []byte{psem.ReqIdent}}.Marshal()
	if want, _ := hex.DecodeString("ee0000000001201310"); !bytes.Equal(got, want) {
		t.Fatalf("ident packet % x, want % x", got, want)
	}
	p, n, err := ParsePacket(append(got, 0x99))
	if err != nil || n != len(got) || !bytes.Equal(p.Data, []byte{0x20}) {
		t.Fatalf("parse: %+v %d %v", p, n, err)
	}
	got[6] ^= 1
	if _, _, err := ParsePacket(got); !errors.Is(err, ErrCRC) {
		t.Fatalf("bad CRC: %v", err)
	}
}

func TestSplitMultiPacket(t *testing.T) {
	msg := bytes.Repeat([]byte{1, 2, 3}, 50) // 150 octets
	ps, err := Split(msg, 0, 64, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d packets, want 3 of 56 octets", len(ps))
	}
	wantCtrl := []byte{CtrlMulti | CtrlFirst | CtrlToggle, CtrlMulti, CtrlMulti | CtrlToggle}
	var joined []byte
	for i, p := range ps {
		if p.Ctrl != wantCtrl[i] || p.Seq != byte(2-i) {
			t.Errorf("packet %d: ctrl 0x%02X seq %d", i, p.Ctrl, p.Seq)
		}
		joined = append(joined, p.Data...)
	}
	if !bytes.Equal(joined, msg) {
		t.Fatal("packets do not join to the message")
	}
	if _, err := Split(msg, 0, 64, 2, false); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the packet count: %v", err)
	}
}

func TestSessionOverTCP(t *testing.T) {
	st := newTableStore()
	addr := startMeter(t, st)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, id, err := Open(ctx, l, Login{PacketSize: 128, Packets: 32, UserID: 2, User: "reader", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	if id.Std != psem.StdC1218 || id.Ver != 2 {
		t.Fatalf("ident %+v", id)
	}
	if size, n, _ := l.Params(); size != 128 || n != 32 {
		t.Fatalf("link after negotiate: %d octets x %d", size, n)
	}
	st1, err := c.Read(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := st.ReadTable(1); !bytes.Equal(st1, want) {
		t.Fatalf("ST1 % x, want % x", st1, want)
	}
	// 3000 octets need 25 packets of 128.
	big := bytes.Repeat([]byte("0123456789"), 300)
	if err := c.Write(ctx, 2049, big); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(ctx, 2049)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("3000-octet table back: %d octets, %v", len(got), err)
	}
	if err := c.WriteOffset(ctx, 2049, 1000, []byte("amigo")); err != nil {
		t.Fatal(err)
	}
	part, err := c.ReadOffset(ctx, 2049, 998, 9)
	if err != nil || string(part) != "89amigo56" {
		t.Fatalf("offset read %q %v", part, err)
	}
	var code psem.Code
	if _, err := c.Read(ctx, 99); !errors.As(err, &code) || code != psem.IAR {
		t.Fatalf("missing table: %v", err)
	}
	resp, err := c.Procedure(ctx, 9, nil)
	if err != nil || !bytes.Equal(resp, []byte{1}) {
		t.Fatalf("remote reset: % x %v", resp, err)
	}
	var pr psem.ProcResult
	if _, err := c.Procedure(ctx, psem.ProcMfg|3, []byte{1}); !errors.As(err, &pr) || pr != psem.ProcUnrecognized {
		t.Fatalf("unknown procedure: %v", err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, 1); !errors.As(err, &code) || code != psem.ISSS {
		t.Fatalf("read after logoff: %v", err)
	}
	if err := c.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if size, n, _ := l.Params(); size != DefaultPacketSize || n != DefaultPackets {
		t.Fatalf("link after terminate: %d octets x %d", size, n)
	}
	// A wrong password is refused with ISC, on a new session of the same link.
	_, _, err = Open(ctx, l, Login{User: "reader", Password: []byte("wrong")})
	if !errors.As(err, &code) || code != psem.ISC {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestResponseTooLargeIsONP(t *testing.T) {
	addr := startMeter(t, newTableStore())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, _, err := Open(ctx, l, Login{PacketSize: 64, Packets: 4, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	var code psem.Code
	if _, err := c.Read(ctx, 2049); !errors.As(err, &code) || code != psem.ONP {
		t.Fatalf("3000 octets in 4 packets of 64: %v", err)
	}
	if got, err := c.ReadOffset(ctx, 2049, 0, 100); err != nil || len(got) != 100 {
		t.Fatalf("a part that fits: %d %v", len(got), err)
	}
}

// startProxy relays between a client and a meter, letting fault decide,
// per chunk and direction, to drop or corrupt it.
func startProxy(t *testing.T, meter string, fault func(toMeter bool, b []byte) []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m, err := net.Dial("tcp", meter)
			if err != nil {
				c.Close()
				return
			}
			relay := func(dst, src net.Conn, toMeter bool) {
				defer wg.Done()
				defer dst.Close()
				buf := make([]byte, 4096)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if out := fault(toMeter, append([]byte(nil), buf[:n]...)); len(out) > 0 {
							if _, err := dst.Write(out); err != nil {
								return
							}
						}
					}
					if err != nil {
						return
					}
				}
			}
			wg.Add(2)
			go relay(m, c, true)
			go relay(c, m, false)
		}
	}()
	return ln.Addr().String()
}

// A corrupted request packet is refused NAK and sent again; a lost
// acknowledgement makes the client send its packet again, and the meter
// drops the duplicate by its toggle bit: the write happens once.
func TestRetransmissionAndDuplicates(t *testing.T) {
	st := newTableStore()
	meter := startMeter(t, st)
	var corrupt, dropAck, dropClientAck atomic.Bool
	var corrupted, dropped, droppedClient atomic.Int32
	addr := startProxy(t, meter, func(toMeter bool, b []byte) []byte {
		if i := bytes.IndexByte(b, STP); toMeter && corrupt.Load() && i >= 0 && len(b)-i > HeaderLen {
			corrupt.Store(false)
			corrupted.Add(1)
			b[len(b)-1] ^= 0xFF
		}
		if toMeter && dropClientAck.Load() && b[0] == ACK {
			dropClientAck.Store(false)
			droppedClient.Add(1)
			return b[1:]
		}
		if !toMeter && dropAck.Load() && b[0] == ACK {
			dropAck.Store(false)
			dropped.Add(1)
			return b[1:]
		}
		return b
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fast := Timers{Response: 300 * time.Millisecond, InterChar: 300 * time.Millisecond, Traffic: 3 * time.Second, Retries: 3}
	l, err := Dial(ctx, addr, WithTimers(fast))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, _, err := Open(ctx, l, Login{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	corrupt.Store(true)
	if got, err := c.Read(ctx, 1); err != nil || !bytes.HasPrefix(got, []byte(testManufacturer)) {
		t.Fatalf("read through a corrupted request: %q %v", got, err)
	}
	st.mu.Lock()
	before := st.writes
	st.mu.Unlock()
	dropAck.Store(true)
	if err := c.WriteOffset(ctx, 2049, 0, []byte("once")); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	writes := st.writes - before
	st.mu.Unlock()
	if corrupted.Load() != 1 || dropped.Load() != 1 {
		t.Fatalf("faults injected: %d corrupted, %d acknowledgements dropped", corrupted.Load(), dropped.Load())
	}
	if writes != 1 {
		t.Fatalf("the write ran %d times, want once", writes)
	}
	// The client's acknowledgement of a response is lost: the meter takes
	// the next request for it, and both go on.
	dropClientAck.Store(true)
	if _, err := c.Read(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadOffset(ctx, 2049, 0, 4); err != nil || string(got) != "once" {
		t.Fatalf("the read after a lost acknowledgement: %q %v", got, err)
	}
	if droppedClient.Load() != 1 {
		t.Fatalf("%d client acknowledgements dropped, want 1", droppedClient.Load())
	}
}

// A client that hears nothing gives up after its retries, within its
// context, saying so.
func TestNoAcknowledgement(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := Dial(ctx, ln.Addr().String(), WithTimers(Timers{Response: 100 * time.Millisecond, InterChar: 100 * time.Millisecond, Traffic: time.Second, Retries: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := psem.NewClient(l).Ident(ctx); !errors.Is(err, ErrNoAck) {
		t.Fatalf("silent meter: %v", err)
	}
}

// A link silent for longer than the channel traffic timeout returns the
// meter's session to base: the next read is out of sequence. A wait
// request beforehand holds the session over the same silence.
func TestChannelTrafficTimeout(t *testing.T) {
	short := Timers{Response: 200 * time.Millisecond, InterChar: 200 * time.Millisecond, Traffic: 300 * time.Millisecond, Retries: 2}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	st := newTableStore()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- Serve(ctx, c, testServer(st), WithTimers(short))
	}()
	l, err := Dial(ctx, ln.Addr().String(), WithTimers(Timers{Response: time.Second, InterChar: time.Second, Traffic: 5 * time.Second, Retries: 2}))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Open(ctx, l, Login{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	idle := time.NewTimer(time.Second) // over the traffic timeout, within the wait
	<-idle.C
	if _, err := c.Read(ctx, 1); err != nil {
		t.Fatalf("read within the wait: %v", err)
	}
	idle.Reset(time.Second)
	<-idle.C
	var code psem.Code
	if _, err := c.Read(ctx, 1); !errors.As(err, &code) || code != psem.ISSS {
		t.Fatalf("read after the traffic timeout: %v", err)
	}
	l.Close()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// A meter that acknowledges a request and never answers it has timed out:
// the error says so to a classifier (os.ErrDeadlineExceeded), not only in
// its words.
func TestAcknowledgedButUnanswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err == nil {
			c.Write([]byte{0x06})
		}
		io.Copy(io.Discard, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := Dial(ctx, ln.Addr().String(), WithTimers(Timers{Response: time.Second, InterChar: 100 * time.Millisecond, Traffic: 300 * time.Millisecond, Retries: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Exchange(ctx, []byte{psem.ReqIdent}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unanswered request: %v", err)
	}
}
