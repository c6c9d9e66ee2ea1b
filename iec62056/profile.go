package iec62056

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The load profile of a readout meter (the VDEW "P.01" style most
// IEC 62056-21 meters follow, read in programming mode with R5):
//
//	R5 STX P.01(sYYMMDDhhmm;sYYMMDDhhmm) ETX BCC     from; to (either may be empty)
//
// answered by data lines, in blocks that end in EOT while more follow:
//
//	P.01(sYYMMDDhhmm)(SS)(pp)(n)(code1)(unit1)...(coden)(unitn)
//	(v1)...(vn)
//	(v1)...(vn)
//	P.01(...)                    a new header: after a gap or a status change
//
// The header gives the end of its first interval (s: 0 standard time, 1
// daylight saving time, 2 UTC), the status word in hex, the period in
// minutes, and the channels; each row after it is one further period.

// ProfileBlock is one header of a load profile and the rows under it.
type ProfileBlock struct {
	First  time.Time     // end of the first row's interval
	Status string        // the status word, hex
	Period time.Duration // whole minutes
	Codes  []string      // each channel's code, e.g. "1.29"
	Units  []string      // and unit, e.g. "kWh"
	Rows   [][]string    // one value a channel
}

// FormatProfileTime renders t as "sYYMMDDhhmm" in loc.
func FormatProfileTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	s := byte('0')
	switch {
	case loc == time.UTC:
		s = '2'
	case t.IsDST():
		s = '1'
	}
	return string(s) + t.Format("0601021504")
}

// ParseProfileTime reads "sYYMMDDhhmm" (or "YYMMDDhhmm" without the
// season) in loc; the season digit settles the hour a DST change repeats.
func ParseProfileTime(s string, loc *time.Location) (time.Time, error) {
	season := byte(0)
	if len(s) == 11 {
		season, s = s[0], s[1:]
	}
	if len(s) != 10 {
		return time.Time{}, &SyntaxError{"profile time", 0, fmt.Sprintf("%q: want sYYMMDDhhmm", s)}
	}
	if season == '2' {
		loc = time.UTC
	}
	t, err := time.ParseInLocation("0601021504", s, loc)
	if err != nil {
		return time.Time{}, &SyntaxError{"profile time", 1, fmt.Sprintf("%q: not a time", s)}
	}
	// In the hour a DST change repeats, the season says which of the two.
	switch {
	case season == '0' && t.IsDST():
		if u := t.Add(time.Hour); !u.IsDST() && u.Format("0601021504") == s {
			t = u
		}
	case season == '1' && !t.IsDST():
		if u := t.Add(-time.Hour); u.IsDST() && u.Format("0601021504") == s {
			t = u
		}
	}
	return t, nil
}

// ProfileSets renders blocks as the data lines of a profile answer.
func ProfileSets(blocks []ProfileBlock, loc *time.Location) []DataSet {
	var out []DataSet
	for _, b := range blocks {
		h := DataSet{Address: "P.01", Values: []Value{{Value: FormatProfileTime(b.First, loc)}, {Value: b.Status},
			{Value: strconv.Itoa(int(b.Period / time.Minute))}, {Value: strconv.Itoa(len(b.Codes))}}}
		for k, c := range b.Codes {
			h.Values = append(h.Values, Value{Value: c}, Value{Value: b.Units[k]})
		}
		out = append(out, h)
		for _, r := range b.Rows {
			row := DataSet{}
			for _, v := range r {
				row.Values = append(row.Values, Value{Value: v})
			}
			out = append(out, row)
		}
	}
	return out
}

// ParseProfile decodes the data lines of a profile answer.
func ParseProfile(sets []DataSet, loc *time.Location) ([]ProfileBlock, error) {
	var out []ProfileBlock
	for i, d := range sets {
		if d.Address == "" {
			if len(out) == 0 {
				return nil, &SyntaxError{"profile", i, "values before the first header"}
			}
			b := &out[len(out)-1]
			if len(d.Values) != len(b.Codes) {
				return nil, &SyntaxError{"profile", i, fmt.Sprintf("%d values under a header of %d channels", len(d.Values), len(b.Codes))}
			}
			row := make([]string, len(d.Values))
			for k, v := range d.Values {
				row[k] = v.Value
			}
			b.Rows = append(b.Rows, row)
			continue
		}
		if !strings.HasPrefix(d.Address, "P.") {
			return nil, &SyntaxError{"profile", i, fmt.Sprintf("line %q is neither header nor values", d.Address)}
		}
		if len(d.Values) < 4 {
			return nil, &SyntaxError{"profile", i, "header shorter than time, status, period and channel count"}
		}
		first, err := ParseProfileTime(d.Values[0].Value, loc)
		if err != nil {
			return nil, err
		}
		per, err := strconv.Atoi(d.Values[2].Value)
		if err != nil || per <= 0 || per > 24*60 {
			return nil, &SyntaxError{"profile", i, fmt.Sprintf("period %q", d.Values[2].Value)}
		}
		n, err := strconv.Atoi(d.Values[3].Value)
		if err != nil || n < 0 || len(d.Values) != 4+2*n {
			return nil, &SyntaxError{"profile", i, fmt.Sprintf("channel count %q for %d values", d.Values[3].Value, len(d.Values))}
		}
		b := ProfileBlock{First: first, Status: d.Values[1].Value, Period: time.Duration(per) * time.Minute}
		for k := range n {
			b.Codes = append(b.Codes, d.Values[4+2*k].Value)
			b.Units = append(b.Units, d.Values[5+2*k].Value)
		}
		out = append(out, b)
	}
	return out, nil
}

