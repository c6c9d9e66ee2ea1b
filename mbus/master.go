package mbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/linkio"
)

// Errors of a master's exchange.
var (
	// ErrNoReply: the slave did not answer within the reply timeout, after
	// the retries.
	ErrNoReply = errors.New("mbus: no reply")
	// ErrCollision: more than one slave answered (a garbled reply).
	ErrCollision = errors.New("mbus: collision")
	// ErrUnexpected: the slave answered with a frame the exchange does
	// not expect.
	ErrUnexpected = errors.New("mbus: unexpected reply")
)

// Stats counts what a master or slave saw go wrong on its line.
type Stats struct {
	Checksum atomic.Uint64 // frames with a wrong checksum
	Length   atomic.Uint64 // frames with a wrong length (L fields, stop byte)
	Garbage  atomic.Uint64 // bytes that start no frame
	Timeouts atomic.Uint64 // exchanges without a reply in time
	Retries  atomic.Uint64 // requests repeated
	// Duplicates counts stale copies of an answer skipped: answers to a
	// request repeated after its first answer came too late.
	Duplicates atomic.Uint64
}

func (s *Stats) count(err error) {
	switch {
	case errors.Is(err, ErrChecksum):
		s.Checksum.Add(1)
	case errors.Is(err, ErrLength):
		s.Length.Add(1)
	case errors.Is(err, ErrFrame):
		s.Garbage.Add(1)
	}
}

// Master is the master's side of one line (a TCP connection to an M-Bus
// converter, or a serial port with a level converter). It is not safe for
// concurrent use: the bus carries one exchange at a time.
type Master struct {
	rw io.ReadWriter
	br *bufio.Reader
	dl *linkio.Deadlines

	// Timeout is how long a slave has to answer one request (0: until the
	// context ends). EN 13757-2
	// allows 330 bit times plus 50 ms (about 190 ms at 2400 Bd);
	// converters on a network add their round trip.
	Timeout time.Duration
	// Retries is how often a request without a valid answer is
	// repeated; EN 13757-2 clause 5.7 has masters repeat twice.
	Retries int
	// MaxTelegrams bounds a multi-telegram read.
	MaxTelegrams int

	Stats Stats

	// fcb is the FCB of the next request to each address; set after
	// SND_NKE, toggled by every answered request.
	fcb [256]bool
	// taken holds the long frames taken as answers since the read began,
	// to know a stale copy of one; a new read (SND_NKE, selection) forgets
	// them, since a meter that keeps no access number may answer it with
	// the same bytes.
	taken map[string]bool
}

// NewMaster returns a master on rw, which should support read deadlines
// (net.Conn and SerialPort do) so that a silent slave ends an exchange.
func NewMaster(rw io.ReadWriter) *Master {
	m := &Master{rw: rw, br: bufio.NewReaderSize(rw, 512), dl: linkio.New(rw),
		Timeout: time.Second, Retries: 2, MaxTelegrams: 64, taken: map[string]bool{}}
	for i := range m.fcb {
		m.fcb[i] = true
	}
	return m
}

// exchange sends req and reads one frame back. want says whether the reply
// is acceptable; a reply it refuses, a garbled reply and a timeout are
// retried with the same FCB (so a slave that answered but was not heard
// repeats its answer rather than moving on).
func (m *Master) exchange(ctx context.Context, req Frame, noReply bool, want func(Frame) bool) (Frame, error) {
	wire, err := req.Append(nil)
	if err != nil {
		return Frame{}, err
	}
	var last error
	for attempt := 0; attempt <= m.Retries; attempt++ {
		if attempt > 0 {
			m.Stats.Retries.Add(1)
		}
		f, err := m.once(ctx, req, wire, noReply, want)
		if err == nil {
			return f, nil
		}
		if ctx.Err() != nil {
			return Frame{}, err
		}
		last = err
	}
	return Frame{}, last
}

// once writes a request and reads its reply. On a converter's network an
// answer the master gave up on may still arrive, after the repeat it
// asked for: a long frame equal to one taken in this read is that stale
// copy and is skipped, as is a frame the exchange does not expect, while
// the reply timeout lasts.
func (m *Master) once(ctx context.Context, req Frame, wire []byte, noReply bool, want func(Frame) bool) (Frame, error) {
	stop := m.dl.Watch(ctx)
	defer stop()
	// Whatever is left of an earlier garbled reply is stale.
	_, _ = m.br.Discard(m.br.Buffered())
	if err := m.dl.SetWrite(ctx); err != nil {
		return Frame{}, err
	}
	if _, err := m.rw.Write(wire); err != nil {
		return Frame{}, linkio.Error(ctx, "mbus", "write", err)
	}
	if noReply {
		return Frame{}, nil
	}
	var until time.Time
	if m.Timeout > 0 {
		until = time.Now().Add(m.Timeout)
	}
	if err := m.dl.SetRead(ctx, until); err != nil {
		return Frame{}, err
	}
	var unexpected error
	for {
		f, err := ReadFrame(m.br)
		if err != nil {
			if ctx.Err() != nil {
				return Frame{}, linkio.Error(ctx, "mbus", "read", err)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if unexpected != nil {
					return Frame{}, unexpected
				}
				m.Stats.Timeouts.Add(1)
				return Frame{}, fmt.Errorf("%w within %s", ErrNoReply, m.Timeout)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Frame{}, fmt.Errorf("mbus: read: %w", err)
			}
			m.Stats.count(err)
			return Frame{}, err
		}
		if f.Kind == FrameLong {
			raw, _ := f.Append(nil)
			if m.taken[string(raw)] {
				m.Stats.Duplicates.Add(1)
				continue
			}
			if want(f) {
				m.taken[string(raw)] = true
				return f, nil
			}
		} else if want(f) {
			return f, nil
		}
		unexpected = fmt.Errorf("%w: %s to address %d answered by %s", ErrUnexpected, cName(req.C), req.A, describe(f))
	}
}

