package objects

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/security"
)

func TestDataAndRegister(t *testing.T) {
	d := NewData(mustLN("0.0.96.1.0.255"), axdr.OctetString([]byte("SN1")))
	if got := enc(get(t, d, 2)); got != "0903534E31" {
		t.Fatalf("value %s", got)
	}
	wantResult(t, "read-only data", set(d, 2, axdr.OctetString([]byte("x"))), cosem.ResultReadWriteDenied)
	d.Writable = true
	wantResult(t, "wrong type", set(d, 2, axdr.Uint8(1)), cosem.ResultTypeUnmatched)
	if err := set(d, 2, axdr.OctetString([]byte("SN2"))); err != nil || enc(get(t, d, 2)) != "0903534E32" {
		t.Fatalf("set: %v", err)
	}
	d.Write = func(context.Context, axdr.Data) error { return cosem.Errorf(cosem.ResultTemporaryFailure, "busy") }
	wantResult(t, "write refused", set(d, 2, axdr.OctetString([]byte("SN3"))), cosem.ResultTemporaryFailure)
	_, err := d.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: (&cosem.EntryDescriptor{}).Access()})
	wantResult(t, "selective on data", err, cosem.ResultScopeOfAccessViolated)

	r := NewRegister(mustLN("1.0.1.8.0.255"), axdr.Uint32(12345), axdr.ScalerUnit{Scaler: -1, Unit: 30})
	if got := enc(get(t, r, 3)); got != "02020FFF161E" {
		t.Fatalf("scaler_unit %s", got)
	}
	wantResult(t, "set scaler", set(r, 3, axdr.ScalerUnit{}.Data()), cosem.ResultReadWriteDenied)
	if _, err := act(r, 1, axdr.Int8(0)); err != nil || enc(get(t, r, 2)) != "0600000000" {
		t.Fatalf("reset: %v %s", err, enc(get(t, r, 2)))
	}
	_, err = act(r, 1, axdr.OctetString(nil))
	wantResult(t, "reset param", err, cosem.ResultTypeUnmatched)
	r.Read = func(context.Context) (axdr.Data, error) { return axdr.Uint32(7), nil }
	if got := enc(get(t, r, 2)); got != "0600000007" {
		t.Fatalf("live value %s", got)
	}
	r.Writable = true
	wantResult(t, "register structure", set(r, 2, axdr.Structure()), cosem.ResultTypeUnmatched)
}

// TestTraceRegister checks our Register answers the trace's GETs of
// 1.1.21.25.0.255 with the bytes the Gurux server sent.
func TestTraceRegister(t *testing.T) {
	steps := loadTrace(t, "01-wrapper-none.json")
	var resp [][]byte
	for i, s := range steps {
		if bytes.HasPrefix(apdu(t, s), []byte{0xC0, 0x01, 0xC1, 0x00, 0x03}) {
			resp = append(resp, apdu(t, steps[i+1])[4:])
		}
	}
	if len(resp) != 2 {
		t.Fatalf("%d register responses", len(resp))
	}
	v, _, err := axdr.Decode(resp[0])
	if err != nil {
		t.Fatal(err)
	}
	su, err := axdr.ParseScalerUnit(dec(t, enc(mustDecode(t, resp[1]))))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegister(mustLN("1.1.21.25.0.255"), v, su)
	for i, attr := range []int8{2, 3} {
		if got := axdr.Encode(get(t, r, attr)); !bytes.Equal(got, resp[i]) {
			t.Errorf("attr %d: %X, want %X", attr, got, resp[i])
		}
	}
}

