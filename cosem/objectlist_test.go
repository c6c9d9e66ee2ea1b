package cosem

import (
	"reflect"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

func testTree(t *testing.T) (*Tree, []Object) {
	t.Helper()
	objs := []Object{
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
	wantResult(t, "wrong class", err, ResultObjectClassInconsistent)
	_, err = tree.Lookup(8, mustLN("0.0.1.0.1.255"))
	wantResult(t, "missing", err, ResultObjectUndefined)
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
	public := func(o Object) (AccessRights, bool) {
		if o.ClassID() == ClassDisconnectControl {
			return AccessRights{}, false
		}
		return ReadOnlyAccess(o)
	}
	for _, tt := range []struct {
		name   string
		rights RightsFunc
		n      int
	}{{"full", FullAccess, 5}, {"public", public, 4}, {"nil", nil, 5}} {
		t.Run(tt.name, func(t *testing.T) {
			d := tree.ObjectList(tt.rights)
			back := dec(t, enc(d))
			got, err := ParseObjectList(back)
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
	entries := tree.Entries(FullAccess)
	v0 := EncodeObjectList(entries, 0)
	if tag := v0.Items[0].Items[3].Items[1].Items[0].Items[1].Tag; tag != axdr.TagBoolean {
		t.Fatalf("v0 method access %s", tag)
	}
	got, err := ParseObjectList(dec(t, enc(v0)))
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatalf("v0 round trip: %v", err)
	}
	_ = objs
}

// TestObjectListBytes pins the encoding of one element: a Register with
// read-only value and scaler_unit and method 1 allowed.
func TestObjectListBytes(t *testing.T) {
	e := ObjectListEntry{ClassID: 3, Version: 0, LogicalName: mustLN("1.0.1.8.0.255"), Rights: AccessRights{
		Attributes: []AttributeAccess{{1, ReadOnly, nil}, {2, ReadWrite, nil}, {3, ReadOnly, []int8{1, 2}}},
		Methods:    []MethodAccessItem{{1, AuthenticatedMethodAccess}},
	}}
	const want = "0101" + "0204" + "120003" + "1100" + "0906" + "0100010800FF" +
		"0202" +
		"0103" + "0203" + "0F01" + "1601" + "00" + "0203" + "0F02" + "1603" + "00" + "0203" + "0F03" + "1601" + "0102" + "0F01" + "0F02" +
		"0101" + "0202" + "0F01" + "1602"
	if got := enc(EncodeObjectList([]ObjectListEntry{e}, 1)); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	back, err := ParseObjectList(dec(t, want))
	if err != nil || !reflect.DeepEqual(back, []ObjectListEntry{e}) {
		t.Fatalf("parse: %+v %v", back, err)
	}
}

func TestParseObjectListErrors(t *testing.T) {
	ln := LogicalNameData(mustLN("0.0.1.0.0.255"))
	rights := func(attrs, meths axdr.Data) axdr.Data { return axdr.Structure(attrs, meths) }
	el := func(r axdr.Data) axdr.Data {
		return axdr.Array(axdr.Structure(axdr.Uint16(8), axdr.Uint8(0), ln, r))
	}
	for _, tt := range []struct {
		name string
		d    axdr.Data
	}{
		{"not array", axdr.Structure()},
		{"element not structure", axdr.Array(axdr.Uint8(1))},
		{"class id int", axdr.Array(axdr.Structure(axdr.Int16(8), axdr.Uint8(0), ln, rights(axdr.Array(), axdr.Array())))},
		{"short obis", axdr.Array(axdr.Structure(axdr.Uint16(8), axdr.Uint8(0), axdr.OctetString([]byte{1}), rights(axdr.Array(), axdr.Array())))},
		{"rights not structure", el(axdr.Array())},
		{"attr item short", el(rights(axdr.Array(axdr.Structure(axdr.Int8(1))), axdr.Array()))},
		{"attr mode bool", el(rights(axdr.Array(axdr.Structure(axdr.Int8(1), axdr.Bool(true), axdr.Null())), axdr.Array()))},
		{"selectors uint8", el(rights(axdr.Array(axdr.Structure(axdr.Int8(1), axdr.Enum(1), axdr.Array(axdr.Uint8(1)))), axdr.Array()))},
		{"selectors enum", el(rights(axdr.Array(axdr.Structure(axdr.Int8(1), axdr.Enum(1), axdr.Enum(1))), axdr.Array()))},
		{"method mode uint8", el(rights(axdr.Array(), axdr.Array(axdr.Structure(axdr.Int8(1), axdr.Uint8(1)))))},
		{"method id uint8", el(rights(axdr.Array(), axdr.Array(axdr.Structure(axdr.Uint8(1), axdr.Enum(1)))))},
	} {
		if _, err := ParseObjectList(tt.d); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestAccessRights(t *testing.T) {
	pg := NewProfileGeneric(mustLN("1.0.99.1.0.255"), nil, 900, 10, nil)
	full, _ := FullAccess(pg)
	ro, _ := ReadOnlyAccess(pg)
	auth := AccessRights{
		Attributes: []AttributeAccess{{2, AuthenticatedReadWrite, []int8{1}}},
		Methods:    []MethodAccessItem{{1, AuthenticatedMethodAccess}},
	}
	plain, signed := Caller{}, Caller{Protection: ProtAuthenticated | ProtEncrypted}
	rng := (&RangeDescriptor{}).Access()
	ent := (&EntryDescriptor{}).Access()
	tests := []struct {
		name string
		err  error
		want Result
	}{
		{"full get buffer", full.CheckGet(&AttributeRequest{Attribute: 2}), 0},
		{"full get range", full.CheckGet(&AttributeRequest{Attribute: 2, Access: rng}), 0},
		{"full get ln selective", full.CheckGet(&AttributeRequest{Attribute: 1, Access: rng}), ResultScopeOfAccessViolated},
		{"full set ln", full.CheckSet(&AttributeRequest{Attribute: 1}), ResultReadWriteDenied},
		{"full set period", full.CheckSet(&AttributeRequest{Attribute: 4}), 0},
		{"full get attr 9", full.CheckGet(&AttributeRequest{Attribute: 9}), ResultReadWriteDenied},
		{"full capture", full.CheckAction(&MethodRequest{Method: 2}), 0},
		{"ro set", ro.CheckSet(&AttributeRequest{Attribute: 4}), ResultReadWriteDenied},
		{"ro action", ro.CheckAction(&MethodRequest{Method: 1}), ResultReadWriteDenied},
		{"auth get plain", auth.CheckGet(&AttributeRequest{Caller: plain, Attribute: 2}), ResultReadWriteDenied},
		{"auth get protected", auth.CheckGet(&AttributeRequest{Caller: signed, Attribute: 2}), 0},
		{"auth set protected", auth.CheckSet(&AttributeRequest{Caller: signed, Attribute: 2}), 0},
		{"auth entry selector", auth.CheckGet(&AttributeRequest{Caller: signed, Attribute: 2, Access: ent}), ResultScopeOfAccessViolated},
		{"auth action plain", auth.CheckAction(&MethodRequest{Caller: plain, Method: 1}), ResultReadWriteDenied},
		{"auth action protected", auth.CheckAction(&MethodRequest{Caller: signed, Method: 1}), 0},
	}
	for _, tt := range tests {
		wantResult(t, tt.name, tt.err, tt.want)
	}
	for m := NoAccess; m <= AuthenticatedReadWrite+1; m++ {
		if m.String() == "" {
			t.Errorf("mode %d has no name", m)
		}
	}
}
