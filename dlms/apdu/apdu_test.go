package apdu

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

var attrClock = AttributeDescriptor{ClassID: 8, InstanceID: clockLN, AttributeID: 2}
var methodDisc = MethodDescriptor{ClassID: 70, InstanceID: disconnect, MethodID: 1}

// roundTrips lists one value of every APDU type with its encoding, built
// by hand from the Green Book ASN.1.
var roundTrips = []struct {
	name string
	a    APDU
	hex  string
}{
	{"get-request-with-list", &GetRequestWithList{InvokeID: 0xC2, Attributes: []AttributeRequest{
		{Attribute: attrClock},
		{Attribute: AttributeDescriptor{ClassID: 7, InstanceID: profileLN, AttributeID: 2},
			Access: &SelectiveAccess{Selector: 2, Parameters: axdr.Uint32(1)}},
	}}, "C003C202" + "00080000010000FF0200" + "00070100630100FF02010206" + "00000001"},
	{"get-response-with-list", &GetResponseWithList{InvokeID: 0xC2, Results: []GetDataResult{
		ResultData(axdr.Uint16(7)), ResultError(ObjectUndefined)}}, "C403C202" + "00120007" + "0104"},
	{"get-response-normal error", &GetResponseNormal{InvokeID: 0xC1, Result: ResultError(ReadWriteDenied)}, "C401C10103"},
	{"get-response-with-datablock error", &GetResponseWithDataBlock{InvokeID: 0xC1,
		Block: DataBlockG{LastBlock: true, BlockNumber: 5, AccessResult: LongGetAborted, IsAccessResult: true}},
		"C402C10100000005010F"},
	{"set-request-with-first-datablock", &SetRequestWithFirstDataBlock{InvokeID: 0xC1, Attribute: attrClock,
		Block: DataBlockSA{BlockNumber: 1, Raw: []byte{9, 12, 7}}}, "C102C1" + "00080000010000FF0200" + "00" + "0000000103090C07"},
	{"set-request-with-datablock", &SetRequestWithDataBlock{InvokeID: 0xC1,
		Block: DataBlockSA{LastBlock: true, BlockNumber: 2, Raw: []byte{0xEA}}}, "C103C1" + "01" + "00000002" + "01EA"},
	{"set-request-with-list", &SetRequestWithList{InvokeID: 0xC1,
		Attributes: []AttributeRequest{{Attribute: attrClock}},
		Values:     []axdr.Data{axdr.Null()}}, "C104C101" + "00080000010000FF0200" + "0100"},
	{"set-request-with-list-and-first-datablock", &SetRequestWithListAndFirstDataBlock{InvokeID: 0xC1,
		Attributes: []AttributeRequest{{Attribute: attrClock}},
		Block:      DataBlockSA{BlockNumber: 1, Raw: []byte{1}}}, "C105C101" + "00080000010000FF0200" + "000000000101" + "01"},
	{"set-response-datablock", &SetResponseDataBlock{InvokeID: 0xC1, BlockNumber: 3}, "C502C100000003"},
	{"set-response-last-datablock", &SetResponseLastDataBlock{InvokeID: 0xC1, Result: Success, BlockNumber: 4}, "C503C10000000004"},
	{"set-response-last-datablock-with-list", &SetResponseLastDataBlockWithList{InvokeID: 0xC1,
		Results: []DataAccessResult{Success, TypeUnmatched}, BlockNumber: 4}, "C504C102000C00000004"},
	{"set-response-with-list", &SetResponseWithList{InvokeID: 0xC1, Results: []DataAccessResult{OtherReason}}, "C505C101FA"},
	{"action-request-normal no params", &ActionRequestNormal{InvokeID: 0xC1, Method: methodDisc}, "C301C10046000060030AFF0100"},
	{"action-request-next-pblock", &ActionRequestNextPBlock{InvokeID: 0xC1, BlockNumber: 1}, "C302C100000001"},
	{"action-request-with-list", &ActionRequestWithList{InvokeID: 0xC1,
		Methods: []MethodDescriptor{methodDisc}, Parameters: []axdr.Data{axdr.Int8(0)}},
		"C303C1010046000060030AFF01010F00"},
	{"action-request-with-first-pblock", &ActionRequestWithFirstPBlock{InvokeID: 0xC1, Method: methodDisc,
		Block: DataBlockSA{BlockNumber: 1, Raw: []byte{0x0F}}}, "C304C10046000060030AFF01" + "00" + "00000001" + "010F"},
	{"action-request-with-list-and-first-pblock", &ActionRequestWithListAndFirstPBlock{InvokeID: 0xC1,
		Methods: []MethodDescriptor{methodDisc}, Block: DataBlockSA{LastBlock: true, BlockNumber: 1}},
		"C305C1010046000060030AFF01" + "01" + "00000001" + "00"},
	{"action-request-with-pblock", &ActionRequestWithPBlock{InvokeID: 0xC1, Block: DataBlockSA{BlockNumber: 2, Raw: []byte{}}},
		"C306C1" + "00" + "00000002" + "00"},
	{"action-response-normal data", &ActionResponseNormal{InvokeID: 0xC1, ActionResponseResult: ActionResponseResult{
		Result: ActionSuccess, ReturnParameters: &GetDataResult{Data: axdr.Uint8(5)}}}, "C701C1000100" + "1105"},
	{"action-response-normal error", &ActionResponseNormal{InvokeID: 0xC1, ActionResponseResult: ActionResponseResult{
		Result: ActionTemporaryFailure, ReturnParameters: &GetDataResult{AccessResult: ObjectUnavailable, IsAccessResult: true}}},
		"C701C10201010B"},
	{"action-response-with-pblock", &ActionResponseWithPBlock{InvokeID: 0xC1, Block: DataBlockSA{LastBlock: true, BlockNumber: 1, Raw: []byte{0x11, 0x05}}},
		"C702C101000000010211" + "05"},
	{"action-response-with-list", &ActionResponseWithList{InvokeID: 0xC1, Results: []ActionResponseResult{
		{Result: ActionSuccess}, {Result: ActionObjectUndefined}}}, "C703C1020000" + "0400"},
	{"action-response-next-pblock", &ActionResponseNextPBlock{InvokeID: 0xC1, BlockNumber: 9}, "C704C100000009"},
	{"event-notification-request", &EventNotificationRequest{Time: unhexS("07EA0B170115162500000000"), Attribute: attrClock,
		Value: axdr.Uint16(1)}, "C2010C07EA0B170115162500000000" + "00080000010000FF02" + "120001"},
	{"event-notification-request no time", &EventNotificationRequest{Attribute: attrClock, Value: axdr.Null()},
		"C200" + "00080000010000FF02" + "00"},
	{"data-notification no time", &DataNotification{LongInvokeID: 0x40000001, Body: axdr.Structure(axdr.Uint8(1))},
		"0F40000001" + "00" + "02011101"},
	{"data-notification data-form time", &DataNotification{LongInvokeID: 1, DateTime: unhexS("07EA0B170115162500000000"), Body: axdr.Null()},
		"0F00000001" + "090C07EA0B170115162500000000" + "00"},
	{"data-notification bare time", &DataNotification{LongInvokeID: 1, DateTime: unhexS("07EA0B170115162500000000"), DateTimeBare: true, Body: axdr.Null()},
		"0F00000001" + "0C07EA0B170115162500000000" + "00"},
	{"exception invocation-counter-error", &ExceptionResponse{StateError: StateServiceNotAllowed,
		ServiceError: ServiceInvocationCounterError, InvocationCounter: 0x1234}, "D8010600001234"},
	{"confirmed-service-error", &ConfirmedServiceError{Service: ServiceInitiateError, ErrorType: ErrorTypeInitiate,
		Value: InitiateDLMSVersionTooLow}, "0E010601"},
	{"initiate-request full", &InitiateRequest{DedicatedKey: bytes.Repeat([]byte{0xAB}, 16), ResponseNotAllowed: true,
		QualityOfService: -1, HasQualityOfService: true, DLMSVersion: 6, Conformance: ConformanceGet, ClientMaxReceivePDUSize: 1024},
		"010110" + "ABABABABABABABABABABABABABABABAB" + "0100" + "01FF" + "06" + "5F1F0400000010" + "0400"},
	{"initiate-response qos", &InitiateResponse{QualityOfService: 3, HasQualityOfService: true, DLMSVersion: 6,
		Conformance: ConformanceGet, ServerMaxReceivePDUSize: 0x4B0, VAAName: VAANameLN}, "08010306" + "5F1F0400000010" + "04B00007"},
	{"rlre with user-information", &RLRE{HasReason: true, UserInformation: unhexS("0800065F1F040000001002000007")},
		"6315800100BE10040E0800065F1F040000001002000007"},
	{"rlrq without reason", &RLRQ{}, "6200"},
	{"aare rejected by provider", &AARE{ApplicationContext: ContextSN, Result: ResultRejectedPermanent,
		Diagnostic: Diagnostic{Source: DiagnosticServiceProvider, Value: 2}, ImplementationInformation: []byte("x")},
		"611AA109060760857405080102A203020101A305A2030201029D0178"},
	{"aarq everything", &AARQ{ProtocolVersion: []byte{0x07, 0x80}, ApplicationContext: ContextLNCiphered,
		CalledAPTitle: []byte{1}, CalledAEQualifier: []byte{2}, CallingAPTitle: []byte{3}, CallingAEQualifier: []byte{4},
		SenderACSERequirements: AuthenticationRequirement(), MechanismName: MechanismHLSECDSA, HasMechanismName: true,
		CallingAuthenticationValue: []byte{5}, ImplementationInformation: []byte{6}, UserInformation: []byte{7}},
		"603D" + "80020780" + "A109060760857405080103" + "A203040101" + "A303040102" + "A603040103" + "A703040104" +
			"8A020780" + "8B0760857405080207" + "AC03800105" + "9D0106" + "BE03040107"},
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTrips {
		t.Run(tc.name, func(t *testing.T) {
			want := unhexS(tc.hex)
			got := mustAppend(t, tc.a)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode\n got %X\nwant %X", got, want)
			}
			a, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind() != tc.a.Kind() {
				t.Fatalf("kind %s", a.Kind())
			}
			if !equalAPDU(a, tc.a) {
				t.Fatalf("decoded %+v\nwant    %+v", a, tc.a)
			}
			// Every proper prefix is an error, never a panic.
			for n := range want {
				if _, err := Decode(want[:n]); err == nil {
					t.Fatalf("prefix %X decoded", want[:n])
				}
			}
		})
	}
}

