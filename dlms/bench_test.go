package dlms

import (
	"context"
	"testing"
)

// memLink answers from a fixed list without recording, so that the
// benchmarks measure the client.
type memLink struct {
	answers [][]byte
	i       int
}

func (m *memLink) Send(context.Context, []byte) error { return nil }

func (m *memLink) Recv(context.Context) ([]byte, error) {
	a := m.answers[m.i]
	m.i++
	return a, nil
}

func (m *memLink) Close() error { return nil }

func benchAssociate(b *testing.B, o Options, answers [][]byte) {
	ctx := context.Background()
	link := &memLink{answers: answers}
	b.ReportAllocs()
	for b.Loop() {
		link.i = 0
		c, err := NewClient(link, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Associate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssociateNoSecurity is the AARQ/AARE of trace 01.
func BenchmarkAssociateNoSecurity(b *testing.B) {
	tr := loadTrace(b, "01")
	benchAssociate(b, tr.options(b), tr.sc[:1])
}

// BenchmarkAssociateHLSGMAC is association 2 of trace 04: ciphered
// AARQ/AARE and the reply_to_HLS_authentication exchange, both GMACs
// computed and checked.
func BenchmarkAssociateHLSGMAC(b *testing.B) {
	tr := loadTrace(b, "04")
	o := tr.options(b)
	o.ReadInvocationCounter = false
	o.InvocationCounter = 1
	benchAssociate(b, o, tr.sc[3:5])
}
