// Package dlmsdriver owns how the head-end reaches DLMS/COSEM meters: the
// association from a meter's registry entry and sealed secrets, the
// meter's object model (discovered once per kind of meter and shared as a
// template), the daily read plan drawn from it (registers, load profiles
// from their cursors, billing profiles, event logs, clock), commands as
// COSEM methods and attributes, and the decoding of pushed notifications.
//
// Reading type ids come from the OBIS table in channels.go (IEC 62056-6-1):
// "A+" and "A-" (active energy, Wh), "A+T1".."A+T9" (per tariff rate),
// "R+", "R-", "RQ1".."RQ4" (reactive, varh), "L1A+".. (per phase),
// "MD+" (maximum demand, W), "L1V", "L1I".. (voltage and current), "G",
// "W", "MB1".. (gas, water, M-Bus volumes; the volume of a gas or water
// meter read through its parent is its own "G" or "W"); a code the table does not know
// is kept raw as "obis:<code>". A profile channel appends its period
// ("A+15m", the quarter-hour energy every consumer knows), a value kept
// at a negative scaler its multiplier ("A+e-2"); billing values carry
// "/billing".
package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Config tunes the driver.
type Config struct {
	// SystemTitle is the head-end's own system title (8 bytes).
	SystemTitle []byte
	// CounterWindow is how many invocation counter values one store write
	// reserves.
	CounterWindow uint32
	// Timeout bounds each exchange with a meter (0: dlms.DefaultTimeout).
	Timeout time.Duration
	// ProfileChunk is the span of one profile request, so a long catch-up
	// does not build one huge response (0: one day).
	ProfileChunk time.Duration
}

// Driver is the DLMS/COSEM headend.Driver.
type Driver struct {
	cfg    Config
	models models
	// discoveries counts object models read in full, for tests and
	// metrics: a fleet of one kind costs one.
	discoveries atomic.Int64
}

// Discoveries returns how many object models the driver read in full.
func (d *Driver) Discoveries() int64 { return d.discoveries.Load() }

// DefaultSystemTitle is the head-end's system title when none is set.
var DefaultSystemTitle = []byte("AMGHE001")

// New returns a driver.
func New(cfg Config) *Driver {
	if len(cfg.SystemTitle) != security.SystemTitleSize {
		cfg.SystemTitle = DefaultSystemTitle
	}
	if cfg.CounterWindow == 0 {
		cfg.CounterWindow = 64
	}
	if cfg.ProfileChunk <= 0 {
		cfg.ProfileChunk = 24 * time.Hour
	}
	return &Driver{cfg: cfg}
}

// Protocol implements headend.Driver.
func (d *Driver) Protocol() string { return "dlms" }

// ReadsSubMeters implements headend.SubMeterReader: a collection reads
// the gas and water meters on the meter's M-Bus channels.
func (d *Driver) ReadsSubMeters() bool { return true }

// Cause implements headend.Driver.
func (d *Driver) Cause(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, dlms.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return headend.OutcomeTimeout
	case errors.Is(err, dlms.ErrInvocationCounter):
		return headend.OutcomeCounter
	case errors.Is(err, dlms.ErrAuthenticationFailed), errors.Is(err, dlms.ErrAssociationRejected):
		return headend.OutcomeAuth
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, dlms.ErrPeerClosed),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return headend.OutcomeRefused
	case errors.Is(err, errWrongDevice):
		return headend.OutcomeWrongDevice
	case errors.Is(err, dlms.ErrProtocol), errors.Is(err, dlms.ErrReplay):
		return headend.OutcomeProtocol
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return headend.OutcomeTimeout
	}
	return ""
}

