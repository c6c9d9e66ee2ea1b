package osgp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// Sequencer hands out sequence numbers for one meter's key: each above
// every one it gave before, and at least min.
type Sequencer interface {
	Next(ctx context.Context, min uint32) (uint32, error)
}

// Counter is a Sequencer in memory, starting after its value.
type Counter struct {
	mu sync.Mutex
	n  uint32
}

// NewCounter returns a counter whose first number is last+1.
func NewCounter(last uint32) *Counter { return &Counter{n: last} }

// Next implements Sequencer.
func (c *Counter) Next(_ context.Context, min uint32) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == ^uint32(0) {
		return 0, errors.New("osgp: sequence numbers exhausted: the key must be changed")
	}
	c.n = max(c.n+1, min)
	return c.n, nil
}

// Config says how a client reaches one meter.
type Config struct {
	// Self and Meter are the head-end's and the meter's addresses (zero:
	// DefaultHeadEndNode and DefaultMeterNode).
	Self, Meter Node
	Domain      []byte
	// UniqueID, when 6 octets, addresses the meter by its Neuron ID.
	UniqueID []byte
	Keys     Keys
	// Encrypt encrypts requests under the legacy suite too (AES-128
	// always encrypts); the meter answers in kind.
	Encrypt bool
	// Timeout bounds one request's answer (0: five seconds).
	Timeout time.Duration
	// Seq numbers the requests (nil: a Counter from 0).
	Seq Sequencer
	// Guard counts digest failures of the meter's answers under Peer
	// (nil: none kept). Forged answers are how a man in the middle would
	// use the head-end as its verification oracle.
	Guard *Guard
	Peer  string
}

// ErrSequence: the meter kept refusing our sequence numbers.
var ErrSequence = errors.New("osgp: the meter refuses our sequence numbers")

// ErrClosed: the meter closed the connection after our request, which is
// what a meter does with a message it cannot verify.
var ErrClosed = errors.New("osgp: the meter closed the connection (a message it cannot verify: wrong key or suite?)")

// ErrUnexpected: an answer that does not belong to the request.
var ErrUnexpected = errors.New("osgp: unexpected answer")

// Client is the head-end side of one meter's connection. It is not safe
// for concurrent use.
type Client struct {
	conn net.Conn
	cfg  Config
	dl   *linkio.Deadlines
	tid  uint8
	last uint32
}

// Dial connects to a meter at addr (host:port).
func Dial(ctx context.Context, addr string, cfg Config) (*Client, error) {
	var d net.Dialer
	if _, ok := ctx.Deadline(); !ok {
		d.Timeout = 10 * time.Second
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("osgp: dial %s: %w", addr, err)
	}
	return NewClient(c, cfg)
}

