package sim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/psem"
)

// A simulated C12.22 meter pushes what its event log (ST76) gained since
// its last push when it loses power, regains it, or detects a tamper
// attempt: one APDU to the fleet's C12.22 push destination, from the meter's own
// address, calling ApTitle its own and no called ApTitle (the meter knows
// its notification host by address only), in security mode 2 under its
// key, response control "never respond", AE qualifier "notification" (and
// "urgent" for a last gasp). The EPSEM carries full writes of ST0, ST71,
// ST52 and an ST76 of the new entries alone, as docs/c1222.md describes.

// errNothingToPush: the event log has no entry the meter has not pushed.
var errNothingToPush = errors.New("sim: no new event log entry to push")

// pushesC1222 reports whether an event is one a C12.22 meter pushes.
func pushesC1222(k meter.EventKind) bool {
	switch k {
	case meter.EventLastGasp, meter.EventPowerRestored, meter.EventTamper:
		return true
	}
	return false
}

// c1222PushEntries bounds the entries of one push: the newest are sent.
const c1222PushEntries = 64

// pushC1222 sends C12.22 meter it.i's new event log entries on conn, or on
// a new connection from the meter's address.
func (f *Fleet) pushC1222(ctx context.Context, cfg PushConfig, it pushItem, conn net.Conn) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	frame, err := f.c1222Push(it.i, cfg.From, it.at, it.ev.Kind == meter.EventLastGasp)
	if err != nil {
		return conn, err
	}
	if conn == nil {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.C1222Addr(it.i).Addr(), 0))}
		if conn, err = d.DialContext(ctx, "tcp", cfg.C1222Destination); err != nil {
			return nil, err
		}
	}
	dl, _ := ctx.Deadline()
	conn.SetWriteDeadline(dl)
	if _, err := conn.Write(frame); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// c1222Push builds meter i's push of the event log entries it logged up
// to at and has not pushed yet, and marks them pushed. A meter's first
// push starts at from: what it logged before pushing began is for the
// collection to read.
func (f *Fleet) c1222Push(i int, from, at time.Time, urgent bool) ([]byte, error) {
	c, err := f.newC12Meter(i)
	if err != nil {
		return nil, err
	}
	lk := f.Lock(i)
	lk.Lock()
	evs := c.events(c.m, at)
	clock, start := c.m.Clock(at), c.m.Clock(from)
	lk.Unlock()

	f.mu.Lock()
	pushed, before := f.c1222Pushed[i]
	f.mu.Unlock()
	var fresh []c12Event
	for _, e := range evs {
		if e.Seq > pushed && (before || !e.Time.Before(start)) {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return nil, errNothingToPush
	}
	if len(fresh) > c1222PushEntries {
		fresh = fresh[len(fresh)-c1222PushEntries:]
	}
	frame, err := f.c1222PushFrame(i, fresh, clock, urgent)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.c1222Pushed == nil {
		f.c1222Pushed = map[int]uint32{}
	}
	f.c1222Pushed[i] = max(f.c1222Pushed[i], fresh[len(fresh)-1].Seq)
	f.mu.Unlock()
	return frame, nil
}

// c1222PushFrame encodes and seals a push of entries (oldest first).
func (f *Fleet) c1222PushFrame(i int, entries []c12Event, clock time.Time, urgent bool) ([]byte, error) {
	l := c12LayoutOf(f.model)
	tf := l.f
	act := l.log
	act.NbrEventEntries = uint16(len(entries))
	// The ST76 of the entries alone: a FIFO list, oldest first.
	full := eventLog(entries, tf)
	ld := c1219.LogData{NbrValid: uint16(len(entries)), NbrUnread: uint16(len(entries)), LastElement: uint16(len(entries) - 1),
		LastSeq: entries[len(entries)-1].Seq, Entries: full.Valid()}
	var services [][]byte
	for _, w := range []struct {
		t    c1219.TableID
		data []byte
	}{
		{c1219.ST0, l.gen.Encode()},
		{c1219.ST71, l.log.Encode(tf)},
		{c1219.ST52, c1219.Clock{Time: clock, Qual: c1219.QualFor(clock)}.Encode(tf)},
		{c1219.ST76, ld.EncodeST76(tf, act)},
	} {
		b, err := psem.WriteRequest(uint16(w.t), w.data).Marshal()
		if err != nil {
			return nil, fmt.Errorf("sim: C12.22 push of meter %d: %v: %w", i, w.t, err)
		}
		services = append(services, b)
	}
	calling, err := c1222.ParseApTitle(f.C1222ApTitle(i))
	if err != nil {
		return nil, err
	}
	id, key := f.C1222Key(i)
	keys, err := c1222.NewKeys(map[uint8][]byte{id: key[:]})
	if err != nil {
		return nil, err
	}
	iv := make([]byte, 4)
	rand.Read(iv)
	q := uint32(c1222.QualifierNotification)
	if urgent {
		q |= c1222.QualifierUrgent
	}
	a := &c1222.APDU{Calling: calling, AEQualifier: q, HasAEQualifier: true, CallingInvocation: ld.LastSeq,
		HasAuth: true, KeyID: id, IV: iv}
	e := &c1222.EPSEM{Mode: c1222.ModeCiphertext, Response: c1222.RespondNever, Services: services}
	if err := c1222.Seal(a, e, keys, c1222.Root); err != nil {
		return nil, fmt.Errorf("sim: C12.22 push of meter %d: %w", i, err)
	}
	return a.Marshal()
}
