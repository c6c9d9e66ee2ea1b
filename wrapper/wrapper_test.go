package wrapper

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

func wrapperTraces(t *testing.T) []*dlmstrace.File {
	var out []*dlmstrace.File
	for _, tf := range dlmstrace.All(t) {
		if tf.Transport == "wrapper" {
			out = append(out, tf)
		}
	}
	if len(out) == 0 {
		t.Fatal("no wrapper traces")
	}
	return out
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var reNote = regexp.MustCompile(`^wrapper v1 src-wPort (\d+) dst-wPort (\d+) len (\d+)`)

// TestTraceFrames parses every frame of every wrapper trace, checks the
// header against the note and the APDU against apdu_hex, re-encodes it and
// then replays each direction as one stream through Conn.
func TestTraceFrames(t *testing.T) {
	n := 0
	for _, tf := range wrapperTraces(t) {
		streams := map[string][]byte{}
		apdus := map[string][][]byte{}
		for i, s := range tf.Steps {
			raw := s.Frame()
			f, used, err := ParseFrame(raw)
			if err != nil || used != len(raw) {
				t.Fatalf("%s step %d: used %d of %d, %v", tf.Name, i, used, len(raw), err)
			}
			n++
			m := reNote.FindStringSubmatch(s.Note)
			if m == nil {
				t.Fatalf("%s step %d: note %q", tf.Name, i, s.Note)
			}
			src, _ := strconv.Atoi(m[1])
			dst, _ := strconv.Atoi(m[2])
			l, _ := strconv.Atoi(m[3])
			if int(f.Src) != src || int(f.Dst) != dst || len(f.APDU) != l {
				t.Errorf("%s step %d: %d->%d len %d, note %v", tf.Name, i, f.Src, f.Dst, len(f.APDU), m[1:])
			}
			if want := s.APDU(); !bytes.Equal(f.APDU, want) {
				t.Errorf("%s step %d: APDU %X, want %X", tf.Name, i, f.APDU, want)
			}
			if enc, err := AppendFrame(nil, f.Src, f.Dst, f.APDU); err != nil || !bytes.Equal(enc, raw) {
				t.Errorf("%s step %d: re-encoded %X", tf.Name, i, enc)
			}
			streams[s.Dir] = append(streams[s.Dir], raw...)
			apdus[s.Dir] = append(apdus[s.Dir], f.APDU)
		}
		// The server side accepts any client SAP (file 04 changes SAP mid-stream).
		c := NewConn(readOnly{bytes.NewReader(streams["C->S"])}, 1, 0, WithAnyRemote())
		for i, want := range apdus["C->S"] {
			got, err := c.Recv(context.Background())
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s C->S %d: %X %v", tf.Name, i, got, err)
			}
		}
		if _, err := c.Recv(context.Background()); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: after last frame: %v", tf.Name, err)
		}
	}
	t.Logf("%d frames", n)
}

type readOnly struct{ io.Reader }

func (readOnly) Write(p []byte) (int, error) { return len(p), nil }

func TestParseFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want error
	}{
		{"short header", "000100100001", 0xFFFF, ErrTruncated},
		{"version", "000200100001000100", 0xFFFF, ErrVersion},
		{"length beyond input", "000100100001FFFF6203", 0xFFFF, ErrTruncated},
		{"length over limit", "000100100001FFFF6203", 1024, ErrTooLong},
	}
	for _, tc := range tests {
		_, _, err := ParseFrameLimit(unhex(t, tc.in), tc.max)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var ve *VersionError
	if _, err := DecodeHeader(unhex(t, "0000001000010000")); !errors.As(err, &ve) || ve.Got != 0 {
		t.Errorf("version error: %v", err)
	}
	if _, err := AppendFrame(nil, 1, 1, make([]byte, 0x10000)); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized APDU: %v", err)
	}
}

func tcpPair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := Accept(ln, 1, WithMaxAPDU(4096)); ch <- res{c, err} }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := Dial(ctx, ln.Addr().String(), 16, 1, WithMaxAPDU(4096))
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { cl.Close(); r.c.Close() })
	return cl, r.c
}

func TestLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, srv := tcpPair(t)
	for _, size := range []int{0, 1, 600, 4095} {
		req := bytes.Repeat([]byte{byte(size)}, size)
		if err := cl.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
		got, err := srv.Recv(ctx)
		if err != nil || !bytes.Equal(got, req) {
			t.Fatalf("size %d: %d bytes, %v", size, len(got), err)
		}
		if srv.Remote() != 16 {
			t.Fatalf("server remote wPort %d", srv.Remote())
		}
		if err := srv.Send(ctx, append(req, 0xEE)); err != nil {
			t.Fatal(err)
		}
		got, err = cl.Recv(ctx)
		if err != nil || len(got) != size+1 {
			t.Fatalf("reply %d: %d bytes %v", size, len(got), err)
		}
	}
	// A new SAP on the same connection is followed by the server.
	cl.SetPorts(1, 1)
	if err := cl.Send(ctx, []byte{0x60}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Recv(ctx); err != nil || srv.Remote() != 1 {
		t.Fatalf("SAP change: %v remote %d", err, srv.Remote())
	}
	// A reply to the wrong wPort is consumed and reported.
	srv.SetPorts(1, 99)
	if err := srv.Send(ctx, []byte{0x61}); err != nil {
		t.Fatal(err)
	}
	var pe *PortError
	if _, err := cl.Recv(ctx); !errors.As(err, &pe) || pe.Dst != 99 {
		t.Fatalf("port check: %v", err)
	}
	// Over the limit: the server rejects without waiting for the body.
	if err := cl.Send(ctx, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	var le *LengthError
	if _, err := srv.Recv(ctx); !errors.As(err, &le) || le.Length != 5000 {
		t.Fatalf("limit: %v", err)
	}
	if _, err := srv.Recv(ctx); !errors.As(err, &le) {
		t.Fatalf("stream stays broken: %v", err)
	}
}

// TestHostileHeader: a header that claims 65535 bytes and then stalls must
// end at the context deadline without allocating the claimed length.
func TestHostileHeader(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = b.Write(unhex(t, "000100010010FFFF6203")) }()
	c := NewConn(a, 16, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled body: %v", err)
	}
	allocs := testing.AllocsPerRun(1, func() {
		_, _ = readN(bytes.NewReader([]byte{1, 2}), 0xFFFF)
	})
	if allocs > 3 { // reader, one 4 KiB buffer, the error
		t.Fatalf("%v allocations", allocs)
	}
	if _, err := readN(strings.NewReader("ab"), 0xFFFF); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
}

func TestCancel(t *testing.T) {
	cl, _ := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := cl.Recv(ctx); errc <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		"00010010000100056203800100",
		"0001000100100007C401C100120009",
		"000100010010FFFF6203",
		"0002001000010000",
		"000100",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b)
		if err != nil {
			return
		}
		if n != HeaderLen+len(fr.APDU) || n > len(b) {
			t.Fatalf("consumed %d", n)
		}
		enc, err := AppendFrame(nil, fr.Src, fr.Dst, fr.APDU)
		if err != nil || !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encode %X vs %X", enc, b[:n])
		}
	})
}

func BenchmarkParseFrame(b *testing.B) {
	raw, _ := AppendFrame(nil, 1, 16, make([]byte, 512))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseFrame(raw); err != nil {
			b.Fatal(err)
		}
	}
}
