package mdm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// maxAhead is how far past now a reading may end before it is refused: a
// meter clock a few hours fast is common, a day ahead is a broken clock.
const maxAhead = 24 * time.Hour

// epoch is the earliest instant a reading may carry; earlier ones come from
// a meter whose clock was never set.
var epoch = time.Unix(0, 0)

// slotReading is one reading placed in its day.
type slotReading struct {
	slot int
	r    cim.IntervalReading
	// at is the end the meter stamped, before an off-grid reading was
	// placed at the end of its interval.
	at time.Time
}

// dayReadings are the readings of a block that fall in one local day.
type dayReadings struct {
	date  cim.Date
	start time.Time // the day's first instant
	n     int       // intervals in the day
	rs    []slotReading
}

// place checks a block's readings against its reading type and sorts them
// into the local days of loc, each at its slot. A reading that ends off
// the interval grid (a capture the meter made when its clock was set, say
// at 07:07:30) is placed by its end into the interval that contains it
// (07:00–07:15) and flagged QualityClockAdjusted; it never refuses the
// block. Readings that land in one interval are combined (see combine).
// A reading with no end, before 1970 or more than a day after now refuses
// the whole block: its time cannot be trusted to place any of them.
func place(b *cim.IntervalBlock, loc *time.Location, now time.Time) ([]dayReadings, error) {
	iv := b.ReadingType.Interval
	if err := checkInterval(b.ReadingType); err != nil {
		return nil, bad("meter %s: %v", b.MeterID, err)
	}
	limit := now.Add(maxAhead)
	var days []dayReadings
	cur := -1
	var curEnd time.Time
	for _, r := range b.Readings {
		switch {
		case r.End.IsZero():
			return nil, bad("meter %s %s: a reading has no end time", b.MeterID, b.ReadingType.ID)
		case r.End.Before(epoch.Add(iv)):
			return nil, bad("meter %s %s: reading ending %s lies before 1970 (meter clock not set?)", b.MeterID, b.ReadingType.ID, r.End.UTC().Format(time.RFC3339))
		case r.End.After(limit):
			return nil, bad("meter %s %s: reading ending %s lies more than %s after now (%s)", b.MeterID, b.ReadingType.ID,
				r.End.UTC().Format(time.RFC3339), maxAhead, now.UTC().Format(time.RFC3339))
		}
		at := r.End
		// A capture stamped a moment after the grid (within
		// cim.CaptureGrace) closes the interval that ends on the grid.
		var ds time.Time
		if cur >= 0 && !r.End.Before(days[cur].start) && r.End.Before(curEnd) {
			ds = days[cur].start
		} else {
			ds = cim.DateOf(r.End, loc).Start(loc)
		}
		if late := r.End.Sub(ds) % iv; late > 0 && late <= cim.CaptureGrace(iv) {
			r.End = r.End.Add(-late)
			r.Quality |= cim.QualityClockAdjusted
		}
		// The instant just before the end lies inside the interval the
		// reading closes, on the grid or off it.
		in := r.End.Add(-time.Nanosecond)
		if cur < 0 || in.Before(days[cur].start) || !in.Before(curEnd) {
			date := cim.DateOf(in, loc)
			cur = slices.IndexFunc(days, func(d dayReadings) bool { return d.date == date })
			if cur < 0 {
				ds, de := date.Start(loc), date.AddDays(1).Start(loc)
				n := int(de.Sub(ds) / iv)
				// Most blocks are a day or less: room for all of them at once.
				days = append(days, dayReadings{date: date, start: ds, n: n, rs: make([]slotReading, 0, min(n, len(b.Readings)))})
				cur = len(days) - 1
			}
			curEnd = days[cur].date.AddDays(1).Start(loc)
		}
		d := &days[cur]
		off := in.Sub(d.start)
		if off < 0 {
			return nil, bad("meter %s %s: reading ending %s does not fall in %s in %s", b.MeterID, b.ReadingType.ID,
				r.End.UTC().Format(time.RFC3339Nano), d.date, loc)
		}
		slot := int(off / iv)
		if slot >= d.n {
			return nil, bad("meter %s %s: reading ending %s is past the last whole %s interval of %s in %s", b.MeterID, b.ReadingType.ID,
				r.End.UTC().Format(time.RFC3339), iv, d.date, loc)
		}
		if end := d.start.Add(time.Duration(slot+1) * iv); !end.Equal(r.End) {
			r.Quality |= cim.QualityClockAdjusted
			r.End = end
		}
		d.rs = append(d.rs, slotReading{slot, r, at})
	}
	additive := isAdditive(b.ReadingType)
	for i := range days {
		d := &days[i]
		// Stable: readings of one interval keep the block's order, which
		// is the meter's order of capture.
		bySlot := func(a, b slotReading) int { return a.slot - b.slot }
		if !slices.IsSortedFunc(d.rs, bySlot) { // a meter's profile usually is
			slices.SortStableFunc(d.rs, bySlot)
		}
		out := d.rs[:0]
		for _, s := range d.rs {
			if n := len(out); n > 0 && out[n-1].slot == s.slot {
				out[n-1].r = combine(out[n-1].r, s.r, !out[n-1].at.Equal(s.at), additive)
				out[n-1].at = s.at
				continue
			}
			out = append(out, s)
		}
		d.rs = out
	}
	return days, nil
}

