package sim

import (
	"context"
	"errors"
	"net"

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
}

func (t *faultyTransport) Send(ctx context.Context, apdu []byte) error {
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
		return t.Conn.Send(ctx, b)
	case meter.FrameTruncated:
		frame, err := wrapper.AppendFrame(nil, t.Local(), t.Remote(), apdu)
		if err != nil {
			return err
		}
		t.raw.Write(frame[:len(frame)/2])
		t.raw.Close()
		return errTruncated
	}
	return t.Conn.Send(ctx, apdu)
}

func serverClientInfo(wc *wrapper.Conn, c net.Conn) server.ClientInfo {
	return server.ClientInfo{SAP: wc.Remote, Addr: c.RemoteAddr()}
}
