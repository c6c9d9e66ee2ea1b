package psem

import (
	"bytes"
	"context"
	"crypto/des"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Exchanger is what a link offers PSEM: one request carried to the meter
// and its response carried back, however the link segments, acknowledges
// and retries them (the C12.18 packet link, the C12.22 EPSEM envelope).
type Exchanger interface {
	Exchange(ctx context.Context, req []byte) ([]byte, error)
}

// Client sends PSEM requests over an Exchanger. It is not safe for
// concurrent use: PSEM is one request at a time.
type Client struct {
	x Exchanger
	// ByteOrder is the meter's data order (ST0), used for ST7 and ST8's
	// procedure number. Little-endian unless set.
	ByteOrder binary.ByteOrder
	// ProcedurePoll is the pause between reads of ST8 while a procedure's
	// response is not yet there; ProcedureTries bounds those reads.
	ProcedurePoll  time.Duration
	ProcedureTries int

	ident  Ident
	seq    uint8
	seqSet bool
}

// NewClient returns a client over x.
func NewClient(x Exchanger) *Client {
	return &Client{x: x, ByteOrder: binary.LittleEndian, ProcedurePoll: 100 * time.Millisecond, ProcedureTries: 20}
}

// Exchanger returns the link the client sends over.
func (c *Client) Exchanger() Exchanger { return c.x }

func (c *Client) do(ctx context.Context, r Request, table int) ([]byte, error) {
	req, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := c.x.Exchange(ctx, req)
	if err != nil {
		return nil, &ServiceError{Service: r.Service(), Table: table, Err: err}
	}
	return resp, nil
}

func wrap(r Request, table int, err error) error {
	if err == nil {
		return nil
	}
	return &ServiceError{Service: r.Service(), Table: table, Err: err}
}

func (c *Client) status(ctx context.Context, r Request, table int) error {
	resp, err := c.do(ctx, r, table)
	if err != nil {
		return err
	}
	return wrap(r, table, ParseStatus(resp, r.Service()))
}

// Ident asks the meter which standard and version it speaks, and the
// features it offers (C12.21 authentication among them).
func (c *Client) Ident(ctx context.Context) (Ident, error) {
	r := IdentRequest()
	resp, err := c.do(ctx, r, -1)
	if err != nil {
		return Ident{}, err
	}
	id, err := ParseIdent(resp)
	if err != nil {
		return Ident{}, wrap(r, -1, err)
	}
	c.ident = id
	return id, nil
}

// Negotiate proposes a packet size, a number of packets per message and
// baud rate codes; the meter answers with what it grants. The caller
// applies the grant to its link (c1218 does so itself).
func (c *Client) Negotiate(ctx context.Context, packetSize uint16, packets uint8, bauds ...byte) (Negotiated, error) {
	r := NegotiateRequest(packetSize, packets, bauds...)
	resp, err := c.do(ctx, r, -1)
	if err != nil {
		return Negotiated{}, err
	}
	n, err := ParseNegotiated(resp)
	return n, wrap(r, -1, err)
}

// TimingSetup proposes C12.21 link timers; the meter answers with those
// it will use.
func (c *Client) TimingSetup(ctx context.Context, t Timing) (Timing, error) {
	r := TimingSetupRequest(t)
	resp, err := c.do(ctx, r, -1)
	if err != nil {
		return Timing{}, err
	}
	got, err := ParseTiming(resp)
	return got, wrap(r, -1, err)
}

// Logon opens a session for a user (at most ten octets).
func (c *Client) Logon(ctx context.Context, userID uint16, user string) error {
	return c.status(ctx, LogonRequest(userID, user), -1)
}

// Security presents the password (at most 20 octets, NUL padded).
func (c *Client) Security(ctx context.Context, password []byte) error {
	if len(password) > PasswordLen {
		return fmt.Errorf("psem: security: password of %d octets, over %d", len(password), PasswordLen)
	}
	return c.status(ctx, SecurityRequest(password), -1)
}

// Authenticate runs C12.21 authentication with the DES key keyID names:
// it encrypts the ticket of the last Ident and checks the meter's answer,
// the same key id and the client's value encrypted once more, which
// proves the meter holds the key too.
func (c *Client) Authenticate(ctx context.Context, keyID uint8, key []byte) error {
	r := AuthenticateRequest(keyID, nil)
	_, ticket, ok := c.ident.Auth()
	if !ok || len(ticket) != des.BlockSize {
		return wrap(r, -1, errors.New("the meter's ident offered no 8-octet DES ticket"))
	}
	blk, err := des.NewCipher(key)
	if err != nil {
		return wrap(r, -1, err)
	}
	enc := make([]byte, des.BlockSize)
	blk.Encrypt(enc, ticket)
	r.Data = enc
	resp, err := c.do(ctx, r, -1)
	if err != nil {
		return err
	}
	id, got, err := ParseAuthenticateResponse(resp)
	if err != nil {
		return wrap(r, -1, err)
	}
	want := make([]byte, des.BlockSize)
	blk.Encrypt(want, enc)
	if id != keyID || !bytes.Equal(got, want) {
		return wrap(r, -1, errors.New("the meter's answer does not prove it holds the key"))
	}
	return nil
}

func (c *Client) read(ctx context.Context, r Request) ([]byte, error) {
	resp, err := c.do(ctx, r, int(r.Table))
	if err != nil {
		return nil, err
	}
	data, err := ParseTableResponse(resp)
	return data, wrap(r, int(r.Table), err)
}

// Read reads a whole table.
func (c *Client) Read(ctx context.Context, table uint16) ([]byte, error) {
	return c.read(ctx, ReadRequest(table))
}

// ReadOffset reads count octets of a table from offset.
func (c *Client) ReadOffset(ctx context.Context, table uint16, offset uint32, count uint16) ([]byte, error) {
	return c.read(ctx, ReadOffsetRequest(table, offset, count))
}

// ReadIndex reads count octets from the element index names.
func (c *Client) ReadIndex(ctx context.Context, table uint16, index []uint16, count uint16) ([]byte, error) {
	if len(index) == 0 || len(index) > MaxIndex {
		return nil, fmt.Errorf("psem: read index of table %d: %d index elements, want 1 to %d", table, len(index), MaxIndex)
	}
	return c.read(ctx, ReadIndexRequest(table, index, count))
}

// ReadDefault reads the meter's default table.
func (c *Client) ReadDefault(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, Request{Code: ReqReadDefault}, -1)
	if err != nil {
		return nil, err
	}
	data, err := ParseTableResponse(resp)
	return data, wrap(Request{Code: ReqReadDefault}, -1, err)
}

