package apdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

// traceFile and traceStep are the hex view of the traces that fuzz_test.go
// seeds from; the tests here use dlmstrace directly.
type traceFile struct{ Steps []traceStep }
type traceStep struct{ APDU, Decrypted string }

func loadTraces(tb testing.TB) []traceFile {
	var out []traceFile
	for _, f := range dlmstrace.All(tb) {
		tf := traceFile{Steps: make([]traceStep, len(f.Steps))}
		for i, s := range f.Steps {
			tf.Steps[i] = traceStep{APDU: s.APDUHex, Decrypted: s.DecryptedAPDUHex}
		}
		out = append(out, tf)
	}
	return out
}

// traceDirQuiet returns "" instead of skipping, for fuzz seeding.
func traceDirQuiet() string {
	dir, err := dlmstrace.Locate()
	if err != nil {
		return ""
	}
	return dir
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// isProtectedRLRE picks the one step whose BER lengths are wrong.
func isProtectedRLRE(file string, s dlmstrace.Step) bool {
	return strings.HasPrefix(file, "10-") && strings.HasPrefix(s.APDUHex, "63") && s.DecryptedAPDUHex != ""
}

// noteKinds maps how the trace notes name an APDU to Kind().
var noteKinds = []struct{ prefix, kind string }{
	{"AARQ", "aarq"}, {"AARE", "aare"}, {"RLRQ", "rlrq"}, {"RLRE", "rlre"},
	{"GET-request normal", "get-request-normal"}, {"GET-request next", "get-request-next"},
	{"GET-response normal", "get-response-normal"}, {"GET-response with-datablock", "get-response-with-datablock"},
	{"SET-request normal", "set-request-normal"}, {"SET-response normal", "set-response-normal"},
	{"ACTION-request normal", "action-request-normal"}, {"ACTION-response normal", "action-response-normal"},
	{"EXCEPTION-response", "exception-response"},
	{"InitiateRequest", "initiate-request"}, {"InitiateResponse", "initiate-response"},
}

func kindOfNote(desc string) string {
	for _, k := range noteKinds {
		if strings.HasPrefix(desc, k.prefix) {
			return k.kind
		}
	}
	return ""
}

var (
	reInvoke     = regexp.MustCompile(`invoke-id-and-priority 0x([0-9A-F]{2})`)
	reAttr       = regexp.MustCompile(`class (\d+) (\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+)\.(\d+) (attr|method) (\d+)`)
	reResult     = regexp.MustCompile(`result (\d+) \(`)
	reBlock      = regexp.MustCompile(`last-block=(True|False) block-number (\d+) raw-data (\d+) bytes`)
	reBlockNum   = regexp.MustCompile(`block-number (\d+)`)
	reSelector   = regexp.MustCompile(`selective access selector (\d+)`)
	reTrailing   = regexp.MustCompile(`(\d+) trailing bytes after (?:the Data value|raw-data): ([0-9A-F]+)`)
	reConf       = regexp.MustCompile(`conformance ([0-9A-F]{6}) \[([a-z0-9,-]*)\]`)
	rePDUSize    = regexp.MustCompile(`max-receive-pdu-size (\d+)`)
	reContext    = regexp.MustCompile(`application-context-name 6085740508010(\d)`)
	reMechanism  = regexp.MustCompile(`mechanism-name 6085740508020(\d)`)
	reAuthValue  = regexp.MustCompile(`(?:calling|responding)-authentication-value ([0-9A-F]+)`)
	reAPTitle    = regexp.MustCompile(`(?:calling|responding)-AP-title ([0-9A-F]+)`)
	reDiag       = regexp.MustCompile(`acse-service-user (\d+)`)
	reReason     = regexp.MustCompile(`release reason (\d+)`)
	reException  = regexp.MustCompile(`state-error (\d+) .* service-error (\d+)`)
	reScalarData = regexp.MustCompile(`data: (uint16|uint32|enum|boolean|int8) (\S+)`)
	reOctetData  = regexp.MustCompile(`data: octet-string\[(\d+)\] ([0-9A-F]+)`)
	reArrayData  = regexp.MustCompile(`data: array\[(\d+)\]`)
	reParams     = regexp.MustCompile(`parameters: (?:octet-string\[\d+\] ([0-9A-F]+)|int8 (-?\d+))`)
	reVersion    = regexp.MustCompile(`dlms-version (\d+)`)
)

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// checkNote asserts that a agrees with the trace's own decode of it.
func checkNote(t *testing.T, a APDU, trailing []byte, desc string) {
	t.Helper()
	want := kindOfNote(desc)
	if want == "" {
		t.Fatalf("note names no known APDU: %q", desc)
	}
	if a.Kind() != want {
		t.Fatalf("kind %s, note says %s", a.Kind(), want)
	}
	if m := reInvoke.FindStringSubmatch(desc); m != nil {
		v, _ := strconv.ParseUint(m[1], 16, 8)
		if got := invokeOf(a); got != InvokeIDAndPriority(v) {
			t.Errorf("invoke-id-and-priority %#x, note says %#x", got, v)
		}
	}
	if m := reAttr.FindStringSubmatch(desc); m != nil {
		class, inst, id := descriptorOf(t, a)
		var obis [6]byte
		for i := range obis {
			obis[i] = byte(atoi(m[2+i]))
		}
		if class != uint16(atoi(m[1])) || inst != obis || id != int8(atoi(m[9])) {
			t.Errorf("descriptor %d %v %d, note says %s", class, inst, id, m[0])
		}
	}
	if m := reTrailing.FindStringSubmatch(desc); m != nil {
		if hex.EncodeToString(trailing) != strings.ToLower(m[2]) || len(trailing) != atoi(m[1]) {
			t.Errorf("trailing %X, note says %s", trailing, m[2])
		}
	} else if len(trailing) != 0 {
		t.Errorf("unexpected trailing bytes %X", trailing)
	}
	switch v := a.(type) {
	case *AARQ:
		checkACSECommon(t, desc, v.ApplicationContext, v.HasMechanismName, v.MechanismName, v.CallingAuthenticationValue, v.CallingAPTitle)
		checkUserInfo(t, v.UserInformation, desc)
	case *AARE:
		checkACSECommon(t, desc, v.ApplicationContext, v.HasMechanismName, v.MechanismName, v.RespondingAuthenticationValue, v.RespondingAPTitle)
		if m := reResult.FindStringSubmatch(desc); m == nil || AssociationResult(atoi(m[1])) != v.Result {
			t.Errorf("result %v, note: %q", v.Result, desc)
		}
		if m := reDiag.FindStringSubmatch(desc); m == nil || v.Diagnostic != (Diagnostic{DiagnosticServiceUser, uint8(atoi(m[1]))}) {
			t.Errorf("diagnostic %+v, note: %q", v.Diagnostic, desc)
		}
		checkUserInfo(t, v.UserInformation, desc)
	case *RLRQ:
		checkRelease(t, desc, v.HasReason, v.Reason, v.UserInformation)
	case *RLRE:
		checkRelease(t, desc, v.HasReason, v.Reason, v.UserInformation)
	case *InitiateRequest:
		checkInitiate(t, desc, v.DLMSVersion, v.Conformance, v.ClientMaxReceivePDUSize)
	case *InitiateResponse:
		checkInitiate(t, desc, v.DLMSVersion, v.Conformance, v.ServerMaxReceivePDUSize)
		if v.VAAName != VAANameLN || !strings.Contains(desc, "vaa-name 0x0007") {
			t.Errorf("vaa-name %#x", v.VAAName)
		}
	case *GetRequestNormal:
		m := reSelector.FindStringSubmatch(desc)
		switch {
		case m == nil && v.Access != nil:
			t.Errorf("unexpected selective access %+v", v.Access)
		case m != nil && (v.Access == nil || v.Access.Selector != uint8(atoi(m[1]))):
			t.Errorf("selective access %+v, note says selector %s", v.Access, m[1])
		case m != nil && (v.Access.Parameters.Tag != axdr.TagStructure || len(v.Access.Parameters.Items) != 4):
			t.Errorf("selective access parameters %v", v.Access.Parameters)
		}
	case *GetRequestNext:
		if m := reBlockNum.FindStringSubmatch(desc); m == nil || v.BlockNumber != uint32(atoi(m[1])) {
			t.Errorf("block-number %d, note: %q", v.BlockNumber, desc)
		}
	case *GetResponseNormal:
		checkData(t, v.Result, desc)
	case *GetResponseWithDataBlock:
		m := reBlock.FindStringSubmatch(desc)
		if m == nil {
			t.Fatalf("note has no block: %q", desc)
		}
		if v.Block.LastBlock != (m[1] == "True") || v.Block.BlockNumber != uint32(atoi(m[2])) ||
			len(v.Block.Raw) != atoi(m[3]) || v.Block.IsAccessResult {
			t.Errorf("block %v/%d/%d bytes, note: %s", v.Block.LastBlock, v.Block.BlockNumber, len(v.Block.Raw), m[0])
		}
	case *SetRequestNormal:
		if m := reOctetData.FindStringSubmatch(strings.Replace(desc, "value:", "data:", 1)); m == nil ||
			v.Value.Tag != axdr.TagOctetString || hex.EncodeToString(v.Value.Bytes) != strings.ToLower(m[2]) {
			t.Errorf("value %v, note: %q", v.Value, desc)
		}
	case *SetResponseNormal:
		if m := reResult.FindStringSubmatch(desc); m == nil || DataAccessResult(atoi(m[1])) != v.Result {
			t.Errorf("result %v, note: %q", v.Result, desc)
		}
	case *ActionRequestNormal:
		m := reParams.FindStringSubmatch(desc)
		switch {
		case m == nil || v.Parameters == nil:
			t.Errorf("parameters %v, note: %q", v.Parameters, desc)
		case m[1] != "" && hex.EncodeToString(v.Parameters.Bytes) != strings.ToLower(m[1]):
			t.Errorf("parameters %v, note says %s", v.Parameters, m[1])
		case m[2] != "":
			if n, ok := v.Parameters.Int(); !ok || v.Parameters.Tag != axdr.TagInt8 || n != int64(atoi(m[2])) {
				t.Errorf("parameters %v, note says int8 %s", v.Parameters, m[2])
			}
		}
	case *ActionResponseNormal:
		if m := reResult.FindStringSubmatch(desc); m == nil || ActionResult(atoi(m[1])) != v.Result {
			t.Errorf("result %v, note: %q", v.Result, desc)
		}
		if strings.Contains(desc, "no return-parameters") != (v.ReturnParameters == nil) {
			t.Errorf("return-parameters %v, note: %q", v.ReturnParameters, desc)
		}
		if v.ReturnParameters != nil {
			checkData(t, *v.ReturnParameters, strings.Replace(desc, "return-parameters data:", "data:", 1))
		}
	case *ExceptionResponse:
		m := reException.FindStringSubmatch(desc)
		if m == nil || v.StateError != StateError(atoi(m[1])) || v.ServiceError != ServiceError(atoi(m[2])) {
			t.Errorf("exception %v/%v, note: %q", v.StateError, v.ServiceError, desc)
		}
		if v.StateError.String() != "service-not-allowed" || v.ServiceError.String() != "service-not-supported" {
			t.Errorf("names %s %s", v.StateError, v.ServiceError)
		}
	default:
		t.Fatalf("no note check for %T", a)
	}
}

func checkACSECommon(t *testing.T, desc string, ctx ApplicationContext, hasMech bool, mech Mechanism, auth, title []byte) {
	t.Helper()
	if m := reContext.FindStringSubmatch(desc); m == nil || ApplicationContext(atoi(m[1])) != ctx {
		t.Errorf("application context %d, note: %q", ctx, desc)
	}
	if m := reMechanism.FindStringSubmatch(desc); (m != nil) != hasMech || (m != nil && Mechanism(atoi(m[1])) != mech) {
		t.Errorf("mechanism %v %d, note: %q", hasMech, mech, desc)
	}
	if m := reAuthValue.FindStringSubmatch(desc); (m != nil) != (auth != nil) || (m != nil && hex.EncodeToString(auth) != strings.ToLower(m[1])) {
		t.Errorf("authentication value %X, note: %q", auth, desc)
	}
	if m := reAPTitle.FindStringSubmatch(desc); (m != nil) != (title != nil) || (m != nil && hex.EncodeToString(title) != strings.ToLower(m[1])) {
		t.Errorf("AP title %X, note: %q", title, desc)
	}
}

// checkUserInfo decodes the plaintext InitiateRequest/Response, or checks
// that a ciphered one is routed as such.
func checkUserInfo(t *testing.T, ui []byte, desc string) {
	t.Helper()
	a, err := Decode(ui)
	if err != nil {
		t.Fatalf("user-information %X: %v", ui, err)
	}
	if c, ok := a.(*Ciphered); ok {
		if !strings.Contains(desc, "user-information: "+strings.Replace(c.Kind(), "-initiate-r", "-InitiateR", 1)) {
			t.Errorf("user-information is %s, note: %q", c.Kind(), desc)
		}
		return
	}
	_, after, ok := strings.Cut(desc, "user-information: ")
	if !ok {
		t.Fatalf("note has no user-information: %q", desc)
	}
	checkNote(t, a, nil, after)
}

func checkInitiate(t *testing.T, desc string, version uint8, c Conformance, pdu uint16) {
	t.Helper()
	m := reConf.FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("note has no conformance: %q", desc)
	}
	if c.String() != m[1]+" ["+m[2]+"]" {
		t.Errorf("conformance %s, note says %s [%s]", c, m[1], m[2])
	}
	if p := rePDUSize.FindStringSubmatch(desc); p == nil || uint16(atoi(p[1])) != pdu {
		t.Errorf("max pdu %d, note: %q", pdu, desc)
	}
	if v := reVersion.FindStringSubmatch(desc); v == nil || uint8(atoi(v[1])) != version {
		t.Errorf("version %d, note: %q", version, desc)
	}
}

