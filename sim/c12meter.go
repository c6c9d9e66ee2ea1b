package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/meter"
)

// c12Meter is one C12 or OSGP meter as its table store sees it for the
// span of a connection: the model under the fleet's per-meter lock, and
// what the connection computed already.
type c12Meter struct {
	f      *Fleet
	i      int
	m      *meter.Meter
	serial string
	proto  string

	// lp caches the load profile image of the latest completed interval:
	// a head-end reads ST64 in many offset reads, and the profile only
	// changes when an interval completes.
	lp    []byte
	lpKey int64
}

func (f *Fleet) newC12Meter(i int) (*c12Meter, error) {
	m, err := f.Meter(i)
	if err != nil {
		return nil, err
	}
	if !m.Kind().Electric() {
		return nil, fmt.Errorf("sim: meter %d is a %s meter; only electricity meters speak C12", i, m.Kind())
	}
	return &c12Meter{f: f, i: i, m: m, serial: m.Serial(), proto: f.Protocol(i)}, nil
}

// with runs fn on the model under its lock at the current true time, the
// household's use since the last call settled first.
func (c *c12Meter) with(fn func(m *meter.Meter, now time.Time)) {
	lk := c.f.Lock(c.i)
	lk.Lock()
	defer lk.Unlock()
	now := c.f.now()
	c.m.Settle(now)
	fn(c.m, now)
}

// reachable reports whether the meter has power and a link now.
func (c *c12Meter) reachable() bool {
	var ok bool
	c.with(func(m *meter.Meter, now time.Time) { ok = m.Reachable(now) })
	return ok
}

// C12.19 standard event codes (the history and event log codes of the
// standard's annex) the simulated meters log.
const (
	c12EventPowerDown      = 1
	c12EventPowerUp        = 2
	c12EventTimeChangedOld = 3 // stamped with the old time
	c12EventTimeChangedNew = 4 // stamped with the new time
	c12EventDemandReset    = 20
	c12EventTamper         = 47
	c12EventControlCommand = 49 // a control point (the disconnect switch) changed by a command
)

// c12Event is one entry of the meter's event log (ST76).
type c12Event struct {
	Seq  uint32    // sequence number, from 1 at the meter's first event
	Time time.Time // the meter's clock
	Code uint16    // C12.19 standard event code
	// Arg is the model's own event code, so that a reader tells a cover
	// opening from a magnetic field, a disconnection from a connection.
	Arg uint16
}

// c12EventOf maps a model event to its C12.19 code; false for events the
// C12.19 log does not carry (a cover closing, the end of a magnetic
// field: the tamper attempt was logged when it began).
func c12EventOf(code meter.EventCode) (uint16, bool) {
	switch code {
	case meter.EventPowerDown:
		return c12EventPowerDown, true
	case meter.EventPowerUp:
		return c12EventPowerUp, true
	case meter.EventClockAdjustedOld:
		return c12EventTimeChangedOld, true
	case meter.EventClockAdjustedNew:
		return c12EventTimeChangedNew, true
	case meter.EventTerminalCoverOpened, meter.EventMeterCoverOpened, meter.EventMagneticField:
		return c12EventTamper, true
	case meter.EventRemoteDisconnection, meter.EventRemoteConnection, meter.EventReadyForManualReconnection,
		meter.EventManualConnection, meter.EventManualDisconnection:
		return c12EventControlCommand, true
	}
	return 0, false
}

// c12EventDemandResetArg is the argument of a demand reset event: the
// model has no event code of its own for it.
const c12EventDemandResetArg = 0

// c12LogCapacity is how many entries the event log keeps (ST71).
const c12LogCapacity = 100

// c12Log is a meter's event log as its readers saw it: sequence numbers
// are given once, when an event is first seen, so that they stay the same
// from one read to the next while the model recomputes its logs.
type c12Log struct {
	events []c12Event  // oldest first, at most c12LogCapacity
	next   uint32      // the next sequence number
	resets []time.Time // demand resets (meter clock): the model does not log them
	// nResets counts the demand resets; last is the registers at the
	// latest (ST25).
	nResets int
	last    c1219.PrevDemandReset
}

