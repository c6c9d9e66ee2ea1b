package mbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/amigo-ami/amigo/linkio"
)

// Meter is one M-Bus device a Slave serves.
type Meter interface {
	// Primary is the meter's primary address (1..250; 0 unconfigured).
	Primary() byte
	// Address is its secondary address, which its data header repeats.
	Address() Secondary
	// Records returns what the meter reports now: its status byte and
	// its data records, as many as it has (the slave splits them into
	// telegrams). Records are read once for the first telegram and kept
	// for the rest of a multi-telegram read, so the telegrams agree.
	Records(ctx context.Context) (status byte, rs []Record, err error)
}

// collisionBytes is what a line carries when two slaves answer at once,
// as a converter passes it on: no valid frame. Its C field has the
// direction bit of a slave's answer clear, so a master that drops echoes
// of its own frames (libmbus on TCP) takes it for a garbled answer, not
// an echo.
var collisionBytes = []byte{startShort, CRspUD, 0xE5, 0x00, stop}

// Slave answers a master on one line for the meters behind it, as the
// meters themselves would on a wired bus behind a converter.
type Slave struct {
	Meters []Meter
	// Idle ends a connection no master spoke on for that long (0: never).
	Idle time.Duration
	// Logf, when set, reports requests the slave refused.
	Logf func(format string, args ...any)

	Stats Stats
}

// slaveState is the link state of one meter on one connection.
type slaveState struct {
	selected bool
	fcbKnown bool
	fcb      bool
	last     []byte   // last answer, repeated for a request with the same FCB
	tgs      [][]byte // telegrams of the current read
	next     int      // next telegram
	access   byte
}

// Serve answers requests on rw until ctx ends or the master closes it.
func (s *Slave) Serve(ctx context.Context, rw io.ReadWriter) error {
	dl := linkio.New(rw)
	stop := dl.Watch(ctx)
	defer stop()
	br := bufio.NewReaderSize(rw, 512)
	st := make([]slaveState, len(s.Meters))
	for i := range st {
		st[i].access = byte(s.Meters[i].Address().ID)
	}
	for {
		var until time.Time
		if s.Idle > 0 {
			until = time.Now().Add(s.Idle)
		}
		if err := dl.SetRead(ctx, until); err != nil {
			return err
		}
		f, err := ReadFrame(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, ErrChecksum) || errors.Is(err, ErrLength) || errors.Is(err, ErrFrame) {
				// A slave ignores what it cannot read; the master
				// times out and repeats.
				s.Stats.count(err)
				s.logf("mbus slave: %v", err)
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				return nil
			}
			return linkio.Error(ctx, "mbus slave", "read", err)
		}
		reply, err := s.handle(ctx, st, f)
		if err != nil {
			s.logf("mbus slave: %v", err)
		}
		if reply == nil {
			continue
		}
		if err := dl.SetWrite(ctx); err != nil {
			return err
		}
		if _, err := rw.Write(reply); err != nil {
			return linkio.Error(ctx, "mbus slave", "write", err)
		}
	}
}

func (s *Slave) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// addressed returns the meters a frame to addr reaches.
func (s *Slave) addressed(st []slaveState, addr byte) []int {
	var out []int
	for i, m := range s.Meters {
		switch {
		case addr == AddrNetwork && st[i].selected,
			addr == AddrBroadcast || addr == AddrBroadcastAck,
			addr == m.Primary() && addr != AddrNetwork:
			out = append(out, i)
		}
	}
	return out
}

