package server

import (
	"context"
	"encoding/hex"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// Reference values shared by the trace replay and the loopback tests: the
// published Gurux test keys and system titles.
var (
	testEK       = mustHex("000102030405060708090A0B0C0D0E0F")
	testAK       = mustHex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
	serverTitle  = mustHex("4142434445464748")
	clientTitle  = mustHex("4775727578313233")
	testPassword = []byte("Gurux")

	lnClock      = obis.Code{0, 0, 1, 0, 0, 255}
	lnRegister   = obis.Code{1, 1, 21, 25, 0, 255}
	lnProfile    = obis.Code{1, 0, 99, 1, 0, 255}
	lnDisconnect = obis.Code{0, 0, 96, 3, 10, 255}
	lnIC         = obis.Code{0, 0, 43, 1, 0, 255}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func testKeys() security.Keys {
	return security.Keys{Unicast: security.MustKey(testEK), Authentication: security.MustKey(testAK)}
}

// profileRows builds the load profile the traces read: 60 rows captured
// at the same instant, register values 15, 17, 19...
func profileRows(at []byte, n int) []axdr.Data {
	rows := make([]axdr.Data, n)
	for i := range rows {
		rows[i] = axdr.Structure(axdr.OctetString(at), axdr.Uint16(uint16(15+2*i)))
	}
	return rows
}

// treeValues are the object values a test device starts with.
type treeValues struct {
	clock     time.Time
	register  axdr.Data
	ic        uint32
	rows      []axdr.Data
	discState objects.ControlState
}

// newTestTree builds the objects the traces touch.
func newTestTree(t testing.TB, v treeValues) *objects.Tree {
	t.Helper()
	clk := objects.NewClock(lnClock, 0)
	at := v.clock
	clk.Now = func() time.Time { return at }
	if at.IsZero() {
		clk.Now = time.Now
	}
	reg := objects.NewRegister(lnRegister, v.register, axdr.ScalerUnit{Scaler: -2, Unit: axdr.UnitWattHour})
	if v.register.Tag == axdr.TagNull {
		reg.Value = axdr.Uint16(0)
	}
	ic := objects.NewData(lnIC, axdr.Uint32(v.ic))
	cols := []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: lnClock, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: lnRegister, Attribute: 2},
	}
	tree, err := objects.NewTree(clk, reg, ic)
	if err != nil {
		t.Fatal(err)
	}
	pg := objects.NewProfileGeneric(lnProfile, cols, 900, 1000, tree)
	pg.Rows = v.rows
	dc := objects.NewDisconnectControl(lnDisconnect, 2)
	dc.State = v.discState
	for _, o := range []cosem.Object{pg, dc} {
		if err := tree.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// memTransport is a Transport whose requests come from a callback, called
// on the goroutine running Serve, and whose answers go to another; sent
// must copy what it keeps.
type memTransport struct {
	next func() ([]byte, error)
	sent func([]byte)
}

func (m *memTransport) Recv(ctx context.Context) ([]byte, error) { return m.next() }
func (m *memTransport) Send(ctx context.Context, b []byte) error {
	m.sent(b)
	return nil
}
func (m *memTransport) Close() error { return nil }

// pipeTransport connects a test client to Serve through channels.
type pipeTransport struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newPipe() *pipeTransport {
	return &pipeTransport{in: make(chan []byte), out: make(chan []byte, 1), closed: make(chan struct{})}
}

func (p *pipeTransport) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-p.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeTransport) Send(ctx context.Context, b []byte) error {
	select {
	case p.out <- append([]byte(nil), b...):
		return nil
	case <-p.closed:
		return io.ErrClosedPipe
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeTransport) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// client returns the other end of the pipe, for a testClient.
func (p *pipeTransport) client() Transport { return pipeClient{p} }

type pipeClient struct{ p *pipeTransport }

func (c pipeClient) Send(ctx context.Context, b []byte) error {
	select {
	case c.p.in <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c pipeClient) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.p.out:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c pipeClient) Close() error { return nil }

// exchange is the client end of a pipeTransport.
func (p *pipeTransport) exchange(ctx context.Context, req []byte) ([]byte, error) {
	select {
	case p.in <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case b := <-p.out:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func mustAppend(t testing.TB, a apdu.APDU) []byte {
	t.Helper()
	b, err := a.Append(nil)
	if err != nil {
		t.Fatalf("encoding %s: %v", a.Kind(), err)
	}
	return b
}
