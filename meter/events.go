package meter

import (
	"cmp"
	"slices"
	"time"
)

// Log selects one of the meter's event logs.
type Log uint8

// The event logs of an IDIS/DSMR-style meter.
const (
	LogStandard     Log = iota // 0.0.99.98.0: power, clock, tariff, firmware
	LogFraud                   // 0.0.99.98.1: covers, magnetic field, authentication
	LogDisconnect              // 0.0.99.98.2: disconnector and limiter
	LogPowerQuality            // 0.0.99.98.4: sags and swells
	LogPowerFailure            // 1.0.99.97.0: long power failures with duration
	numLogs
)

// Capacity returns how many entries the meter keeps in a log: older ones
// are overwritten, as in a real meter's circular profile.
func (l Log) Capacity() int {
	switch l {
	case LogStandard:
		return 100
	case LogPowerFailure:
		return 10
	}
	return 30
}

// EventCode is an event identifier as logged in the event code object
// (0.0.96.11.x). The numbering follows the IDIS/DSMR tables; 69 (local
// reconnection) is this model's choice where the tables leave a gap.
type EventCode uint16

// Standard event log.
const (
	EventPowerDown        EventCode = 1
	EventPowerUp          EventCode = 2
	EventDSTChanged       EventCode = 3
	EventClockAdjustedOld EventCode = 4
	EventClockAdjustedNew EventCode = 5
	EventClockInvalid     EventCode = 6
	EventTOUActivated     EventCode = 9
	EventPassiveTOUSet    EventCode = 19
)

// Fraud detection log.
const (
	EventTerminalCoverOpened EventCode = 40
	EventTerminalCoverClosed EventCode = 41
	EventMagneticField       EventCode = 42
	EventMagneticFieldGone   EventCode = 43
	EventMeterCoverOpened    EventCode = 44
	EventMeterCoverClosed    EventCode = 45
	EventAuthFailure         EventCode = 46 // n consecutive failed authentications
)

// Disconnector control log.
const (
	EventReadyForManualReconnection EventCode = 59
	EventManualDisconnection        EventCode = 60
	EventManualConnection           EventCode = 61
	EventRemoteDisconnection        EventCode = 62
	EventRemoteConnection           EventCode = 63
	EventLocalDisconnection         EventCode = 64
	EventLimiterThresholdExceeded   EventCode = 65
	EventLimiterThresholdOK         EventCode = 66
	EventLimiterThresholdChanged    EventCode = 67
	EventLocalReconnection          EventCode = 69
)

// Power quality log: L1, L2, L3 follow each base code.
const (
	EventUnderVoltageL1 EventCode = 76
	EventOverVoltageL1  EventCode = 79
)

// LogEntry is one event log record, stamped by the meter's clock.
type LogEntry struct {
	Time     time.Time
	Code     EventCode
	Duration time.Duration // power failure log and power quality log only
	// DepthPM is a power quality event's deviation from nominal voltage
	// in permille: negative for a sag (-1000: no voltage left), positive
	// for a swell.
	DepthPM int32
}

// storedEvent is an event that only interaction can produce (relay,
// clock, authentication); scheduled ones are derived when read.
type storedEvent struct {
	t, mt int64 // true and meter time, unix ns
	code  EventCode
}

const storedCap = 32

func (m *Meter) logEvent(l Log, now time.Time, code EventCode) {
	t := now.UnixNano()
	m.logEventAt(l, t, m.meterTime(t).UnixNano(), code)
}

func (m *Meter) logEventAt(l Log, t, mt int64, code EventCode) {
	s := m.s()
	ev := storedEvent{t: t, mt: mt, code: code}
	if len(s.logs[l]) < storedCap {
		s.logs[l] = append(s.logs[l], ev)
		return
	}
	s.logs[l][s.logPos[l]] = ev
	s.logPos[l] = (s.logPos[l] + 1) % storedCap
}

// Events returns a log's entries at now, oldest first, at most the log's
// capacity and within the history window. Power and tamper events come
// from the seed schedules; interaction events from the meter's state.
func (m *Meter) Events(now time.Time, l Log) []LogEntry {
	nowU := now.Unix()
	from := max(m.f.install, nowU-int64(m.f.HistoryDays)*86400)
	// Records carry true time for ordering: the log is in capture order,
	// which a backward clock setting makes differ from stamp order.
	type rec struct {
		t int64
		e LogEntry
	}
	var recs []rec
	add := func(t int64, e LogEntry) { recs = append(recs, rec{t, e}) }
	at := func(t int64) time.Time { return m.meterTime(t * 1e9) }
	switch l {
	case LogStandard, LogPowerFailure:
		m.eachOutage(from, nowU+1, func(p period) {
			if l == LogStandard {
				if p.from >= from && p.from <= nowU {
					add(p.from*1e9, LogEntry{Time: at(p.from), Code: EventPowerDown})
				}
				if p.to <= nowU {
					add(p.to*1e9, LogEntry{Time: at(p.to), Code: EventPowerUp})
				}
				return
			}
			// DSMR counts interruptions of 3 minutes or more as long
			// power failures and logs their end and duration.
			if p.to <= nowU && p.to-p.from >= 180 {
				add(p.to*1e9, LogEntry{Time: at(p.to), Code: EventPowerDown, Duration: time.Duration(p.to-p.from) * time.Second})
			}
		})
		if l == LogStandard {
			for t := m.tariff(); t != nil; t = t.Prev {
				if !t.From.IsZero() && t.From.Unix() >= from && t.From.Unix() <= nowU {
					add(t.From.UnixNano(), LogEntry{Time: at(t.From.Unix()), Code: EventTOUActivated})
				}
			}
		}
	case LogFraud:
		mf := m.Faults()
		for d := floorDiv(from-maxTamper, 86400); d <= floorDiv(nowU, 86400); d++ {
			ep, ok := m.seedTamper(d, &mf)
			if !ok || ep.from < m.f.install {
				continue
			}
			if ep.from >= from && ep.from <= nowU {
				add(ep.from*1e9, LogEntry{Time: at(ep.from), Code: tamperCodes[ep.kind][0]})
			}
			if ep.to >= from && ep.to <= nowU {
				add(ep.to*1e9, LogEntry{Time: at(ep.to), Code: tamperCodes[ep.kind][1]})
			}
		}
	case LogPowerQuality:
		m.pqEvents(from, nowU, add)
	}
	if m.st != nil && int(l) < len(m.st.logs) {
		for _, e := range m.st.logs[l] {
			if e.t <= now.UnixNano() && e.t >= from*1e9 {
				add(e.t, LogEntry{Time: time.Unix(0, e.mt).In(m.f.Location), Code: e.code})
			}
		}
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return cmp.Compare(a.t, b.t) })
	out := make([]LogEntry, len(recs))
	for i, r := range recs {
		out[i] = r.e
	}
	if c := l.Capacity(); len(out) > c {
		out = out[len(out)-c:]
	}
	return out
}