func (s *Slave) handle(ctx context.Context, st []slaveState, f Frame) ([]byte, error) {
	if f.Kind == FrameAck {
		return nil, nil
	}
	// Selection reaches every meter whose address matches.
	if f.Kind == FrameLong && f.A == AddrNetwork && f.CI == CISelect && f.C&^(FCB|FCV) == CSndUD&^FCV {
		mask, err := DecodeMask(f.Data)
		if err != nil {
			return nil, err
		}
		n := 0
		for i, m := range s.Meters {
			st[i].selected = mask.Matches(m.Address())
			if st[i].selected {
				n++
				st[i].fcbKnown = false
				st[i].tgs, st[i].next = nil, 0
			}
		}
		switch n {
		case 0:
			return nil, nil
		case 1:
			return []byte{Ack}, nil
		}
		return collisionBytes, nil
	}
	targets := s.addressed(st, f.A)
	if len(targets) == 0 {
		return nil, nil
	}
	quiet := f.A == AddrBroadcast
	var replies [][]byte
	for _, i := range targets {
		r, err := s.answer(ctx, &st[i], s.Meters[i], f)
		if err != nil {
			return nil, err
		}
		if r != nil {
			replies = append(replies, r)
		}
	}
	switch {
	case quiet || len(replies) == 0:
		return nil, nil
	case len(replies) == 1:
		return replies[0], nil
	}
	return collisionBytes, nil
}

// answer is one meter's reply to a frame addressed to it.
func (s *Slave) answer(ctx context.Context, st *slaveState, m Meter, f Frame) ([]byte, error) {
	c := f.C &^ (FCB | FCV)
	fcv, fcb := f.C&FCV != 0, f.C&FCB != 0
	if c == CSndNke {
		if f.A == AddrNetwork {
			st.selected = false
		}
		st.fcbKnown, st.tgs, st.next, st.last = false, nil, 0, nil
		return []byte{Ack}, nil
	}
	// A request repeating the FCB of the last answered one is a repeat:
	// the master did not hear the answer.
	if fcv && st.fcbKnown && fcb == st.fcb && st.last != nil {
		return st.last, nil
	}
	var reply []byte
	switch {
	case c == CReqUD2&^FCV && f.Kind == FrameShort:
		if st.next >= len(st.tgs) {
			if err := s.build(ctx, st, m); err != nil {
				return nil, err
			}
		}
		reply = st.tgs[st.next]
		st.next++
		if st.next >= len(st.tgs) {
			// The read is over: the next request starts a new one.
			st.tgs, st.next = nil, 0
		}
	case c == CSndUD&^FCV && (f.Kind == FrameLong || f.Kind == FrameControl) && f.CI == CIApplicationReset:
		st.tgs, st.next = nil, 0
		reply = []byte{Ack}
	default:
		return nil, fmt.Errorf("meter %s: %s CI=%#02x not served", m.Address(), cName(f.C), f.CI)
	}
	if fcv {
		st.fcbKnown, st.fcb = true, fcb
	}
	st.last = reply
	return reply, nil
}

// telegramRoom is how many record bytes a long frame after the long
// header has, less the DIF 0x1F that says more follow.
const telegramRoom = MaxData - LongHeaderLen - 1

// build reads the meter's records and codes them as telegrams.
func (s *Slave) build(ctx context.Context, st *slaveState, m Meter) error {
	status, rs, err := m.Records(ctx)
	if err != nil {
		return fmt.Errorf("meter %s: records: %w", m.Address(), err)
	}
	var chunks [][]byte
	var cur []byte
	for k, r := range rs {
		b, err := AppendRecord(nil, r)
		if err != nil {
			return fmt.Errorf("meter %s: record %d: %w", m.Address(), k, err)
		}
		if len(b) > telegramRoom {
			return fmt.Errorf("meter %s: record %d of %d bytes fits no telegram", m.Address(), k, len(b))
		}
		if len(cur)+len(b) > telegramRoom {
			chunks = append(chunks, append(cur, DIFMoreRecords))
			cur = nil
		}
		cur = append(cur, b...)
	}
	chunks = append(chunks, cur)
	st.tgs, st.next = nil, 0
	a := m.Address()
	for _, ch := range chunks {
		st.access++
		h := Header{ID: a.ID, Manufacturer: a.Manufacturer, Version: a.Version, Medium: a.Medium, Access: st.access, Status: status}
		data, err := h.AppendLong(nil)
		if err != nil {
			return fmt.Errorf("meter %s: %w", a, err)
		}
		data = append(data, ch...)
		frame, err := Frame{Kind: FrameLong, C: CRspUD, A: m.Primary(), CI: CIResponseLong, Data: data}.Append(nil)
		if err != nil {
			return err
		}
		st.tgs = append(st.tgs, frame)
	}
	return nil
}
