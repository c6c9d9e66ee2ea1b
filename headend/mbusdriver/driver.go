// Package mbusdriver owns how the head-end reaches standalone wired M-Bus
// meters (gas and water, EN 13757-2/-3) through a TCP M-Bus converter:
// their manifest columns (primary and secondary address), selecting the
// meter on the bus, and reading its records into register reads (the
// volume now, and at the last midnight), an hourly interval block from the
// volume profile the meter keeps by storage number, and its clock.
//
// Reading type ids follow the DLMS driver's: "G" and "W" for the gas and
// water volume, in m³ with the record's power of ten as multiplier
// ("Ge-3": litres), "G60me-3" for the hourly profile, and "Ge-3/daily" for
// the midnight value.
package mbusdriver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
)

// Config tunes the driver.
type Config struct {
	// Timeout is how long a meter has to answer one request (0: one
	// second; a converter on a network adds its round trip to the bus's
	// 330 bit times).
	Timeout time.Duration
	// Retries is how often a request without a valid answer is repeated
	// (0: twice, as EN 13757-2 has it; negative: never).
	Retries int
}

// Driver is the wired M-Bus headend.Driver.
type Driver struct{ cfg Config }

// New returns a driver.
func New(cfg Config) *Driver {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 2
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	return &Driver{cfg: cfg}
}

// Protocol implements headend.Driver.
func (d *Driver) Protocol() string { return "mbus" }

// The driver's manifest columns: a meter has a primary address, a
// secondary address, or both (the secondary one is used then: primary
// addresses are set by hand and collide).
var (
	colPrimary   = manifest.Column{Name: "mbus_primary", MaxBytes: 3}
	colSecondary = manifest.Column{Name: "mbus_secondary", MaxBytes: 16}
)

// Columns implements headend.Driver.
func (d *Driver) Columns() []manifest.Column { return []manifest.Column{colPrimary, colSecondary} }

// Credentials are what the head-end keeps for a meter: its addresses on
// the bus. Nothing here is secret, but only the driver reads it.
type Credentials struct {
	Primary   *byte  `json:"primary,omitempty"`
	Secondary string `json:"secondary,omitempty"`
}

// Register implements headend.Driver.
func (d *Driver) Register(r manifest.Row) (headend.Registration, error) {
	if r.Kind != "gas" && r.Kind != "water" {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: "kind", Err: fmt.Errorf("an mbus meter is gas or water, not %s", r.Kind)}
	}
	p, e := r.Field(colPrimary)
	if e != nil {
		return headend.Registration{}, e
	}
	s, e := r.Field(colSecondary)
	if e != nil {
		return headend.Registration{}, e
	}
	var c Credentials
	if p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > mbus.AddrMaxPrimary {
			return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: colPrimary.Name, Err: fmt.Errorf("%q is no primary address 1..%d", p, mbus.AddrMaxPrimary)}
		}
		b := byte(n)
		c.Primary = &b
	}
	if s != "" {
		m, err := mbus.ParseSecondary(s)
		if err != nil || len(s) != 16 || m.String() != s {
			return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: colSecondary.Name, Err: fmt.Errorf("%q is no secondary address of 16 hex digits without wildcards", s)}
		}
		for _, dg := range m.ID {
			if dg > 9 {
				return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: colSecondary.Name, Err: fmt.Errorf("%q has a wildcard", s)}
			}
		}
		c.Secondary = s
	}
	if c.Primary == nil && c.Secondary == "" {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: colSecondary.Name, Err: errors.New("an mbus meter needs mbus_primary or mbus_secondary")}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return headend.Registration{}, err
	}
	return headend.Registration{Credentials: b}, nil
}

// Cause implements headend.Driver.
func (d *Driver) Cause(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, mbus.ErrNoReply), errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return headend.OutcomeTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return headend.OutcomeRefused
	case errors.Is(err, mbus.ErrChecksum), errors.Is(err, mbus.ErrLength), errors.Is(err, mbus.ErrFrame),
		errors.Is(err, mbus.ErrRecord), errors.Is(err, mbus.ErrHeader), errors.Is(err, mbus.ErrUnexpected),
		errors.Is(err, mbus.ErrCollision), errors.Is(err, errNotMeter):
		return headend.OutcomeProtocol
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return headend.OutcomeTimeout
	}
	return ""
}