// isAdditive reports whether a reading type's interval values are amounts
// that add up over time (energy, volume), so that two pieces of one
// interval sum to the whole; other quantities (voltage, power, current)
// are levels, of which the latest stands for the interval.
func isAdditive(rt cim.ReadingType) bool {
	switch rt.Unit {
	case cim.UnitWh, cim.UnitVAh, cim.UnitVArh, cim.UnitM3, cim.UnitJ:
		return true
	}
	return false
}

// combine folds reading b into a, both placed in one interval, b captured
// after a. Pieces of an interval split off the grid (split: their ends
// differed before placing) add up when the quantity is additive, else the
// later one stands; either way the flags of both are kept. A piece with no value (QualityMissing)
// explains nothing about the other's. The same capture read twice (both
// on the grid) is one reading; twice with different values, the later
// one stands, flagged suspect for validation to judge, where the block
// was once refused whole.
func combine(a, b cim.IntervalReading, split, additive bool) cim.IntervalReading {
	switch {
	case b.Quality&cim.QualityMissing != 0 && a.Quality&cim.QualityMissing == 0:
		a.Quality |= b.Quality &^ cim.QualityMissing
		return a
	case a.Quality&cim.QualityMissing != 0 && b.Quality&cim.QualityMissing == 0:
		b.Quality |= a.Quality &^ cim.QualityMissing
		return b
	}
	if !split {
		if a.Value != b.Value || a.Quality != b.Quality {
			b.Quality |= a.Quality | cim.QualitySuspect
		}
		return b
	}
	q := a.Quality | b.Quality
	if !additive || q&cim.QualityMissing != 0 {
		b.Quality = q
		return b
	}
	sum := a.Value + b.Value
	if (b.Value > 0 && sum < a.Value) || (b.Value < 0 && sum > a.Value) {
		// Only a broken register gets here: keep the later piece and say so.
		b.Quality = q | cim.QualitySuspect
		return b
	}
	return cim.IntervalReading{End: b.End, Value: sum, Quality: q}
}

// checkInterval accepts interval lengths that tile every local day into
// whole slots: whole minutes dividing an hour. Where the reading type's id
// names a length ("A+15m", "A-1h"), the interval must be that length.
func checkInterval(rt cim.ReadingType) error {
	iv := rt.Interval
	switch {
	case iv <= 0:
		return fmt.Errorf("reading type %s has no interval", rt.ID)
	case iv%time.Minute != 0 || time.Hour%iv != 0:
		return fmt.Errorf("reading type %s has interval %s; intervals must be whole minutes dividing an hour", rt.ID, iv)
	}
	if named, ok := idInterval(rt.ID); ok && named != iv {
		return fmt.Errorf("reading type %s carries interval %s", rt.ID, iv)
	}
	return nil
}

