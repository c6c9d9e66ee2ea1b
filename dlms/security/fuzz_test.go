package security

import (
	"bytes"
	"testing"
)

// FuzzUnwrap parses arbitrary bytes as a ciphered APDU and attempts to
// decipher them; it must never panic, and anything that deciphers must
// re-cipher to the same bytes.
func FuzzUnwrap(f *testing.F) {
	keys := testKeys()
	f.Add([]byte{0xC8, 0x1E, 0x30, 0x01, 0x23, 0x45, 0x67, 0x41, 0x13, 0x12, 0xFF, 0x93, 0x5A, 0x47, 0x56, 0x68, 0x27, 0xC4, 0x67, 0xBC, 0x7D, 0x82, 0x5C, 0x3B, 0xE4, 0xA7, 0x7C, 0x3F, 0xCC, 0x05, 0x6B, 0x6B})
	f.Add(unhex(f, "DB0847757275783132331E30000000041E0F3815C61C8A072DDD2748E7F9BFF4137FDEC8BC9D383097"))
	f.Add(unhex(f, "DB0841424344454647481830000000054C664597168E9B7F987750A4C5BDFEDF010C5B"))
	f.Add([]byte{0xDC, 0x00, 0x05, 0x00, 0, 0, 0, 1})
	f.Add([]byte{0xC8, 0x84, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0xDB, 0x82, 0x00})
	f.Fuzz(func(t *testing.T, apdu []byte) {
		st := []byte("Gurux123")
		plain, u, err := Unwrap(nil, keys, st, apdu)
		if err != nil {
			if len(plain) != 0 {
				t.Fatalf("error %v with plaintext", err)
			}
			return
		}
		var again []byte
		if u.Tag == TagGeneralGloCiphering || u.Tag == TagGeneralDedCiphering {
			again, err = WrapGeneral(nil, u.Kind, u.Header.SC, keys, u.SystemTitle, u.Header.IC, plain)
		} else {
			if len(plain) == 0 {
				return
			}
			// The carried plaintext's tag need not match the wrapper's.
			want, _, _ := PlainTag(u.Tag)
			if plain[0] != want {
				return
			}
			again, err = Wrap(nil, u.Kind, u.Header.SC, keys, u.SystemTitle, u.Header.IC, plain)
		}
		if err != nil {
			t.Fatalf("re-wrap: %v", err)
		}
		// A carried empty system title or a non-minimal length re-encodes
		// differently; compare the ciphered content instead of the frame.
		_, _, _, c1, _ := ParseCiphered(apdu)
		_, _, _, c2, _ := ParseCiphered(again)
		if !bytes.Equal(c1, c2) {
			t.Fatalf("re-wrap content %X, want %X", c2, c1)
		}
	})
}

// FuzzUnwrapKey feeds arbitrary bytes to the RFC 3394 unwrap and to the
// key_transfer parameter decoder.
func FuzzUnwrapKey(f *testing.F) {
	f.Add(unhex(f, "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"))
	f.Add(unhex(f, "0101020216000918"+"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"))
	f.Add([]byte{0x01, 0x82, 0xFF, 0xFF})
	f.Add([]byte{})
	kek := testEK
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := UnwrapKey(kek, b); err == nil {
			w, err := WrapKey(kek, k)
			if err != nil || !bytes.Equal(w, b) {
				t.Fatalf("unwrap/wrap mismatch: %X %v", w, err)
			}
		}
		ws, err := ParseKeyTransfer(b)
		if err == nil && !bytes.Equal(AppendKeyTransfer(nil, ws), b) {
			// Non-minimal lengths are accepted; they must at least reparse.
			if _, err := ParseKeyTransfer(AppendKeyTransfer(nil, ws)); err != nil {
				t.Fatalf("re-encoded key_transfer does not parse: %v", err)
			}
		}
	})
}

// FuzzParseGeneral feeds arbitrary bytes to the general-ciphering and
// general-signing decoders.
func FuzzParseGeneral(f *testing.F) {
	g := GeneralCiphering{TransactionID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Originator: []byte("Gurux123"), Recipient: []byte("ABCDEFGH"),
		KeyInfo: &KeyInfo{Kind: KeyInfoAgreed, KeyParameters: []byte{1}, KeyCipheredData: make([]byte, 128)}, Content: []byte{0x30, 0, 0, 0, 1}}
	f.Add(g.Append(nil))
	s := GeneralSigning{TransactionID: []byte{1}, Content: []byte{0xC0}, Signature: make([]byte, 64)}
	f.Add(s.Append(nil))
	f.Add([]byte{0xDD, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07})
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := ParseGeneralCiphering(b); err == nil {
			if _, err := ParseGeneralCiphering(g.Append(nil)); err != nil {
				t.Fatalf("re-encoded general-ciphering does not parse: %v", err)
			}
			_, _, _ = g.Open(nil, testKeys())
		}
		if s, err := ParseGeneralSigning(b); err == nil {
			if _, err := ParseGeneralSigning(s.Append(nil)); err != nil {
				t.Fatalf("re-encoded general-signing does not parse: %v", err)
			}
		}
	})
}
