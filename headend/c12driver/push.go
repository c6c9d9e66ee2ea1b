package c12driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// A C12.22 meter pushes by opening a TCP connection to its notification
// host and sending one unsegmented APDU per notification, answered by
// nothing (docs/c1222.md, "Pushed events"): calling ApTitle the meter's,
// called ApTitle the head-end's (or absent), security mode 2 under the key
// the manifest gives, response control "never respond" or "on exception",
// and as its EPSEM services the PSEM full writes that make the
// notification readable without a session:
//
//	ST0   the general configuration (the data formats of what follows)
//	ST71  the event log's dimensions (which fields an entry has)
//	ST52  the meter's clock (whether its times are UTC)
//	ST76  the pushed entries alone: NBR_VALID_ENTRIES of them, the array
//	      sized to them, LAST_ENTRY_SEQ_NBR the newest's sequence number
//
// The sequence number is the replay counter: it only grows on a meter, and
// every push carries at least one entry newer than the last.

var _ headend.PushDriver = (*Driver)(nil)

// PushCounter is the name the listener keeps a C12.22 meter's push
// counter under: the newest pushed event log sequence number.
const PushCounter = "push:ST76"

// MaxPushEntries bounds the entries one push carries.
const MaxPushEntries = 64

// PushFrames implements headend.PushDriver: each frame is one APDU, self
// delimited by its BER length, of at most max octets.
func (d *Driver) PushFrames(c net.Conn, max int) headend.FrameReader {
	return &pushFrames{c: c, br: bufio.NewReader(c), dl: linkio.New(c), max: max}
}

type pushFrames struct {
	c   net.Conn
	br  *bufio.Reader
	dl  *linkio.Deadlines
	max int
}

// ReadFrame implements headend.FrameReader.
func (f *pushFrames) ReadFrame(ctx context.Context) ([]byte, error) {
	stop := f.dl.Watch(ctx)
	defer stop()
	if err := f.dl.SetRead(ctx, time.Time{}); err != nil {
		return nil, linkio.Error(ctx, "c1222 push", "read", err)
	}
	b, err := ReadPushFrame(f.br, f.max)
	if err != nil && !errors.Is(err, headend.ErrFraming) {
		return nil, linkio.Error(ctx, "c1222 push", "read", err)
	}
	return b, err
}

