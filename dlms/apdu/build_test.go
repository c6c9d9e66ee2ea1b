package apdu

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

var (
	clockLN    = [6]byte{0, 0, 1, 0, 0, 255}
	profileLN  = [6]byte{1, 0, 99, 1, 0, 255}
	icLN       = [6]byte{0, 0, 43, 1, 0, 255}
	disconnect = [6]byte{0, 0, 96, 3, 10, 255}
)

const guruxConformance = ConformanceGeneralProtection | ConformanceBlockTransferWithGetOrRead |
	ConformanceBlockTransferWithSetOrWrite | ConformanceBlockTransferWithAction |
	ConformanceMultipleReferences | ConformanceAccess | ConformanceGet | ConformanceSet |
	ConformanceSelectiveAccess | ConformanceAction

func mustAppend(t *testing.T, a APDU) []byte {
	t.Helper()
	b, err := Append(nil, a)
	if err != nil {
		t.Fatalf("%s: %v", a.Kind(), err)
	}
	return b
}

func initiateRequest(t *testing.T, c Conformance) []byte {
	return mustAppend(t, &InitiateRequest{DLMSVersion: 6, Conformance: c, ClientMaxReceivePDUSize: 0xFFFF})
}

// TestBuildClientRequests builds what the Gurux client sent from scratch
// and requires the trace's bytes.
func TestBuildClientRequests(t *testing.T) {
	rangeParams := axdr.Structure(
		axdr.Structure(axdr.Uint16(8), axdr.OctetString(clockLN[:]), axdr.Int8(2), axdr.Uint16(0)),
		axdr.OctetString(unhexS("07EA0B17FF14160000000000")),
		axdr.OctetString(unhexS("07EA0B17FF16160000000000")),
		axdr.Array(),
	)
	entryParams := axdr.Structure(axdr.Uint32(1), axdr.Uint32(10), axdr.Uint16(1), axdr.Uint16(0))
	hlsUser := unhexS("211F3000000001EA138F2D9AF42F0EC616AA87FE11DB55FBDB5707AF2AB66EB8BE")
	tests := []struct {
		name string
		a    APDU
		want string
	}{
		{"01 AARQ", &AARQ{ApplicationContext: ContextLN, UserInformation: initiateRequest(t, guruxConformance)},
			"601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF"},
		{"03 AARQ LLS", &AARQ{
			ApplicationContext: ContextLN, SenderACSERequirements: AuthenticationRequirement(),
			MechanismName: MechanismLLS, HasMechanismName: true,
			CallingAuthenticationValue: []byte("Gurux"),
			UserInformation:            initiateRequest(t, guruxConformance)},
			"6033A1090607608574050801018A0207808B0760857405080201AC0780054775727578BE10040E01000000065F1F0400401E5DFFFF"},
		{"04 AARQ HLS-GMAC", &AARQ{
			ApplicationContext: ContextLNCiphered, CallingAPTitle: []byte("Gurux123"),
			SenderACSERequirements: AuthenticationRequirement(),
			MechanismName:          MechanismHLSGMAC, HasMechanismName: true,
			CallingAuthenticationValue: unhexS("785F30EC855FB02C3F8D6F7A8F6E54F1"),
			UserInformation:            hlsUser},
			"605DA109060760857405080103A60A040847757275783132338A0207808B0760857405080205AC128010785F30EC855FB02C3F8D6F7A8F6E54F1BE230421211F3000000001EA138F2D9AF42F0EC616AA87FE11DB55FBDB5707AF2AB66EB8BE"},
		{"01 GET IC", &GetRequestNormal{InvokeID: NewInvokeIDAndPriority(1, true, true),
			Attribute: AttributeDescriptor{ClassID: 1, InstanceID: icLN, AttributeID: 2}},
			"C001C1000100002B0100FF0200"},
		{"06 GET profile range", &GetRequestNormal{InvokeID: 0xC1,
			Attribute: AttributeDescriptor{ClassID: 7, InstanceID: profileLN, AttributeID: 2},
			Access:    &SelectiveAccess{Selector: 1, Parameters: rangeParams}},
			"C001C100070100630100FF0201010204020412000809060000010000FF0F02120000090C07EA0B17FF14160000000000090C07EA0B17FF161600000000000100"},
		{"12 GET profile entry", &GetRequestNormal{InvokeID: 0xC1,
			Attribute: AttributeDescriptor{ClassID: 7, InstanceID: profileLN, AttributeID: 2},
			Access:    &SelectiveAccess{Selector: 2, Parameters: entryParams}},
			"C001C100070100630100FF02010202040600000001060000000A120001120000"},
		{"06 GET next", &GetRequestNext{InvokeID: 0xC1, BlockNumber: 1}, "C002C100000001"},
		{"08 SET clock", &SetRequestNormal{InvokeID: 0xC1,
			Attribute: AttributeDescriptor{ClassID: 8, InstanceID: clockLN, AttributeID: 2},
			Value:     axdr.OctetString(unhexS("07EA0101FF00000000000000"))},
			"C101C100080000010000FF0200090C07EA0101FF00000000000000"},
		{"09 ACTION disconnect", &ActionRequestNormal{InvokeID: 0xC1,
			Method:     MethodDescriptor{ClassID: 70, InstanceID: disconnect, MethodID: 1},
			Parameters: ptr(axdr.Int8(0))},
			"C301C10046000060030AFF01010F00"},
		{"01 RLRQ", &RLRQ{HasReason: true, Reason: ReleaseNormal}, "6203800100"},
		{"01 AARE", &AARE{ApplicationContext: ContextLN, Result: ResultAccepted,
			Diagnostic:      Diagnostic{Source: DiagnosticServiceUser, Value: DiagnosticNull},
			UserInformation: mustAppend(t, &InitiateResponse{DLMSVersion: 6, Conformance: ConformanceGet | ConformanceSet, ServerMaxReceivePDUSize: 512, VAAName: VAANameLN})},
			"6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000001802000007"},
		{"04 exception", &ExceptionResponse{StateError: StateServiceNotAllowed, ServiceError: ServiceNotSupported}, "D80102"},
		{"08 SET response", &SetResponseNormal{InvokeID: 0xC1, Result: Success}, "C501C100"},
		{"09 ACTION response", &ActionResponseNormal{InvokeID: 0xC1}, "C701C10000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustAppend(t, tc.a)
			if !strings.EqualFold(hex.EncodeToString(got), tc.want) {
				t.Fatalf("got  %X\nwant %s", got, tc.want)
			}
			// Appending to a non-empty buffer keeps what was there.
			pre := []byte{0xAA, 0xBB}
			got2, err := tc.a.Append(pre)
			if err != nil || !bytes.Equal(got2[:2], pre) || !bytes.Equal(got2[2:], got) {
				t.Fatalf("append to prefix: %X %v", got2, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func unhexS(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestConformanceNames checks the bit numbering against trace 01.
func TestConformanceNames(t *testing.T) {
	want := []string{"general-protection", "block-transfer-with-get-or-read", "block-transfer-with-set-or-write",
		"block-transfer-with-action", "multiple-references", "access", "get", "set", "selective-access", "action"}
	a, err := Decode(unhexS("01000000065F1F0400401E5DFFFF"))
	if err != nil {
		t.Fatal(err)
	}
	c := a.(*InitiateRequest).Conformance
	if c != guruxConformance {
		t.Fatalf("conformance %06X", uint32(c))
	}
	if got := c.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v", got)
	}
	if !c.Has(ConformanceGet|ConformanceSet) || c.Has(ConformanceRead) {
		t.Fatal("Has")
	}
	if ConformanceReservedZero != 0x800000 || ConformanceAction != 1 || ConformanceDataNotification != 0x80 {
		t.Fatal("bit numbering")
	}
	if s := Conformance(0x000018).String(); s != "000018 [get,set]" {
		t.Fatalf("String %q", s)
	}
}

func TestInvokeIDAndPriority(t *testing.T) {
	p := NewInvokeIDAndPriority(1, true, true)
	if p != 0xC1 || p.ID() != 1 || !p.Confirmed() || !p.HighPriority() {
		t.Fatalf("%#x", uint8(p))
	}
	if p := NewInvokeIDAndPriority(0x1F, false, false); p != 0x0F || p.Confirmed() || p.HighPriority() {
		t.Fatalf("%#x", uint8(p))
	}
	l := LongInvokeIDAndPriority(0x40000001)
	if l.ID() != 1 || !l.Confirmed() || l.HighPriority() || l.SelfDescriptive() || l.BreakOnError() {
		t.Fatalf("%#x", uint32(l))
	}
}

// TestOBISCodeAssigns: an obis.Code goes straight into the descriptors.
func TestOBISCodeAssigns(t *testing.T) {
	a := &GetRequestNormal{InvokeID: 0xC1, Attribute: AttributeDescriptor{ClassID: 3, InstanceID: obis.MustParse("1.1.21.25.0.255"), AttributeID: 2}}
	if got := mustAppend(t, a); !bytes.Equal(got, unhexS("C001C100030101151900FF0200")) {
		t.Fatalf("%X", got)
	}
}
