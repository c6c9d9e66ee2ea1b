package dlmsdriver

import "testing"

// A meter may give the M-Bus identification as its value or as the BCD
// the telegram carries; both are the registered device.
func TestIdentificationBCD(t *testing.T) {
	want, ok := wantIdentification("AMG30012345678")
	if !ok || want != 12345678 || bcd(want) != 0x12345678 {
		t.Fatalf("identification %d %v, bcd %#x", want, ok, bcd(want))
	}
	if _, ok := wantIdentification("G-1234"); ok {
		t.Fatal("a serial of fewer than eight digits gave an identification")
	}
	r := subRead{}
	r.sm.Meter.Kind, r.sm.Meter.SerialNumber = "gas", "AMG30012345678"
	var s session
	for _, got := range []uint64{12345678, 0x12345678} {
		if why := s.identityMismatch(r, got, 0x03); why != "" {
			t.Fatalf("%#x: %s", got, why)
		}
	}
	if why := s.identityMismatch(r, 12345679, 0x03); why == "" {
		t.Fatal("another identification accepted")
	}
	if mbusFlag(0x05A7) != "AMG" || mbusFlag(0) != "0" {
		t.Fatalf("flags %q %q", mbusFlag(0x05A7), mbusFlag(0))
	}
}
