package meter

import (
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// EventKind is a scheduled happening the simulator must act on.
type EventKind uint8

// The event kinds. EventWake carries nothing: it is the horizon, poll
// NextEvent again then.
const (
	EventWake EventKind = iota
	EventLastGasp
	EventPowerRestored
	EventTamper
	EventTamperCleared
	EventPowerQuality
	EventLimiterTrip
	EventTariffActivated
)

var eventKindNames = [...]string{"wake", "last-gasp", "power-restored", "tamper", "tamper-cleared", "power-quality", "limiter-trip", "tariff-activated"}

// String returns a short name.
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("event-kind(%d)", uint8(k))
}

// Event is what NextEvent reports: the kind, the event code the meter logs
// for it and the log it goes to. Last gasp, power restored and tamper
// alarms are the usual push triggers.
type Event struct {
	Kind EventKind
	Code EventCode
	Log  Log
}

// NextEvent returns the first scheduled event strictly after `after`, or
// an EventWake at after+Horizon if none comes sooner. The schedule is
// derived from the seed (power cuts, tamper, power quality) and the
// meter's state (limiter, pending calendar), so a fleet engine can keep
// one timer heap over all meters instead of a goroutine each. Events are
// already in the logs when their time comes; only EventLimiterTrip needs
// Apply to take effect.
func (m *Meter) NextEvent(after time.Time) (time.Time, Event) {
	a := after.Unix()
	until := after.Add(m.f.Horizon).Unix()
	best := until
	ev := Event{Kind: EventWake}
	offer := func(t int64, e Event) {
		if t > a && t < best {
			best, ev = t, e
		}
	}
	if a+1 < until {
		m.eachOutage(a, until, func(p period) {
			if p.from < m.f.install {
				return
			}
			if sup := m.f.Supply; sup == nil || sup.LastGasp(m.id, p.from) {
				offer(p.from, Event{Kind: EventLastGasp, Code: EventPowerDown, Log: LogStandard})
			}
			offer(p.to, Event{Kind: EventPowerRestored, Code: EventPowerUp, Log: LogStandard})
		})
		// A false last gasp is the meter's own supervision misfiring (a
		// failing supply capacitor or voltage monitor): the alarm goes
		// out, but the meter never lost power, so it logs nothing, sends
		// no power-up after it and keeps answering. Only a ping tells
		// the head-end it was false.
		if sup := m.f.Supply; sup != nil && m.kind.Electric() {
			sup.FalseGasps(m.id, max(a+1, m.f.install), until, func(at int64) {
				if !m.PoweredDown(time.Unix(at, 0)) { // an injected cut
					offer(at, Event{Kind: EventLastGasp, Code: EventPowerDown, Log: LogStandard})
				}
			})
		}
	}
	mf := m.Faults()
	if mf.Tamper {
		for d := floorDiv(a-maxTamper, 86400); d*86400 < best; d++ {
			if ep, ok := m.seedTamper(d, &mf); ok && ep.from >= m.f.install {
				offer(ep.from, Event{Kind: EventTamper, Code: tamperCodes[ep.kind][0], Log: LogFraud})
				offer(ep.to, Event{Kind: EventTamperCleared, Code: tamperCodes[ep.kind][1], Log: LogFraud})
			}
		}
	}
	if m.f.Supply != nil {
		// A meter without power sees no sag.
		m.eachPQ(max(a+1, m.f.install), best, func(ep pqEp) {
			if ep.at < best && !m.PoweredDown(time.Unix(ep.at, 0)) {
				offer(ep.at, Event{Kind: EventPowerQuality, Code: ep.code, Log: LogPowerQuality})
			}
		})
	} else if m.f.Faults.PowerQualityPerYear > 0 {
		for d := floorDiv(a, 86400); d*86400 < best; d++ {
			if ep, ok := m.seedPQ(d); ok && ep.at >= m.f.install {
				offer(ep.at, Event{Kind: EventPowerQuality, Code: ep.code, Log: LogPowerQuality})
			}
		}
	}
	if t := m.tariff(); t != nil && !t.From.IsZero() {
		offer(t.From.Unix(), Event{Kind: EventTariffActivated, Code: EventTOUActivated, Log: LogStandard})
	}
	if t, ok := m.nextLimiterTrip(a, min(best, a+2*86400)); ok {
		offer(t, Event{Kind: EventLimiterTrip, Code: EventLimiterThresholdExceeded, Log: LogDisconnect})
	}
	return time.Unix(best, 0).In(m.f.Location), ev
}

