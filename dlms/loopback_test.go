package dlms_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/labmeter"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/dlms/server"
)

// The whole stack, both halves, over real loopback sockets: every
// authentication mechanism and security policy, on the wrapper and on
// HDLC, with a profile far larger than the negotiated PDU.

var (
	ek = mustKey("000102030405060708090A0B0C0D0E0F")
	ak = mustKey("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
)

func mustKey(h string) security.Key {
	b, _ := hex.DecodeString(h)
	k, err := security.NewKey(b)
	if err != nil {
		panic(err)
	}
	return k
}

type fixture struct {
	wrapper, hdlc string
	clientKey     *ecdsa.PrivateKey
	meterKey      *ecdsa.PrivateKey
}

// association table of the meter under test: one client SAP per
// mechanism × policy pair the matrix exercises.
type assoc struct {
	sap    uint16
	auth   security.Mechanism
	policy security.Policy
}

var matrix = []assoc{
	{16, security.MechanismNone, security.PolicyNone},
	{17, security.MechanismLLS, security.PolicyNone},
	{20, security.MechanismLLS, security.PolicyAuthenticatedEncrypted},
	{1, security.MechanismHLSGMAC, security.PolicyAuthenticatedEncrypted},
	{2, security.MechanismHLSGMAC, security.PolicyAuthenticated},
	{3, security.MechanismHLSGMAC, security.PolicyEncrypted},
	{4, security.MechanismHLSGMAC, security.PolicyNone},
	{5, security.MechanismHLSSHA256, security.PolicyAuthenticatedEncrypted},
	{6, security.MechanismHLSECDSA, security.PolicyAuthenticatedEncrypted},
}

var secret = []byte("matrix-secret-1")

func startMeter(t *testing.T) *fixture { t.Helper(); return startMeterWith(t) }

// startMeterWith serves the lab meter with extra objects in its tree.
func startMeterWith(t *testing.T, extra ...cosem.Object) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.meterKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	lab, err := labmeter.New(labmeter.Config{Serial: "MATRIX1", Days: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range extra {
		if err := lab.Tree.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	dev := &server.Device{Tree: lab.Tree, Address: 1, SystemTitle: []byte("AMI\x00\x00\x00\x00\x09"), Counter: security.NewCounter(1, nil)}
	for _, a := range matrix {
		sa := server.Association{ClientSAP: a.sap, Authentication: a.auth,
			Policy: a.policy, Keys: security.Keys{Unicast: ek, Authentication: ak}, MaxPDU: 512}
		switch a.auth {
		case security.MechanismLLS, security.MechanismHLSSHA256:
			sa.Secret = secret
		case security.MechanismHLSECDSA:
			sa.Suite, sa.ClientPublicKey, sa.SigningKey = 1, &f.clientKey.PublicKey, f.meterKey
		}
		if a.sap == 16 {
			sa.Rights = cosem.ReadOnlyAccess
		}
		dev.Associations = append(dev.Associations, sa)
	}
	srv, err := server.NewServer(dev)
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
		go func() { defer wg.Done(); serve(ln) }()
		return ln.Addr().String()
	}
	f.wrapper = listen(func(ln net.Listener) error { return srv.ListenAndServeWrapper(ctx, ln) })
	f.hdlc = listen(func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, false) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func (f *fixture) options(a assoc, link dlms.Link) dlms.Options {
	o := dlms.Options{Link: link, ClientSAP: a.sap, Authentication: a.auth, Policy: a.policy,
		Keys: security.Keys{Unicast: ek, Authentication: ak}, SystemTitle: []byte("AMGTEST1"),
		GeneralProtection: true, MaxPDU: 1024}
	switch a.auth {
	case security.MechanismLLS, security.MechanismHLSSHA256:
		o.Password = dlms.NewSecret(secret)
	case security.MechanismHLSECDSA:
		o.Suite, o.SigningKey, o.ServerPublicKey = 1, f.clientKey, &f.meterKey.PublicKey
	}
	return o
}

func TestClientServerMatrix(t *testing.T) {
	f := startMeter(t)
	var ic uint32 = 100
	for _, link := range []dlms.Link{dlms.LinkWrapper, dlms.LinkHDLC} {
		addr := map[dlms.Link]string{dlms.LinkWrapper: f.wrapper, dlms.LinkHDLC: f.hdlc}[link]
		for _, a := range matrix {
			t.Run(fmt.Sprintf("%s/%s/%s", link, a.auth, a.policy), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				o := f.options(a, link)
				// The meter remembers each client's counter across
				// connections, so every run continues above the last.
				ic += 50
				o.InvocationCounter = ic
				c, err := dlms.Dial(ctx, addr, o)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				reg, err := c.Get(ctx, dlms.Attr{Class: 3, OBIS: labmeter.ImportLN, Attribute: 2}, nil)
				if v, ok := reg.Uint(); err != nil || !ok || v == 0 {
					t.Fatalf("register: %v %v", reg, err)
				}
				// Three days of quarter-hours: 288 rows, many blocks of 512.
				now := time.Now()
				rows, cols, err := c.ReadProfile(ctx, labmeter.LoadProfileLN, now.Add(-80*time.Hour), now)
				if err != nil || len(rows) < 280 || len(cols) != 4 {
					t.Fatalf("profile: %d rows, %d columns, %v", len(rows), len(cols), err)
				}
				clockAttr := dlms.Attr{Class: 8, OBIS: labmeter.ClockLN, Attribute: 2}
				err = c.Set(ctx, clockAttr, axdr.DateTimeOctets(axdr.FromTime(now, 0)))
				if a.sap == 16 {
					if !errors.Is(err, dlms.ErrAccessDenied) {
						t.Fatalf("public client set the clock: %v", err)
					}
				} else if err != nil {
					t.Fatalf("set clock: %v", err)
				}
				if a.sap != 16 {
					m := dlms.Method{Class: 70, OBIS: labmeter.DisconnectLN, Method: 1}
					if _, err := c.Action(ctx, m, axdr.Int8(0)); err != nil {
						t.Fatalf("disconnect: %v", err)
					}
					m.Method = 2
					if _, err := c.Action(ctx, m, axdr.Int8(0)); err != nil {
						t.Fatalf("reconnect: %v", err)
					}
				}
				if err := c.Release(ctx); err != nil {
					t.Fatalf("release: %v", err)
				}
			})
		}
	}
}

func TestMatrixRefusals(t *testing.T) {
	f := startMeter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A wrong key fails authentication.
	o := f.options(matrix[3], dlms.LinkWrapper)
	o.InvocationCounter = 10
	o.Keys.Authentication = ek
	if _, err := dlms.Dial(ctx, f.wrapper, o); !errors.Is(err, dlms.ErrAuthenticationFailed) && !errors.Is(err, dlms.ErrAssociationRejected) {
		t.Fatalf("wrong AK: %v", err)
	}
	// A counter the meter has already seen is a replay.
	o = f.options(matrix[3], dlms.LinkWrapper)
	o.InvocationCounter = 1000
	c, err := dlms.Dial(ctx, f.wrapper, o)
	if err != nil {
		t.Fatal(err)
	}
	c.Release(ctx)
	c.Close()
	o.InvocationCounter = 1000
	if _, err := dlms.Dial(ctx, f.wrapper, o); err == nil {
		t.Fatal("a replayed invocation counter was accepted")
	}
	// The wrong mechanism for a client SAP is refused.
	o = f.options(matrix[1], dlms.LinkHDLC)
	o.Authentication = security.MechanismNone
	if _, err := dlms.Dial(ctx, f.hdlc, o); err == nil {
		t.Fatal("LLS client associated without a password")
	}
}