func mustDecode(t *testing.T, b []byte) axdr.Data {
	t.Helper()
	d, _, err := axdr.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestExtendedAndDemandRegister(t *testing.T) {
	now := bgTime
	er := NewExtendedRegister(mustLN("1.0.1.6.0.255"), axdr.Uint32(500), axdr.ScalerUnit{Unit: 27}, axdr.Uint8(0), time.Time{})
	er.Now = func() time.Time { return now }
	if got := enc(get(t, er, 5)); got != "090C"+"FFFFFFFFFFFFFFFFFF"+"8000"+"FF" {
		t.Fatalf("unset capture_time %s", got)
	}
	if _, err := act(er, 1, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	if ts, ok := cosem.TimeOf(get(t, er, 5)); !ok || !ts.Equal(now) {
		t.Fatalf("capture_time after reset %v", get(t, er, 5))
	}
	wantResult(t, "set extended", set(er, 2, axdr.Uint32(1)), cosem.ResultReadWriteDenied)

	dr := NewDemandRegister(mustLN("1.0.1.4.0.255"), axdr.Uint32(0), axdr.ScalerUnit{Unit: 27}, 900, 1)
	dr.Now = func() time.Time { return now }
	var closed axdr.Data
	dr.OnNextPeriod = func(_ context.Context, last axdr.Data, _ time.Time) { closed = last }
	dr.Update(axdr.Uint32(1500))
	now = now.Add(15 * time.Minute)
	if _, err := act(dr, 2, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	if enc(get(t, dr, 3)) != "06000005DC" || enc(get(t, dr, 2)) != "0600000000" || enc(closed) != "06000005DC" {
		t.Fatalf("after next_period: current %s last %s", enc(get(t, dr, 2)), enc(get(t, dr, 3)))
	}
	if ts, _ := cosem.TimeOf(get(t, dr, 7)); !ts.Equal(now) {
		t.Errorf("start_time_current %v", ts)
	}
	if err := set(dr, 8, axdr.Uint32(60)); err != nil || dr.Period != 60 {
		t.Fatal(err)
	}
	wantResult(t, "period u16", set(dr, 8, axdr.Uint16(60)), cosem.ResultTypeUnmatched)
	wantResult(t, "set average", set(dr, 2, axdr.Uint32(60)), cosem.ResultReadWriteDenied)
	if _, err := act(dr, 1, axdr.Int8(0)); err != nil || enc(get(t, dr, 3)) != "0600000000" {
		t.Fatal("reset")
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2026, 3, 29, 0, 59, 50, 0, time.UTC)
	now := base
	c := NewClock(mustLN("0.0.1.0.0.255"), -60) // CET
	c.Now = func() time.Time { return now }
	// Last Sunday of March 02:00 to last Sunday of October 03:00.
	c.DSTBegin = axdr.DateTime{Year: 0xFFFF, Month: 3, Day: axdr.DayLast, DayOfWeek: 7, Hour: 2, Minute: 0, Second: 0, Hundredths: 0xFF, Deviation: axdr.DeviationUnspecified, Status: 0xFF}
	c.DSTEnd = axdr.DateTime{Year: 0xFFFF, Month: 10, Day: axdr.DayLast, DayOfWeek: 7, Hour: 3, Minute: 0, Second: 0, Hundredths: 0xFF, Deviation: axdr.DeviationUnspecified, Status: 0xFF}
	c.DSTDeviation = 60
	c.DSTEnabled = true
	// 00:59:50 UTC = 01:59:50 CET, before the switch.
	if got := enc(get(t, c, 2)); got != "090C07EA031D07013B3200FFC400" {
		t.Fatalf("before DST %s", got)
	}
	now = base.Add(20 * time.Second) // 03:00:10 CEST
	if got := enc(get(t, c, 2)); got != "090C07EA031D0703000A00FF8880" {
		t.Fatalf("after DST %s", got)
	}
	if got := enc(get(t, c, 4)); got != "1180" {
		t.Fatalf("status %s", got)
	}

	// SET time with the trace's value (file 08): 2026-01-01 00:00:00,
	// deviation 0.
	steps := loadTrace(t, "08-wrapper-lls-set-clock.json")
	req := findStep(t, steps, "C101C100080000010000FF0200")
	if err := set(c, 2, dec(t, enc(mustDecode(t, req[13:])))); err != nil {
		t.Fatal(err)
	}
	got, _ := c.Time()
	if !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("after set %v", got)
	}
	now = now.Add(time.Hour)
	if got, _ := c.Time(); !got.Equal(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("clock does not run on: %v", got)
	}

	// Methods: each starts from a known time.
	setTo := func(h, m, s int) {
		if err := c.set(bg, time.Date(2026, 6, 1, h, m, s, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, h, m, s int) {
		t.Helper()
		got, _ := c.Time()
		if want := time.Date(2026, 6, 1, h, m, s, 0, time.UTC); !got.Equal(want) {
			t.Errorf("%s: %v, want %v", what, got.UTC(), want)
		}
	}
	c.Lock()
	c.DSTEnabled = false
	c.TimeZone = 0
	c.Unlock()
	setTo(10, 7, 29)
	act(c, 1, axdr.Int8(0))
	check("adjust_to_quarter down", 10, 0, 0)
	setTo(10, 7, 30)
	act(c, 1, axdr.Int8(0))
	check("adjust_to_quarter up", 10, 15, 0)
	setTo(10, 7, 31)
	act(c, 3, axdr.Int8(0))
	check("adjust_to_minute", 10, 8, 0)
	setTo(10, 7, 29)
	act(c, 3, axdr.Int8(0))
	check("adjust_to_minute down", 10, 7, 0)
	_, err := act(c, 2, axdr.Int8(0))
	wantResult(t, "no measuring period", err, cosem.ResultOtherReason)
	c.MeasuringPeriod = 10 * time.Minute
	setTo(10, 14, 0)
	act(c, 2, axdr.Int8(0))
	check("adjust_to_measuring_period", 10, 10, 0)
	setTo(10, 0, 0)
	if _, err := act(c, 6, axdr.Int16(-900)); err != nil {
		t.Fatal(err)
	}
	check("shift_time -900", 9, 45, 0)
	_, err = act(c, 6, axdr.Int16(901))
	wantResult(t, "shift 901", err, cosem.ResultOtherReason)
	_, err = act(c, 6, axdr.Int32(1))
	wantResult(t, "shift int32", err, cosem.ResultTypeUnmatched)
	// preset then adjust_to_preset_time.
	at := func(h, m int) axdr.Data { return cosem.DateTimeData(time.Date(2026, 6, 1, h, m, 0, 0, time.UTC), 0) }
	_, err = act(c, 4, axdr.Int8(0))
	wantResult(t, "no preset", err, cosem.ResultOtherReason)
	if _, err := act(c, 5, axdr.Structure(at(12, 0), at(9, 0), at(10, 0))); err != nil {
		t.Fatal(err)
	}
	if _, err := act(c, 4, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	check("adjust_to_preset_time", 12, 0, 0)
	_, err = act(c, 5, axdr.Structure(at(12, 0), at(9, 0)))
	wantResult(t, "preset short", err, cosem.ResultTypeUnmatched)

	// Attributes.
	wantResult(t, "time int", set(c, 2, axdr.Uint32(0)), cosem.ResultTypeUnmatched)
	wantResult(t, "time short", set(c, 2, axdr.OctetString(make([]byte, 11))), cosem.ResultTypeUnmatched)
	wantResult(t, "time zone uint", set(c, 3, axdr.Uint16(60)), cosem.ResultTypeUnmatched)
	wantResult(t, "status", set(c, 4, axdr.Uint8(0)), cosem.ResultReadWriteDenied)
	if err := set(c, 3, axdr.Int16(-120)); err != nil || enc(get(t, c, 3)) != "10FF88" {
		t.Fatalf("time zone: %v", err)
	}
	if err := set(c, 8, axdr.Bool(true)); err != nil || enc(get(t, c, 8)) != "0301" {
		t.Fatal(err)
	}
	if enc(get(t, c, 9)) != "1601" {
		t.Error("clock_base")
	}

	// A clock with a setter hands the time over instead of keeping an offset.
	var told time.Time
	rtc := NewClock(mustLN("0.0.1.0.0.255"), 0)
	rtc.SetTime = func(_ context.Context, t time.Time) error { told = t; return nil }
	if err := set(rtc, 2, at(8, 30)); err != nil || !told.Equal(time.Date(2026, 6, 1, 8, 30, 0, 0, time.UTC)) {
		t.Fatalf("setter got %v (%v)", told, err)
	}
}

func TestImageTransfer(t *testing.T) {
	it := NewImageTransfer(mustLN("0.0.44.0.0.255"), 4)
	image := []byte("0123456789")
	var verified, activated []byte
	it.Verify = func(_ context.Context, id, img []byte) error {
		verified = append([]byte(nil), img...)
		return nil
	}
	it.Activate = func(_ context.Context, id, img []byte) error { activated = img; return nil }
	init := axdr.Structure(axdr.OctetString([]byte("fw-2")), axdr.Uint32(uint32(len(image))))
	block := func(n uint32) axdr.Data {
		end := int(n+1) * 4
		if end > len(image) {
			end = len(image)
		}
		return axdr.Structure(axdr.Uint32(n), axdr.OctetString(image[n*4:end]))
	}
	_, err := act(it, 2, block(0))
	wantResult(t, "block before initiate", err, cosem.ResultReadWriteDenied)
	if _, err := act(it, 1, init); err != nil {
		t.Fatal(err)
	}
	if enc(get(t, it, 6)) != "1601" || enc(get(t, it, 3)) != "040300" {
		t.Fatalf("after initiate: status %s blocks %s", enc(get(t, it, 6)), enc(get(t, it, 3)))
	}
	for _, n := range []uint32{0, 2} {
		if _, err := act(it, 2, block(n)); err != nil {
			t.Fatal(err)
		}
	}
	if enc(get(t, it, 3)) != "0403A0" || enc(get(t, it, 4)) != "0600000001" {
		t.Fatalf("bits %s first missing %s", enc(get(t, it, 3)), enc(get(t, it, 4)))
	}
	_, err = act(it, 2, axdr.Structure(axdr.Uint32(1), axdr.OctetString([]byte("45"))))
	wantResult(t, "short block", err, cosem.ResultOtherReason)
	_, err = act(it, 2, axdr.Structure(axdr.Uint32(3), axdr.OctetString([]byte("4567"))))
	wantResult(t, "block beyond", err, cosem.ResultOtherReason)
	_, err = act(it, 3, axdr.Int8(0))
	wantResult(t, "verify incomplete", err, cosem.ResultOtherReason)
	if enc(get(t, it, 6)) != "1604" {
		t.Fatalf("status %s after failed verify", enc(get(t, it, 6)))
	}
	// Start over and complete.
	act(it, 1, init)
	for _, n := range []uint32{0, 1, 2} {
		if _, err := act(it, 2, block(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := act(it, 4, axdr.Int8(0)); err != nil { // activation verifies first
		t.Fatal(err)
	}
	if !bytes.Equal(verified, image) || !bytes.Equal(activated, image) || it.Status() != ImageActivationOK {
		t.Fatalf("verified %q activated %q status %d", verified, activated, it.Status())
	}
	if got := enc(get(t, it, 7)); got != "0101020306000000"+"0A"+"0904"+"66772D32"+"0900" {
		t.Errorf("image_to_activate_info %s", got)
	}
	it.MaxImageSize = 8
	_, err = act(it, 1, init)
	wantResult(t, "too large", err, cosem.ResultOtherReason)
	_, err = act(it, 1, axdr.Structure(axdr.OctetString(nil)))
	wantResult(t, "initiate short", err, cosem.ResultTypeUnmatched)
	if err := set(it, 5, axdr.Bool(false)); err != nil {
		t.Fatal(err)
	}
	it.MaxImageSize = 0
	_, err = act(it, 1, init)
	wantResult(t, "disabled", err, cosem.ResultReadWriteDenied)
	it.Enabled = true
	it.Verify = func(context.Context, []byte, []byte) error { return errors.New("bad signature") }
	act(it, 1, init)
	for _, n := range []uint32{0, 1, 2} {
		act(it, 2, block(n))
	}
	_, err = act(it, 3, axdr.Int8(0))
	wantResult(t, "verify callback fails", err, cosem.ResultOtherReason)
	if it.Status() != ImageVerificationFailed {
		t.Error(it.Status())
	}
}

func TestAssociationLN(t *testing.T) {
	tree, _ := testTree(t)
	a := NewAssociationLN(cosem.CurrentAssociation, tree, cosem.ReadOnlyAccess, 16, 1, security.MechanismNone)
	if err := tree.Add(a); err != nil {
		t.Fatal(err)
	}
	caller := cosem.Caller{ClientSAP: 1, ServerSAP: 1, Mechanism: security.MechanismHLSGMAC}
	get := func(attr int8, c cosem.Caller) (axdr.Data, error) {
		return a.Get(bg, &cosem.AttributeRequest{Caller: c, Attribute: attr})
	}
	v, err := get(2, caller)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cosem.ParseObjectList(v)
	if err != nil || len(entries) != 6 || entries[5].ClassID != cosem.ClassAssociationLN || entries[5].Version != 1 {
		t.Fatalf("object_list %v %v", entries, err)
	}
	v, _ = get(3, caller)
	if enc(v) != "0202"+"0F01"+"120001" {
		t.Errorf("associated_partners_id %s", enc(v))
	}
	v, _ = get(6, caller)
	if enc(v) != "090760857405080205" {
		t.Errorf("mechanism %s", enc(v))
	}
	v, _ = get(8, caller)
	if enc(v) != "1601" {
		t.Errorf("status before HLS %s", enc(v))
	}
	caller.Authenticated = true
	v, _ = get(8, caller)
	if enc(v) != "1602" {
		t.Errorf("status after HLS %s", enc(v))
	}
	v, _ = get(4, caller)
	if enc(v) != "090760857405080101" {
		t.Errorf("application context %s", enc(v))
	}
	v, _ = get(5, caller)
	if enc(v) != "0206"+"0418"+"00101D"+"120400"+"120400"+"1106"+"0F00"+"0900" {
		t.Errorf("xDLMS context %s", enc(v))
	}
	_, err = get(7, caller)
	wantResult(t, "secret read", err, cosem.ResultReadWriteDenied)
	if err := set(a, 7, axdr.OctetString([]byte("Gurux"))); err != nil || !a.CheckSecret([]byte("Gurux")) || a.CheckSecret([]byte("gurux")) {
		t.Fatalf("secret: %v", err)
	}
	wantResult(t, "secret type", set(a, 7, axdr.VisibleString("x")), cosem.ResultTypeUnmatched)

	// reply_to_HLS_authentication goes to the session's hook.
	_, err = act(a, 1, axdr.OctetString([]byte{1}))
	wantResult(t, "no hook", err, cosem.ResultReadWriteDenied)
	a.ReplyToHLS = func(_ context.Context, c cosem.Caller, f []byte) ([]byte, error) {
		if !bytes.Equal(f, []byte("StoC")) {
			return nil, cosem.Errorf(cosem.ResultOtherReason, "bad f(StoC)")
		}
		return []byte("CtoS"), nil
	}
	v, err = act(a, 1, axdr.OctetString([]byte("StoC")))
	if err != nil || enc(v) != "090443746F53" {
		t.Fatalf("reply: %s %v", enc(v), err)
	}
	_, err = act(a, 1, axdr.OctetString([]byte("nope")))
	wantResult(t, "bad reply", err, cosem.ResultOtherReason)
	_, err = act(a, 1, axdr.Uint8(1))
	wantResult(t, "reply type", err, cosem.ResultTypeUnmatched)
	if _, err := act(a, 2, axdr.OctetString([]byte("new secret"))); err != nil || !a.CheckSecret([]byte("new secret")) {
		t.Fatal("change_HLS_secret")
	}
	// A fixed association reports its own partners.
	fixed := NewAssociationLN(mustLN("0.0.40.0.2.255"), tree, nil, 16, 1, security.MechanismLLS)
	v, _ = fixed.Get(bg, &cosem.AttributeRequest{Caller: caller, Attribute: 3})
	if enc(v) != "0202"+"0F10"+"120001" {
		t.Errorf("fixed partners %s", enc(v))
	}
	if r, ok := fixed.RightsFor(a); !ok || r.Method(1) != cosem.MethodAccess {
		t.Error("nil rights should be full access")
	}
}

func TestSecuritySetup(t *testing.T) {
	s := NewSecuritySetup(mustLN("0.0.43.0.0.255"), 0, []byte("ABCDEFGH"))
	var keys []WrappedKey
	s.TransferKeys = func(_ context.Context, k []WrappedKey) error { keys = k; return nil }
	wrapped := bytes.Repeat([]byte{0xAA}, 24)
	p := axdr.Array(axdr.Structure(axdr.Enum(KeyGlobalUnicast), axdr.OctetString(wrapped)),
		axdr.Structure(axdr.Enum(KeyAuthentication), axdr.OctetString(wrapped[:8])))
	if _, err := act(s, 2, p); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != 0 || !bytes.Equal(keys[0].Data, wrapped) || keys[1].ID != 2 {
		t.Fatalf("keys %+v", keys)
	}
	_, err := act(s, 2, axdr.Array(axdr.Structure(axdr.Uint8(0), axdr.OctetString(wrapped))))
	wantResult(t, "key id uint8", err, cosem.ResultTypeUnmatched)
	_, err = act(s, 2, axdr.Array())
	wantResult(t, "no keys", err, cosem.ResultTypeUnmatched)
	if _, err := act(s, 1, axdr.Enum(PolicyAuthenticatedRequest|PolicyEncryptedRequest)); err != nil {
		t.Fatal(err)
	}
	_, err = act(s, 1, axdr.Enum(PolicyAuthenticatedRequest))
	wantResult(t, "weaken policy", err, cosem.ResultReadWriteDenied)
	if enc(get(t, s, 2)) != "160C" || enc(get(t, s, 5)) != "09084142434445464748" {
		t.Errorf("policy %s title %s", enc(get(t, s, 2)), enc(get(t, s, 5)))
	}
	wantResult(t, "set policy", set(s, 2, axdr.Enum(0)), cosem.ResultReadWriteDenied)
	_, err = act(s, 4, axdr.Enum(0))
	wantResult(t, "unsupported method", err, cosem.ResultReadWriteDenied)
	s.Other = func(_ context.Context, m int8, _ axdr.Data) (axdr.Data, error) {
		return axdr.OctetString([]byte{byte(m)}), nil
	}
	if v, err := act(s, 5, axdr.Enum(0)); err != nil || enc(v) != "090105" {
		t.Fatal(err)
	}
	_, err = act(s, 6, axdr.Enum(0))
	wantResult(t, "import_certificate type", err, cosem.ResultTypeUnmatched)
}

func TestMBusClient(t *testing.T) {
	m := NewMBusClient(mustLN("0.1.24.1.0.255"), mustLN("0.1.24.6.0.255"))
	var calls []int8
	m.Bus = func(_ context.Context, method int8, _ axdr.Data) (axdr.Data, error) {
		calls = append(calls, method)
		return axdr.Null(), nil
	}
	if _, err := act(m, 1, axdr.Uint8(5)); err != nil || m.PrimaryAddress != 5 {
		t.Fatalf("install: %v", err)
	}
	_, err := act(m, 1, axdr.Uint16(5))
	wantResult(t, "install param", err, cosem.ResultTypeUnmatched)
	steps := []struct {
		method int8
		key    []byte
		want   uint8
	}{
		{7, []byte("0123456789abcdef"), MBusKeySet},
		{8, []byte("wrapped"), MBusKeySetTransferred},
		{7, nil, MBusKeyNone},
		{8, []byte("wrapped"), MBusKeyTransferred},
		{7, []byte("k"), MBusKeySetTransferred},
	}
	for _, s := range steps {
		if _, err := act(m, s.method, axdr.OctetString(s.key)); err != nil {
			t.Fatal(err)
		}
		if got, _ := get(t, m, 14).Uint(); uint8(got) != s.want {
			t.Errorf("after method %d: key status %d, want %d", s.method, got, s.want)
		}
	}
	send := axdr.Array(axdr.Structure(axdr.OctetString([]byte{4}), axdr.OctetString([]byte{0x13}), axdr.Uint32(1)))
	if _, err := act(m, 6, send); err != nil {
		t.Fatal(err)
	}
	if _, err := act(m, 2, axdr.Int8(0)); err != nil || m.PrimaryAddress != 0 || m.EncryptionKeyStatus != 0 {
		t.Fatal("deinstall")
	}
	if len(calls) != 8 {
		t.Errorf("bus calls %v", calls)
	}
	wantResult(t, "set identification", set(m, 6, axdr.Uint32(1)), cosem.ResultReadWriteDenied)
	wantResult(t, "set capture_period wrong", set(m, 4, axdr.Uint16(1)), cosem.ResultTypeUnmatched)
	if err := set(m, 4, axdr.Uint32(900)); err != nil || m.CapturePeriod != 900 {
		t.Fatal(err)
	}
	if err := set(m, 3, axdr.Array(axdr.Structure(axdr.OctetString([]byte{4}), axdr.OctetString([]byte{0x13})))); err != nil {
		t.Fatal(err)
	}
	wantResult(t, "capture_definition", set(m, 3, axdr.Array(axdr.Uint8(1))), cosem.ResultTypeUnmatched)
	m.Bus = func(context.Context, int8, axdr.Data) (axdr.Data, error) {
		return axdr.Data{}, cosem.Errorf(cosem.ResultHardwareFault, "no bus")
	}
	_, err = act(m, 1, axdr.Uint8(9))
	wantResult(t, "bus failure", err, cosem.ResultHardwareFault)
	if m.PrimaryAddress != 0 {
		t.Error("state changed despite bus failure")
	}
}

func TestPushSetup(t *testing.T) {
	tree, _ := testTree(t)
	var sent axdr.Data
	var dest SendDestination
	objs := []cosem.CaptureObject{{ClassID: 1, LogicalName: mustLN("0.0.42.0.0.255"), Attribute: 2}, {ClassID: 3, LogicalName: mustLN("1.0.1.8.0.255"), Attribute: 2}}
	p := NewPushSetup(mustLN("0.0.25.9.0.255"), objs, SendDestination{Transport: TransportTCP, Destination: []byte("127.0.0.1:4059")}, tree,
		func(_ context.Context, d SendDestination, v axdr.Data) error { dest, sent = d, v; return nil })
	if _, err := act(p, 1, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	if enc(sent) != "0202"+"0908414D493030303031"+"0600000000" || string(dest.Destination) != "127.0.0.1:4059" {
		t.Fatalf("pushed %s to %q", enc(sent), dest.Destination)
	}
	if err := set(p, 3, axdr.Structure(axdr.Enum(TransportUDP), axdr.OctetString([]byte("h:1")), axdr.Enum(0))); err != nil {
		t.Fatal(err)
	}
	if enc(get(t, p, 3)) != "0203"+"1601"+"0903683A31"+"1600" {
		t.Errorf("destination %s", enc(get(t, p, 3)))
	}
	wantResult(t, "destination short", set(p, 3, axdr.Structure(axdr.Enum(0))), cosem.ResultTypeUnmatched)
	win := axdr.Array(axdr.Structure(cosem.DateTimeData(bgTime, 0), cosem.DateTimeData(bgTime.Add(time.Hour), 0)))
	if err := set(p, 4, win); err != nil || enc(get(t, p, 4)) != enc(win) {
		t.Fatal(err)
	}
	wantResult(t, "retries u16", set(p, 6, axdr.Uint16(3)), cosem.ResultTypeUnmatched)
	if err := set(p, 2, cosem.CaptureObjectsData(objs[:1])); err != nil || len(p.PushObjects) != 1 {
		t.Fatal(err)
	}
	p.Push = func(context.Context, SendDestination, axdr.Data) error { return errors.New("unreachable") }
	_, err := act(p, 1, axdr.Int8(0))
	wantResult(t, "push fails", err, cosem.ResultTemporaryFailure)
}

func TestScriptTable(t *testing.T) {
	tree, objs := testTree(t)
	dc := objs[3].(*DisconnectControl)
	reg := objs[1].(*Register)
	reg.Writable = true
	st := NewScriptTable(mustLN("0.0.10.0.106.255"), tree)
	action := func(svc uint8, class uint16, ln string, idx int8, p axdr.Data) axdr.Data {
		return axdr.Structure(axdr.Enum(svc), axdr.Uint16(class), cosem.LogicalNameData(mustLN(ln)), axdr.Int8(idx), p)
	}
	scripts := axdr.Array(
		axdr.Structure(axdr.Uint16(1), axdr.Array(action(ServiceExecuteMethod, 70, "0.0.96.3.10.255", 1, axdr.Int8(0)))),
		axdr.Structure(axdr.Uint16(2), axdr.Array(action(ServiceWriteAttribute, 3, "1.0.1.8.0.255", 2, axdr.Uint32(42)))),
		axdr.Structure(axdr.Uint16(3), axdr.Array(action(ServiceWriteAttribute, 3, "9.9.9.9.9.9", 2, axdr.Uint32(42)))),
	)
	if err := set(st, 2, scripts); err != nil {
		t.Fatal(err)
	}
	if _, err := act(st, 1, axdr.Uint16(1)); err != nil || dc.State != Disconnected {
		t.Fatalf("script 1: %v %s", err, dc.State)
	}
	if _, err := act(st, 1, axdr.Uint16(2)); err != nil || enc(get(t, reg, 2)) != "060000002A" {
		t.Fatalf("script 2: %v", err)
	}
	_, err := act(st, 1, axdr.Uint16(3))
	wantResult(t, "script on missing object", err, cosem.ResultObjectUndefined)
	_, err = act(st, 1, axdr.Uint16(9))
	wantResult(t, "missing script", err, cosem.ResultOtherReason)
	_, err = act(st, 1, axdr.Uint8(1))
	wantResult(t, "execute param", err, cosem.ResultTypeUnmatched)
	wantResult(t, "malformed scripts", set(st, 2, axdr.Array(axdr.Structure(axdr.Uint16(1)))), cosem.ResultTypeUnmatched)
	var ran uint16
	st.Execute = func(_ context.Context, id uint16) error { ran = id; return nil }
	if _, err := act(st, 1, axdr.Uint16(7)); err != nil || ran != 7 {
		t.Fatal("execute callback")
	}
}

func TestSpecialDaysAndCalendar(t *testing.T) {
	sd := NewSpecialDaysTable(mustLN("0.0.11.0.0.255"))
	entry := func(i uint16, month, day, id uint8) axdr.Data {
		return axdr.Structure(axdr.Uint16(i), axdr.OctetString([]byte{0xFF, 0xFF, month, day, 0xFF}), axdr.Uint8(id))
	}
	for _, e := range []axdr.Data{entry(1, 12, 25, 3), entry(2, 1, 1, 3), entry(1, 12, 26, 4)} {
		if _, err := act(sd, 1, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := enc(get(t, sd, 2)); got != enc(axdr.Array(entry(2, 1, 1, 3), entry(1, 12, 26, 4))) {
		t.Fatalf("entries %s", got)
	}
	if _, err := act(sd, 2, axdr.Uint16(2)); err != nil || len(get(t, sd, 2).Items) != 1 {
		t.Fatal("delete")
	}
	_, err := act(sd, 1, axdr.Structure(axdr.Uint16(1)))
	wantResult(t, "insert short", err, cosem.ResultTypeUnmatched)
	wantResult(t, "entries bad date", set(sd, 2, axdr.Array(axdr.Structure(axdr.Uint16(1), axdr.OctetString([]byte{1}), axdr.Uint8(1)))), cosem.ResultTypeUnmatched)

	ac := NewActivityCalendar(mustLN("0.0.13.0.0.255"))
	season := axdr.Array(axdr.Structure(axdr.OctetString([]byte("S1")), cosem.DateTimeData(bgTime, 0), axdr.OctetString([]byte("W1"))))
	week := axdr.Array(axdr.Structure(axdr.OctetString([]byte("W1")), axdr.Uint8(1), axdr.Uint8(1), axdr.Uint8(1), axdr.Uint8(1), axdr.Uint8(1), axdr.Uint8(2), axdr.Uint8(2)))
	day := axdr.Array(axdr.Structure(axdr.Uint8(1), axdr.Array(axdr.Structure(axdr.OctetString([]byte{6, 0, 0, 0}), cosem.LogicalNameData(mustLN("0.0.10.0.100.255")), axdr.Uint16(1)))))
	for attr, v := range map[int8]axdr.Data{6: axdr.OctetString([]byte("Winter")), 7: season, 8: week, 9: day} {
		if err := set(ac, attr, v); err != nil {
			t.Fatalf("attr %d: %v", attr, err)
		}
	}
	wantResult(t, "active not writable", set(ac, 2, axdr.OctetString([]byte("x"))), cosem.ResultReadWriteDenied)
	wantResult(t, "week short", set(ac, 8, axdr.Array(axdr.Structure(axdr.OctetString(nil), axdr.Uint8(1)))), cosem.ResultTypeUnmatched)
	if err := set(ac, 10, cosem.DateTimeData(bgTime, 0)); err != nil {
		t.Fatal(err)
	}
	if ac.ActivateIfDue(bg, bgTime.Add(-time.Second)) {
		t.Fatal("activated early")
	}
	var activated CalendarSet
	ac.OnActivate = func(_ context.Context, c CalendarSet) { activated = c }
	if !ac.ActivateIfDue(bg, bgTime) {
		t.Fatal("not activated when due")
	}
	if enc(get(t, ac, 2)) != enc(axdr.OctetString([]byte("Winter"))) || enc(get(t, ac, 5)) != enc(day) || string(activated.Name) != "Winter" {
		t.Fatalf("active calendar %s", enc(get(t, ac, 2)))
	}
	set(ac, 6, axdr.OctetString([]byte("Summer")))
	if _, err := act(ac, 1, axdr.Int8(0)); err != nil || enc(get(t, ac, 2)) != enc(axdr.OctetString([]byte("Summer"))) {
		t.Fatal("activate_passive_calendar")
	}
}

func TestMonitors(t *testing.T) {
	var mu sync.Mutex
	var fired []uint16
	record := func(_ context.Context, s ScriptRef) { mu.Lock(); fired = append(fired, s.Selector); mu.Unlock() }
	sr := func(n uint16) ScriptRef { return ScriptRef{LogicalName: mustLN("0.0.10.0.106.255"), Selector: n} }
	rm := NewRegisterMonitor(mustLN("0.0.16.1.0.255"), ValueDefinition{3, mustLN("1.0.1.7.0.255"), 2},
		[]axdr.Data{axdr.Uint32(100), axdr.Uint32(200)}, []MonitorActions{{sr(1), sr(2)}, {sr(3), sr(4)}}, record)
	for _, v := range []uint32{50, 150, 250, 250, 90} {
		rm.Observe(bg, axdr.Uint32(v))
	}
	if want := []uint16{1, 3, 2, 4}; !equalU16(fired, want) {
		t.Fatalf("register monitor fired %v, want %v", fired, want)
	}
	if got := enc(get(t, rm, 3)); got != "0203"+"120003"+"09060100010700FF"+"0F02" {
		t.Errorf("monitored_value %s", got)
	}
	if err := set(rm, 2, axdr.Array(axdr.Uint32(10))); err != nil || len(rm.Thresholds) != 1 {
		t.Fatal(err)
	}
	wantResult(t, "thresholds", set(rm, 2, axdr.Uint32(10)), cosem.ResultTypeUnmatched)
	wantResult(t, "actions", set(rm, 4, axdr.Array(axdr.Structure(sr(1).Data()))), cosem.ResultTypeUnmatched)

	fired = nil
	lim := NewLimiter(mustLN("0.0.17.0.0.255"), ValueDefinition{3, mustLN("1.0.1.7.0.255"), 2}, axdr.Uint32(1000), record)
	lim.ThresholdEmergency = axdr.Uint32(500)
	lim.MinOverDuration, lim.MinUnderDuration = 60, 30
	lim.OverAction, lim.UnderAction = sr(10), sr(11)
	now := bgTime
	step := func(v uint32, d time.Duration) { now = now.Add(d); lim.Observe(bg, axdr.Uint32(v), now) }
	step(1200, 0)              // over starts
	step(1200, 59*time.Second) // not yet
	step(1200, time.Second)    // 60 s over: fire 10
	step(800, 10*time.Second)  // under starts
	step(1200, 10*time.Second) // back over: under timer resets
	step(800, 10*time.Second)
	step(800, 30*time.Second) // 30 s under: fire 11
	if !equalU16(fired, []uint16{10, 11}) {
		t.Fatalf("limiter fired %v", fired)
	}
	// Emergency profile for our group lowers the active threshold.
	lim.EmergencyGroup = 7
	if err := set(lim, 9, axdr.Array(axdr.Uint16(7))); err != nil {
		t.Fatal(err)
	}
	if err := set(lim, 8, axdr.Structure(axdr.Uint16(1), cosem.DateTimeData(now, 0), axdr.Uint32(3600))); err != nil {
		t.Fatal(err)
	}
	step(800, time.Second)
	if enc(get(t, lim, 3)) != "06000001F4" || enc(get(t, lim, 10)) != "0301" {
		t.Fatalf("emergency: active threshold %s active %s", enc(get(t, lim, 3)), enc(get(t, lim, 10)))
	}
	step(800, 2*time.Hour)
	if enc(get(t, lim, 3)) != "06000003E8" {
		t.Errorf("threshold after emergency %s", enc(get(t, lim, 3)))
	}
	wantResult(t, "set threshold_active", set(lim, 3, axdr.Uint32(1)), cosem.ResultReadWriteDenied)
	wantResult(t, "threshold struct", set(lim, 4, axdr.Structure()), cosem.ResultTypeUnmatched)
	if err := set(lim, 11, axdr.Structure(sr(5).Data(), sr(6).Data())); err != nil || lim.UnderAction != sr(6) {
		t.Fatal(err)
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSetupObjects(t *testing.T) {
	h := NewIECHDLCSetup(mustLN("0.0.22.0.0.255"), 0x10)
	if enc(get(t, h, 2)) != "1605" || enc(get(t, h, 9)) != "120010" {
		t.Fatalf("defaults %s %s", enc(get(t, h, 2)), enc(get(t, h, 9)))
	}
	var hooked int8
	h.OnSet = func(_ context.Context, attr int8, _ axdr.Data) error {
		hooked = attr
		if attr == 2 {
			return cosem.Errorf(cosem.ResultOtherReason, "speed fixed")
		}
		return nil
	}
	if err := set(h, 5, axdr.Uint16(256)); err != nil || h.MaxInfoFieldLengthTransmit != 256 || hooked != 5 {
		t.Fatal(err)
	}
	wantResult(t, "hook refuses", set(h, 2, axdr.Enum(9)), cosem.ResultOtherReason)
	wantResult(t, "window u16", set(h, 3, axdr.Uint16(1)), cosem.ResultTypeUnmatched)
	wantResult(t, "attr 10", set(h, 10, axdr.Uint16(1)), cosem.ResultObjectUndefined)

	tc := NewTCPUDPSetup(mustLN("0.0.25.0.0.255"), 4059, mustLN("0.0.25.1.0.255"))
	if enc(get(t, tc, 2)) != "120FDB" || enc(get(t, tc, 3)) != "0906"+"0000190100FF" {
		t.Fatalf("tcp %s %s", enc(get(t, tc, 2)), enc(get(t, tc, 3)))
	}
	if err := set(tc, 3, cosem.LogicalNameData(mustLN("0.0.25.7.0.255"))); err != nil || tc.IPReference != mustLN("0.0.25.7.0.255") {
		t.Fatal(err)
	}
	wantResult(t, "ip ref short", set(tc, 3, axdr.OctetString([]byte{1})), cosem.ResultTypeUnmatched)
}

// TestConcurrentAccess runs GETs, SETs and ACTIONs from many goroutines;
// run with -race.
func TestConcurrentAccess(t *testing.T) {
	tree, objs := testTree(t)
	pg := objs[2].(*ProfileGeneric)
	pg.Source = tree
	pg.CaptureObjects = []cosem.CaptureObject{{ClassID: 8, LogicalName: mustLN("0.0.1.0.0.255"), Attribute: 2}, {ClassID: 3, LogicalName: mustLN("1.0.1.8.0.255"), Attribute: 2}}
	dc := objs[3].(*DisconnectControl)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				act(pg, 2, axdr.Int8(0))
				pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: (&cosem.EntryDescriptor{FromEntry: 1, ToEntry: 3}).Access()})
				act(dc, int8(1+i%2), axdr.Int8(0))
				get(t, dc, 2)
				set(objs[0], 3, axdr.Int16(int16(g)))
				get(t, objs[0], 2)
				tree.ObjectList(cosem.FullAccess)
			}
		}(g)
	}
	wg.Wait()
	if n, _ := get(t, pg, 7).Uint(); n != 10 {
		t.Errorf("entries_in_use %d, want 10", n)
	}
}
