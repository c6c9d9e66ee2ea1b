package dlmsdriver

import (
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/obis"
)

// eventKind is what a meter event code means in IEC 61968-9 terms.
type eventKind struct {
	typ      cim.EndDeviceEventType
	reason   string
	severity string
}

// Event codes of the standard, fraud, disconnector and power quality logs
// (the IDIS/DSMR numbering) and their 61968-9 EndDeviceEventType
// (type.domain.subdomain.event: 3 = electricity meter; domains 26 power,
// 12 security, 31 relay, 36 clock, 20 tariff...).
var eventKinds = map[uint64]eventKind{
	1:  {cim.EventPowerOff, "power down", "major"},
	2:  {cim.EventPowerRestored, "power up", "info"},
	3:  {"3.36.114.20", "daylight saving time changed", "info"},
	4:  {"3.36.114.24", "clock adjusted (old time)", "info"},
	5:  {"3.36.114.24", "clock adjusted (new time)", "info"},
	6:  {"3.36.114.79", "clock invalid", "warning"},
	9:  {"3.20.17.4", "TOU calendar activated", "info"},
	17: {"3.11.0.24", "firmware image verified, ready for activation", "info"},
	18: {"3.11.0.4", "firmware activated", "info"},
	19: {"3.20.17.24", "passive TOU calendar set", "info"},
	21: {"3.11.0.35", "firmware image refused: not signed by the trusted firmware key", "major"},
	40: {"3.12.29.39", "terminal cover opened", "major"},
	41: {"3.12.29.16", "terminal cover closed", "info"},
	42: {"3.12.66.219", "strong magnetic field", "major"},
	43: {"3.12.66.216", "magnetic field gone", "info"},
	44: {"3.12.29.212", "meter cover opened", "major"},
	45: {"3.12.29.213", "meter cover closed", "info"},
	46: {"3.12.1.35", "repeated authentication failures", "major"},
	59: {"3.31.0.2", "ready for manual reconnection", "info"},
	60: {"3.31.0.68", "manual disconnection", "info"},
	61: {"3.31.0.42", "manual connection", "info"},
	62: {"3.31.0.68", "remote disconnection", "info"},
	63: {"3.31.0.42", "remote connection", "info"},
	64: {"3.31.0.68", "local disconnection", "info"},
	65: {"3.26.38.93", "limiter threshold exceeded", "warning"},
	66: {"3.26.38.37", "limiter threshold ok", "info"},
	67: {"3.26.38.24", "limiter threshold changed", "info"},
	69: {"3.31.0.42", "local reconnection", "info"},
	76: {"3.26.38.150", "under voltage L1", "warning"},
	77: {"3.26.38.150", "under voltage L2", "warning"},
	78: {"3.26.38.150", "under voltage L3", "warning"},
	79: {"3.26.38.93", "over voltage L1", "warning"},
	80: {"3.26.38.93", "over voltage L2", "warning"},
	81: {"3.26.38.93", "over voltage L3", "warning"},
}

// EventKind returns the 61968-9 type, reason and severity of a meter
// event code; unknown codes get a generic type.
func EventKind(code uint64) (cim.EndDeviceEventType, string, string) {
	if k, ok := eventKinds[code]; ok {
		return k.typ, k.reason, k.severity
	}
	return "3.0.0.0", "meter event " + strconv.FormatUint(code, 10), "info"
}

// event builds the EndDeviceEvent of one log entry. Its mRID is derived
// from the meter, log, time and code, so reading the entry again yields
// the same event. The power failure log holds durations, not codes.
func event(meterID string, log obis.Code, at time.Time, v uint64) cim.EndDeviceEvent {
	e := cim.EndDeviceEvent{MeterID: meterID, CreatedAt: at.UTC(), Details: map[string]string{"log": log.String(), "source": "log"}}
	if log[2] == 99 && log[3] == 97 { // a power failure log holds durations
		e.Type, e.Reason, e.Severity = cim.EventPowerOff, "long power failure", "major"
		e.Details["duration"] = (time.Duration(v) * time.Second).String()
		e.MRID = fmt.Sprintf("%s/%s/%d/d%d", meterID, log, at.Unix(), v)
		return e
	}
	e.Code = int(v)
	e.Type, e.Reason, e.Severity = EventKind(v)
	e.MRID = fmt.Sprintf("%s/%s/%d/%d", meterID, log, at.Unix(), v)
	return e
}
