package security

import (
	"bytes"
	"testing"
)

// BenchmarkEncrypt1KiB ciphers a 1 KiB APDU into a reused buffer.
func BenchmarkEncrypt1KiB(b *testing.B) {
	keys := testKeys()
	st := []byte("Gurux123")
	plain := bytes.Repeat([]byte{0xC4}, 1024)
	for _, c := range []struct {
		name string
		sc   SecurityControl
	}{{"auth", Authentication}, {"enc", Encryption}, {"auth+enc", AuthenticatedEncryption}} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, EncryptBufferSize(c.sc, len(plain)))
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for i := 0; b.Loop(); i++ {
				out, err := AppendEncrypt(dst[:0], c.sc, keys, st, uint32(i), plain)
				if err != nil || len(out) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecrypt1KiB deciphers a 1 KiB APDU into a reused buffer.
func BenchmarkDecrypt1KiB(b *testing.B) {
	keys := testKeys()
	st := []byte("Gurux123")
	plain := bytes.Repeat([]byte{0xC4}, 1024)
	for _, c := range []struct {
		name string
		sc   SecurityControl
	}{{"auth", Authentication}, {"enc", Encryption}, {"auth+enc", AuthenticatedEncryption}} {
		b.Run(c.name, func(b *testing.B) {
			ct, err := Encrypt(c.sc, keys, st, 1, plain)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, DecryptBufferSize(len(ct)))
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				out, _, err := AppendDecrypt(dst[:0], keys, st, ct)
				if err != nil || len(out) != len(plain) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrapGeneral1KiB produces a general-glo-ciphering APDU from nil:
// the one allocation is the output.
func BenchmarkWrapGeneral1KiB(b *testing.B) {
	keys := testKeys()
	st := []byte("Gurux123")
	plain := bytes.Repeat([]byte{0xC4}, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := WrapGeneral(nil, Global, AuthenticatedEncryption, keys, st, 1, plain); err != nil {
			b.Fatal(err)
		}
	}
}