// ProfileRequest is the R5 command reading the profile at addr ("P.01")
// between from and to (zero: open).
func ProfileRequest(addr string, from, to time.Time, loc *time.Location) Command {
	f, t := "", ""
	if !from.IsZero() {
		f = FormatProfileTime(from, loc)
	}
	if !to.IsZero() {
		t = FormatProfileTime(to, loc)
	}
	return Command{C: 'R', D: '5', Data: &DataSet{Address: addr, Values: []Value{{Value: f + ";" + t}}}}
}

// AppendDataLines appends a block of data lines: STX, each set on its own
// line, then ETX, or EOT when partial says more blocks follow, and the
// BCC.
func AppendDataLines(b []byte, sets []DataSet, partial bool) ([]byte, error) {
	start := len(b)
	b = append(b, STX)
	for _, d := range sets {
		if err := d.Check(); err != nil {
			return b[:start], err
		}
		b = d.append(b)
		b = append(b, CR, LF)
	}
	end := byte(ETX)
	if partial {
		end = EOT
	}
	b = append(b, end)
	return append(b, BCC(b[start+1:])), nil
}

// ParseDataLines decodes a block of data lines; partial reports an EOT
// end. An error message comes back as an error wrapping ErrMeter.
func ParseDataLines(msg []byte) (sets []DataSet, partial bool, err error) {
	body, err := checkFrame(msg, STX, "data lines")
	if err != nil {
		return nil, false, err
	}
	partial = msg[len(msg)-2] == EOT
	if len(body) == 0 {
		return nil, partial, nil
	}
	if !partial && !bytes.Contains(body, []byte{CR, LF}) {
		if d, err := ParseDataMessage(msg); err != nil {
			return nil, false, err
		} else {
			return []DataSet{d}, false, nil
		}
	}
	off := 1
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{CR, LF})
		if string(line) == "!" {
			break
		}
		if len(line) > 0 {
			ds, err := ParseDataSets(line)
			if err != nil {
				var se *SyntaxError
				if errors.As(err, &se) {
					se.Offset += off
				}
				return nil, false, err
			}
			sets = append(sets, ds...)
		}
		off += len(line) + 2
		body = rest
	}
	return sets, partial, nil
}

// ReadLines sends a read command (R5 for a profile) whose answer is data
// lines, and collects the partial blocks, acknowledging each.
func (p *Programming) ReadLines(ctx context.Context, c Command) ([]DataSet, error) {
	ans, err := p.exchange(ctx, c)
	if err != nil {
		return nil, err
	}
	stop := p.l.dl.Watch(ctx)
	defer stop()
	var out []DataSet
	for nak := 0; ; {
		if len(ans) == 1 || ans[0] != STX {
			return nil, fmt.Errorf("%s: %w", c, answer(c, ans))
		}
		sets, partial, err := ParseDataLines(ans)
		switch {
		case errors.Is(err, ErrBCC) && nak < retries:
			nak++
			if err := p.l.write([]byte{NAK}); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("%s: %w", c, err)
		case !partial:
			return append(out, sets...), nil
		default:
			out, nak = append(out, sets...), 0
			if err := p.l.write([]byte{ACK}); err != nil {
				return nil, err
			}
		}
		if ans, err = p.l.frame(); err != nil {
			return nil, fmt.Errorf("%s: next block: %w", c, err)
		}
	}
}

// ProfileMeter is a Meter with a load profile: R5 and R6 commands go to
// Profile, whose lines the meter side sends in partial blocks.
type ProfileMeter interface {
	Meter
	// Profile returns the lines answering a read of addr with the
	// command's values (for P.01: "from;to").
	Profile(level byte, addr string, args []Value) ([]DataSet, error)
}

// linesPerBlock is how many data lines go in one partial block.
const linesPerBlock = 48

// sendLines sends sets in partial blocks, each waiting for the client's
// ACK (NAK: the block again).
func sendLines(l *link, sets []DataSet) error {
	for first := true; first || len(sets) > 0; first = false {
		n := min(len(sets), linesPerBlock)
		msg, err := AppendDataLines(nil, sets[:n], n < len(sets))
		if err != nil {
			return err
		}
		for {
			if err := l.write(msg); err != nil {
				return err
			}
			if n == len(sets) {
				return nil
			}
			ans, err := l.frame()
			if err != nil {
				return err
			}
			if len(ans) == 1 && ans[0] == ACK {
				break
			}
			if len(ans) != 1 || ans[0] != NAK {
				return errAbandoned // the client moved on: back to rest
			}
		}
		sets = sets[n:]
	}
	return nil
}