// Apply performs the state change an event implies at now. Only a limiter
// trip changes state (limiter threshold exceeded, then a local disconnect
// if the control mode allows it); the others are derived and need nothing.
func (m *Meter) Apply(now time.Time, e Event) error {
	if e.Kind != EventLimiterTrip {
		return nil
	}
	m.logEvent(LogDisconnect, now, EventLimiterThresholdExceeded)
	_, err := m.Control(now, LocalDisconnect)
	return err
}

// SetPassiveCalendar writes a passive calendar that becomes active at
// activate (COSEM activity calendar: passive calendar plus
// activate_passive_calendar_time), logging event 19 now; event 9 appears
// when it activates. A calendar already pending is replaced.
func (m *Meter) SetPassiveCalendar(now time.Time, c *Calendar, activate time.Time) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("meter %d: %w", m.id, err)
	}
	if activate.Before(now) {
		activate = now
	}
	m.invalidateFrom(activate.Unix())
	s := m.s()
	base := s.tariff
	if base == nil {
		base = m.f.Tariff
	}
	s.tariff = base.WithPassive(c, activate)
	m.logEvent(LogStandard, now, EventPassiveTOUSet)
	return nil
}

// SetSpecialDays replaces the special days (COSEM special days table,
// class 11, which every calendar of the meter consults) from now on: the
// calendar in force and a pending passive calendar take sd, each keeping
// the entries whose day profile it has. Days before now keep the special
// days they had, so past registers do not change.
func (m *Meter) SetSpecialDays(now time.Time, sd []SpecialDay) error {
	t := m.tariff()
	cur := t.At(now)
	if cur == nil {
		return fmt.Errorf("meter %d: no calendar for special days", m.id)
	}
	with := func(c *Calendar) *Calendar {
		n := *c
		n.Special = nil
		for _, s := range sd {
			if int(s.Profile) < len(c.Days) {
				n.Special = append(n.Special, s)
			}
		}
		return &n
	}
	pending, at, ok := t.Passive(now)
	m.invalidateFrom(now.Unix())
	next := t.WithPassive(with(cur), now)
	if ok {
		next = next.WithPassive(with(pending), at)
	}
	m.s().tariff = next
	return nil
}

// Tariff returns the meter's calendar chain.
func (m *Meter) Tariff() *Tariff { return m.tariff() }

// Instant returns the instantaneous values at now: zero during a power
// cut; voltage without current while the relay is open; the measured
// current reduced by a bypass. Gas and water meters return zero values.
func (m *Meter) Instant(now time.Time) loadshape.Instant {
	if !m.kind.Electric() || m.PoweredDown(now) {
		return loadshape.Instant{Phases: m.Phases()}
	}
	t := now.In(m.f.Location)
	imp, exp := loadshape.PowerAt(m.f.Seed, m.id, m.arch, t)
	imp = m.respondPower(t, imp)
	if st, _ := m.Relay(); st != Connected {
		imp, exp = 0, 0
	}
	mf := m.Faults()
	if pm := m.theftAt(now.Unix(), &mf); pm > 0 {
		imp -= imp * pm / 1000
	}
	if sup := m.f.Supply; sup != nil {
		return loadshape.InstantSupplied(m.f.Seed, m.id, m.arch, t, imp, exp, m.Phases(), m.f.Grid, sup.VoltagePM(m.id, now.Unix()))
	}
	return loadshape.InstantAt(m.f.Seed, m.id, m.arch, t, imp, exp, m.Phases(), m.f.Grid)
}
