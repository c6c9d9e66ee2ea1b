package dlms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/obis"
)

// ProfileMethod is how ReadProfileFrom selects rows of a profile buffer:
// the rungs of a ladder, each less demanding of the meter than the one
// before.
type ProfileMethod uint8

// Profile selection methods, from the most to the least selective. The
// zero value starts at the top.
const (
	// ByRange is selective access by range, restricted on the profile's
	// own clock column (any clock object's attribute 2 among its capture
	// objects).
	ByRange ProfileMethod = iota + 1
	// ByEntry is selective access by entry: the entries the range maps to,
	// estimated from entries_in_use, the capture period and the time of
	// the last entry, widened until the range is covered.
	ByEntry
	// Whole is the whole buffer without selective access, filtered here.
	Whole
)

// String names the method.
func (m ProfileMethod) String() string {
	switch m {
	case 0:
		return "auto"
	case ByRange:
		return "range"
	case ByEntry:
		return "entry"
	case Whole:
		return "whole"
	}
	return fmt.Sprintf("profile-method(%d)", uint8(m))
}

// ProfileRows is what ReadProfileFrom read of one profile.
type ProfileRows struct {
	// Rows are the rows whose time lies within [from, to], in buffer
	// order, each a structure with one item per Columns entry.
	Rows []axdr.Data
	// Times are the rows' times, read from the clock column with
	// axdr.Data.DateTimeTolerant, a date-time without deviation taken in
	// from's zone, and a null time (which some meters send for a row one
	// capture period after the one before) computed so. All zero when the
	// profile has no clock column.
	Times []time.Time
	// Columns are the columns of Rows: those asked for, else Captured.
	Columns []cosem.CaptureObject
	// Captured are all the profile's capture objects, in buffer order.
	Captured []cosem.CaptureObject
	// Clock is the index in Captured of the clock column, -1 if none.
	Clock int
	// Period is the capture period in seconds when it was read (ByEntry
	// reads it, and so does a read that met a null time), else 0.
	Period uint32
	// Method is the method that answered; with an error, the one that
	// failed. A caller remembers it per meter model and starts there next
	// time.
	Method ProfileMethod
	// Chunk is the most entries one ByEntry request returned without a
	// refusal; a request for more was refused, or MaxProfileEntries
	// bounded it.
	Chunk int
	// Refused are the refusals that moved the read down the ladder, in
	// order: the meter answered, so the association is intact.
	Refused []error
	// Tolerated collects the date-time departures met in the clock column
	// (axdr.Tolerance); a caller logs them as a warning.
	Tolerated axdr.Tolerance
	// Dropped counts rows left out because their time could not be read
	// or their shape does not match the capture objects.
	Dropped int
}

