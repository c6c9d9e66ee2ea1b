package cosem

import (
	"context"
	"reflect"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

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
	pg := stubObject{class: ClassProfileGeneric}
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

// stubObject is an Object of a given class that serves nothing: rights
// depend only on the class.
type stubObject struct{ class uint16 }

func (o stubObject) ClassID() uint16        { return o.class }
func (o stubObject) Version() uint8         { return 0 }
func (o stubObject) LogicalName() obis.Code { return obis.Code{} }
func (o stubObject) Get(context.Context, *AttributeRequest) (axdr.Data, error) {
	return axdr.Data{}, ErrObjectUndefined
}
func (o stubObject) Set(context.Context, *AttributeRequest, axdr.Data) error {
	return ErrObjectUndefined
}
func (o stubObject) Action(context.Context, *MethodRequest, axdr.Data) (axdr.Data, error) {
	return axdr.Data{}, ErrObjectUndefined
}
