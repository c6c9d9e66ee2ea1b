package c1222

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// apduFromVector rebuilds the APDU whose canonified cleartext a published
// EAX' vector is, from the elements that cleartext lists.
func apduFromVector(t *testing.T, v eaxVector) (*APDU, byte) {
	t.Helper()
	a := &APDU{}
	b := v.cleartext
	var control byte
	for len(b) > 0 && b[0] != tagCalling {
		if b[0] == tagUserInfo {
			// BE len 28 len 81 len <control>, lengths of one octet here.
			if b[2] != 0x28 || b[4] != 0x81 {
				t.Fatalf("user information header % x", b[:7])
			}
			control = b[6]
			b = b[7:]
			continue
		}
		e, rest, err := readTLV(b)
		if err != nil {
			t.Fatal(err)
		}
		b = rest
		switch e.tag {
		case tagCalled:
			if a.Called, err = parseApTitleElement(e.content); err != nil {
				t.Fatal(err)
			}
		case tagCallingAEQual:
			a.AEQualifier, _ = parseExplicitInt(e.content)
			a.HasAEQualifier = true
		case tagCallingInvoc:
			a.CallingInvocation, _ = parseExplicitInt(e.content)
		case tagAuthValue:
			if err := a.parseAuth(e.content); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("element 0x%02X in a vector", e.tag)
		}
	}
	e, _, err := readTLV(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Calling, err = parseApTitleElement(e.content); err != nil {
		t.Fatal(err)
	}
	a.EPSEM = append(append([]byte{control}, v.ciphertext...), v.mac...)
	return a, control
}

// TestVectorsAsAPDUs checks the canonified cleartext of this package
// against the published vectors octet for octet, and opens them as
// messages.
func TestVectorsAsAPDUs(t *testing.T) {
	for i, v := range readVectors(t) {
		a, control := apduFromVector(t, v)
		got := a.Cleartext(Root, control, len(a.EPSEM))
		if !bytes.Equal(got, v.cleartext) {
			t.Fatalf("vector %d: cleartext\n %x\nwant\n %x", i+1, got, v.cleartext)
		}
		wire, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseAPDU(wire)
		if err != nil {
			t.Fatalf("vector %d: %v", i+1, err)
		}
		keys, _ := NewKeys(map[uint8][]byte{a.KeyID: v.key})
		e, err := Open(back, keys, Root)
		if err != nil {
			t.Fatalf("vector %d: open: %v", i+1, err)
		}
		body, _ := e.Body()
		if !bytes.Equal(body, v.plaintext) {
			t.Fatalf("vector %d: body %x, want %x", i+1, body, v.plaintext)
		}
		// Sealing the same EPSEM under the same elements gives the same
		// octets.
		again := *back
		if err := Seal(&again, e, keys, Root); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.EPSEM, back.EPSEM) {
			t.Fatalf("vector %d: resealed %x, want %x", i+1, again.EPSEM, back.EPSEM)
		}
		if i == 0 {
			if string(e.EDClass) != "TEMP" || e.Response != RespondNever || e.Mode != ModeCiphertext {
				t.Fatalf("vector 1 EPSEM %+v", e)
			}
		}
	}
}

func TestAPDURoundTrip(t *testing.T) {
	a := &APDU{
		Context:             ContextC1222,
		Called:              MustApTitle(".1.7"),
		Calling:             MustApTitle("2.16.124.113620.1.22.0.99"),
		CalledInvocation:    300,
		HasCalledInvocation: true,
		AEQualifier:         QualifierUrgent,
		HasAEQualifier:      true,
		CallingInvocation:   0x12345678,
		Mechanism:           MustApTitle("2.16.124.113620.1.22.2.1"),
		HasAuth:             true,
		KeyID:               5,
		IV:                  []byte{1, 2, 3, 4},
		EPSEM:               bytes.Repeat([]byte{0x80, 0x01, 0x20}, 100),
	}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseAPDU(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Marshal()
	if !bytes.Equal(b, b2) {
		t.Fatalf("re-encoded differently:\n%x\n%x", b, b2)
	}
	if back.Called.String() != ".1.7" || back.Calling.String() != "2.16.124.113620.1.22.0.99" ||
		back.CalledInvocation != 300 || back.CallingInvocation != 0x12345678 || back.KeyID != 5 ||
		!bytes.Equal(back.IV, a.IV) || back.AEQualifier != QualifierUrgent || !bytes.Equal(back.EPSEM, a.EPSEM) {
		t.Fatalf("decoded %+v", back)
	}
	if !back.Called.Equal(MustApTitle("2.16.124.113620.1.22.1.7"), Root) {
		t.Fatal("relative ApTitle does not resolve against the root")
	}
}

func TestParseAPDUErrors(t *testing.T) {
	good, _ := (&APDU{Called: MustApTitle("2.16.124.113620.1.22.1.7"), CallingInvocation: 1, EPSEM: []byte{0x80, 1, 0x20}}).Marshal()
	cases := map[string][]byte{
		"empty":          {},
		"wrong tag":      append([]byte{0x61}, good[1:]...),
		"short":          good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0),
		"long length":    {0x60, 0x84, 1, 0, 0, 0},
		"indefinite":     {0x60, 0x80},
		"no invocation":  {0x60, 0x07, 0xBE, 0x05, 0x28, 0x03, 0x81, 0x01, 0x80},
		"no user info":   {0x60, 0x05, 0xA8, 0x03, 0x02, 0x01, 0x01},
		"unknown tag":    {0x60, 0x07, 0xA5, 0x00, 0xA8, 0x03, 0x02, 0x01, 0x01},
		"bad aptitle":    {0x60, 0x09, 0xA2, 0x02, 0x04, 0x00, 0xA8, 0x03, 0x02, 0x01, 0x01},
		"negative id":    {0x60, 0x05, 0xA8, 0x03, 0x02, 0x01, 0xFF},
		"inner overflow": {0x60, 0x05, 0xA8, 0x03, 0x02, 0x05, 0x01},
	}
	for name, b := range cases {
		if _, err := ParseAPDU(b); err == nil {
			t.Errorf("%s: % x parsed", name, b)
		}
	}
}