// Write writes a whole table.
func (c *Client) Write(ctx context.Context, table uint16, data []byte) error {
	return c.status(ctx, WriteRequest(table, data), int(table))
}

// WriteOffset writes data into a table at offset.
func (c *Client) WriteOffset(ctx context.Context, table uint16, offset uint32, data []byte) error {
	return c.status(ctx, WriteOffsetRequest(table, offset, data), int(table))
}

// WriteIndex writes data at the element index names.
func (c *Client) WriteIndex(ctx context.Context, table uint16, index []uint16, data []byte) error {
	if len(index) == 0 || len(index) > MaxIndex {
		return fmt.Errorf("psem: write index of table %d: %d index elements, want 1 to %d", table, len(index), MaxIndex)
	}
	return c.status(ctx, WriteIndexRequest(table, index, data), int(table))
}

// Wait asks the meter to hold the channel open seconds longer.
func (c *Client) Wait(ctx context.Context, seconds uint8) error {
	return c.status(ctx, WaitRequest(seconds), -1)
}

// Logoff ends the session; the link stays up.
func (c *Client) Logoff(ctx context.Context) error {
	return c.status(ctx, Request{Code: ReqLogoff}, -1)
}

// Terminate ends the session and returns the meter to its base state.
func (c *Client) Terminate(ctx context.Context) error {
	return c.status(ctx, Request{Code: ReqTerminate}, -1)
}

// Disconnect (C12.21) ends the session and asks the meter to hang up.
func (c *Client) Disconnect(ctx context.Context) error {
	return c.status(ctx, Request{Code: ReqDisconnect}, -1)
}

// Procedure tables and the bits of TABLE_PROC_NBR.
const (
	ProcInitiateTable = 7
	ProcResponseTable = 8
	// ProcMfg marks a manufacturer procedure: Procedure(ctx,
	// ProcMfg|n, ...) runs manufacturer procedure n.
	ProcMfg = 0x0800
)

// ProcResult is the result code ST8 reports for a procedure. A result
// other than ProcCompleted is also the error Procedure returns.
type ProcResult byte

// Procedure result codes (C12.19 ST8 RESULT_CODE).
const (
	ProcCompleted    ProcResult = 0
	ProcNotCompleted ProcResult = 1 // accepted, not fully completed
	ProcInvalidParam ProcResult = 2
	ProcConflict     ProcResult = 3 // conflicts with the current setup
	ProcTiming       ProcResult = 4 // timing constraint
	ProcNoAuth       ProcResult = 5 // no authorization
	ProcUnrecognized ProcResult = 6
)

var procResults = [...]string{"completed", "accepted, not fully completed", "invalid parameter",
	"conflicts with current device setup", "timing constraint", "no authorization", "unrecognized procedure"}

func (r ProcResult) Error() string {
	if int(r) < len(procResults) {
		return "procedure: " + procResults[r]
	}
	return fmt.Sprintf("procedure: result code %d", byte(r))
}

// Procedure runs a procedure: it writes ST7 (the procedure number, with
// ProcMfg for a manufacturer one, a sequence number of its own and
// params) and reads ST8 until the response carries that number and
// sequence number. It returns the response data; a result other than
// completed is returned as its ProcResult, wrapped, beside the data.
func (c *Client) Procedure(ctx context.Context, proc uint16, params []byte) ([]byte, error) {
	if proc&0xF000 != 0 {
		return nil, fmt.Errorf("psem: procedure %d: number over 11 bits", proc)
	}
	if !c.seqSet {
		c.seq = uint8(time.Now().UnixNano())
		c.seqSet = true
	}
	c.seq++
	seq := c.seq
	req := make([]byte, 3, 3+len(params))
	c.ByteOrder.PutUint16(req, proc)
	req[2] = seq
	req = append(req, params...)
	if err := c.Write(ctx, ProcInitiateTable, req); err != nil {
		return nil, fmt.Errorf("procedure %d: %w", proc&0x7FF, err)
	}
	for try := 0; ; try++ {
		resp, err := c.Read(ctx, ProcResponseTable)
		if err != nil {
			return nil, fmt.Errorf("procedure %d: %w", proc&0x7FF, err)
		}
		if len(resp) >= 4 && c.ByteOrder.Uint16(resp)&0x0FFF == proc && resp[2] == seq {
			if res := ProcResult(resp[3]); res != ProcCompleted {
				return resp[4:], &ServiceError{Service: fmt.Sprintf("procedure %d", proc&0x7FF), Table: ProcResponseTable, Err: res}
			}
			return resp[4:], nil
		}
		if try+1 >= c.ProcedureTries {
			return nil, fmt.Errorf("psem: procedure %d: ST8 never answered sequence number %d", proc&0x7FF, seq)
		}
		t := time.NewTimer(c.ProcedurePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("psem: procedure %d: %w", proc&0x7FF, context.Cause(ctx))
		case <-t.C:
		}
	}
}
