// Package cim owns amigo's domain vocabulary, named after IEC 61968-9 (the
// Common Information Model's metering part) so that a utility engineer
// recognises every noun: usage points, meters, reading types, interval
// blocks and readings with their quality, end-device events and controls.
//
// The types here are plain values shared by every layer; they carry no
// behaviour that reaches a database, a bus or a wire.
package cim

import (
	"fmt"
	"time"
)

// UsagePoint is where energy is delivered and measured: a service location
// with its customer agreement and tariff. Every local day in amigo is a day
// in the usage point's time zone.
type UsagePoint struct {
	MRID            string    `json:"mRID"`
	Name            string    `json:"name,omitempty"`
	ServiceCategory Commodity `json:"serviceCategory"`
	// TimeZone is an IANA zone name such as "Europe/Amsterdam".
	TimeZone string `json:"timeZone"`
	// TariffID names the tariff the usage point is billed on.
	TariffID string `json:"tariffId,omitempty"`
	// Protection names why supply here must not be cut remotely without
	// an override ("vulnerable", "medical"); empty when none.
	Protection string `json:"protection,omitempty"`
}

// Location returns the usage point's time zone, UTC when none is set.
func (u UsagePoint) Location() (*time.Location, error) {
	if u.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("usage point %s: time zone %q: %w", u.MRID, u.TimeZone, err)
	}
	return loc, nil
}