func checkRelease(t *testing.T, desc string, has bool, r ReleaseReason, ui []byte) {
	t.Helper()
	if m := reReason.FindStringSubmatch(desc); m == nil || !has || r != ReleaseReason(atoi(m[1])) {
		t.Errorf("reason %v %d, note: %q", has, r, desc)
	}
	if strings.Contains(desc, "user-information") != (ui != nil) {
		t.Errorf("user-information %X, note: %q", ui, desc)
	}
	if ui != nil {
		checkUserInfo(t, ui, desc)
	}
}

func checkData(t *testing.T, r GetDataResult, desc string) {
	t.Helper()
	if r.IsAccessResult {
		t.Fatalf("data-access-result %v, note: %q", r.AccessResult, desc)
	}
	d := r.Data
	switch {
	case reScalarData.MatchString(desc):
		m := reScalarData.FindStringSubmatch(desc)
		if want := m[1] + " " + strings.TrimSuffix(m[2], ","); d.String() != want {
			t.Errorf("data %v, note says %s", d, want)
		}
	case reOctetData.MatchString(desc):
		m := reOctetData.FindStringSubmatch(desc)
		if d.Tag != axdr.TagOctetString || len(d.Bytes) != atoi(m[1]) || hex.EncodeToString(d.Bytes) != strings.ToLower(m[2]) {
			t.Errorf("data %v, note says %s", d, m[0])
		}
	case reArrayData.MatchString(desc):
		m := reArrayData.FindStringSubmatch(desc)
		if d.Tag != axdr.TagArray || len(d.Items) != atoi(m[1]) {
			t.Errorf("data %v, note says %s", d, m[0])
		}
	case strings.Contains(desc, "data: structure[2]{int8 -2, enum 30}"):
		if d.String() != "structure{int8 -2, enum 30}" {
			t.Errorf("data %v", d)
		}
	default:
		t.Fatalf("no data check for note %q", desc)
	}
}

