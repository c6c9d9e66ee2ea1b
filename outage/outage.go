// Package outage turns last gasps, power-restored pushes, missed reads and
// pings into outage events at the highest level of the topology that
// explains them (service, transformer, feeder, substation), confirms them
// by pinging the silent meters under the suspected device, follows their
// restoration, nested outages included, and tells momentary interruptions
// from sustained ones.
package outage

import (
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// State is where an outage event is in its life.
type State string

// The states. An outage is suspected on the first signals, confirmed when
// pings (or enough last gasps) agree, restored when power-restored pushes
// or answering pings say power is back, and verified when pings of the
// meters under it all answer. Momentary is an interruption shorter than
// the momentary threshold (5 minutes by default); dismissed is a suspicion
// the pings disproved (a meter's false last gasp).
const (
	Suspected State = "suspected"
	Confirmed State = "confirmed"
	Restored  State = "restored"
	Verified  State = "verified"
	Momentary State = "momentary"
	Dismissed State = "dismissed"
)

// Event is one outage: a device of the topology without power.
type Event struct {
	// ID is stable across its states: "<device>@<start unix seconds>".
	ID     string         `json:"id"`
	Level  topology.Level `json:"level"`
	Device string         `json:"device"`
	// Feeder and Region are the device's feeder and region in the
	// topology of the outage's day ("" above feeder level).
	Feeder string `json:"feeder,omitempty"`
	Region string `json:"region,omitempty"`
	State  State  `json:"state"`
	// Start is the best estimate of when power went: the earliest last
	// gasp, or the power-down time the meters logged, once read.
	Start time.Time `json:"start"`
	// End is when power came back (zero while out).
	End time.Time `json:"end,omitzero"`
	// DetectedAt, ConfirmedAt and VerifiedAt are when amigo knew.
	DetectedAt  time.Time `json:"detectedAt"`
	ConfirmedAt time.Time `json:"confirmedAt,omitzero"`
	VerifiedAt  time.Time `json:"verifiedAt,omitzero"`
	// Customers is the number of services the outage interrupted.
	Customers int `json:"customers"`
	// Confidence is how sure the level is, 0..1: it grows with last gasps
	// and failed pings under the device, and with answering pings of its
	// siblings.
	Confidence float64 `json:"confidence"`
	// Parent is the ID of an enclosing outage this one continues under or
	// outlasts (a transformer still out after its feeder came back).
	Parent string `json:"parent,omitempty"`
	// Planned marks an outage the utility announced.
	Planned bool `json:"planned,omitempty"`
	// Evidence counts the signals behind the event.
	LastGasps   int `json:"lastGasps"`
	PingsFailed int `json:"pingsFailed"`
	PingsOK     int `json:"pingsOK"`
}

// Duration is how long power was out (until now for an open outage).
func (e Event) Duration(now time.Time) time.Duration {
	if e.End.IsZero() {
		return now.Sub(e.Start)
	}
	return e.End.Sub(e.Start)
}