// NewClient wraps an open connection.
func NewClient(conn net.Conn, cfg Config) (*Client, error) {
	if err := cfg.Keys.check(); err != nil {
		conn.Close()
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.Self, cfg.Meter = orNode(cfg.Self, DefaultHeadEndNode), orNode(cfg.Meter, DefaultMeterNode)
	if cfg.Seq == nil {
		cfg.Seq = NewCounter(0)
	}
	if cfg.Peer == "" {
		cfg.Peer = conn.RemoteAddr().String()
	}
	return &Client{conn: conn, cfg: cfg, dl: linkio.New(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// LastSeq is the last sequence number the client used.
func (c *Client) LastSeq() uint32 { return c.last }

// ReadTable reads a whole table.
func (c *Client) ReadTable(ctx context.Context, id uint16) ([]byte, error) {
	r, err := c.Do(ctx, Request{Op: OpRead, Table: id})
	return r.Data, err
}

// ReadPartial reads count octets of a table from offset.
func (c *Client) ReadPartial(ctx context.Context, id uint16, offset uint32, count uint16) ([]byte, error) {
	r, err := c.Do(ctx, Request{Op: OpReadPartial, Table: id, Offset: offset, Count: count})
	return r.Data, err
}

// WriteTable writes a whole table.
func (c *Client) WriteTable(ctx context.Context, id uint16, data []byte) error {
	_, err := c.Do(ctx, Request{Op: OpWrite, Table: id, Data: data})
	return err
}

// WritePartial writes data into a table at offset.
func (c *Client) WritePartial(ctx context.Context, id uint16, offset uint32, data []byte) error {
	_, err := c.Do(ctx, Request{Op: OpWritePartial, Table: id, Offset: offset, Data: data})
	return err
}

// Do sends one request and returns the meter's response; a response
// code other than OK is returned as the error too (a psem.Code). A
// refused sequence number is caught up once.
func (c *Client) Do(ctx context.Context, req Request) (Response, error) {
	body, err := AppendRequest(nil, req)
	if err != nil {
		return Response{}, err
	}
	var min uint32
	for attempt := 0; ; attempt++ {
		if c.cfg.Guard != nil && c.cfg.Guard.Locked(c.cfg.Peer) {
			return Response{}, fmt.Errorf("osgp: meter %s: %w", c.cfg.Peer, ErrLockedOut)
		}
		seq, err := c.cfg.Seq.Next(ctx, min)
		if err != nil {
			return Response{}, err
		}
		c.last = seq
		s, err := c.roundTrip(ctx, seq, body)
		if err != nil {
			return Response{}, fmt.Errorf("osgp: meter %s: table %d: %w", c.cfg.Peer, req.Table, err)
		}
		if s.Refusal {
			r, err := ParseResponse(s.Body, OpRead)
			last, ok := lastOf(r)
			if err != nil || !ok || last != s.Seq {
				return Response{}, fmt.Errorf("osgp: meter %s: %w: malformed refusal", c.cfg.Peer, ErrUnexpected)
			}
			if attempt > 0 || last == ^uint32(0) {
				return Response{}, fmt.Errorf("osgp: meter %s: %w: %d refused, the meter is at %d", c.cfg.Peer, ErrSequence, seq, last)
			}
			min = last + 1
			continue
		}
		if s.Seq != seq {
			return Response{}, fmt.Errorf("osgp: meter %s: %w: sequence %d answers %d", c.cfg.Peer, ErrUnexpected, s.Seq, seq)
		}
		r, err := ParseResponse(s.Body, req.Op)
		if err != nil {
			return Response{}, fmt.Errorf("osgp: meter %s: table %d: %w", c.cfg.Peer, req.Table, err)
		}
		if r.Code != psem.OK {
			return r, fmt.Errorf("osgp: meter %s: table %d: %w", c.cfg.Peer, req.Table, r.Code)
		}
		return r, nil
	}
}

func (c *Client) roundTrip(ctx context.Context, seq uint32, body []byte) (Sealed, error) {
	stop := c.dl.Watch(ctx)
	defer stop()
	c.tid = (c.tid + 1) & 15
	f := Frame{Src: c.cfg.Self, Dst: c.cfg.Meter, UniqueID: c.cfg.UniqueID, Domain: c.cfg.Domain, Kind: KindRequest, TID: c.tid}
	apdu, err := Seal(c.cfg.Keys, header(f), KindRequest, seq, body, c.cfg.Encrypt)
	if err != nil {
		return Sealed{}, err
	}
	f.APDU = apdu
	b, err := AppendFrame(nil, f)
	if err != nil {
		return Sealed{}, err
	}
	if err := c.dl.SetWrite(ctx); err != nil {
		return Sealed{}, err
	}
	if err := WriteFrame(c.conn, b); err != nil {
		return Sealed{}, linkio.Error(ctx, "osgp", "write", err)
	}
	until := time.Now().Add(c.cfg.Timeout)
	for {
		if err := c.dl.SetRead(ctx, until); err != nil {
			return Sealed{}, err
		}
		rb, err := ReadFrame(c.conn, 0)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
				err = ErrClosed
			}
			return Sealed{}, linkio.Error(ctx, "osgp", "read", err)
		}
		r, err := ParseFrame(rb)
		if err != nil || r.Kind != KindResponse || r.TID != c.tid || r.Src != c.cfg.Meter || r.Dst != c.cfg.Self || !bytes.Equal(r.Domain, c.cfg.Domain) {
			continue // not the answer: a stale one, or someone else's
		}
		s, err := Open(c.cfg.Keys, header(r), KindResponse, r.APDU)
		if err != nil {
			if c.cfg.Guard != nil && (errors.Is(err, ErrDigest) || errors.Is(err, ErrSuite)) {
				c.cfg.Guard.Fail(c.cfg.Peer)
			}
			return Sealed{}, err
		}
		return s, nil
	}
}