// equalAPDU compares through the encoding where axdr.Data is involved
// (its fields are unexported), structurally otherwise.
func equalAPDU(a, b APDU) bool {
	ea, err1 := Append(nil, a)
	eb, err2 := Append(nil, b)
	if err1 != nil || err2 != nil || !bytes.Equal(ea, eb) {
		return false
	}
	switch b.(type) {
	case *AARQ, *AARE, *RLRQ, *RLRE, *InitiateRequest, *InitiateResponse, *ConfirmedServiceError,
		*ExceptionResponse, *SetResponseWithList, *SetResponseLastDataBlockWithList:
		return reflect.DeepEqual(a, b)
	}
	return true
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		opts Options
		err  error
		off  int
	}{
		{"empty", "", Options{}, ErrTruncated, 0},
		{"unknown tag", "77", Options{}, ErrUnknownTag, 0},
		{"short-name read", "0501", Options{}, ErrUnsupported, 0},
		{"general-block-transfer", "E0", Options{}, ErrUnsupported, 0},
		{"get choice", "C009C1", Options{}, ErrUnknownTag, 1},
		{"get no invoke", "C001", Options{}, ErrTruncated, 1},
		{"get descriptor cut", "C001C100080000", Options{}, ErrTruncated, 3},
		{"get access flag", "C001C100080000010000FF0202", Options{}, ErrInvalid, 12},
		{"get-data-result choice", "C401C107", Options{}, ErrUnknownTag, 3},
		{"bad data tag", "C401C100FE", Options{}, axdr.ErrUnknownTag, 4},
		{"datablock raw cut", "C402C10000000001000501", Options{}, ErrTruncated, 9},
		{"forged list count", "C003C182FFFF", Options{}, ErrTooLarge, 3},
		{"forged result count", "C505C184FFFFFFFF", Options{}, ErrBERLength, 3},
		{"conformance tag", "01000000065F1E0400401E5DFFFF", Options{}, ErrUnknownTag, 5},
		{"exception ic cut", "D8010600", Options{}, ErrTruncated, 3},
		{"trailing", "C501C10000", Options{}, ErrTrailingData, 4},
		{"aarq no context", "6004BE020400", Options{}, ErrInvalid, 0},
		{"aarq tag without length", "6001A1", Options{}, ErrTruncated, 3},
		{"aarq length octets cut", "6002A181", Options{}, ErrTruncated, 3},
		{"aarq element past parent", "6002A1010600", Options{}, ErrBERLength, 2},
		{"aarq indefinite length", "6080", Options{}, ErrBERLength, 1},
		{"aarq foreign context", "600BA109060760857405080901", Options{}, ErrInvalid, 2},
		{"aarq AP title not octet string", "600FA109060760857405080101A6020500", Options{}, ErrUnknownTag, 15},
		{"aare result too big", "6110A109060760857405080101A2030201FF", Options{}, ErrInvalid, 13},
		{"explicit with extra content", "600CA10A06076085740508010100", Options{}, ErrBERLength, 13},
		{"ciphered inner tag in user-info", "6004BE020500", Options{}, ErrUnknownTag, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.opts.Decode(unhexS(tc.hex))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Offset != tc.off {
				t.Fatalf("offset %d, want %d (%v)", de.Offset, tc.off, err)
			}
		})
	}
}

