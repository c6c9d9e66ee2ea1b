package osgp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// DefaultPort is the TCP port OSGP meters listen on in amigo's framing.
const DefaultPort = 1629

// Meter is the meter side: it answers table requests addressed to it from
// a table store, under its key and suite. Sequence numbers must rise: a
// request at or below the last accepted number is refused with the last
// one (see SealRefusal). A message that fails verification is never
// answered: the connection is closed and the failure counted against the
// peer's address in Guard.
type Meter struct {
	Node     Node // zero: DefaultMeterNode
	Domain   []byte
	UniqueID []byte // also answers frames addressed to this Neuron ID
	Keys     Keys
	Tables   psem.Tables
	// Guard counts digest failures per peer address (nil: a guard of the
	// meter's own with the defaults).
	Guard *Guard
	// Idle is how long a connection may stay silent (0: two minutes).
	Idle time.Duration
	// MaxResponse bounds a response's data; a larger read is answered
	// psem.RSTL (0: what fits a frame).
	MaxResponse int

	mu    sync.Mutex
	last  uint32
	guard Guard
}

// LastSeq returns the last sequence number the meter accepted.
func (m *Meter) LastSeq() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// SetLastSeq sets the last accepted sequence number (a meter's state
// across restarts).
func (m *Meter) SetLastSeq(n uint32) {
	m.mu.Lock()
	m.last = n
	m.mu.Unlock()
}

func (m *Meter) g() *Guard {
	if m.Guard != nil {
		return m.Guard
	}
	return &m.guard
}

// Serve answers connections on ln until ctx ends.
func (m *Meter) Serve(ctx context.Context, ln net.Listener) error {
	return linkio.Serve(ctx, ln, "osgp", m.ServeConn, nil)
}

// peerOf names a connection's peer by its address without the port: a
// new connection is no new chance to guess.
func peerOf(c net.Conn) string {
	a := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// ServeConn answers requests on one connection until it ends, the peer
// stays silent for Idle, or a message fails verification.
func (m *Meter) ServeConn(ctx context.Context, c net.Conn) error {
	defer c.Close()
	peer := peerOf(c)
	dl := linkio.New(c)
	stop := dl.Watch(ctx)
	defer stop()
	idle := m.Idle
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	for {
		if m.g().Locked(peer) {
			return fmt.Errorf("osgp: meter %s: %s: %w", orNode(m.Node, DefaultMeterNode), peer, ErrLockedOut)
		}
		if err := dl.SetRead(ctx, time.Now().Add(idle)); err != nil {
			return err
		}
		b, err := ReadFrame(c, 0)
		if err != nil {
			if errors.Is(err, ErrLength) {
				return fmt.Errorf("osgp: meter %s: %s: %w", orNode(m.Node, DefaultMeterNode), peer, err)
			}
			return nil
		}
		reply, err := m.Handle(peer, b)
		if err != nil {
			return fmt.Errorf("osgp: meter %s: %w", orNode(m.Node, DefaultMeterNode), err)
		}
		if reply == nil {
			continue
		}
		if err := dl.SetWrite(ctx); err != nil {
			return err
		}
		if err := WriteFrame(c, reply); err != nil {
			return linkio.Error(ctx, "osgp", "write", err)
		}
	}
}

// Handle answers one frame from peer: the reply frame, nil for a frame
// not for this meter, or an error after which the connection is closed
// (a message that failed verification, a peer locked out).
func (m *Meter) Handle(peer string, b []byte) ([]byte, error) {
	f, err := ParseFrame(b)
	if err != nil {
		return nil, nil
	}
	self := orNode(m.Node, DefaultMeterNode)
	if f.Kind != KindRequest || !bytes.Equal(f.Domain, m.Domain) || f.Dst.Subnet != self.Subnet {
		return nil, nil
	}
	if f.UniqueID != nil && !bytes.Equal(f.UniqueID, m.UniqueID) || f.UniqueID == nil && f.Dst.Node != self.Node {
		return nil, nil
	}
	g := m.g()
	if g.Locked(peer) {
		return nil, fmt.Errorf("%s: %w", peer, ErrLockedOut)
	}
	s, err := Open(m.Keys, header(f), f.Kind, f.APDU)
	if err != nil {
		if errors.Is(err, ErrDigest) || errors.Is(err, ErrSuite) {
			g.Fail(peer)
		}
		return nil, fmt.Errorf("%s: sequence %d: %w", peer, s.Seq, err)
	}
	out := Frame{Src: self, Dst: f.Src, Domain: m.Domain, Kind: KindResponse, TID: f.TID}
	m.mu.Lock()
	last := m.last
	fresh := s.Seq > last
	if fresh {
		m.last = s.Seq
	}
	m.mu.Unlock()
	if !fresh {
		out.APDU, err = SealRefusal(m.Keys, last)
		if err != nil {
			return nil, err
		}
		return AppendFrame(nil, out)
	}
	req, err := ParseRequest(s.Body)
	var resp Response
	switch {
	case err != nil:
		resp.Code = psem.ERR
		req.Op = OpWrite // no data in the answer
	default:
		resp = m.serve(req)
	}
	body, err := AppendResponse(nil, req.Op, resp)
	if err != nil {
		return nil, err
	}
	out.APDU, err = Seal(m.Keys, header(out), KindResponse, s.Seq, body, s.Encrypted)
	if err != nil {
		return nil, err
	}
	return AppendFrame(nil, out)
}

func (m *Meter) serve(r Request) Response {
	var data []byte
	var err error
	switch r.Op {
	case OpRead:
		data, err = m.Tables.ReadTable(r.Table)
	case OpReadPartial:
		data, err = m.Tables.ReadOffset(r.Table, r.Offset, r.Count)
	case OpWrite:
		err = m.Tables.WriteTable(r.Table, r.Data)
	case OpWritePartial:
		err = m.Tables.WriteOffset(r.Table, r.Offset, r.Data)
	}
	if err != nil {
		var c psem.Code
		if errors.As(err, &c) && c != psem.OK {
			return Response{Code: c}
		}
		return Response{Code: psem.ERR}
	}
	limit := m.MaxResponse
	if limit <= 0 || limit > MaxFrame-64 {
		limit = MaxFrame - 64
	}
	if len(data) > limit {
		return Response{Code: psem.RSTL}
	}
	return Response{Code: psem.OK, Data: data}
}

// lastOf reads the meter's last sequence number from a refusal's body.
func lastOf(r Response) (uint32, bool) {
	if r.Code != psem.ISSS || len(r.Data) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(r.Data), true
}