var errNotMeter = errors.New("mbus: the meter that answered is not the one registered")

// Open implements headend.Driver: it connects to the converter. The
// meter is selected for each read, since a converter's bus is shared.
func (d *Driver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	var c Credentials
	if err := json.Unmarshal(t.Credentials, &c); err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", t.Meter.MRID, err)
	}
	u, err := url.Parse(t.Meter.Address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("meter %s: address %q is not tcp://host:port", t.Meter.MRID, t.Meter.Address)
	}
	conn, err := mbus.DialTCP(ctx, u.Host)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
	}
	m := mbus.NewMaster(conn)
	m.Timeout, m.Retries = d.cfg.Timeout, d.cfg.Retries
	s := &session{t: t, c: c, conn: conn, m: m, loc: t.Location}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if c.Secondary != "" {
		if s.mask, err = mbus.ParseSecondary(c.Secondary); err != nil {
			conn.Close()
			return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
		}
	}
	return s, nil
}

type session struct {
	t    headend.Target
	c    Credentials
	mask mbus.Mask
	conn net.Conn
	m    *mbus.Master
	loc  *time.Location
}

// read reads the meter's telegrams, selecting it first; more may end a
// multi-telegram read early.
func (s *session) read(ctx context.Context, more func(mbus.Telegram) bool) ([]mbus.Telegram, error) {
	var tgs []mbus.Telegram
	var err error
	if s.c.Secondary != "" {
		tgs, err = s.m.ReadSecondary(ctx, s.mask, more)
	} else {
		tgs, err = s.m.Read(ctx, *s.c.Primary, more)
	}
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", s.t.Meter.MRID, err)
	}
	if s.c.Secondary != "" && len(tgs) > 0 && !s.mask.Matches(tgs[0].Header.Address()) {
		return nil, fmt.Errorf("meter %s: %w: %s answered", s.t.Meter.MRID, errNotMeter, tgs[0].Header.Address())
	}
	return tgs, nil
}

// Close implements headend.Session: the meter is deselected (its link
// layer reset, so a read stopped early does not go on where it stopped)
// and the connection closed.
func (s *session) Close(ctx context.Context) error {
	addr := byte(mbus.AddrNetwork)
	if s.c.Secondary == "" {
		addr = *s.c.Primary
	}
	ctx, cancel := context.WithTimeout(ctx, s.m.Timeout)
	defer cancel()
	s.m.Retries = 0
	_ = s.m.SndNKE(ctx, addr)
	return s.conn.Close()
}

// Clock implements headend.Session: the date and time record of the
// first telegram.
func (s *session) Clock(ctx context.Context) (time.Time, error) {
	tgs, err := s.read(ctx, func(mbus.Telegram) bool { return false })
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range tgs[0].Records {
		if r.Quantity == mbus.DateTime && r.Storage == 0 && r.Subunit == 0 && r.Value.Kind == mbus.KindTime {
			return localTime(r.Value, s.loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("meter %s: %w: no date and time record", s.t.Meter.MRID, mbus.ErrRecord)
}

// SetClock implements headend.Session. Setting a meter's clock over M-Bus
// is a manufacturer's data send; the standard gives no common way.
func (s *session) SetClock(context.Context, time.Time) error {
	return fmt.Errorf("meter %s: setting the clock over M-Bus: %w", s.t.Meter.MRID, headend.ErrUnsupported)
}

// Execute implements headend.Session: standalone M-Bus meters take no
// commands the head-end issues (no valve, no tariffs, no keys here).
func (s *session) Execute(_ context.Context, c cim.EndDeviceControl) (string, error) {
	return "", fmt.Errorf("meter %s: %s over M-Bus: %w", s.t.Meter.MRID, c.Type, headend.ErrUnsupported)
}

// localTime turns an M-Bus date/time (local wall clock, summer time flag)
// into an instant: the flag picks the hour that occurs twice in autumn.
func localTime(v mbus.Value, loc *time.Location) time.Time {
	w := v.Time
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	if t.IsDST() == v.Summer {
		return t
	}
	for _, d := range []time.Duration{time.Hour, -time.Hour} {
		u := t.Add(d)
		if u.IsDST() == v.Summer && u.Hour() == t.Hour() && u.Minute() == t.Minute() {
			return u
		}
	}
	return t
}
