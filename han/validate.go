package han

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Home Assistant's rules for an MQTT sensor, as data: which device
// classes exist, the units each accepts, and the state classes each may
// carry (homeassistant.components.sensor, DEVICE_CLASS_UNITS and
// DEVICE_CLASS_STATE_CLASSES). A config that breaks them is accepted by
// the broker and then logged and ignored, or worse kept out of long-term
// statistics, by Home Assistant; the publisher refuses it instead.

// State classes.
const (
	Measurement     = "measurement"
	Total           = "total"
	TotalIncreasing = "total_increasing"
)

var stateClasses = []string{Measurement, Total, TotalIncreasing, "measurement_angle"}

// sensorClass is one sensor device class's rules.
type sensorClass struct {
	units []string // nil: no unit; anyUnit: free
	// noUnitOK: the class also allows no unit at all (power_factor).
	noUnitOK bool
	states   []string // state classes allowed; empty: none
}

var anyUnit = []string{"*"}

var (
	measured  = []string{Measurement}
	totals    = []string{Total, TotalIncreasing}
	allStates = []string{Measurement, Total, TotalIncreasing}
)

// sensorClasses are the device classes amigo may announce, and the
// familiar ones around them. total_increasing is only for meters that
// count up (energy, gas, water): Home Assistant reads a fall as a meter
// reset and starts a new cycle, which a value that may go down would
// trigger at every fall.
var sensorClasses = map[string]sensorClass{
	"apparent_power":  {units: []string{"mVA", "VA", "kVA"}, states: measured},
	"current":         {units: []string{"mA", "A"}, states: measured},
	"energy":          {units: []string{"mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ", "cal", "kcal", "Mcal", "Gcal"}, states: totals},
	"reactive_energy": {units: []string{"varh", "kvarh"}, states: []string{Total}},
	"energy_storage":  {units: []string{"mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ"}, states: measured},
	"frequency":       {units: []string{"Hz", "kHz", "MHz", "GHz"}, states: measured},
	"gas":             {units: []string{"m³", "ft³", "CCF", "MCF", "L"}, states: totals},
	"water":           {units: []string{"m³", "ft³", "CCF", "MCF", "gal", "L", "mL"}, states: totals},
	"volume":          {units: []string{"m³", "ft³", "CCF", "MCF", "gal", "L", "mL", "fl. oz."}, states: []string{Measurement, Total}},
	"power":           {units: []string{"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"}, states: measured},
	"power_factor":    {units: []string{"%"}, noUnitOK: true, states: measured},
	"reactive_power":  {units: []string{"mvar", "var", "kvar"}, states: measured},
	"voltage":         {units: []string{"µV", "mV", "V", "kV", "MV"}, states: measured},
	"temperature":     {units: []string{"°C", "°F", "K"}, states: measured},
	"humidity":        {units: []string{"%"}, states: measured},
	"battery":         {units: []string{"%"}, states: measured},
	"signal_strength": {units: []string{"dB", "dBm"}, states: measured},
	"duration":        {units: []string{"d", "h", "min", "s", "ms", "µs"}, states: allStates},
	"monetary":        {units: anyUnit, states: []string{Total}},
	"timestamp":       {},
	"date":            {},
	"enum":            {},
}

// Validate checks one discovery config against Home Assistant's rules:
// the ids and topics it needs, a known device class with one of its units,
// a state class the device class allows.
func Validate(c DiscoveryConfig) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.UniqueID == "" {
		bad("no unique_id (Home Assistant cannot keep the entity in its registry)")
	}
	if c.ObjectID != "" {
		if err := checkKey(c.ObjectID); err != nil {
			bad("object_id: %v", err)
		}
	}
	if strings.TrimSpace(c.Name) == "" {
		bad("no name")
	}
	if c.StateTopic == "" {
		bad("no state_topic")
	} else if err := checkTopicPart("state_topic", c.StateTopic, true); err != nil {
		bad("%v", err)
	}
	if c.AvailabilityTopic != "" {
		if err := checkTopicPart("availability_topic", c.AvailabilityTopic, true); err != nil {
			bad("%v", err)
		}
	}
	if len(c.Device.Identifiers) == 0 || slices.Contains(c.Device.Identifiers, "") {
		bad("device block without identifiers")
	}
	if c.ExpireAfter < 0 {
		bad("expire_after %d is negative", c.ExpireAfter)
	}
	if c.QoS < 0 || c.QoS > 2 {
		bad("qos %d is not 0, 1 or 2", c.QoS)
	}
	if c.StateClass != "" && !slices.Contains(stateClasses, c.StateClass) {
		bad("state_class %q is not one of %s", c.StateClass, strings.Join(stateClasses, ", "))
	}

	if c.DeviceClass == "" {
		// A sensor without a device class is free in its unit, but a
		// state that only counts up is for energy, gas and water.
		if c.StateClass == TotalIncreasing {
			bad("state_class total_increasing without a device class: only energy, gas and water meters count up")
		}
		return errors.Join(errs...)
	}
	sc, ok := sensorClasses[c.DeviceClass]
	if !ok {
		bad("device_class %q is not a sensor device class", c.DeviceClass)
		return errors.Join(errs...)
	}
	switch {
	case c.Unit == "" && (sc.units == nil || sc.noUnitOK):
	case c.Unit == "":
		bad("device_class %s needs a unit_of_measurement, one of %s", c.DeviceClass, strings.Join(sc.units, " "))
	case sc.units == nil:
		bad("device_class %s takes no unit_of_measurement, got %q", c.DeviceClass, c.Unit)
	case slices.Equal(sc.units, anyUnit):
	case !slices.Contains(sc.units, c.Unit):
		bad("unit_of_measurement %q is not one of device_class %s's: %s", c.Unit, c.DeviceClass, strings.Join(sc.units, " "))
	}
	if c.StateClass != "" && !slices.Contains(sc.states, c.StateClass) {
		if len(sc.states) == 0 {
			bad("device_class %s takes no state_class, got %s", c.DeviceClass, c.StateClass)
		} else {
			bad("state_class %s is not allowed for device_class %s (allowed: %s)", c.StateClass, c.DeviceClass, strings.Join(sc.states, ", "))
		}
	}
	return errors.Join(errs...)
}

// ValidateAll validates each config and that no unique id repeats: Home
// Assistant keeps the first entity of a unique id and drops the others.
func ValidateAll(cs []DiscoveryConfig) error {
	var errs []error
	seen := map[string]int{}
	for i, c := range cs {
		if err := Validate(c); err != nil {
			errs = append(errs, fmt.Errorf("config %d (%s): %w", i, c.UniqueID, err))
		}
		if c.UniqueID == "" {
			continue
		}
		if j, ok := seen[c.UniqueID]; ok {
			errs = append(errs, fmt.Errorf("config %d: unique_id %s already used by config %d", i, c.UniqueID, j))
			continue
		}
		seen[c.UniqueID] = i
	}
	return errors.Join(errs...)
}
