package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/hdlc"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/wrapper"
)

var lnGas = obis.Code{7, 1, 3, 0, 0, 255}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(k SecurityEvent, sap uint16) {
	l.mu.Lock()
	l.events = append(l.events, k.String()+"/"+itoa(sap))
	l.mu.Unlock()
}

func (l *eventLog) count(k SecurityEvent, sap uint16) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e == k.String()+"/"+itoa(sap) {
			n++
		}
	}
	return n
}

func itoa(v uint16) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}

// fakeClock is a settable time for lockouts.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type testbed struct {
	wrapperAddr, hdlcAddr, modeEAddr string
	mgmt, mbus                       *Device
	events                           *eventLog
	clock                            *fakeClock
	persisted                        sync.Map // client SAP -> last IC
}

func newTestbed(t *testing.T) *testbed {
	tb := &testbed{events: &eventLog{}, clock: &fakeClock{}}
	tb.clock.ns.Store(time.Date(2026, 11, 23, 21, 0, 0, 0, time.UTC).UnixNano())
	tb.mgmt = &Device{
		Tree: newTestTree(t, treeValues{register: axdr.Uint16(1234),
			rows: profileRows(mustHex("07EA0B170115163100000000"), 60)}),
		Address:     1,
		SystemTitle: serverTitle,
		Associations: []Association{
			{ClientSAP: 16, Rights: cosem.ReadOnlyAccess},
			{ClientSAP: 17, Authentication: security.MechanismLLS, Secret: testPassword, MaxPDU: 512},
			{ClientSAP: 18, Authentication: security.MechanismLLS, Secret: testPassword},
			{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys(), MaxPDU: 512},
		},
		Counter:         security.NewCounter(1, nil),
		OnSecurityEvent: tb.events.add,
		PersistClientIC: func(sap uint16, ic uint32) error { tb.persisted.Store(sap, ic); return nil },
		Now:             tb.clock.now,
	}
	mbusTree, err := objects.NewTree(objects.NewRegister(lnGas, axdr.Uint32(4711), axdr.ScalerUnit{Scaler: -3, Unit: axdr.UnitCubicMetre}))
	if err != nil {
		t.Fatal(err)
	}
	tb.mbus = &Device{Tree: mbusTree, Address: 2, Associations: []Association{{ClientSAP: 16}}}
	srv, err := NewServer(tb.mgmt, tb.mbus)
	if err != nil {
		t.Fatal(err)
	}
	srv.Identification = iec62056.Identification{Manufacturer: "AMI", BaudChar: '5', Ident: "AMIGO"}
	srv.ModeEOptions = []iec62056.Option{iec62056.WithEcho()}
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
	tb.wrapperAddr = listen(func(ln net.Listener) error { return srv.ListenAndServeWrapper(ctx, ln) })
	tb.hdlcAddr = listen(func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, false) })
	tb.modeEAddr = listen(func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, true) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return tb
}