// TestACSESkipsUnknownElements: elements this package does not decode
// (invocation identifiers, high-tag-number ones) are passed over.
func TestACSESkipsUnknownElements(t *testing.T) {
	raw := unhexS("602D" + "A109060760857405080101" + "A803020105" + "BF2003020100" + "A903020107" +
		"BE10040E01000000065F1F0400401E5DFFFF")
	a, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := a.(*AARQ)
	if q.ApplicationContext != ContextLN || len(q.UserInformation) != 14 {
		t.Fatalf("%+v", q)
	}
	got := mustAppend(t, q)
	if want := "601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF"; !bytes.Equal(got, unhexS(want)) {
		t.Fatalf("re-encoded %X", got)
	}
}

// TestACSELongLengths: an AE qualifier carrying a certificate needs long
// BER lengths at every level.
func TestACSELongLengths(t *testing.T) {
	for _, n := range []int{0x7D, 0x80, 0xFF, 0x100, 0x1234, 0x10000} {
		cert := bytes.Repeat([]byte{0x5A}, n)
		q := &AARQ{ApplicationContext: ContextLNCiphered, CallingAEQualifier: cert, UserInformation: []byte{1, 2}}
		b := mustAppend(t, q)
		a, err := Decode(b)
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if got := a.(*AARQ); !bytes.Equal(got.CallingAEQualifier, cert) || !bytes.Equal(got.UserInformation, []byte{1, 2}) {
			t.Fatalf("%d: fields lost", n)
		}
		for _, cut := range []int{1, 2, 3, 5, len(b) / 2, len(b) - 1} {
			if _, err := Decode(b[:cut]); !errors.Is(err, ErrTruncated) {
				t.Fatalf("%d cut at %d: %v", n, cut, err)
			}
		}
	}
}

