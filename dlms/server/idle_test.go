package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/hdlc"
)

// idleServer serves one public device on the wrapper and HDLC with an
// inactivity timeout.
func idleServer(t *testing.T, inactivity time.Duration) (wrapperAddr, hdlcAddr string) {
	t.Helper()
	dev := &Device{Tree: newTestTree(t, treeValues{register: axdr.Uint16(1234)}), Address: 1,
		Associations: []Association{{ClientSAP: 16, Rights: cosem.ReadOnlyAccess}}, InactivityTimeout: inactivity}
	srv, err := NewServer(dev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	listen := func(serve func(net.Listener) error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ln); err != nil {
				t.Errorf("listener: %v", err)
			}
		}()
		return ln.Addr().String()
	}
	wrapperAddr = listen(func(ln net.Listener) error { return srv.ListenAndServeWrapper(ctx, ln) })
	hdlcAddr = listen(func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, false) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return wrapperAddr, hdlcAddr
}

// hangsUp reads from c until the server closes it, and fails if that
// takes longer than limit: a read deadline here is the test's patience,
// not the server's timeout.
func hangsUp(t *testing.T, c net.Conn, limit time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the meter still holds the connection after %s", what, limit)
	}
}

// TestIdleClientsAreDropped: a connection that never speaks and an
// association that falls silent are both closed after the inactivity
// timeout, and while they are open the meter answers other clients.
func TestIdleClientsAreDropped(t *testing.T) {
	addr, _ := idleServer(t, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Associated, then silent.
	quiet := dialWrapper(t, ctx, addr, 16, 1)
	if _, err := (&testClient{t: quiet}).associate(ctx); err != nil {
		t.Fatal(err)
	}
	// Another client is served meanwhile.
	c := &testClient{t: dialWrapper(t, ctx, addr, 16, 1)}
	if _, err := c.associate(ctx); err != nil {
		t.Fatalf("a second client while one idles: %v", err)
	}
	if v, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err != nil || !v.Equal(axdr.Uint16(1234)) {
		t.Fatalf("register = %v, %v", v, err)
	}
	hangsUp(t, silent, 10*time.Second, "a client that never spoke")
	if _, err := quiet.Recv(ctx); err == nil {
		t.Fatal("the idle association received something")
	}
}

// TestDefaultInactivityTimeout: a device that sets none gets the HDLC
// default, and a negative value turns it off.
func TestDefaultInactivityTimeout(t *testing.T) {
	for _, tc := range []struct{ set, want time.Duration }{{0, DefaultInactivityTimeout}, {-1, 0}, {time.Minute, time.Minute}} {
		if got := (&Device{InactivityTimeout: tc.set}).inactivity(); got != tc.want {
			t.Errorf("InactivityTimeout %v: effective %v, want %v", tc.set, got, tc.want)
		}
	}
}

// TestHDLCNoiseIsCutOff: bytes that cannot start a frame close an HDLC
// connection long before the inactivity timeout, both a burst without a
// flag and a frame begun and never finished; a real client on the same
// port is served meanwhile.
func TestHDLCNoiseIsCutOff(t *testing.T) {
	_, addr := idleServer(t, time.Hour)
	t.Run("no-flag", func(t *testing.T) {
		t.Parallel()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(bytes.Repeat([]byte{0x55}, maxNoise+1)); err != nil {
			t.Fatal(err)
		}
		hangsUp(t, c, 10*time.Second, "noise without a flag")
	})
	t.Run("unfinished-frame", func(t *testing.T) {
		t.Parallel()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A flag and the start of a 160-byte frame, never completed.
		if _, err := c.Write([]byte{0x7E, 0xA0, 0xA0, 0x03}); err != nil {
			t.Fatal(err)
		}
		hangsUp(t, c, frameWindow+10*time.Second, "a frame begun and not finished")
	})
	t.Run("client", func(t *testing.T) {
		t.Parallel()
		hdlcPublicClient(t, addr)
	})
}

// hdlcPublicClient associates over HDLC as the public client and reads the
// register.
func hdlcPublicClient(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc, err := hdlc.Dial(ctx, addr, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0x11, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	c := &testClient{t: hc}
	if _, err := c.associate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err != nil || !v.Equal(axdr.Uint16(1234)) {
		t.Fatalf("register over HDLC = %v, %v", v, err)
	}
}