func invokeOf(a APDU) InvokeIDAndPriority {
	switch v := a.(type) {
	case *GetRequestNormal:
		return v.InvokeID
	case *GetRequestNext:
		return v.InvokeID
	case *GetResponseNormal:
		return v.InvokeID
	case *GetResponseWithDataBlock:
		return v.InvokeID
	case *SetRequestNormal:
		return v.InvokeID
	case *SetResponseNormal:
		return v.InvokeID
	case *ActionRequestNormal:
		return v.InvokeID
	case *ActionResponseNormal:
		return v.InvokeID
	}
	return 0
}

func descriptorOf(t *testing.T, a APDU) (uint16, [6]byte, int8) {
	switch v := a.(type) {
	case *GetRequestNormal:
		return v.Attribute.ClassID, v.Attribute.InstanceID, v.Attribute.AttributeID
	case *SetRequestNormal:
		return v.Attribute.ClassID, v.Attribute.InstanceID, v.Attribute.AttributeID
	case *ActionRequestNormal:
		return v.Method.ClassID, v.Method.InstanceID, v.Method.MethodID
	}
	t.Fatalf("%T has no descriptor", a)
	return 0, [6]byte{}, 0
}

// TestTraces decodes every APDU of every trace, checks it against the
// trace's note, and re-encodes it to the same bytes.
func TestTraces(t *testing.T) {
	n := 0
	for _, f := range dlmstrace.All(t) {
		for i, s := range f.Steps {
			if s.APDUHex == "" {
				continue
			}
			n++
			t.Run(fmt.Sprintf("%s/%02d", f.Name, i), func(t *testing.T) {
				checkStep(t, f.Name, s)
			})
		}
	}
	if n < 100 {
		t.Errorf("only %d APDUs checked", n)
	}
}

