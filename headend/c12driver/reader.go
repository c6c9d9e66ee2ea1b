package c12driver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
)

// Tables is the link a meter's C12.19 tables are read and its procedures
// run over: PSEM on C12.18 and C12.22 (psem.Client is one), OSGP's own
// requests on OSGP. A refusal of one request is a psem.Code in the error
// chain, so that a collection counts it as a problem of that table and
// goes on.
type Tables interface {
	// Read reads a whole table.
	Read(ctx context.Context, table uint16) ([]byte, error)
	// ReadOffset reads count octets of a table from offset.
	ReadOffset(ctx context.Context, table uint16, offset uint32, count uint16) ([]byte, error)
	// Procedure runs a procedure (ST7 written, ST8 read back), the
	// manufacturer flag in proc as c1219.Proc has it, and returns the
	// response data; a result other than completed is an error.
	Procedure(ctx context.Context, proc uint16, params []byte) ([]byte, error)
}

// ReaderConfig says how a Reader names what it reads.
type ReaderConfig struct {
	// Protocol is the driver's protocol, which the templates of its
	// meters are keyed by.
	Protocol string
	// Templates is the cache of templates, shared by the driver's
	// sessions (nil: one of the Reader's own).
	Templates *Templates
	// MaxRead is the most octets one offset read asks for (0: 4096).
	MaxRead int
	// ProfileCursor and EventsCursor name the collection's cursors
	// (empty: "profile:ST64" and "events:ST76").
	ProfileCursor, EventsCursor string
}

// Reader reads one meter's C12.19 tables into collections and runs its
// commands as procedures, over any link: it is the part of a
// headend.Session the C12 and OSGP drivers share (Clock, SetClock,
// Execute, Collect); a driver's session adds its link's Close.
type Reader struct {
	cfg ReaderConfig
	t   headend.Target
	c   Tables
	loc *time.Location
	now func() time.Time
	// lay is the meter's tables' layout: its format (ST0) and the
	// dimensions its template holds.
	lay *layout
	// ident is the meter's identification (ST1), for messages.
	ident string
	// gmt: the meter keeps UTC rather than local time (ST52's
	// qualifier), which its other tables' times follow.
	gmt, clockRead bool
}