// ReadPushFrame reads one APDU of at most max octets (tag and length
// included) from r. An error wrapping headend.ErrFraming says the stream
// is not C12.22: its first octet is not an APDU's, or the length is
// indefinite, absurd or over max.
func ReadPushFrame(r io.ByteReader, max int) ([]byte, error) {
	hdr := make([]byte, 0, 6)
	for {
		c, err := r.ReadByte()
		if err != nil {
			if len(hdr) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		hdr = append(hdr, c)
		n, need, err := pushFrameSize(hdr, max)
		if err != nil {
			return nil, err
		}
		if need > 0 {
			continue
		}
		b := make([]byte, n)
		copy(b, hdr)
		for i := len(hdr); i < n; i++ {
			if b[i], err = r.ReadByte(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		return b, nil
	}
}

// pushFrameSize returns the whole frame's size once hdr holds the tag and
// the length, or how many more header octets it needs.
func pushFrameSize(hdr []byte, max int) (size, need int, err error) {
	if hdr[0] != 0x60 {
		return 0, 0, fmt.Errorf("%w: C12.22: octet 0x%02X where an APDU (0x60) begins", headend.ErrFraming, hdr[0])
	}
	if len(hdr) < 2 {
		return 0, 1, nil
	}
	first := hdr[1]
	n, k := int(first), 0
	if first&0x80 != 0 {
		k = int(first & 0x7F)
		if k == 0 || k > 3 {
			return 0, 0, fmt.Errorf("%w: C12.22: APDU length of %d octets", headend.ErrFraming, k)
		}
		if len(hdr) < 2+k {
			return 0, 2 + k - len(hdr), nil
		}
		n = 0
		for _, c := range hdr[2 : 2+k] {
			n = n<<8 | int(c)
		}
	}
	size = 2 + k + n
	if n == 0 || size > max {
		return 0, 0, fmt.Errorf("%w: C12.22: APDU of %d octets (at most %d)", headend.ErrFraming, size, max)
	}
	return size, 0, nil
}

// PushSender implements headend.PushDriver: the calling ApTitle in dotted
// form, as the manifest's c1222_aptitle column has it.
func (d *Driver) PushSender(frame []byte) (string, error) {
	a, err := c1222.ParseAPDU(frame)
	if err != nil {
		return "", fmt.Errorf("%w: push: %w", errProtocol, err)
	}
	if a.Calling.IsZero() {
		return "", fmt.Errorf("%w: push without a calling ApTitle", errProtocol)
	}
	return a.Calling.Absolute(c1222.Root).String(), nil
}

// DecodePush implements headend.PushDriver: it authenticates the APDU
// under the key of t, the meter whose ApTitle it claims, refusing any
// security mode below 2, and turns the pushed ST76 entries into the
// events a collection makes of the same entries, mRIDs included.
func (d *Driver) DecodePush(ctx context.Context, t headend.Target, frame []byte) (headend.Push, error) {
	if d.mode != modeC1222 {
		return headend.Push{}, fmt.Errorf("meter %s: %s meters do not push", t.Meter.MRID, d.Protocol())
	}
	bad := func(format string, args ...any) (headend.Push, error) {
		return headend.Push{}, fmt.Errorf("meter %s: push: "+format, append([]any{t.Meter.MRID}, args...)...)
	}
	creds, err := ParseCredentials(t.Credentials)
	if err != nil {
		return bad("credentials: %w", err)
	}
	defer clear(creds.Key)
	e, err := d.openPush(creds, frame)
	if err != nil {
		return bad("%w", err)
	}
	n, err := decodePushTables(e.Services)
	if err != nil {
		return bad("%w", err)
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	// The entries become events as a collection's reading of the same log
	// makes them: one event, pushed or collected.
	r := &Reader{t: t}
	p := headend.Push{CounterName: PushCounter, Counter: uint64(n.log.LastSeq)}
	for _, le := range n.log.Valid() {
		p.Events = append(p.Events, r.event(logEntry{at: wall(le.Time, n.gmt, loc), seq: le.Seq, user: le.UserID,
			code: le.Code.Number(), mfg: le.Code.Mfg(), arg: le.Arg}))
	}
	return p, nil
}

// openPush checks the APDU's addressing and opens its EPSEM, which must be
// in security mode 2 under the meter's key.
func (d *Driver) openPush(creds Credentials, frame []byte) (*c1222.EPSEM, error) {
	a, err := c1222.ParseAPDU(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errProtocol, err)
	}
	me, err := c1222.ParseApTitle(creds.ApTitle)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	switch {
	case a.Segment:
		return nil, fmt.Errorf("%w: a segment; pushes are sent whole", errProtocol)
	case a.IsResponse():
		return nil, fmt.Errorf("%w: a response (to invocation %d), not a notification", errProtocol, a.CalledInvocation)
	case !a.Calling.Equal(me, c1222.Root):
		return nil, fmt.Errorf("%w: calling ApTitle %s is not the meter's %s", errAuth, a.Calling, me)
	}
	if !a.Called.IsZero() {
		host, err := c1222.ParseApTitle(d.cfg.ApTitle)
		if err != nil {
			return nil, fmt.Errorf("the head-end's ApTitle: %w", err)
		}
		if !a.Called.Equal(host, c1222.Root) {
			return nil, fmt.Errorf("%w: addressed to %s, not the head-end (%s)", errProtocol, a.Called, host)
		}
	}
	hdr, err := c1222.ParseControl(a.EPSEM[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errProtocol, err)
	}
	if hdr.Mode != c1222.ModeCiphertext {
		// A push in clear or only authenticated is refused whatever it
		// says: the meters are keyed for mode 2, and a weaker message
		// is one nobody can vouch for at the level the collection is.
		return nil, fmt.Errorf("%w: security mode %s refused; pushes are accepted in ciphertext mode only", errAuth, hdr.Mode)
	}
	if hdr.Response == c1222.RespondAlways {
		return nil, fmt.Errorf("%w: response control asks for an answer; the head-end answers no push", errProtocol)
	}
	if !a.HasAuth || a.KeyID != creds.KeyID {
		return nil, fmt.Errorf("%w: key id %d, the meter's is %d", errAuth, a.KeyID, creds.KeyID)
	}
	keys, err := c1222.NewKeys(map[uint8][]byte{creds.KeyID: creds.Key})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	e, err := c1222.Open(a, keys, c1222.Root)
	if err != nil {
		if errors.Is(err, c1222.ErrAuth) {
			return nil, fmt.Errorf("%w: %w", errAuth, err)
		}
		return nil, fmt.Errorf("%w: %w", errProtocol, err)
	}
	return e, nil
}

// pushedLog is what a push's tables say.
type pushedLog struct {
	log c1219.LogData
	gmt bool
}

// decodePushTables decodes the full writes of a push: ST0, ST71, ST52 and
// ST76, once each, in any order.
func decodePushTables(services [][]byte) (pushedLog, error) {
	tables := map[c1219.TableID][]byte{}
	for i, sv := range services {
		r, err := psem.ParseRequest(sv)
		if err != nil {
			return pushedLog{}, fmt.Errorf("%w: service %d: %w", errProtocol, i, err)
		}
		if r.Code != psem.ReqWriteFull {
			return pushedLog{}, fmt.Errorf("%w: service %d is a %s, not a full write", errProtocol, i, r.Service())
		}
		id := c1219.TableID(r.Table)
		switch id {
		case c1219.ST0, c1219.ST71, c1219.ST52, c1219.ST76:
		default:
			return pushedLog{}, fmt.Errorf("%w: service %d writes %v, which a push does not carry", errProtocol, i, id)
		}
		if _, dup := tables[id]; dup {
			return pushedLog{}, fmt.Errorf("%w: %v written twice", errProtocol, id)
		}
		tables[id] = r.Data
	}
	for _, id := range []c1219.TableID{c1219.ST0, c1219.ST71, c1219.ST52, c1219.ST76} {
		if _, ok := tables[id]; !ok {
			return pushedLog{}, fmt.Errorf("%w: no %v in the push", errProtocol, id)
		}
	}
	gen, err := c1219.DecodeST0(tables[c1219.ST0])
	if err != nil {
		return pushedLog{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	f := gen.Format
	if err := f.Check(); err != nil {
		return pushedLog{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	act, err := c1219.DecodeST71(tables[c1219.ST71], f)
	if err != nil {
		return pushedLog{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	clk, err := c1219.DecodeST52(tables[c1219.ST52], f)
	if err != nil {
		return pushedLog{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	b := tables[c1219.ST76]
	size := c1219.EventEntrySize(f, act)
	if size <= 0 || len(b) < c1219.LogHeaderSize || (len(b)-c1219.LogHeaderSize)%size != 0 {
		return pushedLog{}, fmt.Errorf("%w: ST76 of %d octets is not a header and whole entries of %d", errProtocol, len(b), size)
	}
	n := (len(b) - c1219.LogHeaderSize) / size
	if n == 0 || n > MaxPushEntries {
		return pushedLog{}, fmt.Errorf("%w: ST76 with %d entries (1 to %d)", errProtocol, n, MaxPushEntries)
	}
	act.NbrEventEntries = uint16(n)
	ld, err := c1219.DecodeST76(b, f, act)
	if err != nil {
		return pushedLog{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	if int(ld.NbrValid) != n || int(ld.LastElement) >= n {
		return pushedLog{}, fmt.Errorf("%w: ST76 says %d valid entries, the newest at %d, of %d pushed", errProtocol, ld.NbrValid, ld.LastElement, n)
	}
	if ld.Entries[ld.LastElement].Seq != uint16(ld.LastSeq) {
		return pushedLog{}, fmt.Errorf("%w: ST76's newest entry is number %d, its header says %d", errProtocol, ld.Entries[ld.LastElement].Seq, ld.LastSeq)
	}
	return pushedLog{log: ld, gmt: clk.Qual&c1219.QualGMT != 0}, nil
}