// idInterval reads the interval an id like "A+15m" or "A+1h" names.
func idInterval(id string) (time.Duration, bool) {
	if len(id) < 2 {
		return 0, false
	}
	unit := time.Minute
	switch id[len(id)-1] {
	case 'm':
	case 'h':
		unit = time.Hour
	default:
		return 0, false
	}
	body := id[:len(id)-1]
	i := len(body)
	for i > 0 && body[i-1] >= '0' && body[i-1] <= '9' {
		i--
	}
	// "A+15m" names fifteen minutes; "A+T2m" (a tariff register) names
	// nothing, so the digits must not follow a letter.
	if i == len(body) || len(body)-i > 4 || i > 0 && isLetter(body[i-1]) {
		return 0, false
	}
	n, _ := strconv.Atoi(body[i:])
	if n == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// newDay returns a day nobody has read yet: every interval missing.
func newDay(meter, channel string, dr dayReadings, iv time.Duration) interval.Day {
	d := interval.Day{MeterID: meter, Channel: channel, Date: dr.date, Start: dr.start, Interval: iv,
		Values: make([]int64, dr.n), Quality: make([]cim.Quality, dr.n), Source: interval.SourceMeter}
	for i := range d.Quality {
		d.Quality[i] = cim.QualityMissing
	}
	return d
}

// fits reports why a stored day cannot take readings placed for dr, or "".
// A stored day of another length or start means the usage point's zone or
// the channel's interval changed since: not something to guess about.
func fits(d interval.Day, dr dayReadings, iv time.Duration) string {
	if d.Interval == iv && d.Start.Equal(dr.start) && len(d.Values) == dr.n {
		return ""
	}
	return fmt.Sprintf("stored as %d × %s from %s, the zone and reading type now give %d × %s from %s",
		len(d.Values), d.Interval, d.Start.UTC().Format(time.RFC3339), dr.n, iv, dr.start.UTC().Format(time.RFC3339))
}

// notes counts what a merge noticed, for the Reason of the new version.
type notes struct {
	conflicts, keptEdits int
	// The first conflict, as an example.
	at       time.Time
	old, new int64
}

func (n notes) reason() string {
	var parts []string
	if n.conflicts > 0 {
		parts = append(parts, fmt.Sprintf("%d interval(s) read again with a different value, the new value kept and flagged suspect (first ending %s: %d, now %d)",
			n.conflicts, n.at.UTC().Format(time.RFC3339), n.old, n.new))
	}
	if n.keptEdits > 0 {
		parts = append(parts, fmt.Sprintf("%d edited interval(s) kept over a different meter reading", n.keptEdits))
	}
	if len(parts) == 0 {
		return ""
	}
	return "ingest: " + strings.Join(parts, "; ")
}

// merge applies placed readings to a day, by the rules in the package
// documentation, and reports whether any interval changed.
func merge(d *interval.Day, rs []slotReading, n *notes) bool {
	changed := false
	for _, s := range rs {
		i, r := s.slot, s.r
		q, v := d.Quality[i], d.Values[i]
		nq, nv := q, v
		switch {
		case r.Quality&cim.QualityMissing != 0:
			// The meter says it has no value: that explains a gap but
			// never erases a value.
			if q&cim.QualityMissing != 0 {
				nq, nv = r.Quality, 0
			}
		case q&cim.QualityMissing != 0, q&(cim.QualityEstimated|cim.QualityEdited) == cim.QualityEstimated:
			nq, nv = r.Quality, r.Value
		case q&cim.QualityEdited != 0:
			if r.Value != v {
				n.keptEdits++
			}
		case r.Value == v:
		default:
			nq, nv = r.Quality|cim.QualitySuspect, r.Value
			if n.conflicts == 0 {
				n.at, n.old, n.new = r.End, v, r.Value
			}
			n.conflicts++
		}
		if nq != q || nv != v {
			d.Quality[i], d.Values[i] = nq, nv
			changed = true
		}
	}
	return changed
}

// CheckMessage says, without a store or a bus, whether the ingest would
// refuse a message published on subject with payload data, for a meter
// whose usage point is in loc, at now: the same decoding and placement the
// ingest runs. A publisher that checks its messages first never moves past
// data the ingest would dead-letter. What only the store can tell (that
// the meter is registered, that a stored day has the shape the zone gives)
// is the ingest's alone. A publisher that still holds the values it
// encoded checks them with CheckBlock, CheckRegisters and CheckEvent
// instead, without decoding its own payload again.
func CheckMessage(subject string, data []byte, loc *time.Location, now time.Time) error {
	m, err := decode(subject, data)
	if err != nil {
		return err
	}
	switch {
	case m.block != nil:
		return checkPlace(m.block, loc, now)
	case m.registers != nil:
		return checkRegisters(m.registers, now)
	}
	return nil
}

// CheckBlock is CheckMessage for an interval block before it is encoded:
// the checks the ingest makes of a decoded block and its placement.
func CheckBlock(b *cim.IntervalBlock, loc *time.Location, now time.Time) error {
	if err := checkBlock(b, bus.SafeToken(b.MeterID)); err != nil {
		return err
	}
	return checkPlace(b, loc, now)
}

// CheckRegisters is CheckMessage for one message of register reads before
// it is encoded.
func CheckRegisters(rs []cim.Reading, now time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	if err := checkRegisterReads(rs, bus.SafeToken(rs[0].MeterID)); err != nil {
		return err
	}
	return checkRegisters(rs, now)
}

// CheckEvent is CheckMessage for an event before it is encoded.
func CheckEvent(e *cim.EndDeviceEvent) error {
	return checkEvent(e, bus.SafeToken(e.MeterID))
}

func checkPlace(b *cim.IntervalBlock, loc *time.Location, now time.Time) error {
	if loc == nil {
		loc = time.UTC
	}
	_, err := place(b, loc, now)
	return err
}
