package c12driver

import (
	"strconv"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
)

// eventKind is what a C12.19 event code means in IEC 61968-9 terms.
type eventKind struct {
	typ      cim.EndDeviceEventType
	reason   string
	severity string
}

// The standard event codes of C12.19's history and event logs that the
// head-end names, with the 61968-9 EndDeviceEventType the DLMS driver
// gives the same happening (power down and up, clock adjusted, a cover
// opened for tamper), so that both families' events read alike.
var eventKinds = map[c1219.Event]eventKind{
	c1219.EventPowerDown:        {cim.EventPowerOff, "primary power down", "major"},
	c1219.EventPowerUp:          {cim.EventPowerRestored, "primary power up", "info"},
	c1219.EventTimeChangedOld:   {"3.36.114.24", "time changed (old time)", "info"},
	c1219.EventTimeChangedNew:   {"3.36.114.24", "time changed (new time)", "info"},
	c1219.EventDemandReset:      {"3.8.0.215", "demand reset", "info"},
	c1219.EventSelfRead:         {"3.21.0.0", "self read", "info"},
	c1219.EventDSTOn:            {"3.36.114.20", "daylight saving time on", "info"},
	c1219.EventDSTOff:           {"3.36.114.20", "daylight saving time off", "info"},
	c1219.EventClockError:       {"3.36.114.79", "clock error", "warning"},
	c1219.EventLowBattery:       {"3.2.22.150", "low battery", "warning"},
	c1219.EventDemandOverload:   {"3.8.0.93", "demand overload", "warning"},
	c1219.EventTamper:           {"3.12.29.212", "tamper attempt", "major"},
	c1219.EventReverseRotation:  {"3.26.38.0", "reverse rotation", "warning"},
	c1219.EventControlByCommand: {"3.31.0.0", "service switch operated by a command", "info"},
}

// kindOf returns the 61968-9 type, reason and severity of an event code;
// manufacturer codes and codes the table does not name get a generic
// type.
func kindOf(code uint16, mfg bool) eventKind {
	if !mfg {
		if k, ok := eventKinds[c1219.Event(code)]; ok {
			return k
		}
		return eventKind{"3.0.0.0", "standard event " + strconv.Itoa(int(code)), "info"}
	}
	return eventKind{"3.0.0.0", "manufacturer event " + strconv.Itoa(int(code)), "info"}
}