// ReadProfileFrom reads the rows of profile generic ln whose time lies
// within [from, to] with the most selective method the meter serves,
// starting at method (0 means ByRange): a refusal (a data-access-result,
// an EXCEPTION-response, ErrTooLong) moves down to the next method, and
// ProfileRows.Method says which one answered. Whatever the method, rows
// are filtered here by their time too, since meters also answer a range
// with neighbouring rows; and a range answered with no rows is checked by
// entry, since some meters answer a range they do not support so. Without
// selective access in the conformance
// block only Whole is tried; a profile without a clock column cannot be
// read by range.
//
// A dropped link (ErrLinkDropped) does not move down: it ends the call
// with the method that was being tried, so the caller can remember that
// request as dangerous for this meter model and never send it again. Any
// other failure ends the call too.
//
// ByEntry asks for at most Options.MaxProfileEntries entries per request
// and halves a request the meter refuses, down to one entry. columns
// selects the columns returned (all when empty); the meter is always
// asked for whole rows, which every meter serves.
func (c *Client) ReadProfileFrom(ctx context.Context, ln obis.Code, from, to time.Time, method ProfileMethod, columns ...cosem.CaptureObject) (ProfileRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := ProfileRows{Clock: -1, Method: method}
	buf := Attr{Class: classProfileGeneric, OBIS: ln, Attribute: 2}
	if method > Whole {
		return out, c.opErr("get", buf.String(), fmt.Errorf("unknown profile method %d", method))
	}
	if err := c.ready(); err != nil {
		return out, c.opErr("get", buf.String(), err)
	}
	cols, err := c.captureObjects(ctx, ln)
	if err != nil {
		return out, err
	}
	out.Captured = cols
	for i := range cols {
		if cols[i].ClassID == classClock && cols[i].Attribute == 2 {
			out.Clock = i
			break
		}
	}
	pick, err := columnIndexes(cols, columns)
	if err != nil {
		return out, c.opErr("get", buf.String(), err)
	}
	out.Columns = cols
	if len(columns) > 0 {
		out.Columns = columns
	}
	if method == 0 {
		method = ByRange
	}
	if !c.neg.SelectiveAccess() {
		method = Whole
	}
	if method == ByRange && out.Clock < 0 {
		method = ByEntry
	}
	r := &ladder{c: c, buf: buf, out: &out, from: from, to: to, loc: from.Location()}
	for m := method; m <= Whole; m++ {
		out.Method = m
		var rows []axdr.Data
		switch m {
		case ByRange:
			rd := cosem.RangeDescriptor{RestrictingObject: cols[out.Clock], From: rangeBound(from), To: rangeBound(to)}
			rows, err = c.profileRows(ctx, buf, &apdu.SelectiveAccess{Selector: cosem.SelectorRange, Parameters: rd.Data()})
		case ByEntry:
			rows, err = r.byEntry(ctx)
		case Whole:
			rows, err = c.profileRows(ctx, buf, nil)
		}
		if err == nil && m == ByRange && len(rows) == 0 && r.c.neg.SelectiveAccess() {
			// Some meters answer a range they do not support with no
			// rows. The entries tell whether the span is really empty.
			erows, eerr := r.byEntry(ctx)
			switch {
			case eerr == nil && r.keep(ctx, erows, pick) > 0:
				out.Method = ByEntry
				out.Refused = append(out.Refused, c.opErr("get", buf.String(),
					errors.New("the range was answered with no rows, but the entries hold rows in it")))
				return out, nil
			case eerr != nil && !ladderRefusal(eerr):
				out.Method = ByEntry
				return out, eerr
			}
			out.Method, out.Period, out.Chunk, out.Dropped, out.Tolerated = ByRange, 0, 0, 0, 0
			return out, nil
		}
		if err == nil {
			r.keep(ctx, rows, pick)
			return out, nil
		}
		if !ladderRefusal(err) {
			return out, err
		}
		out.Refused = append(out.Refused, err)
	}
	return out, err
}

// ladderRefusal reports whether err is the meter refusing a request, which
// moves a profile read down the ladder.
func ladderRefusal(err error) bool {
	return refusal(err) || (errors.Is(err, ErrTooLong) && !errors.Is(err, ErrLinkDropped))
}

