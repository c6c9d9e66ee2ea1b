package main

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/osgp"
)

// osgpMeter serves an OSGP meter with a few tables on loopback.
func osgpMeter(t *testing.T, k osgp.Keys) (string, *c1219.Store, *osgp.Meter) {
	t.Helper()
	f := c1219.DefaultFormat
	s := c1219.NewStore(f)
	g := c1219.GenConfig{Format: f, NameplateType: c1219.NameplateElectric, StdTablesUsed: c1219.NewSet(10, 0, 1, 5, 7, 8),
		StdTablesWrite: c1219.NewSet(10, 5, 7), StdProcUsed: c1219.NewSet(2, 9, 10), MfgProcUsed: c1219.NewSet(2, 10)}
	s.Set(c1219.ST0, g.Encode())
	s.Set(c1219.ST1, c1219.MfgID{Manufacturer: "AMG", Model: "AMG-O1", FWVersion: 1, FWRevision: 3, SerialNo: "0000000000000042"}.Encode(f))
	s.Set(c1219.ST5, c1219.DeviceIdent{ID: "UTILITY-ID-000000001"}.Encode(f))
	m := &osgp.Meter{Keys: k, Tables: s}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = m.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ln.Addr().String(), s, m
}

// TestOSGPTool: amigo osgp tables, read and write against a meter, with
// either security; a wrong key is refused.
func TestOSGPTool(t *testing.T) {
	for _, tc := range []struct {
		sec string
		key []byte
	}{{"aes", []byte("0123456789abcdef")}, {"legacy", []byte{0xDF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}} {
		t.Run(tc.sec, func(t *testing.T) {
			suite, _ := osgp.ParseSuite(tc.sec)
			addr, s, m := osgpMeter(t, osgp.Keys{Suite: suite, Key: tc.key})
			sec := []string{"--security", tc.sec, "--key", hex.EncodeToString(tc.key)}
			out, errs, code := amigo(t, append([]string{"osgp", "tables", addr}, sec...)...)
			if code != 0 || !strings.Contains(out, "meter: AMG AMG-O1, serial 0000000000000042, firmware 1.3") ||
				!strings.Contains(out, "ST5    DEVICE_IDENT_TBL  writable") || !strings.Contains(out, "MP10 (service switch)") {
				t.Fatalf("tables: code %d\n%s\n%s", code, out, errs)
			}
			if legacy := strings.Contains(errs, "broken"); legacy != (tc.sec == "legacy") {
				t.Fatalf("legacy warning %v: %s", legacy, errs)
			}
			out, errs, code = amigo(t, append([]string{"osgp", "read", addr, "ST5"}, sec...)...)
			if code != 0 || !strings.Contains(out, "ST5 DEVICE_IDENT_TBL: 20 octets") || !strings.Contains(out, "000000  55 54 49 4c") {
				t.Fatalf("read: code %d\n%s\n%s", code, out, errs)
			}
			// Each run starts its sequence numbers again; the meter's refusal
			// catches it up.
			out, errs, code = amigo(t, append([]string{"osgp", "write", addr, "5", "4f534750", "--offset", "8"}, sec...)...)
			if code != 0 || !strings.Contains(out, "ST5: 4 octets written") {
				t.Fatalf("write: code %d\n%s\n%s", code, out, errs)
			}
			if b, _ := s.Table(c1219.ST5); string(b) != "UTILITY-OSGP00000001" {
				t.Fatalf("ST5 after the write: %q", b)
			}
			out, _, code = amigo(t, append([]string{"osgp", "read", addr, "ST5", "--offset", "8", "--count", "4"}, sec...)...)
			if code != 0 || !strings.Contains(out, "000008  4f 53 47 50") {
				t.Fatalf("partial read: code %d\n%s", code, out)
			}
			if m.LastSeq() < 4 {
				t.Fatalf("meter's last sequence number %d", m.LastSeq())
			}
			wrong := append([]byte(nil), tc.key...)
			wrong[0] ^= 1
			_, errs, code = amigo(t, "osgp", "read", addr, "1", "--security", tc.sec, "--key", hex.EncodeToString(wrong))
			if code != 1 || !strings.Contains(errs, "cannot verify") {
				t.Fatalf("wrong key: code %d\n%s", code, errs)
			}
		})
	}
	for _, args := range [][]string{
		{"osgp", "read", "127.0.0.1:1"},
		{"osgp", "read", "127.0.0.1:1", "XT5", "--key", "00112233445566778899aabbccddeeff"},
		{"osgp", "read", "127.0.0.1:1", "5", "--key", "0011"},
		{"osgp", "read", "127.0.0.1:1", "5", "--security", "rc4"},
		{"osgp", "write", "127.0.0.1:1", "5", "zz", "--key", "00112233445566778899aabbccddeeff"},
		{"osgp", "nothing"},
	} {
		if _, errs, code := amigo(t, args...); code != 2 {
			t.Errorf("%v: code %d, want 2 (%s)", args, code, errs)
		}
	}
}
