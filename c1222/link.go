package c1222

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/linkio"
)

// DefaultPort is the TCP (and UDP) port IANA assigns to C12.22.
const DefaultPort = 1153

// DefaultTimeout bounds one exchange when the context has no deadline.
const DefaultTimeout = 30 * time.Second

// stream carries APDUs over TCP, where each is self-delimiting by its BER
// length: segments out when they exceed the peer's size, reassembly in.
type stream struct {
	conn  net.Conn
	br    *bufio.Reader
	dl    *linkio.Deadlines
	base  ApTitle
	reasm *reassembler
	wmu   sync.Mutex
}

func newStream(conn net.Conn, base ApTitle) *stream {
	return &stream{conn: conn, br: bufio.NewReader(conn), dl: linkio.New(conn), base: base, reasm: newReassembler()}
}

// readFrame reads one APDU's octets, tag and length included.
func readFrame(br *bufio.Reader) ([]byte, error) {
	tag, err := br.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagAPDU {
		return nil, fmt.Errorf("c1222: stream octet 0x%02X where an APDU (0x60) begins", tag)
	}
	first, err := br.ReadByte()
	if err != nil {
		return nil, noEOF(err)
	}
	hdr := []byte{tag, first}
	if first&0x80 != 0 {
		k := int(first & 0x7F)
		if k == 0 || k > 3 {
			return nil, fmt.Errorf("c1222: APDU length of %d octets refused", k)
		}
		more := make([]byte, k)
		if _, err := io.ReadFull(br, more); err != nil {
			return nil, noEOF(err)
		}
		hdr = append(hdr, more...)
	}
	n, _, err := readLength(hdr[1:])
	if err != nil {
		return nil, fmt.Errorf("c1222: APDU %w", err)
	}
	if n > MaxAPDUSize {
		return nil, fmt.Errorf("c1222: APDU of %d octets exceeds %d", n, MaxAPDUSize)
	}
	b := make([]byte, len(hdr)+n)
	copy(b, hdr)
	if _, err := io.ReadFull(br, b[len(hdr):]); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// read returns the next whole APDU, reassembling segments, until ctx's
// deadline or until (zero: ctx alone). A malformed APDU whose framing
// held is returned as an error with its octets so a server can skip it.
func (s *stream) read(ctx context.Context, until time.Time) (*APDU, []byte, error) {
	stop := s.dl.Watch(ctx)
	defer stop()
	for {
		if err := s.dl.SetRead(ctx, until); err != nil {
			return nil, nil, linkio.Error(ctx, "c1222", "read", err)
		}
		raw, err := readFrame(s.br)
		if err != nil {
			return nil, nil, linkio.Error(ctx, "c1222", "read", err)
		}
		a, err := ParseAPDU(raw)
		if err != nil {
			return nil, raw, &malformedError{err}
		}
		if !a.Segment {
			return a, raw, nil
		}
		whole, err := s.reasm.add(a, s.base)
		if err != nil {
			return nil, raw, &malformedError{err}
		}
		if whole == nil {
			continue
		}
		if a, err = ParseAPDU(whole); err != nil || a.Segment {
			return nil, whole, &malformedError{fmt.Errorf("c1222: reassembled APDU: %v", orSegment(err))}
		}
		return a, whole, nil
	}
}

func orSegment(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("a segment of a segment")
}

// malformedError is an APDU that arrived whole but does not decode; the
// stream stays usable.
type malformedError struct{ err error }

func (e *malformedError) Error() string { return e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// write sends a, in segments of at most max octets when max > 0.
func (s *stream) write(ctx context.Context, a *APDU, max int) error {
	segs, err := Split(a, max)
	if err != nil {
		return err
	}
	return s.writeRaw(ctx, segs...)
}

func (s *stream) writeRaw(ctx context.Context, frames ...[]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	stop := s.dl.Watch(ctx)
	defer stop()
	if err := s.dl.SetWrite(ctx); err != nil {
		return linkio.Error(ctx, "c1222", "write", err)
	}
	for _, f := range frames {
		if _, err := s.conn.Write(f); err != nil {
			return linkio.Error(ctx, "c1222", "write", err)
		}
	}
	return nil
}

// withTimeout gives ctx a deadline d from now unless it has an earlier one.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
