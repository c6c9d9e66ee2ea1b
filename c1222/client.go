package c1222

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/psem"
)

// Config is a client's side of a C12.22 association.
type Config struct {
	Called  ApTitle // the meter (or node) addressed
	Calling ApTitle // this client
	Base    ApTitle // resolves relative ApTitles; Root when zero

	Mode  SecurityMode // security mode of every request
	KeyID uint8        // the key's id in the meter's key table
	Key   []byte       // AES-128, for modes 1 and 2

	// UserID is the C12.22 user id the client reports in its logon; it
	// does not enter the ACSE elements and is kept here for the callers
	// that log on through PSEM.
	UserID uint16

	EDClass []byte        // the end device class to name, 4 octets; nil omits it
	MaxAPDU int           // segment requests larger than this; 0 never does
	Timeout time.Duration // per exchange when ctx has no earlier deadline
}

func (c *Config) base() ApTitle {
	if c.Base.IsZero() {
		return Root
	}
	return c.Base
}

// Client is a C12.22 association over one TCP connection. Exchange sends
// one PSEM request as an EPSEM service and returns the meter's response;
// exchanges are serialised.
type Client struct {
	cfg  Config
	keys *Keys
	s    *stream
	mu   sync.Mutex
	inv  uint32
}

// Dial connects to a C12.22 node at addr (host:port, 1153 by default) and
// returns a client; ctx bounds the connection.
func Dial(ctx context.Context, addr string, cfg Config) (*Client, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, fmt.Sprint(DefaultPort))
	}
	dctx, cancel := withTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("c1222: dial %s (%s): %w", addr, cfg.Called, err)
	}
	c, err := NewClient(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewClient runs a client on an open connection, which it then owns.
func NewClient(conn net.Conn, cfg Config) (*Client, error) {
	if cfg.Called.IsZero() {
		return nil, errors.New("c1222: config without a called ApTitle")
	}
	if cfg.Calling.IsZero() {
		return nil, errors.New("c1222: config without a calling ApTitle")
	}
	if cfg.Mode > ModeCiphertext {
		return nil, fmt.Errorf("c1222: security mode %d unknown", cfg.Mode)
	}
	if cfg.EDClass != nil && len(cfg.EDClass) != EDClassSize {
		return nil, fmt.Errorf("c1222: ED_CLASS of %d octets, want %d", len(cfg.EDClass), EDClassSize)
	}
	c := &Client{cfg: cfg, s: newStream(conn, cfg.base())}
	if cfg.Mode != ModeClear {
		k, err := NewKeys(map[uint8][]byte{cfg.KeyID: cfg.Key})
		if err != nil {
			return nil, err
		}
		c.keys = k
	}
	var seed [2]byte
	rand.Read(seed[:])
	c.inv = uint32(binary.BigEndian.Uint16(seed[:]))
	return c, nil
}

// Close ends the association's connection.
func (c *Client) Close() error { return c.s.conn.Close() }

// Exchange sends one PSEM request and returns the meter's response
// service (its response code first). A response that does not verify, is
// in a weaker security mode than the request, or answers another request
// is discarded, and the exchange goes on waiting until ctx's deadline or
// the configured timeout.
func (c *Client) Exchange(ctx context.Context, request []byte) ([]byte, error) {
	if len(request) == 0 {
		return nil, errors.New("c1222: empty request")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := withTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	c.inv = (c.inv + 1) & 0xFFFF
	a := &APDU{Called: c.cfg.Called, Calling: c.cfg.Calling, CallingInvocation: c.inv}
	if c.cfg.Mode != ModeClear {
		a.HasAuth, a.KeyID, a.IV = true, c.cfg.KeyID, newIV()
	}
	e := &EPSEM{Mode: c.cfg.Mode, Response: RespondAlways, EDClass: c.cfg.EDClass, Services: [][]byte{request}}
	if err := Seal(a, e, c.keys, c.cfg.base()); err != nil {
		return nil, fmt.Errorf("c1222: %s: %w", c.cfg.Called, err)
	}
	if err := c.s.write(ctx, a, c.cfg.MaxAPDU); err != nil {
		return nil, fmt.Errorf("c1222: %s: request 0x%02X: %w", c.cfg.Called, request[0], err)
	}
	r, err := awaitResponse(ctx, c.s, c.keys, c.cfg.base(), c.cfg.Called, c.inv, c.cfg.Mode)
	if err != nil {
		return nil, fmt.Errorf("c1222: %s: request 0x%02X: %w", c.cfg.Called, request[0], err)
	}
	return r, nil
}

// awaitResponse reads until the response to invocation inv from called
// arrives, verified and in at least the request's security mode, and
// returns its one service. Other messages are passed over.
func awaitResponse(ctx context.Context, s *stream, keys *Keys, base, called ApTitle, inv uint32, mode SecurityMode) ([]byte, error) {
	var lastRefusal error
	for {
		r, _, err := s.read(ctx, time.Time{})
		if err != nil {
			var m *malformedError
			if errors.As(err, &m) {
				lastRefusal = err
				continue
			}
			if lastRefusal != nil {
				err = fmt.Errorf("%w (last response refused: %v)", err, lastRefusal)
			}
			return nil, err
		}
		if !r.HasCalledInvocation || r.CalledInvocation != inv {
			continue // an answer to an earlier request, or not an answer
		}
		if !r.Calling.IsZero() && !r.Calling.Equal(called, base) {
			lastRefusal = fmt.Errorf("response from %s", r.Calling)
			continue
		}
		resp, err := Open(r, keys, base)
		if err != nil {
			lastRefusal = err
			continue
		}
		if resp.Mode < mode {
			lastRefusal = fmt.Errorf("response in security mode %d to a request in mode %d", resp.Mode, mode)
			continue
		}
		if len(resp.Services) != 1 {
			return nil, fmt.Errorf("%d services answer one request", len(resp.Services))
		}
		return resp.Services[0], nil
	}
}

func newIV() []byte {
	iv := make([]byte, 4)
	rand.Read(iv)
	return iv
}

// A Client is the link psem.Client sends over.
var _ psem.Exchanger = (*Client)(nil)
