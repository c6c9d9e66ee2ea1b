package c12driver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/psem"
)

// The default names of a collection's cursors: the end of the last load
// profile interval read, and the time of the last event log entry read.
const (
	cursorProfile = "profile:ST64"
	cursorEvents  = "events:ST76"
)

// Collect implements headend.Session: the clock (ST52), the registers
// (ST23), the load profile (ST64) after its cursor and the event log
// (ST76) after its cursor. A table that cannot be read or decoded is a
// problem of the collection, the rest stands; a link that fails ends it.
func (s *Reader) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	col := headend.Collection{Cursors: map[string]time.Time{}}
	for _, n := range s.lay.notes {
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "template", Cause: n, Warning: true})
	}
	mt, err := s.Clock(ctx)
	col.ReadAt = s.now()
	if err != nil {
		if fatal(err) {
			return col, err
		}
		s.problem(&col, tblClock, err)
	} else {
		col.MeterTime = mt
	}
	stamp := mt
	if stamp.IsZero() {
		stamp = col.ReadAt
	}
	if err := s.registers(ctx, stamp, &col); err != nil {
		if fatal(err) {
			return col, err
		}
		s.problem(&col, tblRegisters, err)
	}
	done, err := s.profile(ctx, p, &col)
	if err != nil {
		if fatal(err) {
			return col, err
		}
		s.problem(&col, tblProfileData, err)
	}
	col.Complete = done
	if err := s.events(ctx, p, &col); err != nil {
		if fatal(err) {
			return col, err
		}
		s.problem(&col, tblEvents, err)
	}
	return col, nil
}

// fatal reports an error that leaves the session unusable: the link
// failed or the context ended. A refusal of one table (a PSEM response
// code), or a table that does not decode, is not.
func fatal(err error) bool {
	var code psem.Code
	switch {
	case errors.As(err, &code):
		return false
	case errors.Is(err, errProtocol), errors.Is(err, errDecode):
		return false
	}
	return true
}

func (s *Reader) problem(col *headend.Collection, table uint16, err error) {
	col.Problems = append(col.Problems, headend.ObjectProblem{Object: "ST" + strconv.Itoa(int(table)), Cause: err.Error()})
}

// registers reads ST23 into register reads stamped with the meter's
// clock: the summations, the maximum demand, and each tier's.
func (s *Reader) registers(ctx context.Context, stamp time.Time, col *headend.Collection) error {
	b, err := s.read(ctx, tblRegisters)
	if err != nil {
		return err
	}
	// What decodes stands beside the values that do not.
	regs, err := s.lay.registers(b, s.gmt, s.loc)
	for _, r := range regs {
		at := stamp
		if !r.at.IsZero() {
			at = r.at
		}
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: r.id, TimeStamp: at.UTC(), Value: r.value})
	}
	if err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

// profile reads the load profile's intervals after the cursor (or the
// plan's backfill point): ST63 says how many blocks are valid, which is
// the last and how many of its intervals are filled; then, newest block
// first, an offset read of the block's header (its end time) and one of
// just the intervals after the cursor, until a block holds the cursor.
// It reports whether the profile reaches the plan's end.
func (s *Reader) profile(ctx context.Context, p headend.Plan, col *headend.Collection) (bool, error) {
	lp := s.lay.lp
	if lp == nil {
		return true, nil // a meter without a load profile has nothing more to give
	}
	since := p.Since[s.cfg.ProfileCursor]
	if since.IsZero() {
		since = p.Backfill
	}
	b, err := s.read(ctx, tblProfileStatus)
	if err != nil {
		return false, err
	}
	st, err := lp.status(b)
	if err != nil {
		return false, s.errorf("%w", err)
	}
	if st.validBlocks == 0 {
		return false, nil // nothing recorded yet
	}
	var blocks []lpBlock
	for k := 0; k < st.validBlocks; k++ {
		elem := st.element(lp, k)
		base := uint32(elem * lp.blockSize)
		hdr, err := s.readOffset(ctx, tblProfileData, base, lp.header)
		if err != nil {
			return false, err
		}
		end, err := lp.blockEnd(hdr, s.gmt, s.loc)
		if err != nil {
			return false, s.errorf("block %d: %w", elem, err)
		}
		n := lp.ints
		if k == 0 {
			n = st.validInts
		}
		if end.IsZero() || n == 0 {
			if k == 0 {
				continue // the newest block has just begun
			}
			break
		}
		// Only the intervals after the cursor are read; a block that
		// starts after it may have a predecessor with more.
		j0 := lp.firstWanted(end, n, since)
		if j0 >= n {
			break
		}
		ints, err := s.readOffset(ctx, tblProfileData, base+uint32(lp.header+j0*lp.perInt), (n-j0)*lp.perInt)
		if err != nil {
			return false, err
		}
		blk, err := lp.block(lp.assemble(hdr, j0, ints), n, s.gmt, s.loc)
		if err != nil {
			return false, s.errorf("block %d: %w", elem, err)
		}
		blk.intervals = blk.intervals[min(j0, len(blk.intervals)):]
		blocks = append(blocks, blk)
		if j0 > 0 {
			break
		}
	}
	// Oldest first: the intervals after the cursor, one block per channel.
	byCh := make([]cim.IntervalBlock, len(lp.channels))
	for c, q := range lp.channels {
		byCh[c] = cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: q.q.intervalType(lp.interval)}
	}
	last := since
	for k := len(blocks) - 1; k >= 0; k-- {
		blk := blocks[k]
		for j, iv := range blk.intervals {
			end := blk.end.Add(-time.Duration(len(blk.intervals)-1-j) * lp.interval)
			if !end.After(since) {
				continue
			}
			if end.After(last) {
				last = end
			}
			if iv.skipped {
				continue // the meter has no value: the MDM marks it missing
			}
			for c := range lp.channels {
				if c >= len(iv.values) {
					break
				}
				if !lp.channels[c].ok {
					continue
				}
				byCh[c].Readings = append(byCh[c].Readings, cim.IntervalReading{End: end.UTC(), Value: iv.values[c], Quality: iv.quality[c]})
			}
		}
	}
	for _, b := range byCh {
		if len(b.Readings) > 0 {
			col.Blocks = append(col.Blocks, b)
		}
	}
	if last.After(since) {
		col.Cursors[s.cfg.ProfileCursor] = last.UTC()
	}
	return !last.Before(p.Until.Add(-lp.interval)), nil
}

