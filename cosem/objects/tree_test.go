package objects

import (
	"reflect"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
)

func testTree(t *testing.T) (*Tree, []cosem.Object) {
	t.Helper()
	objs := []cosem.Object{
		NewClock(mustLN("0.0.1.0.0.255"), -60),
		NewRegister(mustLN("1.0.1.8.0.255"), axdr.Uint32(0), axdr.ScalerUnit{Unit: 30}),
		NewProfileGeneric(mustLN("1.0.99.1.0.255"), nil, 900, 10, nil),
		NewDisconnectControl(mustLN("0.0.96.3.10.255"), 1),
		NewData(mustLN("0.0.42.0.0.255"), axdr.OctetString([]byte("AMI00001"))),
	}
	tree, err := NewTree(objs...)
	if err != nil {
		t.Fatal(err)
	}
	return tree, objs
}

func TestTree(t *testing.T) {
	tree, objs := testTree(t)
	if tree.Len() != len(objs) {
		t.Fatal(tree.Len())
	}
	if err := tree.Add(NewData(mustLN("0.0.1.0.0.255"), axdr.Null())); err == nil {
		t.Fatal("duplicate logical name accepted")
	}
	if o, err := tree.Lookup(8, mustLN("0.0.1.0.0.255")); err != nil || o != objs[0] {
		t.Fatalf("lookup: %v", err)
	}
	_, err := tree.Lookup(3, mustLN("0.0.1.0.0.255"))
	wantResult(t, "wrong class", err, cosem.ResultObjectClassInconsistent)
	_, err = tree.Lookup(8, mustLN("0.0.1.0.1.255"))
	wantResult(t, "missing", err, cosem.ResultObjectUndefined)
	if got := tree.ByClass(3); len(got) != 1 || got[0] != objs[1] {
		t.Errorf("ByClass(3) = %v", got)
	}
	if !tree.Remove(mustLN("1.0.1.8.0.255")) || tree.Remove(mustLN("1.0.1.8.0.255")) {
		t.Error("remove")
	}
	if got := tree.Objects(); len(got) != 4 || got[1] != objs[2] {
		t.Errorf("order after remove: %v", got)
	}
}

func TestObjectListRoundTrip(t *testing.T) {
	tree, objs := testTree(t)
	public := func(o cosem.Object) (cosem.AccessRights, bool) {
		if o.ClassID() == cosem.ClassDisconnectControl {
			return cosem.AccessRights{}, false
		}
		return cosem.ReadOnlyAccess(o)
	}
	for _, tt := range []struct {
		name   string
		rights cosem.RightsFunc
		n      int
	}{{"full", cosem.FullAccess, 5}, {"public", public, 4}, {"nil", nil, 5}} {
		t.Run(tt.name, func(t *testing.T) {
			d := tree.ObjectList(tt.rights)
			back := dec(t, enc(d))
			got, err := cosem.ParseObjectList(back)
			if err != nil {
				t.Fatal(err)
			}
			want := tree.Entries(tt.rights)
			if len(got) != tt.n || !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
			}
		})
	}
	// Version 0 object lists carry method access as a boolean.
	entries := tree.Entries(cosem.FullAccess)
	v0 := cosem.EncodeObjectList(entries, 0)
	if tag := v0.Items[0].Items[3].Items[1].Items[0].Items[1].Tag; tag != axdr.TagBoolean {
		t.Fatalf("v0 method access %s", tag)
	}
	got, err := cosem.ParseObjectList(dec(t, enc(v0)))
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatalf("v0 round trip: %v", err)
	}
	_ = objs
}