func checkStep(t *testing.T, file string, s dlmstrace.Step) {
	raw := s.APDU()
	i := strings.LastIndex(s.Note, " | ")
	if i < 0 {
		t.Fatalf("note without decode: %q", s.Note)
	}
	desc := s.Note[i+3:]
	a, trailing, err := Tolerant.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", s.APDUHex, err)
	}
	if c, ok := a.(*Ciphered); ok {
		kind, inner, ok := strings.Cut(desc, " -> ")
		if !ok || !strings.HasPrefix(kind, c.Kind()) {
			t.Fatalf("routed as %s, note: %q", c.Kind(), desc)
		}
		if !bytes.Equal(c.Raw, raw) || trailing != nil {
			t.Fatalf("ciphered APDU not kept whole")
		}
		plain := s.Plain()
		p, ptrail, err := Tolerant.Decode(plain)
		if err != nil {
			t.Fatalf("decode plaintext %s: %v", s.DecryptedAPDUHex, err)
		}
		checkNote(t, p, ptrail, inner)
		checkReencode(t, p, ptrail, plain)
		a, raw, trailing = p, plain, ptrail
	} else {
		checkNote(t, a, trailing, desc)
		if s.DecryptedAPDUHex != "" {
			// The plaintext of the glo-Initiate in user-information.
			_, inner, _ := strings.Cut(desc, " = ")
			p, err := Decode(s.Plain())
			if err != nil {
				t.Fatalf("decode plaintext %s: %v", s.DecryptedAPDUHex, err)
			}
			checkNote(t, p, nil, inner)
			checkReencode(t, p, nil, s.Plain())
		}
	}
	if isProtectedRLRE(file, s) {
		// TestQuirkProtectedRLREWrongBERLengths covers the re-encoding.
		return
	}
	checkReencode(t, a, trailing, raw)
	// Strict decoding accepts the same bytes exactly when nothing trails.
	if _, err := Decode(raw); (err == nil) != (trailing == nil) {
		t.Errorf("strict decode: %v (trailing %X)", err, trailing)
	} else if err != nil && !errors.Is(err, ErrTrailingData) {
		t.Errorf("strict decode: %v, want ErrTrailingData", err)
	}
}

func checkReencode(t *testing.T, a APDU, trailing, want []byte) {
	t.Helper()
	got, err := Append(nil, a)
	if err != nil {
		t.Fatalf("re-encode %s: %v", a.Kind(), err)
	}
	got = append(got, trailing...)
	if !bytes.Equal(got, want) {
		t.Errorf("re-encoded %s\n got %X\nwant %X", a.Kind(), got, want)
	}
}
