package dlms

import (
	"context"
	"testing"

	"github.com/amigo-ami/amigo/dlms/apdu"
)

// FuzzGetAnswer feeds arbitrary bytes to a GET as the server's answer (and
// as every further block): the client must fail cleanly, never panic.
func FuzzGetAnswer(f *testing.F) {
	f.Add([]byte{0xC4, 0x01, 0xC1, 0x00, 0x12, 0x00, 0x09})
	f.Add([]byte{0xC4, 0x01, 0xC1, 0x01, 0x03})
	f.Add([]byte{0xC4, 0x02, 0xC1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x01, 0x02, 0x00})
	f.Add([]byte{0xC4, 0x02, 0xC1, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x84, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0xD8, 0x01, 0x02})
	f.Add([]byte{0xC4, 0x03, 0xC1, 0x02, 0x00, 0x12, 0x00, 0x09, 0x01, 0x03})
	aare := plainAARE(f, 0x001E1D, 512)
	f.Fuzz(func(t *testing.T, b []byte) {
		link := &memLink{answers: [][]byte{aare, b, b, b}}
		c, err := NewClient(link, Options{MaxResponse: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := c.Associate(ctx); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Get(ctx, clockTime, nil)
	})
}

// FuzzAARE feeds arbitrary bytes to an HLS-GMAC association as the AARE
// and as the answer to reply_to_HLS_authentication.
func FuzzAARE(f *testing.F) {
	tr := loadTrace(f, "04")
	o := tr.options(f)
	o.ReadInvocationCounter = false
	o.InvocationCounter = 1
	f.Add(tr.sc[3], tr.sc[4])
	f.Add(tr.sc[3], []byte{0xD8, 0x01, 0x02})
	f.Add(plainAARE(f, 0x401E1D, 512), tr.sc[4])
	f.Add(enc(f, &apdu.AARE{ApplicationContext: apdu.ContextLNCiphered, Result: apdu.ResultRejectedPermanent, Diagnostic: apdu.Diagnostic{Value: 13}}), []byte{})
	f.Fuzz(func(t *testing.T, aare, answer []byte) {
		c, err := NewClient(&memLink{answers: [][]byte{aare, answer}}, o)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Associate(context.Background())
	})
}

// FuzzResultList checks the decoder of a long GET-with-list answer.
func FuzzResultList(f *testing.F) {
	f.Add([]byte{2, 0, 0x12, 0, 9, 1, 4})
	f.Add([]byte{0x82, 0xFF, 0xFF, 0})
	f.Add([]byte{1, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := parseResultList(b)
		if err == nil && len(res) > len(b) {
			t.Fatalf("%d results from %d bytes", len(res), len(b))
		}
	})
}