// Meter is an end device that measures at a usage point and is reached over
// a network by some protocol.
type Meter struct {
	MRID         string `json:"mRID"`
	SerialNumber string `json:"serialNumber,omitempty"`
	UsagePointID string `json:"usagePoint,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	// Protocol names the head-end driver that reaches it ("dlms", ...).
	Protocol string `json:"protocol,omitempty"`
	// Address is the protocol address, e.g. "tcp://10.1.2.3:4059".
	Address string `json:"address,omitempty"`
	// Segment is the network segment (cell, concentrator) that throttles it.
	Segment string `json:"segment,omitempty"`
	Region  string `json:"region,omitempty"`
	// Kind is what it measures: "electricity-1p", "electricity-3p",
	// "electricity", "gas" or "water".
	Kind string `json:"kind,omitempty"`
	// Archetype is the customer archetype behind its consumption, when
	// the shipment says ("family", "prosumer", ...).
	Archetype string `json:"archetype,omitempty"`
	// Parent is the mRID of the meter it is reached through (a gas meter
	// on its electricity meter's M-Bus); empty for a meter reached on its
	// own.
	Parent string `json:"parent,omitempty"`
	// PushID is how the meter names itself when it pushes, in its
	// protocol's terms (a DLMS system title in hex); empty when it does
	// not push.
	PushID string `json:"pushId,omitempty"`
	// Exposure names a known weakness of the meter's security that its
	// protocol cannot fix ("osgp-legacy": the broken OMA digest and RC4);
	// empty when there is none.
	Exposure string `json:"exposure,omitempty"`
	// ManifestID is the meter's id in the shipment manifest it came in.
	ManifestID string `json:"manifestId,omitempty"`
	// Tags are labels an operator gives the meter ("class": "lighting");
	// nothing of the meter's schema lives in them.
	Tags map[string]string `json:"tags,omitempty"`
	// Status is the meter's lifecycle state: installed, active, removed...
	Status string `json:"status,omitempty"`
}

// Label returns the meter's value for a name a group or query selects
// by: "kind" and "archetype" are the typed fields, any other name a tag.
func (m Meter) Label(name string) (string, bool) {
	switch name {
	case "kind":
		if m.Kind != "" {
			return m.Kind, true
		}
	case "archetype":
		if m.Archetype != "" {
			return m.Archetype, true
		}
	}
	v, ok := m.Tags[name]
	return v, ok
}

// Commodity is what a reading measures the flow of.
type Commodity uint8

// Commodities, numbered as in the IEC 61968-9 ReadingType commodity enum.
const (
	CommodityNone        Commodity = 0
	CommodityElectricity Commodity = 1 // electricity, secondary metered
	CommodityWater       Commodity = 9 // potable water
	CommodityGas         Commodity = 7 // natural gas
	CommodityHeat        Commodity = 12
)

func (c Commodity) String() string {
	switch c {
	case CommodityElectricity:
		return "electricity"
	case CommodityWater:
		return "water"
	case CommodityGas:
		return "gas"
	case CommodityHeat:
		return "heat"
	}
	return fmt.Sprintf("commodity(%d)", uint8(c))
}

// MeasuredQuantity is the ReadingType "measurement kind".
type MeasuredQuantity uint8

// Measured quantities, after the IEC 61968-9 measurement kind enum.
const (
	QuantityNone    MeasuredQuantity = 0
	QuantityCurrent MeasuredQuantity = 4
	QuantityDemand  MeasuredQuantity = 8
	QuantityEnergy  MeasuredQuantity = 12
	QuantityFreq    MeasuredQuantity = 15
	QuantityPower   MeasuredQuantity = 37
	QuantityPF      MeasuredQuantity = 38
	QuantityVoltage MeasuredQuantity = 54
	QuantityVolume  MeasuredQuantity = 58
)

// FlowDirection says which way the commodity flowed.
type FlowDirection uint8

// Flow directions of the IEC 61968-9 ReadingType.
const (
	FlowNone    FlowDirection = 0
	FlowForward FlowDirection = 1  // delivered to the customer (import)
	FlowReverse FlowDirection = 19 // received from the customer (export)
	FlowNet     FlowDirection = 4
	FlowTotal   FlowDirection = 20
)

// Unit is the unit of measure of a ReadingType, numbered after the IEC
// 61968-9 UnitSymbol enum.
type Unit uint8

// Units used in amigo.
const (
	UnitNone Unit = 0
	UnitA    Unit = 5
	UnitV    Unit = 29
	UnitHz   Unit = 33
	UnitM3   Unit = 42
	UnitW    Unit = 38
	UnitVA   Unit = 61
	UnitVAr  Unit = 63
	UnitWh   Unit = 72
	UnitVAh  Unit = 71
	UnitVArh Unit = 73
	UnitJ    Unit = 31
)

var unitNames = map[Unit]string{
	UnitNone: "", UnitA: "A", UnitV: "V", UnitHz: "Hz", UnitM3: "m3", UnitW: "W",
	UnitVA: "VA", UnitVAr: "var", UnitWh: "Wh", UnitVAh: "VAh", UnitVArh: "varh", UnitJ: "J",
}

func (u Unit) String() string {
	if s, ok := unitNames[u]; ok {
		return s
	}
	return fmt.Sprintf("unit(%d)", uint8(u))
}

// ReadingType says what a series of values measures. Values are integers in
// Unit scaled by 10^Multiplier, so 1234 with multiplier 0 and UnitWh is
// 1234 Wh, and with multiplier 3 it is 1234 kWh.
type ReadingType struct {
	// ID is amigo's short name for the reading type, e.g. "A+15m".
	ID               string           `json:"id"`
	Commodity        Commodity        `json:"commodity"`
	MeasuredQuantity MeasuredQuantity `json:"measuredQuantity"`
	FlowDirection    FlowDirection    `json:"flowDirection"`
	// Interval is the length of one interval; zero for register reads.
	Interval   time.Duration `json:"interval"`
	Unit       Unit          `json:"unit"`
	Multiplier int8          `json:"multiplier"`
	// Accumulation is true for cumulative registers (bulk quantities).
	Accumulation bool `json:"accumulation,omitempty"`
}

// Well-known reading types: quarter-hour energy in each direction, and the
// cumulative registers they reconcile with.
var (
	EnergyImport15m = ReadingType{ID: "A+15m", Commodity: CommodityElectricity, MeasuredQuantity: QuantityEnergy,
		FlowDirection: FlowForward, Interval: 15 * time.Minute, Unit: UnitWh}
	EnergyExport15m = ReadingType{ID: "A-15m", Commodity: CommodityElectricity, MeasuredQuantity: QuantityEnergy,
		FlowDirection: FlowReverse, Interval: 15 * time.Minute, Unit: UnitWh}
	EnergyImportRegister = ReadingType{ID: "A+", Commodity: CommodityElectricity, MeasuredQuantity: QuantityEnergy,
		FlowDirection: FlowForward, Unit: UnitWh, Accumulation: true}
	EnergyExportRegister = ReadingType{ID: "A-", Commodity: CommodityElectricity, MeasuredQuantity: QuantityEnergy,
		FlowDirection: FlowReverse, Unit: UnitWh, Accumulation: true}
)

// Quality is a set of flags on one reading, after the IEC 61968-9 reading
// quality families (valid, estimated, edited, suspect, missing) plus the
// meter's own status bits that explain them.
type Quality uint16

// Quality flags. A reading with no flag set is a valid actual reading.
const (
	QualityMissing       Quality = 1 << iota // no value was read
	QualityEstimated                         // the value was estimated by VEE
	QualityEdited                            // the value was edited by a person
	QualitySuspect                           // the value failed a validation rule
	QualityPowerDown                         // the meter reported a power failure in the interval
	QualityClockAdjusted                     // the meter's clock was adjusted in the interval
	QualityDataNotValid                      // the meter marked the value not valid
	QualityOverflow                          // a register rolled over in the interval
	QualityPartial                           // the interval was shorter than its nominal length
)

var qualityNames = []string{"missing", "estimated", "edited", "suspect", "power-down",
	"clock-adjusted", "data-not-valid", "overflow", "partial"}

func (q Quality) String() string {
	if q == 0 {
		return "valid"
	}
	s := ""
	for i, n := range qualityNames {
		if q&(1<<i) != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	if rest := q &^ (1<<len(qualityNames) - 1); rest != 0 {
		if s != "" {
			s += "|"
		}
		s += fmt.Sprintf("0x%x", uint16(rest))
	}
	return s
}

// IntervalReading is one interval's value, stamped with the interval's end
// as meters do.
type IntervalReading struct {
	End     time.Time `json:"end"`
	Value   int64     `json:"value"`
	Quality Quality   `json:"quality"`
}

// IntervalBlock is a run of interval readings of one reading type from one
// meter.
type IntervalBlock struct {
	MeterID     string            `json:"meter"`
	ReadingType ReadingType       `json:"readingType"`
	Readings    []IntervalReading `json:"readings"`
}

// Reading is one register value at an instant (IEC 61968-9 Reading): a
// cumulative energy register, a maximum demand, a billing-period snapshot.
type Reading struct {
	MeterID string `json:"meter"`
	// ReadingType is the ReadingType id, e.g. "A+" or "A+T1".
	ReadingType string `json:"readingType"`
	// TimeStamp is when the meter captured the value, by its own clock.
	TimeStamp time.Time `json:"timeStamp"`
	// Value is in the reading type's unit and multiplier.
	Value   int64   `json:"value"`
	Quality Quality `json:"quality,omitempty"`
}

// EndDeviceEventType is the four-part IEC 61968-9 event code
// type.domain.subdomain.eventOrAction, e.g. "3.26.0.85" for a power outage
// reported by an electricity meter.
type EndDeviceEventType string

// Event types amigo raises itself.
const (
	EventPowerOff      EndDeviceEventType = "3.26.0.85"
	EventPowerRestored EndDeviceEventType = "3.26.0.216"
)

// EndDeviceEvent is something a meter reported or that happened to it.
type EndDeviceEvent struct {
	// MRID identifies the event; it is the idempotency key, so the same
	// event read twice from a meter's log is stored once.
	MRID      string             `json:"mRID"`
	MeterID   string             `json:"meter"`
	Type      EndDeviceEventType `json:"type"`
	CreatedAt time.Time          `json:"createdDateTime"`
	// Code is the meter's own event code (e.g. a DLMS event number).
	Code     int               `json:"code,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Severity string            `json:"severity,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
}

