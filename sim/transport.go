package sim

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/wrapper"
)

var errTruncated = errors.New("sim: response truncated by the meter's faulty firmware")

// faultyTransport spoils the responses of a meter with broken firmware as
// its model says: garbage keeps the wrapper framing but scrambles the APDU;
// truncation sends half a frame and drops the line.
type faultyTransport struct {
	*wrapper.Conn
	raw net.Conn
	dev *Device
	n   uint64
	// link shapes the session like the meter's network: each exchange
	// costs a round trip plus the time to carry its bytes.
	link    meter.LinkClass
	pending int // request bytes received since the last response
	// path is the meter's way through the radio mesh (nil: none).
	path *path
	// via carries the session through a concentrator (nil: direct).
	via *gatewayServer
}

func (t *faultyTransport) send(ctx context.Context, apdu []byte) error {
	if t.via != nil {
		return t.via.Send(ctx, apdu)
	}
	return t.Conn.Send(ctx, apdu)
}

// Recv counts the request's bytes for the link's bandwidth.
func (t *faultyTransport) Recv(ctx context.Context) ([]byte, error) {
	var b []byte
	var err error
	if t.via != nil {
		b, err = t.via.Recv(ctx)
	} else {
		b, err = t.Conn.Recv(ctx)
	}
	t.pending += len(b) + wrapperHeader
	if t.path != nil {
		t.path.sawRequest(b)
	}
	return b, err
}

// wrapperHeader is the IEC 62056-47 header every APDU travels with.
const wrapperHeader = 8

// delay holds a response back for the link: round trip plus both
// directions' bytes at the link's rate. A fast link costs nothing.
func (t *faultyTransport) delay(ctx context.Context, n int) error {
	if t.link.BytesPerSecond <= 0 && t.link.Latency <= 0 {
		return nil
	}
	d := 2 * t.link.Latency
	if bps := t.link.BytesPerSecond; bps > 0 {
		d += time.Duration(int64(t.pending+n+wrapperHeader) * int64(time.Second) / int64(bps))
	}
	t.pending = 0
	if d < time.Millisecond {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *faultyTransport) Send(ctx context.Context, apdu []byte) error {
	if t.path != nil {
		if err := t.meshDelay(ctx, apdu); err != nil {
			return err
		}
	}
	if err := t.delay(ctx, len(apdu)); err != nil {
		return err
	}
	// The send counter makes the choice differ between connections; n
	// between the responses of one.
	n := uint64(t.dev.counter.Peek())<<20 + t.n
	t.n++
	switch t.dev.m.FrameFaultFor(n) {
	case meter.FrameGarbage:
		b := make([]byte, len(apdu))
		for i, c := range apdu {
			b[i] = c ^ byte(0xA5+i*31)
		}
		return t.send(ctx, b)
	case meter.FrameTruncated:
		frame, err := wrapper.AppendFrame(nil, t.Local(), t.Remote(), apdu)
		if err != nil {
			return err
		}
		t.raw.Write(frame[:len(frame)/2])
		t.raw.Close()
		return errTruncated
	}
	return t.send(ctx, apdu)
}

func serverClientInfo(wc *wrapper.Conn, c net.Conn) server.ClientInfo {
	return server.ClientInfo{SAP: wc.Remote, Addr: c.RemoteAddr()}
}