func cName(c byte) string {
	switch c &^ (FCB | FCV) {
	case CSndNke:
		return "SND_NKE"
	case CSndUD &^ FCV:
		return "SND_UD"
	case CReqUD2 &^ FCV:
		return "REQ_UD2"
	case CReqUD1 &^ FCV:
		return "REQ_UD1"
	}
	return fmt.Sprintf("C=%#02x", c)
}

func describe(f Frame) string {
	switch f.Kind {
	case FrameAck:
		return "E5"
	case FrameShort:
		return fmt.Sprintf("short frame C=%#02x A=%d", f.C, f.A)
	}
	return fmt.Sprintf("frame C=%#02x A=%d CI=%#02x", f.C, f.A, f.CI)
}

func (m *Master) control(c byte, addr byte) byte {
	if m.fcb[addr] {
		return c | FCB
	}
	return c
}

// SndNKE resets the slave's link layer at addr (at AddrNetwork: the
// selected slave, which is deselected). Broadcasts are not answered; an
// unanswered SND_NKE to AddrNetwork is no error, since no slave may be
// selected.
func (m *Master) SndNKE(ctx context.Context, addr byte) error {
	m.fcb[addr] = true
	clear(m.taken)
	req := Frame{Kind: FrameShort, C: CSndNke, A: addr}
	if addr == AddrBroadcast {
		_, err := m.exchange(ctx, req, true, nil)
		return err
	}
	retries := m.Retries
	if addr == AddrNetwork {
		m.Retries = 0
		defer func() { m.Retries = retries }()
	}
	_, err := m.exchange(ctx, req, false, isAck)
	if err != nil && addr == AddrNetwork && errors.Is(err, ErrNoReply) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mbus: SND_NKE to %d: %w", addr, err)
	}
	return nil
}

func isAck(f Frame) bool { return f.Kind == FrameAck }

// Select selects the one slave matching mask for AddrNetwork (SND_UD with
// CI 0x52). It returns ErrNoReply when no slave matches and ErrCollision
// when several answered at once.
func (m *Master) Select(ctx context.Context, mask Mask) error {
	m.fcb[AddrNetwork] = true
	clear(m.taken)
	req := Frame{Kind: FrameLong, C: CSndUD, A: AddrNetwork, CI: CISelect, Data: mask.Bytes()}
	// Silence is an answer here (nobody matches), so it is not retried;
	// neither is a collision, which a scan resolves by narrowing.
	retries := m.Retries
	m.Retries = 0
	defer func() { m.Retries = retries }()
	_, err := m.exchange(ctx, req, false, isAck)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrChecksum), errors.Is(err, ErrLength), errors.Is(err, ErrFrame), errors.Is(err, ErrUnexpected):
		return fmt.Errorf("mbus: select %s: %w (%v)", mask, ErrCollision, err)
	}
	return fmt.Errorf("mbus: select %s: %w", mask, err)
}

// Telegram is one RSP_UD with a variable data structure, decoded.
type Telegram struct {
	Address byte // the slave's primary address as it answered
	Header  Header
	Records []Record
	// Raw is the frame's user data after CI, for logs.
	Raw []byte
}

// MoreFollows reports whether the slave has a further telegram.
func (t Telegram) MoreFollows() bool {
	return len(t.Records) > 0 && t.Records[len(t.Records)-1].MoreFollows()
}

// ReqUD2 requests class 2 data of the slave at addr and decodes the reply.
// The FCB toggles after every answered request, which a slave with more
// than one telegram takes as the request for its next.
func (m *Master) ReqUD2(ctx context.Context, addr byte) (Telegram, error) {
	req := Frame{Kind: FrameShort, C: m.control(CReqUD2|FCV, addr), A: addr}
	f, err := m.exchange(ctx, req, false, func(f Frame) bool {
		return f.Kind == FrameLong && f.C&^(ACD|DFC) == CRspUD
	})
	if err != nil {
		return Telegram{}, fmt.Errorf("mbus: REQ_UD2 to %d: %w", addr, err)
	}
	m.fcb[addr] = !m.fcb[addr]
	t, err := DecodeTelegram(f)
	if err != nil {
		return Telegram{}, fmt.Errorf("mbus: REQ_UD2 to %d: %w", addr, err)
	}
	return t, nil
}