// events returns the meter's event log at now, oldest first: what the
// model logged since the last call is appended with the next sequence
// numbers. The logs are merged by the meter's clock, each kept in its own
// capture order (a clock set backwards logs the old time before the new
// one, however they compare), and the procedures refresh the log as they
// run, so that what a session does is logged in the order it did it. Hold
// the meter's lock.
func (c *c12Meter) events(m *meter.Meter, now time.Time) []c12Event {
	var logs [][]c12Event
	for _, l := range []meter.Log{meter.LogStandard, meter.LogFraud, meter.LogDisconnect} {
		var es []c12Event
		for _, e := range m.Events(now, l) {
			if code, ok := c12EventOf(e.Code); ok {
				es = append(es, c12Event{Time: e.Time, Code: code, Arg: uint16(e.Code)})
			}
		}
		logs = append(logs, es)
	}
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	lg := f.c12LogOf(c.i)
	var resets []c12Event
	for _, t := range lg.resets {
		resets = append(resets, c12Event{Time: t, Code: c12EventDemandReset, Arg: c12EventDemandResetArg})
	}
	logs = append(logs, resets)
	seen := func(e c12Event) bool {
		return slices.ContainsFunc(lg.events, func(o c12Event) bool { return o.Time.Equal(e.Time) && o.Code == e.Code && o.Arg == e.Arg })
	}
	for {
		k := -1
		for j, l := range logs {
			if len(l) > 0 && (k < 0 || l[0].Time.Before(logs[k][0].Time)) {
				k = j
			}
		}
		if k < 0 {
			break
		}
		e := logs[k][0]
		logs[k] = logs[k][1:]
		// A full log forgets its oldest entries: an event older than
		// what it keeps is one of those, not a new one.
		if seen(e) || (len(lg.events) >= c12LogCapacity && e.Time.Before(lg.events[0].Time)) {
			continue
		}
		e.Seq = lg.next
		lg.next++
		lg.events = append(lg.events, e)
	}
	if n := len(lg.events); n > c12LogCapacity {
		lg.events = slices.Delete(lg.events, 0, n-c12LogCapacity)
	}
	return slices.Clone(lg.events)
}

// logNow brings the event log up to date, after a procedure changed the
// model.
func (c *c12Meter) logNow() {
	c.with(func(m *meter.Meter, now time.Time) { c.events(m, now) })
}

// demandReset resets the maximum demand and logs it. Hold the meter's
// lock.
func (c *c12Meter) demandReset(m *meter.Meter, now time.Time) {
	regs := m.RegistersAt(now)
	md := m.ResetMaxDemand(now)
	at := m.Clock(now).In(m.Fleet().Location)
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	lg := c.f.c12LogOf(c.i)
	lg.nResets++
	lg.last = c1219.PrevDemandReset{EndTime: at, Data: registerData(regs, md)}
	lg.last.Data.NbrDemandResets = uint8(lg.nResets)
	lg.resets = append(lg.resets, at)
	if n := len(lg.resets); n > c12LogCapacity {
		lg.resets = slices.Delete(lg.resets, 0, n-c12LogCapacity)
	}
}

// errControlRefused is a connect or disconnect the meter's control mode
// does not allow.
var errControlRefused = errors.New("sim: the control mode does not allow it")