// EndDeviceControlType names a command sent to a meter.
type EndDeviceControlType string

// Commands the head-end carries.
const (
	ControlDisconnect   EndDeviceControlType = "disconnect"
	ControlReconnect    EndDeviceControlType = "reconnect"
	ControlArmReconnect EndDeviceControlType = "arm-reconnect"
	ControlClockSync    EndDeviceControlType = "clock-sync"
	ControlDemandReset  EndDeviceControlType = "demand-reset"
	ControlSetCalendar  EndDeviceControlType = "set-activity-calendar"
	ControlReadNow      EndDeviceControlType = "read-now"
	ControlPing         EndDeviceControlType = "ping"
	// ControlRelayMode changes the disconnect control's control mode
	// (parameter "mode", 0 to 6): what may open and close the relay.
	ControlRelayMode EndDeviceControlType = "set-relay-mode"
	// ControlKeyChange replaces the meter's global keys (key_transfer).
	ControlKeyChange EndDeviceControlType = "key-change"
	// ControlFirmwareActivate activates a transferred, verified image.
	ControlFirmwareActivate EndDeviceControlType = "firmware-activate"
	// ControlLoadLimit holds the meter's limiter at an emergency threshold
	// for a while (a demand-response event): parameters "threshold" (W),
	// "start" (RFC 3339) and "duration" (seconds).
	ControlLoadLimit EndDeviceControlType = "load-limit"
	// ControlPriceSignal shows the home a price for a while (a
	// demand-response event): parameters "price" (millionths of the
	// currency unit per kWh), "currency", "start" (RFC 3339) and "duration"
	// (seconds).
	ControlPriceSignal EndDeviceControlType = "price-signal"
	// ControlLoadRelay switches the meter's load-control relay, which
	// feeds a deferrable load (a water heater, a heat pump, a charger) and
	// never the house's supply: parameters "state" ("open" or "closed"),
	// "start" (RFC 3339) and "duration" (seconds, after which it closes
	// again; 0: until told).
	ControlLoadRelay EndDeviceControlType = "load-relay"
)