// options builds the association's options from the meter's credentials.
func (d *Driver) options(ctx context.Context, t headend.Target, s Credentials) (dlms.Options, error) {
	o := dlms.Options{ClientSAP: s.ClientSAP, SystemTitle: d.cfg.SystemTitle, ServerSystemTitle: s.SystemTitle,
		Timeout: d.cfg.Timeout, Name: "meter " + t.Meter.MRID}
	o.Link, o.Authentication, o.Policy = s.Transport, s.Authentication, s.SecurityPolicy
	switch {
	case !supportedMechanisms[s.Authentication]:
		return o, fmt.Errorf("meter %s: authentication %s not supported", t.Meter.MRID, s.Authentication)
	case s.Authentication == security.MechanismLLS:
		o.Password = dlms.NewSecret(s.Password)
	}
	if len(s.EK) > 0 {
		k, err := security.NewKey(s.EK)
		if err != nil {
			return o, fmt.Errorf("meter %s: ek: %w", t.Meter.MRID, err)
		}
		o.Keys.Unicast = k
	}
	if len(s.AK) > 0 {
		k, err := security.NewKey(s.AK)
		if err != nil {
			return o, fmt.Errorf("meter %s: ak: %w", t.Meter.MRID, err)
		}
		o.Keys.Authentication = k
	}
	if o.Policy != security.PolicyNone || o.Authentication == security.MechanismHLSGMAC {
		c, err := d.counter(ctx, t, counterName(s))
		if err != nil {
			return o, err
		}
		o.Counter = c
		// A meter that expects a higher counter (another client, a lost
		// store) is caught up in the same job: the refusal's expected
		// value, else its counter object read as the public client.
		o.ResyncInvocationCounter = true
	}
	return o, nil
}

// counter returns the sending invocation counter of the meter's key,
// backed by the store: a window of values is reserved before any is used,
// so a crash can skip values but never repeat one.
func (d *Driver) counter(ctx context.Context, t headend.Target, name string) (*security.Counter, error) {
	if t.Counters == nil {
		return nil, fmt.Errorf("meter %s: ciphering needs durable invocation counters", t.Meter.MRID)
	}
	w := d.cfg.CounterWindow
	first, err := t.Counters.Reserve(ctx, name, w)
	if err != nil {
		return nil, fmt.Errorf("meter %s: invocation counter: %w", t.Meter.MRID, err)
	}
	if first+uint64(w) > 0xFFFFFFFF {
		return nil, fmt.Errorf("meter %s: invocation counter exhausted; the key must be renewed", t.Meter.MRID)
	}
	high := first + uint64(w)
	persist := func(mark uint32) error {
		if uint64(mark) <= high {
			return nil
		}
		n := uint64(mark) - high
		got, err := t.Counters.Reserve(ctx, name, uint32(n))
		if err != nil {
			return err
		}
		if got != high {
			return fmt.Errorf("invocation counter moved to %d under us (another head-end node?)", got)
		}
		high += n
		return nil
	}
	c := security.NewCounter(uint32(first), persist)
	c.Window = w
	return c, nil
}

// Open implements headend.Driver.
func (d *Driver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	u, err := url.Parse(t.Meter.Address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("meter %s: address %q: want tcp://host:port", t.Meter.MRID, t.Meter.Address)
	}
	creds, err := ParseCredentials(t.Credentials)
	if err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", t.Meter.MRID, err)
	}
	o, err := d.options(ctx, t, creds)
	if err != nil {
		return nil, err
	}
	c, err := dlms.Dial(ctx, creds.dialAddress(u.Host, &o), o)
	if err != nil {
		return nil, err
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	now := t.Now
	if now == nil {
		now = time.Now
	}
	s := &session{d: d, c: c, t: t, loc: loc, now: now}
	if r, ok := c.Resync(); ok {
		s.resync = &r
	}
	return s, nil
}

type session struct {
	d   *Driver
	c   *dlms.Client
	t   headend.Target
	loc *time.Location
	now func() time.Time
	// fetched holds profiles read ahead by prefetch until readRange asks.
	fetched map[obis.Code]fetchedProfile
	// m is the meter's object model; adopt says the meter is to be
	// recorded as following it, stale that the meter no longer fits it.
	m            *Model
	adopt, stale bool
	// relearned: the model was discovered again in this session.
	relearned bool
	// resync is the invocation counter catch-up Dial made, reported as an
	// event by the next collection.
	resync *dlms.Resync
	// subs are the sub-meters a collection reads through the meter, and
	// volume the one whose profiles are being read.
	subs   []subRead
	volume *subRead
}

// Close implements headend.Session.
func (s *session) Close(ctx context.Context) error {
	err := s.c.Release(ctx)
	s.c.Close()
	return err
}
