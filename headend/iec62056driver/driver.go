// Package iec62056driver owns how the head-end reaches IEC 62056-21
// (IEC 61107) readout meters: its manifest columns (device address, P1
// password, protocol mode), the data readout turned into register reads
// with the reading type ids of the DLMS driver ("A+", "A+T1", "MD+"...),
// the meter's clock from 0.9.1 and 0.9.2, and setting it in programming
// mode with the P1 password. The protocol has no commands beyond that:
// Execute reports headend.ErrUnsupported.
package iec62056driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/manifest"
)

// Protocol is the manifest's protocol value for these meters.
const Protocol = "iec62056-21"

// Config tunes the driver.
type Config struct {
	// Timeout is how long a session waits for the meter's next character
	// (0: iec62056.DefaultTimeout).
	Timeout time.Duration
	// MaxBaud caps the rate a mode C readout switches to; on TCP the
	// switch is only agreed (0: whatever the meter offers).
	MaxBaud int
}

// Driver is the IEC 62056-21 headend.Driver.
type Driver struct {
	cfg Config
	// Counted faults of the meters' messages, for operators and tests.
	bcc, syntax, meterErrors atomic.Int64
}

// New returns a driver.
func New(cfg Config) *Driver { return &Driver{cfg: cfg} }

// Faults are the malformed answers the driver met, by kind.
type Faults struct {
	BCC    int64 // block check character missing or wrong
	Syntax int64 // a message that does not parse
	Meter  int64 // an error message from the meter
}

// Faults returns the counts so far.
func (d *Driver) Faults() Faults {
	return Faults{BCC: d.bcc.Load(), Syntax: d.syntax.Load(), Meter: d.meterErrors.Load()}
}

// count files err under its kind and returns it.
func (d *Driver) count(err error) error {
	switch {
	case errors.Is(err, iec62056.ErrBCC):
		d.bcc.Add(1)
	case errors.Is(err, iec62056.ErrSyntax), errors.Is(err, iec62056.ErrLine), errors.Is(err, iec62056.ErrTooLong):
		d.syntax.Add(1)
	case errors.Is(err, iec62056.ErrMeter):
		d.meterErrors.Add(1)
	}
	return err
}

// Protocol implements headend.Driver.
func (d *Driver) Protocol() string { return Protocol }

// The driver's manifest columns.
var (
	colAddress  = manifest.Column{Name: "iec_address", MaxBytes: 32}
	colPassword = manifest.Column{Name: "iec_password", MaxBytes: 32}
	colMode     = manifest.Column{Name: "iec_mode", Required: true, MaxBytes: 1}
)

// Columns implements headend.Driver: the device address the request names
// (empty: any meter on the line), the P1 password of programming mode
// (empty: the clock cannot be set) and the protocol mode, A to D.
func (d *Driver) Columns() []manifest.Column {
	return []manifest.Column{colAddress, colPassword, colMode}
}

// Credentials are what the driver keeps of a meter, sealed by the
// head-end.
type Credentials struct {
	Address  string `json:"address,omitempty"`
	Password string `json:"password,omitempty"`
	Mode     string `json:"mode"`
}

// String never shows the password.
func (c Credentials) String() string { return "credentials{" + c.Address + ",mode " + c.Mode + "}" }

// Register implements headend.Driver.
func (d *Driver) Register(r manifest.Row) (headend.Registration, error) {
	bad := func(col manifest.Column, err error) (headend.Registration, error) {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: col.Name, Err: err}
	}
	var c Credentials
	var e *manifest.RowError
	if c.Address, e = r.Field(colAddress); e != nil {
		return headend.Registration{}, e
	}
	if _, err := iec62056.AppendRequest(nil, c.Address); err != nil {
		return bad(colAddress, errors.New("not a device address: / ? and ! are not allowed, and at most 32 printable characters"))
	}
	if c.Password, e = r.Field(colPassword); e != nil {
		return headend.Registration{}, e
	}
	if err := (iec62056.DataSet{Values: []iec62056.Value{{Value: c.Password}}}).Check(); err != nil {
		return bad(colPassword, errors.New("characters a password data set cannot carry"))
	}
	if c.Mode, e = r.Field(colMode); e != nil {
		return headend.Registration{}, e
	}
	m, err := iec62056.ParseMode(c.Mode)
	if err != nil || m == iec62056.ModeEnhanced {
		return bad(colMode, fmt.Errorf("%q: want A, B, C or D (mode E meters are DLMS meters)", c.Mode))
	}
	if r.SubMeter() {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: "kind", Err: errors.New("a readout meter has no M-Bus sub-meters")}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return headend.Registration{}, err
	}
	return headend.Registration{Credentials: b}, nil
}

// Cause implements headend.Driver.
func (d *Driver) Cause(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, iec62056.ErrBCC), errors.Is(err, iec62056.ErrSyntax), errors.Is(err, iec62056.ErrMeter) && !errors.Is(err, iec62056.ErrPassword),
		errors.Is(err, iec62056.ErrMode), errors.Is(err, iec62056.ErrLine), errors.Is(err, iec62056.ErrTooLong):
		// First: a block whose BCC never came ends in a timeout too, but
		// the fault is the meter's message.
		return headend.OutcomeProtocol
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return headend.OutcomeTimeout
	case errors.Is(err, iec62056.ErrPassword):
		return headend.OutcomeAuth
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE):
		return headend.OutcomeRefused
	}
	return ""
}

// Open implements headend.Driver: it connects; the sign-on comes with
// each operation, as a readout leaves the meter at rest.
func (d *Driver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	u, err := url.Parse(t.Meter.Address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("meter %s: address %q: want tcp://host:port", t.Meter.MRID, t.Meter.Address)
	}
	var c Credentials
	if err := json.Unmarshal(t.Credentials, &c); err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", t.Meter.MRID, err)
	}
	mode, err := iec62056.ParseMode(c.Mode)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
	}
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", t.Meter.MRID, err)
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	return &session{d: d, t: t, c: c, mode: mode, conn: conn, loc: loc, now: now}, nil
}
