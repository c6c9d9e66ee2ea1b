package apdu

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// fuzzSeeds adds every APDU of the traces (ciphered ones with their
// plaintext) and the hand-built vectors.
func fuzzSeeds(f *testing.F) {
	for _, tc := range roundTrips {
		f.Add(unhexS(tc.hex))
	}
	dir := traceDirQuiet()
	if dir == "" {
		return
	}
	for _, file := range loadTraces(f) {
		for _, s := range file.Steps {
			for _, h := range []string{s.APDU, s.Decrypted} {
				if b, err := hex.DecodeString(h); err == nil && len(b) > 0 {
					f.Add(b)
				}
			}
		}
	}
}

// FuzzDecode: decoding never panics, and whatever decodes re-encodes to
// bytes that decode strictly and re-encode identically.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Decode(b); err != nil {
			_ = err.Error()
		}
		a, trailing, err := Tolerant.Decode(b)
		if err != nil {
			_ = err.Error()
			return
		}
		if len(trailing) > len(b) {
			t.Fatalf("trailing longer than input")
		}
		enc, err := Append(nil, a)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", a.Kind(), err)
		}
		a2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %s %X does not decode: %v", a.Kind(), enc, err)
		}
		enc2, err := Append(nil, a2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding of %s:\n%X\n%X (%v)", a.Kind(), enc, enc2, err)
		}
	})
}

// FuzzDecodeACSE aims the fuzzer at the BER parser: the input is wrapped
// in each ACSE APDU header, strict and lenient.
func FuzzDecodeACSE(f *testing.F) {
	f.Add(unhexS("A109060760857405080101BE10040E01000000065F1F0400401E5DFFFF"))
	f.Add(unhexS("800100BE220421281F300000005CBC5B42D6AB777DC32C18C2BF402B21336A8E8B5E18B6C9FFFE9E"))
	f.Add(unhexS("A109060760857405080103A203020100A305A10302010EA40A0408414243444546474888020780890760857405080205"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tag := range []byte{TagAARQ, TagAARE, TagRLRQ, TagRLRE} {
			b := appendBERLength([]byte{tag}, len(body))
			b = append(b, body...)
			for _, o := range []Options{{}, Tolerant} {
				a, _, err := o.Decode(b)
				if err != nil {
					continue
				}
				enc, err := a.Append(nil)
				if err != nil {
					t.Fatalf("%s does not encode: %v", a.Kind(), err)
				}
				if _, err := Decode(enc); err != nil {
					t.Fatalf("re-encoded %X does not decode: %v", enc, err)
				}
			}
			// Lying about the length must not break the parser either.
			if len(body) > 0 {
				short := append([]byte{tag, byte(len(body) / 2 & 0x7F)}, body...)
				_, _, _ = Tolerant.Decode(short)
			}
		}
	})
}