// columnIndexes maps the asked columns to their places in cols.
func columnIndexes(cols, asked []cosem.CaptureObject) ([]int, error) {
	if len(asked) == 0 {
		return nil, nil
	}
	idx := make([]int, len(asked))
	for i, a := range asked {
		idx[i] = -1
		for j, col := range cols {
			if col == a {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("column %d/%s/%d is not captured by the profile", a.ClassID, a.LogicalName, a.Attribute)
		}
	}
	return idx, nil
}

// maxEntryRequests bounds the requests one ByEntry read sends, so a meter
// whose entries never reach the range (or that refuses every size) cannot
// keep a session going for ever.
const maxEntryRequests = 1024

// ladder is one ReadProfileFrom call in progress.
type ladder struct {
	c        *Client
	buf      Attr
	out      *ProfileRows
	from, to time.Time
	loc      *time.Location
	requests int
}

// rowTime reads the time of a row from the clock column; prev is the time
// of the row before (zero if unknown) for rows whose time is null.
func (r *ladder) rowTime(row axdr.Data, prev time.Time) (time.Time, bool) {
	k := r.out.Clock
	if k < 0 || row.Tag != axdr.TagStructure || k >= len(row.Items) {
		return time.Time{}, false
	}
	v := row.Items[k]
	if v.Tag == axdr.TagNull {
		if prev.IsZero() || r.out.Period == 0 {
			return time.Time{}, false
		}
		return prev.Add(time.Duration(r.out.Period) * time.Second), true
	}
	dt, tol, ok := v.DateTimeTolerant()
	if !ok {
		return time.Time{}, false
	}
	t, err := dt.TimeIn(r.loc)
	if err != nil {
		return time.Time{}, false
	}
	r.out.Tolerated |= tol
	return t.In(r.loc), true
}

// keep filters rows by time and projects them onto the asked columns; it
// returns how many it kept.
func (r *ladder) keep(ctx context.Context, rows []axdr.Data, pick []int) int {
	before := len(r.out.Rows)
	width := len(r.out.Captured)
	if r.out.Period == 0 && r.out.Clock >= 0 {
		for _, row := range rows {
			if row.Tag == axdr.TagStructure && len(row.Items) == width && row.Items[r.out.Clock].Tag == axdr.TagNull {
				// A null time is the time before plus the capture
				// period; without the period the row cannot be placed.
				r.out.Period, _ = r.attrUint(ctx, 4)
				break
			}
		}
	}
	var prev time.Time
	for _, row := range rows {
		if row.Tag != axdr.TagStructure || len(row.Items) != width {
			r.out.Dropped++
			prev = time.Time{}
			continue
		}
		var at time.Time
		if r.out.Clock >= 0 {
			t, ok := r.rowTime(row, prev)
			if !ok {
				r.out.Dropped++
				prev = time.Time{}
				continue
			}
			prev, at = t, t
			if t.Before(r.from) || t.After(r.to) {
				continue
			}
		}
		if pick != nil {
			items := make([]axdr.Data, len(pick))
			for i, j := range pick {
				items[i] = row.Items[j]
			}
			row = axdr.Structure(items...)
		}
		r.out.Rows = append(r.out.Rows, row)
		r.out.Times = append(r.out.Times, at)
	}
	return len(r.out.Rows) - before
}

// attrUint reads an unsigned attribute of the profile.
func (r *ladder) attrUint(ctx context.Context, attr int8) (uint32, error) {
	a := Attr{Class: classProfileGeneric, OBIS: r.buf.OBIS, Attribute: attr}
	d, err := r.c.get(ctx, a, nil)
	if err != nil {
		return 0, err
	}
	v, ok := d.Uint()
	if !ok || v > 0xFFFFFFFF {
		return 0, r.c.opErr("get", a.String(), protocolError("%s is not a 32-bit unsigned value", d))
	}
	return uint32(v), nil
}

// byEntry reads the entries covering [from, to]: it reads the last entry
// for its time, estimates the first and last entries of the range from the
// capture period, then widens backwards (and forwards) until the rows
// read reach past both ends or the buffer ends. Without a capture period
// or a clock column it reads backwards from the last entry.
func (r *ladder) byEntry(ctx context.Context) ([]axdr.Data, error) {
	n, err := r.attrUint(ctx, 7) // entries_in_use
	if err != nil || n == 0 {
		return nil, err
	}
	if p, err := r.attrUint(ctx, 4); err == nil { // capture_period
		r.out.Period = p
	} else if !ladderRefusal(err) {
		return nil, err
	}
	chunk := r.c.o.MaxProfileEntries
	if chunk <= 0 {
		chunk = int(n)
	}
	lo, hi := uint32(1), n
	if r.out.Clock >= 0 {
		last, err := r.entries(ctx, n, n, &chunk)
		if err != nil {
			return nil, err
		}
		tl, ok := time.Time{}, false
		if len(last) == 1 {
			tl, ok = r.rowTime(last[0], time.Time{})
		}
		switch {
		case ok && tl.Before(r.from):
			return nil, nil // nothing captured since from
		case ok && r.out.Period > 0:
			p := time.Duration(r.out.Period) * time.Second
			back := func(t time.Time) uint32 { return uint32(min(int64(tl.Sub(t)/p), int64(n))) }
			lo = n - back(r.from) // one entry early, for a row just before from
			if lo > 1 {
				lo--
			}
			if r.to.Before(tl) {
				hi = min(n, n-back(r.to)+1)
			}
			lo = max(lo, 1)
		default:
			lo = uint32(max(int64(n)-int64(chunk)+1, 1))
		}
	}
	rows, err := r.entries(ctx, lo, hi, &chunk)
	if err != nil {
		return nil, err
	}
	// Widen backwards while the first row read is after from: clock
	// changes and missed captures shift the estimate.
	for lo > 1 && r.out.Clock >= 0 {
		first, ok := time.Time{}, false
		if len(rows) > 0 {
			first, ok = r.rowTime(rows[0], time.Time{})
		}
		if ok && !first.After(r.from) {
			break
		}
		nlo := uint32(max(int64(lo)-int64(chunk), 1))
		more, err := r.entries(ctx, nlo, lo-1, &chunk)
		if err != nil {
			return nil, err
		}
		rows, lo = joinEntries(more, rows), nlo
	}
	// And forwards while the last row read is before to.
	for hi < n && r.out.Clock >= 0 {
		last, ok := time.Time{}, false
		if len(rows) > 0 {
			last, ok = r.rowTime(rows[len(rows)-1], time.Time{})
		}
		if ok && !last.Before(r.to) {
			break
		}
		nhi := uint32(min(int64(hi)+int64(chunk), int64(n)))
		more, err := r.entries(ctx, hi+1, nhi, &chunk)
		if err != nil {
			return nil, err
		}
		rows, hi = joinEntries(rows, more), nhi
	}
	return rows, nil
}

// entries reads entries lo..hi (1-based, inclusive) in requests of at
// most *chunk entries, halving *chunk when the meter refuses a request.
func (r *ladder) entries(ctx context.Context, lo, hi uint32, chunk *int) ([]axdr.Data, error) {
	var rows []axdr.Data
	for start := lo; start <= hi; {
		if r.requests++; r.requests > maxEntryRequests {
			return nil, r.c.opErr("get", r.buf.String(), protocolError("reading by entry took more than %d requests", maxEntryRequests))
		}
		end := uint32(min(int64(hi), int64(start)+int64(*chunk)-1))
		ed := cosem.EntryDescriptor{FromEntry: start, ToEntry: end, FromSelectedValue: 1}
		got, err := r.c.profileRows(ctx, r.buf, &apdu.SelectiveAccess{Selector: cosem.SelectorEntry, Parameters: ed.Data()})
		if err != nil {
			if n := int(end - start + 1); ladderRefusal(err) && n > 1 {
				*chunk = n / 2
				continue
			}
			return nil, err
		}
		r.out.Chunk = max(r.out.Chunk, int(end-start+1))
		rows = joinEntries(rows, got)
		start = end + 1
		if end == hi {
			break // hi may be the largest uint32
		}
	}
	return rows, nil
}

// joinEntries appends b to a, dropping b's first row when it repeats a's
// last: a capture between two requests shifts a full FIFO buffer's entries
// by one, so the next request starts with the row the last one ended with.
// Equal rows inside one answer are the meter's and are kept.
func joinEntries(a, b []axdr.Data) []axdr.Data {
	if len(a) > 0 && len(b) > 0 && a[len(a)-1].Equal(b[0]) {
		b = b[1:]
	}
	return append(a, b...)
}