// control drives the disconnect switch as the DLMS disconnect control's
// methods do: a trigger the mode allows but the state does not take
// succeeds without effect. Hold the meter's lock.
func control(m *meter.Meter, now time.Time, connect bool) error {
	t := meter.RemoteDisconnect
	if connect {
		t = meter.RemoteReconnect
	}
	if _, mode := m.Relay(); !mode.Allows(t) {
		return errControlRefused
	}
	_, err := m.Control(now, t)
	var te *meter.TransitionError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

// c12LogOf is meter i's log, made on first use. Hold f.mu.
func (f *Fleet) c12LogOf(i int) *c12Log {
	if f.c12Logs == nil {
		f.c12Logs = map[int]*c12Log{}
	}
	lg := f.c12Logs[i]
	if lg == nil {
		lg = &c12Log{next: 1}
		f.c12Logs[i] = lg
	}
	return lg
}

// resets is how many demand resets the meter has had.
func (c *c12Meter) resets() int {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.c12LogOf(c.i).nResets
}

// lastReset is ST25: the registers when the demand was last reset.
func (c *c12Meter) lastReset() c1219.PrevDemandReset {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.c12LogOf(c.i).last
}

// remoteReset is SP 9: a demand reset (and a self read, which the meter
// takes as done: its self reads are the model's midnight snapshots).
func (c *c12Meter) remoteReset(req c1219.ProcInitiate) (c1219.Result, []byte) {
	r, err := c1219.DecodeRemoteReset(req.Params)
	if err != nil {
		return c1219.ResultInvalidParam, nil
	}
	if r.Demand {
		c.with(func(m *meter.Meter, now time.Time) { c.demandReset(m, now) })
		c.logNow()
	}
	return c1219.ResultCompleted, nil
}

// setDateTime is SP 10: it sets the meter's clock as a DLMS clock write
// does. The new time is UTC when TIME_DATE_QUAL says GMT, else the
// meter's local time; a mask without the date keeps the meter's date, one
// without the time keeps its time of day.
func (c *c12Meter) setDateTime(req c1219.ProcInitiate) (c1219.Result, []byte) {
	p, err := c1219.DecodeSetDateTime(req.Params, c1219.DefaultFormat)
	if err != nil || p.Mask&(c1219.SetDate|c1219.SetTime) == 0 || p.Time.IsZero() {
		return c1219.ResultInvalidParam, nil
	}
	c.with(func(m *meter.Meter, now time.Time) {
		loc := time.UTC
		if p.Mask&c1219.SetTimeDateQual != 0 && p.Qual&c1219.QualGMT == 0 {
			loc = m.Fleet().Location
		}
		cur := m.Clock(now).In(loc)
		y, mo, d := cur.Date()
		hh, mm, ss := cur.Clock()
		if p.Mask&c1219.SetDate != 0 {
			y, mo, d = p.Time.Date()
		}
		if p.Mask&c1219.SetTime != 0 {
			hh, mm, ss = p.Time.Clock()
		}
		m.SetClock(now, time.Date(y, mo, d, hh, mm, ss, 0, loc))
	})
	c.lp = nil // the profile's stamps moved
	c.logNow()
	return c1219.ResultCompleted, nil
}

// serviceSwitch is amigo's manufacturer procedure for the disconnect
// switch: it drives the model's relay as the DLMS disconnect control's
// methods do and answers the switch's state.
func (c *c12Meter) serviceSwitch(req c1219.ProcInitiate) (c1219.Result, []byte) {
	if len(req.Params) != 1 {
		return c1219.ResultInvalidParam, nil
	}
	var connect bool
	switch c1219.SwitchAction(req.Params[0]) {
	case c1219.SwitchDisconnect:
	case c1219.SwitchConnect, c1219.SwitchArm:
		connect = true
	default:
		return c1219.ResultInvalidParam, nil
	}
	var err error
	var st meter.ControlState
	c.with(func(m *meter.Meter, now time.Time) {
		err = control(m, now, connect)
		st, _ = m.Relay()
	})
	if err != nil {
		return c1219.ResultConflict, nil
	}
	c.logNow()
	state := c1219.SwitchClosed
	switch st {
	case meter.Disconnected:
		state = c1219.SwitchOpen
	case meter.ReadyForReconnection:
		state = c1219.SwitchArmed
	}
	return c1219.ResultCompleted, []byte{byte(state)}
}
