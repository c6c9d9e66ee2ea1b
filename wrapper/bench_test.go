package wrapper

import (
	"context"
	"io"
	"net"
	"testing"
)

// countingConn counts the reads of the socket.
type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(b []byte) (int, error) {
	c.reads++
	return c.Conn.Read(b)
}

// BenchmarkRecv exchanges 512-byte APDUs over loopback TCP, a request and
// its answer, each frame written whole: received through the Conn's
// buffer, and as two reads of the socket (header, then APDU), the way
// Recv read before. reads/op is the socket reads per answer.
func BenchmarkRecv(b *testing.B) {
	for _, c := range []struct {
		name string
		recv func(ctx context.Context, c *Conn) error
	}{
		{"buffered", func(ctx context.Context, c *Conn) error { _, err := c.Recv(ctx); return err }},
		{"two-reads", func(ctx context.Context, c *Conn) error {
			if _, err := io.ReadFull(c.rw, c.hdr[:]); err != nil {
				return err
			}
			h, err := DecodeHeader(c.hdr[:])
			if err != nil {
				return err
			}
			_, err = readN(c.rw, int(h.Length))
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				s, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer s.Close()
				sc := NewConn(s, 1, 16)
				apdu := make([]byte, 512)
				for {
					if _, err := sc.Recv(context.Background()); err != nil {
						done <- nil
						return
					}
					if err := sc.Send(context.Background(), apdu); err != nil {
						done <- nil
						return
					}
				}
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			cn := &countingConn{Conn: nc}
			cc := NewConn(cn, 16, 1)
			req := make([]byte, 16)
			ctx := context.Background()
			b.SetBytes(512 + HeaderLen)
			for b.Loop() {
				if err := cc.Send(ctx, req); err != nil {
					b.Fatal(err)
				}
				if err := c.recv(ctx, cc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cn.reads)/float64(b.N), "reads/op")
			nc.Close()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