// DecodeTelegram decodes an RSP_UD frame's variable data structure.
func DecodeTelegram(f Frame) (Telegram, error) {
	t := Telegram{Address: f.A, Raw: f.Data}
	switch f.CI {
	case CIResponseLong:
		h, err := DecodeLongHeader(f.Data)
		if err != nil {
			return t, err
		}
		t.Header = h
		t.Records, err = DecodeRecords(f.Data[LongHeaderLen:])
		return t, err
	case CIResponseShort:
		h, err := DecodeShortHeader(f.Data)
		if err != nil {
			return t, err
		}
		t.Header = Header{Access: h.Access, Status: h.Status, Signature: h.Signature}
		t.Records, err = DecodeRecords(f.Data[ShortHeaderLen:])
		return t, err
	case CIResponseNone:
		var err error
		t.Records, err = DecodeRecords(f.Data)
		return t, err
	}
	return t, fmt.Errorf("%w: CI %#02x is no variable data response", ErrUnexpected, f.CI)
}

// Read reads every telegram of the slave at addr, following DIF 0x1F,
// until the slave has no more, more returns false, or MaxTelegrams. It
// starts with SND_NKE for a primary address, so the slave starts at its
// first telegram; select the slave first for AddrNetwork.
func (m *Master) Read(ctx context.Context, addr byte, more func(Telegram) bool) ([]Telegram, error) {
	if addr != AddrNetwork {
		if err := m.SndNKE(ctx, addr); err != nil {
			return nil, err
		}
	}
	var out []Telegram
	for len(out) < m.MaxTelegrams {
		t, err := m.ReqUD2(ctx, addr)
		if err != nil {
			return out, fmt.Errorf("telegram %d: %w", len(out)+1, err)
		}
		out = append(out, t)
		if !t.MoreFollows() || (more != nil && !more(t)) {
			break
		}
	}
	return out, nil
}

// ReadSecondary selects the slave by its secondary address and reads it.
// A selection deselects every slave it does not match, so no SND_NKE (and
// no wait for its silence) comes first.
func (m *Master) ReadSecondary(ctx context.Context, mask Mask, more func(Telegram) bool) ([]Telegram, error) {
	if err := m.Select(ctx, mask); err != nil {
		return nil, err
	}
	return m.Read(ctx, AddrNetwork, more)
}

// Scan finds the secondary addresses of the slaves on the line by
// wildcard selection (EN 13757-3 annex on secondary search): a mask that
// collides is narrowed one identification digit at a time.
func (m *Master) Scan(ctx context.Context) ([]Secondary, error) {
	var found []Secondary
	var walk func(mask Mask, pos int) error
	probe := func(mask Mask) (bool, error) {
		err := m.Select(ctx, mask)
		switch {
		case err == nil:
			t, err := m.ReqUD2(ctx, AddrNetwork)
			if err != nil {
				return false, err
			}
			// A select answered late makes the next probe look answered;
			// the meter read is real, but may be read twice.
			if a := t.Header.Address(); !slices.Contains(found, a) {
				found = append(found, a)
			}
			return false, m.SndNKE(ctx, AddrNetwork)
		case errors.Is(err, ErrNoReply):
			return false, nil
		case errors.Is(err, ErrCollision):
			return true, nil
		}
		return false, err
	}
	walk = func(mask Mask, pos int) error {
		for d := byte(0); d <= 9; d++ {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			mk := mask
			mk.ID[pos] = d
			collided, err := probe(mk)
			if err != nil {
				return err
			}
			if collided {
				if pos == 7 {
					return fmt.Errorf("mbus: scan: %w at %s: slaves share an identification", ErrCollision, mk)
				}
				if err := walk(mk, pos+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	collided, err := probe(Wildcard())
	if err != nil || !collided {
		return found, err
	}
	return found, walk(Wildcard(), 0)
}

// ScanPrimary finds the slaves answering SND_NKE at primary addresses
// from..to.
func (m *Master) ScanPrimary(ctx context.Context, from, to byte) ([]byte, error) {
	var found []byte
	retries := m.Retries
	m.Retries = 0
	defer func() { m.Retries = retries }()
	for a := int(from); a <= int(to) && a <= AddrMaxPrimary; a++ {
		if ctx.Err() != nil {
			return found, context.Cause(ctx)
		}
		err := m.SndNKE(ctx, byte(a))
		if err == nil {
			found = append(found, byte(a))
		} else if !errors.Is(err, ErrNoReply) {
			// Anything but silence means someone is there.
			found = append(found, byte(a))
		}
	}
	return found, nil
}
