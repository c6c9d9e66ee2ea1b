package objects

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Every ready-made object implements Object.
var _ = []cosem.Object{
	(*Data)(nil), (*Register)(nil), (*ExtendedRegister)(nil), (*DemandRegister)(nil), (*ProfileGeneric)(nil),
	(*Clock)(nil), (*ScriptTable)(nil), (*SpecialDaysTable)(nil), (*AssociationLN)(nil), (*ImageTransfer)(nil),
	(*ActivityCalendar)(nil), (*RegisterMonitor)(nil), (*IECHDLCSetup)(nil), (*PushSetup)(nil), (*TCPUDPSetup)(nil),
	(*SecuritySetup)(nil), (*DisconnectControl)(nil), (*Limiter)(nil), (*MBusClient)(nil),
}

var bg = context.Background()

func get(t *testing.T, o cosem.Object, attr int8) axdr.Data {
	t.Helper()
	v, err := o.Get(bg, &cosem.AttributeRequest{Attribute: attr})
	if err != nil {
		t.Fatalf("get %s attr %d: %v", cosem.ClassName(o.ClassID()), attr, err)
	}
	return v
}

func getErr(o cosem.Object, attr int8) error {
	_, err := o.Get(bg, &cosem.AttributeRequest{Attribute: attr})
	return err
}

func set(o cosem.Object, attr int8, v axdr.Data) error {
	return o.Set(bg, &cosem.AttributeRequest{Attribute: attr}, v)
}

func act(o cosem.Object, m int8, p axdr.Data) (axdr.Data, error) {
	return o.Action(bg, &cosem.MethodRequest{Method: m}, p)
}

func enc(d axdr.Data) string { return strings.ToUpper(hex.EncodeToString(axdr.Encode(d))) }

func dec(t testing.TB, h string) axdr.Data {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	d, n, err := axdr.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode %s: n=%d err=%v", h, n, err)
	}
	return d
}

func wantResult(t *testing.T, what string, err error, r cosem.Result) {
	t.Helper()
	if got := cosem.Result(cosem.ResultOf(err)); got != r {
		t.Fatalf("%s: result %s, want %s (err %v)", what, got, r, err)
	}
}

func mustLN(s string) obis.Code { return obis.MustParse(s) }

// TestVersionsMatchClassInfo checks every ready-made object reports the
// class version the metadata describes.
func TestVersionsMatchClassInfo(t *testing.T) {
	ln := mustLN("0.0.1.0.0.255")
	objs := []cosem.Object{
		NewData(ln, axdr.Null()), NewRegister(ln, axdr.Uint32(0), axdr.ScalerUnit{}),
		NewExtendedRegister(ln, axdr.Uint32(0), axdr.ScalerUnit{}, axdr.Null(), bgTime),
		NewDemandRegister(ln, axdr.Uint32(0), axdr.ScalerUnit{}, 900, 1), NewProfileGeneric(ln, nil, 0, 0, nil),
		NewClock(ln, 0), NewScriptTable(ln, nil), NewSpecialDaysTable(ln), NewAssociationLN(ln, nil, nil, 16, 1, 0),
		NewImageTransfer(ln, 64), NewActivityCalendar(ln), NewRegisterMonitor(ln, ValueDefinition{}, nil, nil, nil),
		NewIECHDLCSetup(ln, 1), NewPushSetup(ln, nil, SendDestination{}, nil, nil), NewTCPUDPSetup(ln, 4059, ln),
		NewSecuritySetup(ln, 0, nil), NewDisconnectControl(ln, 1), NewLimiter(ln, ValueDefinition{}, axdr.Uint32(0), nil),
		NewMBusClient(ln, ln),
	}
	for _, o := range objs {
		c, ok := cosem.ClassInfo(o.ClassID())
		if !ok || c.Version != o.Version() {
			t.Errorf("%s: version %d, metadata %d", cosem.ClassName(o.ClassID()), o.Version(), c.Version)
		}
		// logical_name is served uniformly and never writable.
		if got := enc(get(t, o, 1)); got != "0906"+"0000010000FF" {
			t.Errorf("%s: logical_name %s", c.Name, got)
		}
		wantResult(t, c.Name+" set logical_name", set(o, 1, cosem.LogicalNameData(ln)), cosem.ResultReadWriteDenied)
		wantResult(t, c.Name+" get beyond last attribute", getErr(o, int8(len(c.Attributes)+1)), cosem.ResultObjectUndefined)
		_, err := act(o, int8(len(c.Methods)+1), axdr.Int8(0))
		wantResult(t, c.Name+" action beyond last method", err, cosem.ResultObjectUndefined)
		// Every attribute the metadata lists can be read (secret aside).
		for _, a := range c.Attributes {
			if c.ID == cosem.ClassAssociationLN && a.Index == 7 {
				continue
			}
			if _, err := o.Get(bg, &cosem.AttributeRequest{Attribute: a.Index}); err != nil {
				t.Errorf("%s %s: %v", c.Name, a.Name, err)
			}
		}
	}
}