// events reads the event log's entries after the cursor: ST76's header
// says which entry is the last and how many are valid; entries are read
// by offset, newest first, a few at a time, until one is at or before
// the cursor. Entries at the cursor's second are read again: their mRIDs
// make that harmless.
func (s *Reader) events(ctx context.Context, p headend.Plan, col *headend.Collection) error {
	lg := s.lay.log
	if lg == nil {
		return nil
	}
	since := p.Since[s.cfg.EventsCursor]
	if since.IsZero() {
		since = p.Backfill
	}
	hdr, err := s.readOffset(ctx, tblEvents, 0, lg.headerSize)
	if err != nil {
		return err
	}
	st, err := lg.status(hdr)
	if err != nil {
		return s.errorf("%w", err)
	}
	const batch = 16
	var got []logEntry
	done := false
	for k := 0; k < st.valid && !done; {
		// The next n entries back from the newest, contiguous in the
		// array: downwards from first in an ascending list, upwards in a
		// descending one.
		first := st.element(lg, k)
		n := min(batch, st.valid-k, first+1)
		lo := first - n + 1
		if st.descending {
			n = min(batch, st.valid-k, lg.entries-first)
			lo = first
		}
		raw, err := s.readOffset(ctx, tblEvents, uint32(lg.headerSize+lo*lg.entrySize), n*lg.entrySize)
		if err != nil {
			return err
		}
		for step := range n {
			j := n - 1 - step // newest first
			if st.descending {
				j = step
			}
			e, err := lg.entry(raw[j*lg.entrySize:(j+1)*lg.entrySize], s.gmt, s.loc)
			if err != nil {
				return s.errorf("entry %d: %w", lo+j, err)
			}
			if e.at.Before(since) {
				done = true
				break
			}
			got = append(got, e)
		}
		k += n
	}
	last := since
	for k := len(got) - 1; k >= 0; k-- {
		e := got[k]
		col.Events = append(col.Events, s.event(e))
		if e.at.After(last) {
			last = e.at
		}
	}
	if last.After(since) {
		col.Cursors[s.cfg.EventsCursor] = last.UTC()
	}
	return nil
}

// event is the EndDeviceEvent of one log entry; its mRID comes from the
// meter, the log, the entry's time, code and sequence number, so reading
// the entry again yields the same event.
func (s *Reader) event(e logEntry) cim.EndDeviceEvent {
	k := kindOf(e.code, e.mfg)
	ev := cim.EndDeviceEvent{MeterID: s.t.Meter.MRID, CreatedAt: e.at.UTC(), Code: int(e.code), Type: k.typ, Reason: k.reason,
		Severity: k.severity, Details: map[string]string{"log": "ST76", "source": "log", "seq": strconv.FormatUint(uint64(e.seq), 10)}}
	if e.mfg {
		ev.Details["manufacturer"] = "true"
	}
	if e.user != 0 {
		ev.Details["user"] = strconv.Itoa(int(e.user))
	}
	if len(e.arg) > 0 {
		ev.Details["argument"] = fmt.Sprintf("%X", e.arg)
	}
	mfg := ""
	if e.mfg {
		mfg = "m"
	}
	ev.MRID = fmt.Sprintf("%s/ST76/%d/%s%d/%d", s.t.Meter.MRID, e.at.Unix(), mfg, e.code, e.seq)
	return ev
}
