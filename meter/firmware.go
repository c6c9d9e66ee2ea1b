package meter

import "time"

// Firmware events of the standard event log: 17 and 18 follow the IDIS
// table; 21 is this model's choice, in a gap of the table, for an image
// whose signature the meter refused.
const (
	EventFirmwareReady     EventCode = 17 // image verified, ready for activation
	EventFirmwareActivated EventCode = 18
	EventFirmwareRefused   EventCode = 21 // image signature not the trusted firmware key's
)

// LogFirmwareEvent records a firmware event in the standard event log at
// now: the image transfer lives outside the model, its outcome in it.
func (m *Meter) LogFirmwareEvent(now time.Time, code EventCode) {
	m.logEvent(LogStandard, now, code)
}