func dialWrapper(t *testing.T, ctx context.Context, addr string, sap, dev uint16) *wrapper.Conn {
	t.Helper()
	c, err := wrapper.Dial(ctx, addr, sap, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hlsClient(tr Transport) *testClient {
	return &testClient{t: tr, mech: security.MechanismHLSGMAC, policy: security.PolicyAuthenticatedEncrypted, keys: testKeys(), title: clientTitle, ic: 100}
}

func TestLoopback(t *testing.T) {
	tb := newTestbed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wantRows := axdr.Array(profileRows(mustHex("07EA0B170115163100000000"), 60)...)

	t.Run("no-security", func(t *testing.T) {
		c := &testClient{t: dialWrapper(t, ctx, tb.wrapperAddr, 16, 1)}
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil)
		if err != nil || !v.Equal(axdr.Uint16(1234)) {
			t.Fatalf("register = %v, %v", v, err)
		}
		// The public client reads but may not write.
		resp, err := c.roundTrip(ctx, mustAppend(t, &apdu.SetRequestNormal{InvokeID: 0xC1,
			Attribute: apdu.AttributeDescriptor{ClassID: cosem.ClassRegister, InstanceID: lnRegister, AttributeID: 2}, Value: axdr.Uint16(1)}))
		if err != nil {
			t.Fatal(err)
		}
		if a, err := apdu.Decode(resp); err != nil || a.(*apdu.SetResponseNormal).Result != apdu.ReadWriteDenied {
			t.Fatalf("SET by the public client answered % X", resp)
		}
		if a, err := c.release(ctx); err != nil || a.Kind() != "rlre" {
			t.Fatalf("release: %v %v", a, err)
		}
	})

	t.Run("second-device", func(t *testing.T) {
		c := &testClient{t: dialWrapper(t, ctx, tb.wrapperAddr, 16, 2)}
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.get(ctx, cosem.ClassRegister, lnGas, 2, nil)
		if err != nil || !v.Equal(axdr.Uint32(4711)) {
			t.Fatalf("gas register = %v, %v", v, err)
		}
		if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err == nil {
			t.Fatal("the M-Bus device serves the management device's register")
		}
	})

	t.Run("lls", func(t *testing.T) {
		c := &testClient{t: dialWrapper(t, ctx, tb.wrapperAddr, 17, 1), mech: security.MechanismLLS, secret: testPassword}
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.get(ctx, cosem.ClassClock, lnClock, 2, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lls-lockout", func(t *testing.T) {
		conn := dialWrapper(t, ctx, tb.wrapperAddr, 18, 1)
		bad := &testClient{t: conn, mech: security.MechanismLLS, secret: []byte("wrong")}
		for i := range 3 {
			aare, err := bad.associate(ctx)
			if !errors.Is(err, errRefused) || aare.Diagnostic.Value != apdu.DiagnosticAuthenticationFailure {
				t.Fatalf("wrong password %d: %v", i, err)
			}
		}
		if n := tb.events.count(EventLockout, 18); n != 1 {
			t.Fatalf("%d lockout events, want 1", n)
		}
		good := &testClient{t: conn, mech: security.MechanismLLS, secret: testPassword}
		aare, err := good.associate(ctx)
		if !errors.Is(err, errRefused) || aare.Result != apdu.ResultRejectedTransient {
			t.Fatalf("right password during the lockout: %v", err)
		}
		if tb.events.count(EventLockedOut, 18) != 1 || tb.events.count(EventLLSFailure, 18) != 3 {
			t.Fatalf("events %v", tb.events.events)
		}
		// Other clients are not affected, and the lockout ends.
		tb.clock.advance(DefaultLockoutPeriod + time.Second)
		if _, err := good.associate(ctx); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
	})

	t.Run("hls-gmac-blocks", func(t *testing.T) {
		c := hlsClient(dialWrapper(t, ctx, tb.wrapperAddr, 1, 1))
		c.maxPDU = 256
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		v, blocks, err := c.get(ctx, cosem.ClassProfileGeneric, lnProfile, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if blocks < 2 || !v.Equal(wantRows) {
			t.Fatalf("profile in %d blocks, %d rows", blocks, len(v.Items))
		}
		if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 3, nil); err != nil {
			t.Fatal(err)
		}
		if ic, ok := tb.persisted.Load(uint16(1)); !ok || ic.(uint32) != c.ic {
			t.Fatalf("persisted client IC %v, want %d", ic, c.ic)
		}
	})

	t.Run("hls-wrong-key", func(t *testing.T) {
		c := hlsClient(dialWrapper(t, ctx, tb.wrapperAddr, 1, 1))
		c.keys.Unicast = security.MustKey(mustHex("FF0102030405060708090A0B0C0D0E0F"))
		c.ic = 10000
		aare, err := c.associate(ctx)
		if !errors.Is(err, errRefused) || aare.Result == apdu.ResultAccepted {
			t.Fatalf("AARQ under a wrong key: %v", err)
		}
		if tb.events.count(EventDecipherFailure, 1) == 0 {
			t.Fatal("no decipher event")
		}
	})

	t.Run("replay", func(t *testing.T) {
		conn := dialWrapper(t, ctx, tb.wrapperAddr, 1, 1)
		c := hlsClient(conn)
		c.ic = 20000
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.get(ctx, cosem.ClassClock, lnClock, 2, nil); err != nil {
			t.Fatal(err)
		}
		old := c.lastWire
		resp, err := c.send(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		a, err := apdu.Decode(resp)
		ex, ok := a.(*apdu.ExceptionResponse)
		if err != nil || !ok || ex.ServiceError != apdu.ServiceInvocationCounterError || ex.InvocationCounter != c.ic+1 {
			t.Fatalf("replayed GET answered % X", resp)
		}
		// The association survives, and a later session of the same
		// client still refuses the old APDU.
		if _, _, err := c.get(ctx, cosem.ClassClock, lnClock, 2, nil); err != nil {
			t.Fatal(err)
		}
		c2 := hlsClient(dialWrapper(t, ctx, tb.wrapperAddr, 1, 1))
		c2.ic = c.ic
		if _, err := c2.associate(ctx); err != nil {
			t.Fatal(err)
		}
		resp, err = c2.send(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		if a, err := apdu.Decode(resp); err != nil || a.Kind() != "exception-response" {
			t.Fatalf("APDU of an earlier session answered % X", resp)
		}
		if tb.events.count(EventReplay, 1) < 2 {
			t.Fatal("replays not reported")
		}
	})

	t.Run("hostile-frame", func(t *testing.T) {
		good := &testClient{t: dialWrapper(t, ctx, tb.wrapperAddr, 16, 1)}
		if _, err := good.associate(ctx); err != nil {
			t.Fatal(err)
		}
		// Garbage xDLMS in an association: an exception, nothing more.
		resp, err := good.send(ctx, []byte{0xC0, 0x01, 0xC1, 0x00, 0x08})
		if err != nil {
			t.Fatal(err)
		}
		if a, err := apdu.Decode(resp); err != nil || a.Kind() != "exception-response" {
			t.Fatalf("truncated GET answered % X", resp)
		}
		// A broken AARQ ends its own connection only.
		bad := dialWrapper(t, ctx, tb.wrapperAddr, 16, 1)
		if err := bad.Send(ctx, []byte{0x60, 0x7F, 0xA1, 0x09, 0x06}); err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Recv(ctx); err == nil {
			t.Fatal("connection with a broken AARQ stays open")
		}
		if v, _, err := good.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err != nil || !v.Equal(axdr.Uint16(1234)) {
			t.Fatalf("the other connection: %v %v", v, err)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := wrapper.Dial(ctx, tb.wrapperAddr, 16, 1)
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close()
				c := &testClient{t: conn, maxPDU: uint16(200 + 50*i)}
				if _, err := c.associate(ctx); err != nil {
					errs <- err
					return
				}
				v, _, err := c.get(ctx, cosem.ClassProfileGeneric, lnProfile, 2, nil)
				if err != nil {
					errs <- err
					return
				}
				if !v.Equal(wantRows) {
					errs <- errors.New("profile differs")
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("hdlc", func(t *testing.T) {
		hc, err := hdlc.Dial(ctx, tb.hdlcAddr, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0x11, 2))
		if err != nil {
			t.Fatal(err)
		}
		defer hc.Close()
		c := &testClient{t: hc}
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.get(ctx, cosem.ClassProfileGeneric, lnProfile, 2, nil)
		if err != nil || !v.Equal(wantRows) {
			t.Fatalf("profile over HDLC: %v", err)
		}
		// DISC releases the association; a new link must associate again.
		if err := hc.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := hc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err == nil {
			t.Fatal("GET served after DISC without a new AARQ")
		}
		hm, err := hdlc.Dial(ctx, tb.hdlcAddr, hdlc.ClientAddress(16), hdlc.ServerAddress(2, 0x11, 4))
		if err != nil {
			t.Fatal(err)
		}
		defer hm.Close()
		cm := &testClient{t: hm}
		if _, err := cm.associate(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _, err := cm.get(ctx, cosem.ClassRegister, lnGas, 2, nil); err != nil || !v.Equal(axdr.Uint32(4711)) {
			t.Fatalf("M-Bus device over HDLC: %v %v", v, err)
		}
	})

	t.Run("mode-e", func(t *testing.T) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", tb.modeEAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		id, err := iec62056.SignOnModeE(ctx, nc, "", iec62056.WithEchoWait(time.Second))
		if err != nil || id.Manufacturer != "AMI" {
			t.Fatalf("sign-on: %+v %v", id, err)
		}
		hc, err := hdlc.NewClient(nc, hdlc.ClientAddress(17), hdlc.ServerAddress(1, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := hc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		c := &testClient{t: hc, mech: security.MechanismLLS, secret: testPassword}
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.get(ctx, cosem.ClassClock, lnClock, 2, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// Behind mode E, DISC returns the port to IEC 62056-21: a second
// association on the same connection starts with a new sign-on, as the
// Gurux client does for its invocation-counter pre-read.
func TestModeESignOnAgainAfterDISC(t *testing.T) {
	tb := newTestbed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", tb.modeEAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for round := range 2 {
		if _, err := iec62056.SignOnModeE(ctx, nc, "", iec62056.WithEchoWait(200*time.Millisecond)); err != nil {
			t.Fatalf("round %d: sign-on: %v", round, err)
		}
		c, err := hdlc.NewClient(nc, hdlc.ClientAddress(16), hdlc.ServerAddress(1, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("round %d: SNRM: %v", round, err)
		}
		if err := c.Disconnect(ctx); err != nil {
			t.Fatalf("round %d: DISC: %v", round, err)
		}
	}
}
