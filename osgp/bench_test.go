package osgp

import "testing"

// BenchmarkSealOpen seals and opens a 200-octet table response under
// each suite; AES-128 is the baseline the legacy suite is compared with:
//
//	go test ./osgp -run '^$' -bench SealOpen
func BenchmarkSealOpen(b *testing.B) {
	body := make([]byte, 200)
	for i := range body {
		body[i] = byte(i)
	}
	hdr := header(Frame{Src: meterNode, Dst: headNode, Domain: domain, Kind: KindResponse, TID: 3})
	for _, tc := range []struct {
		name    string
		k       Keys
		encrypt bool
	}{{"aes", Keys{AES128, aesKey}, true}, {"legacy", Keys{Legacy, legacyKey}, false}, {"legacy-rc4", Keys{Legacy, legacyKey}, true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for i := 0; b.Loop(); i++ {
				apdu, err := Seal(tc.k, hdr, KindResponse, uint32(i), body, tc.encrypt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Open(tc.k, hdr, KindResponse, apdu); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
