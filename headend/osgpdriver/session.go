package osgpdriver

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/osgp"
)

// The names of an OSGP meter's cursors, as they have been since the
// driver's first collection.
const (
	cursorProfile = "profile"
	cursorEvents  = "events"
)

// session is one OSGP association with a meter: the C12.19 tables are
// read, and commands run, by the C12 drivers' Reader over the client;
// what is OSGP's own is the client's keys and sequence numbers and the
// digest guard's alarms a collection reports.
type session struct {
	*c12driver.Reader
	d    *Driver
	mrid string
	c    *osgp.Client
}

// Collect implements headend.Session: the Reader's collection, and the
// digest alarms raised for the meter since the last one.
func (s *session) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	col, err := s.Reader.Collect(ctx, p)
	var alarms []cim.EndDeviceEvent
	for _, a := range s.d.takeAlarms(s.mrid) {
		alarms = append(alarms, cim.EndDeviceEvent{MRID: fmt.Sprintf("%s/osgp-guard/%d", s.mrid, a.At.UnixNano()),
			MeterID: s.mrid, Type: EventDigestAlarm, CreatedAt: a.At.UTC(), Severity: "major",
			Reason:  fmt.Sprintf("%d answers failed verification: the head-end stopped talking to the meter until %s", a.Failures, a.Until.UTC().Format(time.RFC3339)),
			Details: map[string]string{"source": "head-end", "failures": strconv.Itoa(a.Failures)}})
	}
	col.Events = append(alarms, col.Events...)
	return col, err
}

// Close implements headend.Session.
func (s *session) Close(context.Context) error { return s.c.Close() }

// tables is c12driver.Tables over an OSGP client: OSGP's read and partial
// read requests, and a procedure as a write of ST7 and a read of ST8.
type tables struct {
	c *osgp.Client
	// f is the meter's data formats, which ST7 and ST8 are encoded in;
	// set once ST0 is read, before any procedure runs.
	f c1219.Format
	// seq ties a procedure's ST7 write to its ST8 response.
	seq uint8
}

// Read implements c12driver.Tables.
func (t *tables) Read(ctx context.Context, table uint16) ([]byte, error) {
	return t.c.ReadTable(ctx, table)
}

// ReadOffset implements c12driver.Tables.
func (t *tables) ReadOffset(ctx context.Context, table uint16, offset uint32, count uint16) ([]byte, error) {
	return t.c.ReadPartial(ctx, table, offset, count)
}

// Procedure implements c12driver.Tables: ST7 written with the
// procedure, its parameters and a sequence number of the session's,
// then ST8 read back, which must answer that procedure and number.
func (t *tables) Procedure(ctx context.Context, proc uint16, params []byte) ([]byte, error) {
	p := c1219.Proc(proc)
	t.seq++
	req := c1219.ProcInitiate{Proc: p, Selector: c1219.PostOnCompletion, Seq: t.seq, Params: params}
	if err := t.c.WriteTable(ctx, uint16(c1219.ST7), req.Encode(t.f)); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	b, err := t.c.ReadTable(ctx, uint16(c1219.ST8))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	r, err := c1219.DecodeST8(b, t.f)
	if err != nil {
		return nil, fmt.Errorf("%s: ST8: %w: %w", p, osgp.ErrUnexpected, err)
	}
	if r.Proc != p || r.Seq != t.seq {
		return nil, fmt.Errorf("%s: %w: ST8 answers %s sequence %d", p, osgp.ErrUnexpected, r.Proc, r.Seq)
	}
	if err := r.Err(); err != nil {
		return r.Data, fmt.Errorf("%s: %w", p, err)
	}
	return r.Data, nil
}