func TestCipheredRouting(t *testing.T) {
	raw := unhexS("DB0847757275783132331E30000003F2B5EE")
	a, trailing, err := Tolerant.Decode(raw)
	if err != nil || trailing != nil {
		t.Fatal(err)
	}
	c, ok := a.(*Ciphered)
	if !ok || c.Tag != 0xDB || c.Kind() != "general-glo-ciphering" || !bytes.Equal(c.Raw, raw) {
		t.Fatalf("%+v", a)
	}
	if got := mustAppend(t, c); !bytes.Equal(got, raw) {
		t.Fatalf("%X", got)
	}
	for _, tag := range []byte{0x21, 0x28, 0xC8, 0xCC, 0xCB, 0xCF, 0xD0, 0xDC, 0xDD, 0xDF} {
		if !IsCiphered(tag) {
			t.Errorf("%#x not ciphered", tag)
		}
	}
	for _, tag := range []byte{0xC0, 0xC4, 0x60, 0x01, 0xD8, 0xE0} {
		if IsCiphered(tag) {
			t.Errorf("%#x ciphered", tag)
		}
	}
	if _, err := (&Ciphered{Tag: 0xC0, Raw: []byte{0xC0}}).Append(nil); !errors.Is(err, ErrEncode) {
		t.Fatalf("plain tag as ciphered: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, a := range []APDU{
		&AARQ{},
		&AARE{ApplicationContext: ContextLN, Result: 200},
		&SetRequestWithList{Attributes: []AttributeRequest{{}}},
		&ActionRequestWithList{Methods: []MethodDescriptor{{}}},
		&DataNotification{DateTime: make([]byte, 9), DateTimeBare: true},
		nil,
	} {
		pre := []byte{1}
		b, err := Append(pre, a)
		if !errors.Is(err, ErrEncode) || !bytes.Equal(b, pre) {
			t.Errorf("%T: %X %v", a, b, err)
		}
	}
}

func TestNames(t *testing.T) {
	if ObjectUndefined.String() != "object-undefined" || DataAccessResult(99).String() != "data-access-result(99)" ||
		ActionLongActionAborted.String() != "long-action-aborted" || ResultRejectedTransient.String() != "rejected-transient" ||
		ServiceInvocationCounterError.String() != "invocation-counter-error" {
		t.Fatal("names")
	}
}
