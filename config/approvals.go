package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Approvals is the four-eyes policy: the critical commands that wait for
// a second person with the approve permission before they are sent.
//
//	approvals:
//	  types: [disconnect, set-relay-mode, key-change, firmware-activate]
//	  calendar_meters: 100
//	  ttl: 4h
type Approvals struct {
	// Types always wait for approval ([]: none).
	Types []string `yaml:"types"`
	// CalendarMeters is how many meters one user's set-activity-calendar
	// with one calendar may reach in a day; beyond it, the rest wait.
	CalendarMeters int `yaml:"calendar_meters"`
	// TTL is how long a command waits for approval before it expires.
	TTL time.Duration `yaml:"ttl"`
}

// DefaultApprovals holds every critical command type.
func DefaultApprovals() Approvals {
	ts := []string{string(cim.ControlDisconnect), string(cim.ControlRelayMode), string(cim.ControlKeyChange), string(cim.ControlFirmwareActivate)}
	return Approvals{Types: ts, CalendarMeters: 100, TTL: 4 * time.Hour}
}

// ControlTypes are Types as command types; never nil, so that an empty
// list means none rather than the head-end's default.
func (a Approvals) ControlTypes() []cim.EndDeviceControlType {
	ts := make([]cim.EndDeviceControlType, 0, len(a.Types))
	for _, t := range a.Types {
		ts = append(ts, cim.EndDeviceControlType(t))
	}
	return ts
}

func (a Approvals) validate() error {
	if a.CalendarMeters < 1 {
		return fmt.Errorf("approvals: calendar_meters %d: want at least 1", a.CalendarMeters)
	}
	if a.TTL <= 0 {
		return errors.New("approvals: ttl must be positive")
	}
	for _, t := range a.Types {
		if t == "" {
			return errors.New("approvals: types: an empty command type")
		}
	}
	return nil
}
