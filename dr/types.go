package dr

import (
	"errors"
	"fmt"
	"time"
)

// Program kinds: what an event of the program asks of a meter.
const (
	KindLoadLimit = "load-limit" // the meter's limiter held at a threshold
	KindPrice     = "price"      // a price shown to the home
	KindRelay     = "relay"      // the load-control relay opened
)

// Baseline methods a program settles by.
const (
	Method10of10  = "10of10"
	MethodLikeDay = "like-day"
	MethodWeather = "weather"
)

// MaxRandomize bounds the spread of devices' starts and ends: beyond ten
// minutes an event's edges stop meaning a time at all.
const MaxRandomize = 600 * time.Second

// Event statuses, in the order an event moves through them; cancelled can
// come from scheduled, notified or active.
const (
	StatusScheduled = "scheduled"
	StatusNotified  = "notified"
	StatusActive    = "active"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// SourceAmigo marks an event created here; an event taken from a VTN
// carries the VTN's name instead.
const SourceAmigo = "amigo"

// ErrInvalid is wrapped by every refusal of a program, enrolment or event
// that is wrong in itself.
var ErrInvalid = errors.New("dr: invalid")

// Program is a demand-response offer: what an event does, how much notice
// the household gets, how the devices' edges are spread, and how the
// reduction is measured and paid.
type Program struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is KindLoadLimit, KindPrice or KindRelay.
	Kind string `json:"kind"`
	// Notice is how long before an event's start the household is told.
	Notice time.Duration `json:"notice"`
	// Randomize is the window (≤ MaxRandomize) within which each device's
	// start and end are drawn, so that a feeder does not step at once.
	Randomize time.Duration `json:"randomize"`
	// Baseline is Method10of10, MethodLikeDay or MethodWeather.
	Baseline string `json:"baseline"`
	// Adjust applies the same-day adjustment to a 10-of-10 baseline.
	Adjust bool `json:"adjust,omitempty"`
	// Incentive is paid per kWh reduced, in minor units.
	Incentive int64  `json:"incentive"`
	Currency  string `json:"currency"`
	// FloorW is the lowest load limit the program may set: a limiter below
	// what a household's essentials draw trips its supply.
	FloorW int64 `json:"floorW,omitempty"`
	// Approval makes each event wait for a second person before dispatch.
	Approval  bool      `json:"approval,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// Validate checks a program before it is stored.
func (p Program) Validate() error {
	switch {
	case p.ID == "" || p.Name == "":
		return fmt.Errorf("%w: program needs an id and a name", ErrInvalid)
	case p.Kind != KindLoadLimit && p.Kind != KindPrice && p.Kind != KindRelay:
		return fmt.Errorf("%w: program %s: kind %q is not load-limit, price or relay", ErrInvalid, p.ID, p.Kind)
	case p.Notice < 0:
		return fmt.Errorf("%w: program %s: negative notice", ErrInvalid, p.ID)
	case p.Randomize < 0 || p.Randomize > MaxRandomize:
		return fmt.Errorf("%w: program %s: randomize %s is outside 0..%s", ErrInvalid, p.ID, p.Randomize, MaxRandomize)
	case p.Baseline != Method10of10 && p.Baseline != MethodLikeDay && p.Baseline != MethodWeather:
		return fmt.Errorf("%w: program %s: baseline %q is not 10of10, like-day or weather", ErrInvalid, p.ID, p.Baseline)
	case p.Incentive < 0:
		return fmt.Errorf("%w: program %s: negative incentive", ErrInvalid, p.ID)
	case p.Incentive > 0 && p.Currency == "":
		return fmt.Errorf("%w: program %s: an incentive needs a currency", ErrInvalid, p.ID)
	case p.FloorW < 0:
		return fmt.Errorf("%w: program %s: negative floor", ErrInvalid, p.ID)
	}
	return nil
}

// Enrolment puts a usage point (and the meter serving it) in a program for
// a while; Until zero means open-ended.
type Enrolment struct {
	ProgramID    string    `json:"programId"`
	UsagePointID string    `json:"usagePointId"`
	MeterID      string    `json:"meterId"`
	From         time.Time `json:"from"`
	Until        time.Time `json:"until,omitzero"`
}

// Covers reports whether the enrolment stands over [start, end).
func (e Enrolment) Covers(start, end time.Time) bool {
	return !e.From.After(start) && (e.Until.IsZero() || !e.Until.Before(end))
}

// Signal is what an event asks: a load limit, a price, or a relay state,
// according to the program's kind.
type Signal struct {
	// ThresholdW is the load limit in W.
	ThresholdW int64 `json:"thresholdW,omitempty"`
	// Price is in millionths of the currency unit per kWh.
	Price    int64  `json:"price,omitempty"`
	Currency string `json:"currency,omitempty"`
	// Relay is the state the load-control relay takes ("open").
	Relay string `json:"relay,omitempty"`
}

// Event is one call on a program's participants over [Start, End).
type Event struct {
	ID        string    `json:"id"`
	ProgramID string    `json:"programId"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Signal    Signal    `json:"signal"`
	Status    string    `json:"status"`
	// Source is SourceAmigo or the VTN the event came from.
	Source string `json:"source"`
	// CreatedBy is the operator who created it; ApprovedBy the second
	// person, for a program that needs one (never the same).
	CreatedBy  string    `json:"createdBy,omitempty"`
	ApprovedBy string    `json:"approvedBy,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

// Participation is one enrolled usage point's part in one event: its
// device's own edges, when it was told, whether it opted out, and what it
// was settled at.
type Participation struct {
	EventID      string        `json:"eventId"`
	UsagePointID string        `json:"usagePointId"`
	MeterID      string        `json:"meterId"`
	StartOffset  time.Duration `json:"startOffset"`
	EndOffset    time.Duration `json:"endOffset"`
	NotifiedAt   time.Time     `json:"notifiedAt,omitzero"`
	OptedOutAt   time.Time     `json:"optedOutAt,omitzero"`
	// DispatchedAt is when its commands went to the head-end;
	// CountermandedAt when the commands undoing them did (after an
	// opt-out or a cancellation).
	DispatchedAt    time.Time `json:"dispatchedAt,omitzero"`
	CountermandedAt time.Time `json:"countermandedAt,omitzero"`
}

// OptedOut reports whether the household opted out of the event.
func (p Participation) OptedOut() bool { return !p.OptedOutAt.IsZero() }