// Critical reports whether a command can cut supply, change who controls
// the meter, or replace what runs in it: such commands are signed for the
// meter and, by policy, approved by a second person.
func (t EndDeviceControlType) Critical() bool {
	switch t {
	case ControlDisconnect, ControlRelayMode, ControlKeyChange, ControlFirmwareActivate:
		return true
	}
	return false
}

// ControlStatus is where a command is in its lifecycle.
type ControlStatus string

// Command lifecycle:
//
//	[quarantined →] [awaiting-approval →] queued → sent → confirmed | failed | expired
//
// A command over an anomaly limit waits in quarantined until a security
// officer releases it (on to approval or the queue) or discards it. A
// critical command waits in awaiting-approval until a second person
// approves it (queued) or rejects it; an approval not given in time
// expires it.
const (
	ControlQuarantined      ControlStatus = "quarantined"
	ControlAwaitingApproval ControlStatus = "awaiting-approval"
	ControlQueued           ControlStatus = "queued"
	ControlSent             ControlStatus = "sent"
	ControlConfirmed        ControlStatus = "confirmed"
	ControlFailed           ControlStatus = "failed"
	ControlExpired          ControlStatus = "expired"
	ControlRejected         ControlStatus = "rejected"
	ControlDiscarded        ControlStatus = "discarded"
)

// Final reports whether a command in status s will not move again.
func (s ControlStatus) Final() bool {
	switch s {
	case ControlConfirmed, ControlFailed, ControlExpired, ControlRejected, ControlDiscarded:
		return true
	}
	return false
}

// EndDeviceControl is a command to a meter and its outcome.
type EndDeviceControl struct {
	MRID string `json:"mRID"`
	// CorrelationID makes an issued command idempotent: issuing the same
	// correlation id twice yields one command.
	CorrelationID string               `json:"correlationId"`
	MeterID       string               `json:"meter"`
	Type          EndDeviceControlType `json:"type"`
	Priority      int                  `json:"priority"`
	ScheduledAt   time.Time            `json:"scheduledDateTime,omitzero"`
	ExpiresAt     time.Time            `json:"expiresDateTime,omitzero"`
	Status        ControlStatus        `json:"status"`
	Reason        string               `json:"reason,omitempty"`
	Parameters    map[string]string    `json:"parameters,omitempty"`
	UpdatedAt     time.Time            `json:"updatedDateTime,omitzero"`
	// IssuedBy is the user who issued the command ("" for the system).
	IssuedBy string `json:"issuedBy,omitempty"`
	// ApprovedBy is the user who approved, rejected, released or
	// discarded it, when someone had to.
	ApprovedBy string `json:"approvedBy,omitempty"`
	// Override is the issuer's reason for overriding a safeguard (a
	// protected usage point, the weather, a weekend or holiday).
	Override string `json:"override,omitempty"`
}
