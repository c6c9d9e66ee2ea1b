package dlms

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/obis"
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

// fuzzLink answers from a list, then refuses every further request with
// read-write-denied.
type fuzzLink struct {
	answers [][]byte
	i       int
}

func (m *fuzzLink) Send(context.Context, []byte) error { return nil }

func (m *fuzzLink) Recv(context.Context) ([]byte, error) {
	if m.i >= len(m.answers) {
		return []byte{0xC4, 0x01, 0xC1, 0x01, 0x03}, nil
	}
	a := m.answers[m.i]
	m.i++
	return a, nil
}

func (m *fuzzLink) Close() error { return nil }

// FuzzProfileLadder feeds arbitrary capture objects and buffers (each the
// A-XDR data of a GET answer) to ReadProfileFrom from every rung: whatever
// the meter sends, the read ends with rows of the columns' width or an
// error, never a panic or an endless loop.
func FuzzProfileLadder(f *testing.F) {
	clock := "020412000809060000010000FF0F02120000"
	cols := "0102" + clock + "020412000309060101151900FF0F02120000"
	row := func(dt string) string { return "0202" + dt + "0600000007" }
	dt := "090C07EA0B170115000000000000"
	f.Add(mustHexF(f, cols), mustHexF(f, "0102"+row(dt)+row("090E090C07EA0B1701150F0000000000")), uint32(2), uint8(0))
	f.Add(mustHexF(f, cols), mustHexF(f, "0101"+row("00")), uint32(0xFFFFFFFF), uint8(2))
	f.Add(mustHexF(f, "0101"+clock), mustHexF(f, "01020201"+dt+"0201"+"090907EA0B1701150F0000"), uint32(9), uint8(3))
	f.Add(mustHexF(f, cols), mustHexF(f, "0100"), uint32(1), uint8(1))
	aare := plainAARE(f, 0x001E1D, 512)
	get := func(b []byte) []byte { return append([]byte{0xC4, 0x01, 0xC1, 0x00}, b...) }
	f.Fuzz(func(t *testing.T, cols, buf []byte, entries uint32, method uint8) {
		n := get([]byte{0x06, byte(entries >> 24), byte(entries >> 16), byte(entries >> 8), byte(entries)})
		period := get([]byte{0x06, 0, 0, 0x03, 0x84})
		link := &fuzzLink{answers: [][]byte{aare, get(cols), get(buf), n, period, get(buf), get(buf), get(buf), get(buf), get(buf)}}
		c, err := NewClient(link, Options{MaxProfileEntries: 3})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := c.Associate(ctx); err != nil {
			t.Fatal(err)
		}
		from := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
		got, err := c.ReadProfileFrom(ctx, obis.Code{1, 0, 99, 1, 0, 255}, from, from.Add(2*time.Hour), ProfileMethod(method%4))
		if err != nil {
			return
		}
		if len(got.Rows) != len(got.Times) {
			t.Fatalf("%d rows, %d times", len(got.Rows), len(got.Times))
		}
		for _, r := range got.Rows {
			if r.Tag != axdr.TagStructure || len(r.Items) != len(got.Columns) {
				t.Fatalf("row %s for %d columns", r, len(got.Columns))
			}
		}
	})
}

func mustHexF(f *testing.F, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
