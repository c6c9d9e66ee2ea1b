package c1222

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// BenchmarkSecurityModes reads a 1 KiB table over loopback TCP in each
// security mode; compare the modes' ns/op with the clear mode's of the
// same run (the cost of EAX' over the exchange).
func BenchmarkSecurityModes(b *testing.B) {
	h := tableHandler{tables: map[uint16][]byte{1: bigTable(1024)}}
	for _, mode := range []SecurityMode{ModeClear, ModeAuthenticated, ModeCiphertext} {
		b.Run(mode.String(), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			m, _ := NewMeter(MeterConfig{ApTitle: meterAP, Keys: map[uint8][]byte{3: testKey}, MinMode: mode, ReplayWindow: 1 << 16}, h)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { m.Listen(ctx, ln); close(done) }()
			defer func() { cancel(); <-done }()
			c, err := Dial(ctx, ln.Addr().String(), Config{Called: meterAP, Calling: clientAP, Mode: mode, KeyID: 3, Key: testKey, Timeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			want := h.handle([]byte{0x30, 0, 1})
			b.ResetTimer()
			for b.Loop() {
				r, err := c.Exchange(ctx, []byte{0x30, 0, 1})
				if err != nil || !bytes.Equal(r, want) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEAX seals and opens a 256-octet EPSEM under a C12.22-sized
// cleartext; Seal's ns/op against Authenticate's is what encryption adds.
func BenchmarkEAX(b *testing.B) {
	v := readVectors(b)[0]
	e, _ := NewEAX(v.key)
	body := bytes.Repeat([]byte{0x55}, 256)
	b.Run("authenticate", func(b *testing.B) {
		for b.Loop() {
			e.Authenticate(v.cleartext, body)
		}
	})
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			e.Seal(v.cleartext, body)
		}
	})
}