// NewReader reads the meter's general configuration (ST0) and
// identification (ST1) over c and takes its template, learning it when
// this kind of meter is new. t gives the meter, its zone and clock and
// the template store.
func NewReader(ctx context.Context, t headend.Target, c Tables, cfg ReaderConfig) (*Reader, error) {
	if cfg.Templates == nil {
		cfg.Templates = &Templates{}
	}
	if cfg.ProfileCursor == "" {
		cfg.ProfileCursor = cursorProfile
	}
	if cfg.EventsCursor == "" {
		cfg.EventsCursor = cursorEvents
	}
	r := &Reader{cfg: cfg, t: t, c: c, loc: t.Location, now: t.Now}
	if r.loc == nil {
		r.loc = time.UTC
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := r.configure(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Format is the meter's data formats (ST0), which a link that encodes
// procedures itself needs.
func (s *Reader) Format() c1219.Format { return s.lay.f }

func (s *Reader) errorf(format string, args ...any) error {
	return fmt.Errorf("meter %s: "+format, append([]any{s.t.Meter.MRID}, args...)...)
}

// read reads a whole table.
func (s *Reader) read(ctx context.Context, table uint16) ([]byte, error) {
	b, err := s.c.Read(ctx, table)
	if err != nil {
		return nil, s.errorf("%w", err)
	}
	return b, nil
}

// readOffset reads count octets of a table from offset, in as many reads
// as the meter's largest response allows.
func (s *Reader) readOffset(ctx context.Context, table uint16, offset uint32, count int) ([]byte, error) {
	out := make([]byte, 0, count)
	for count > 0 {
		n := min(count, s.chunk())
		b, err := s.c.ReadOffset(ctx, table, offset, uint16(n))
		if err != nil {
			return nil, s.errorf("%w", err)
		}
		if len(b) != n {
			return nil, s.errorf("ST%d: %d octets at offset %d, asked for %d: %w", table, len(b), offset, n, errProtocol)
		}
		out = append(out, b...)
		offset += uint32(n)
		count -= n
	}
	return out, nil
}

// chunk is the most a single offset read asks for.
func (s *Reader) chunk() int {
	if s.cfg.MaxRead > 0 {
		return s.cfg.MaxRead
	}
	return 4096
}

// Clock implements headend.Session: ST52's date and time, in the usage
// point's zone.
func (s *Reader) Clock(ctx context.Context) (time.Time, error) {
	b, err := s.read(ctx, tblClock)
	if err != nil {
		return time.Time{}, err
	}
	t, gmt, err := s.lay.clock(b, s.loc)
	if err != nil {
		return time.Time{}, s.errorf("%w", err)
	}
	s.gmt, s.clockRead = gmt, true
	return t, nil
}

// SetClock implements headend.Session: standard procedure 10, the date
// and the time at once, to the second, in the usage point's zone.
func (s *Reader) SetClock(ctx context.Context, t time.Time) error {
	if !s.clockRead {
		// Whether the meter keeps UTC or local time is in its clock's
		// qualifier.
		if _, err := s.Clock(ctx); err != nil {
			return err
		}
	}
	params := s.lay.setTimeParams(t.Round(time.Second).In(s.loc), s.gmt)
	if _, err := s.c.Procedure(ctx, procSetTime, params); err != nil {
		return s.errorf("set date and time: %w", err)
	}
	return nil
}

// Execute implements headend.Session.
func (s *Reader) Execute(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	switch c.Type {
	case cim.ControlDisconnect, cim.ControlReconnect, cim.ControlArmReconnect:
		action := map[cim.EndDeviceControlType]c1219.SwitchAction{cim.ControlDisconnect: c1219.SwitchDisconnect,
			cim.ControlReconnect: c1219.SwitchConnect, cim.ControlArmReconnect: c1219.SwitchArm}[c.Type]
		resp, err := s.c.Procedure(ctx, procSwitch, []byte{byte(action)})
		if err != nil {
			return "", s.errorf("%s: %w", c.Type, err)
		}
		out, err := s.lay.switchReport(action, resp)
		if err != nil {
			return "", s.errorf("%s: %w", c.Type, err)
		}
		return out, nil
	case cim.ControlDemandReset:
		if _, err := s.c.Procedure(ctx, procRemoteReset, s.lay.demandResetParams()); err != nil {
			return "", s.errorf("demand reset: %w", err)
		}
		return "demand reset", nil
	case cim.ControlClockSync:
		t := s.now()
		if p := c.Parameters["time"]; p != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, p); err != nil {
				return "", fmt.Errorf("%w: time %q: %v", headend.ErrBadCommand, p, err)
			}
		}
		before, err := s.Clock(ctx)
		if err != nil {
			return "", err
		}
		if err := s.SetClock(ctx, t); err != nil {
			return "", err
		}
		return fmt.Sprintf("clock set to %s (was off by %s)", t.In(s.loc).Format(time.RFC3339), before.Sub(s.now()).Round(time.Second)), nil
	case cim.ControlPing:
		mt, err := s.Clock(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("meter %s answers; clock %s", s.ident, mt.Format(time.RFC3339)), nil
	case cim.ControlReadNow:
		var col headend.Collection
		mt, err := s.Clock(ctx)
		if err != nil {
			return "", err
		}
		if err := s.registers(ctx, mt, &col); err != nil {
			return "", err
		}
		out := ""
		for _, r := range col.Registers {
			if r.ReadingType == "A+" || r.ReadingType == "A-" {
				out += fmt.Sprintf("%s %d Wh; ", r.ReadingType, r.Value)
			}
		}
		return out + "at " + mt.Format(time.RFC3339), nil
	}
	return "", fmt.Errorf("meter %s: %s: %w", s.t.Meter.MRID, c.Type, headend.ErrUnsupported)
}

// configure reads ST0 and ST1 and takes the meter's template.
func (s *Reader) configure(ctx context.Context) error {
	st0, err := s.read(ctx, uint16(c1219.ST0))
	if err != nil {
		return err
	}
	gen, err := c1219.DecodeST0(st0)
	if err != nil {
		return s.errorf("%w: %w", errDecode, err)
	}
	if err := gen.Format.Check(); err != nil {
		return s.errorf("%w: %w", errDecode, err)
	}
	st1, err := s.read(ctx, uint16(c1219.ST1))
	if err != nil {
		return err
	}
	id, err := c1219.DecodeST1(st1, gen.Format)
	if err != nil {
		return s.errorf("%w: %w", errDecode, err)
	}
	s.ident = strings.TrimSpace(id.Manufacturer) + " " + strings.TrimSpace(id.Model) + " " + strings.TrimSpace(id.SerialNo)
	// The template's key leaves the serial number out: every meter has
	// its own.
	noSerial := id
	noSerial.SerialNo = ""
	key := templateKey(s.cfg.Protocol, st0, noSerial.Encode(gen.Format))
	tpl, err := s.cfg.Templates.get(ctx, s.t.Models, s.t.Meter.MRID, key, func() (*Template, error) {
		return s.learn(ctx, st0, gen, id)
	})
	if err != nil {
		return err
	}
	s.lay, err = newLayout(gen, tpl)
	if err != nil {
		return s.errorf("template %s: %w", tpl.Key, err)
	}
	return nil
}

// learn reads the dimension tables of a kind of meter new to the
// head-end: those ST0 says the meter has.
func (s *Reader) learn(ctx context.Context, st0 []byte, gen c1219.GenConfig, id c1219.MfgID) (*Template, error) {
	tpl := &Template{Protocol: s.cfg.Protocol, Manufacturer: strings.TrimSpace(id.Manufacturer), Model: strings.TrimSpace(id.Model),
		Firmware: fmt.Sprintf("%d.%d", id.FWVersion, id.FWRevision), LearnedAt: s.now().UTC(),
		Tables: map[uint16][]byte{uint16(c1219.ST0): st0}}
	for _, t := range dimensionTables {
		if !gen.HasTable(t) {
			continue
		}
		b, err := s.read(ctx, uint16(t))
		if err != nil {
			return nil, fmt.Errorf("learning the meter's %v: %w", t, err)
		}
		tpl.Tables[uint16(t)] = b
	}
	return tpl, nil
}

// dimensionTables are the tables a template keeps: they say how the
// registers, the load profile and the event log are laid out and what
// their values measure, and change only with the meter's configuration.
var dimensionTables = []c1219.TableID{c1219.ST11, c1219.ST12, c1219.ST15, c1219.ST16, c1219.ST21, c1219.ST22,
	c1219.ST61, c1219.ST62, c1219.ST71}