func TestEPSEMSecurityModes(t *testing.T) {
	keys, _ := NewKeys(map[uint8][]byte{1: bytes.Repeat([]byte{7}, 16)})
	other, _ := NewKeys(map[uint8][]byte{1: bytes.Repeat([]byte{8}, 16)})
	for _, mode := range []SecurityMode{ModeClear, ModeAuthenticated, ModeCiphertext} {
		a := &APDU{Called: MustApTitle("2.16.124.113620.1.22.1.7"), Calling: MustApTitle(".0.5"),
			CallingInvocation: 9, HasAuth: true, KeyID: 1, IV: []byte{9, 9, 9, 9}}
		e := &EPSEM{Mode: mode, Services: [][]byte{{0x30, 0x00, 0x01}, {0x20}}, EDClass: []byte("AMGO")}
		if err := Seal(a, e, keys, Root); err != nil {
			t.Fatal(err)
		}
		got, err := Open(a, keys, Root)
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if len(got.Services) != 2 || !bytes.Equal(got.Services[0], []byte{0x30, 0, 1}) || string(got.EDClass) != "AMGO" || got.Mode != mode {
			t.Fatalf("%v: %+v", mode, got)
		}
		if mode == ModeClear {
			continue
		}
		if _, err := Open(a, other, Root); !errors.Is(err, ErrAuth) {
			t.Fatalf("%v: wrong key: %v", mode, err)
		}
		b := *a
		b.CallingInvocation = 10
		if _, err := Open(&b, keys, Root); !errors.Is(err, ErrAuth) {
			t.Fatalf("%v: changed invocation id: %v", mode, err)
		}
		b = *a
		b.Called = MustApTitle("2.16.124.113620.1.22.1.8")
		if _, err := Open(&b, keys, Root); !errors.Is(err, ErrAuth) {
			t.Fatalf("%v: changed called ApTitle: %v", mode, err)
		}
		b = *a
		b.EPSEM = bytes.Clone(a.EPSEM)
		b.EPSEM[0] &^= 0x10 // drop the ED_CLASS flag
		if _, err := Open(&b, keys, Root); !errors.Is(err, ErrAuth) {
			t.Fatalf("%v: changed control: %v", mode, err)
		}
	}
}

func FuzzParseAPDU(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.apdu")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAPDU(b)
		if err != nil {
			return
		}
		out, err := a.Marshal()
		if err != nil {
			return
		}
		again, err := ParseAPDU(out)
		if err != nil {
			t.Fatalf("re-encoded APDU does not parse: %v\n%x", err, out)
		}
		out2, _ := again.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable:\n%x\n%x", out, out2)
		}
	})
}

func FuzzParseEPSEM(f *testing.F) {
	f.Add([]byte{0x80, 0x03, 0x30, 0x00, 0x01})
	f.Add([]byte{0x90, 'T', 'E', 'M', 'P', 0x01, 0x20, 0x00, 0x00})
	f.Add(append([]byte{0x80, 0x82, 0x01, 0x00}, make([]byte, 256)...))
	if b, err := os.ReadFile("testdata/epsem.bin"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEPSEM(b)
		if err != nil {
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("decoded EPSEM does not encode: %v", err)
		}
		again, err := ParseEPSEM(out)
		if err != nil || len(again.Services) != len(e.Services) {
			t.Fatalf("re-encoded EPSEM: %v", err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.apdu")
	var all []byte
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		total := 0
		for {
			fr, err := readFrame(br)
			if err != nil {
				break
			}
			total += len(fr)
			if fr[0] != tagAPDU || total > len(b) {
				t.Fatalf("frame % x from % x", fr, b)
			}
		}
	})
}
