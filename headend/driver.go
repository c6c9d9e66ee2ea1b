package headend

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
)

// Registration is what a driver makes of a manifest row: what the
// head-end keeps for the meter beside the common columns.
type Registration struct {
	// Credentials are whatever the driver needs to reach the meter
	// securely, in the driver's own encoding. The head-end seals them with
	// the vault, keeps them sealed at rest, and opens them into
	// Target.Credentials for a session; it never parses them.
	Credentials []byte
	// PushID is how the meter names itself when it pushes (a DLMS system
	// title in hex, say); empty for a meter that does not push. Not
	// secret: the push listener finds the sender by it.
	PushID string
	// Exposure names a known weakness of the meter's security ("osgp-legacy"),
	// which the registry records on the meter and the console shows; empty
	// when there is none.
	Exposure string
}

// ErrNotFound is what a Models method returns, wrapped, for a template
// or meter it does not have.
var ErrNotFound = store.ErrNotFound

// Models keeps the object models drivers learn, as the driver's own
// blobs, so a fleet is discovered once per kind of meter. The store
// implements it.
type Models interface {
	// PutTemplate stores (or replaces) the template named key.
	PutTemplate(ctx context.Context, key string, model []byte) error
	// Template returns the template named key, or ErrNotFound.
	Template(ctx context.Context, key string) ([]byte, error)
	// SetMeterTemplate records that a meter follows the template key.
	SetMeterTemplate(ctx context.Context, meterID, key string) error
	// MeterTemplate returns the template key a meter follows, or
	// ErrNotFound.
	MeterTemplate(ctx context.Context, meterID string) (string, error)
}

// Counters hands out invocation counters that are stored durably before
// they are used (store.HeadEnd.ReserveCounter for one meter).
type Counters interface {
	// Reserve reserves n values of the named counter and returns the first.
	Reserve(ctx context.Context, name string, n uint32) (first uint64, err error)
}

// Target is one meter as a driver needs it for a session.
type Target struct {
	Meter cim.Meter
	// Credentials are the driver's Registration.Credentials, opened.
	Credentials []byte
	Location    *time.Location // the usage point's time zone
	Counters    Counters
	// Now is the head-end's clock, which a clock sync sets the meter to
	// and drift is measured against.
	Now func() time.Time
	// Models keeps the object models drivers learn, shared by meters of
	// one kind; nil keeps them in the driver's memory only.
	Models Models
	// Signer is set for the session of a critical command: the driver
	// signs the command with it, under an originator counter it reserves
	// from Counters (CommandCounter) first. Nil: send it unsigned.
	Signer CommandSigner
	// SubMeters are the meters read through this one's session (gas and
	// water meters on an electricity meter's M-Bus), for a collection;
	// their results are their own.
	SubMeters []SubMeter
}

// SubMeterReader is implemented by a driver whose sessions read their
// meter's sub-meters: only then does the head-end hand them over in
// Target.SubMeters and record their results; a driver that does not
// leaves them unread, as before it knew of them.
type SubMeterReader interface {
	ReadsSubMeters() bool
}

// readsSubMeters reports whether d's sessions read sub-meters.
func readsSubMeters(d Driver) bool {
	r, ok := d.(SubMeterReader)
	return ok && r.ReadsSubMeters()
}

// SubMeter is a meter reached through its parent's session: the registry
// entry its reads are published under, and its own driver registration.
type SubMeter struct {
	Meter cim.Meter
	// Credentials are its Registration.Credentials, opened: what the
	// driver keeps of it (an M-Bus channel, say).
	Credentials []byte
	Location    *time.Location // its usage point's time zone
}

// Driver reaches meters of one protocol. It owns everything of the
// protocol: its manifest columns and credentials, its sessions, its
// object model and, when its meters push, its framing (PushDriver).
type Driver interface {
	// Protocol is the cim.Meter.Protocol and manifest protocol value the
	// driver serves ("dlms").
	Protocol() string
	// Columns are the protocol's own manifest columns.
	Columns() []manifest.Column
	// Register checks a manifest row of the protocol (its own columns,
	// and how they fit the common ones) and returns what the head-end
	// keeps for the meter. A refused row is a *manifest.RowError at the
	// row's line, naming the column at fault.
	Register(r manifest.Row) (Registration, error)
	// Open connects and associates. The context bounds the whole session.
	Open(ctx context.Context, t Target) (Session, error)
	// Cause classifies an error of Open or a Session method as one of the
	// Outcome failure causes, or "" when it cannot tell.
	Cause(err error) string
}

// Outcomes of a collection job, as the store records them: OutcomeOK or
// the cause of the failure, which a driver's Cause names.
const (
	OutcomeOK       = store.OutcomeOK
	OutcomeTimeout  = "timeout"
	OutcomeAuth     = "auth"
	OutcomeRefused  = "refused"
	OutcomeProtocol = "protocol"
	// OutcomeCounter: the meter refused our invocation counter and it
	// could not be caught up.
	OutcomeCounter = "invocation-counter"
	// OutcomeWrongDevice: another device than the registered one answers
	// where the meter should be (a swapped gas meter on an M-Bus channel).
	OutcomeWrongDevice = "wrong-device"
	OutcomeOther       = "other"
)

// Plan says what a collection reads.
type Plan struct {
	// Since holds the cursors from the last collection, by cursor name; a
	// missing or zero cursor starts at Backfill.
	Since map[string]time.Time
	// Backfill is where an object never collected starts.
	Backfill time.Time
	// Until is the end of the collection window: the profile is complete
	// when it reaches Until.
	Until time.Time
	// SubSince holds each sub-meter's cursors, by its mRID and cursor
	// name, as Since does the target's.
	SubSince map[string]map[string]time.Time
}

// Collection is what one session read.
type Collection struct {
	// Blocks holds the load profile as interval values (not cumulative),
	// one block per channel, entries captured after the cursor.
	Blocks []cim.IntervalBlock
	// Registers holds register and billing-profile reads.
	Registers []cim.Reading
	// Events holds new event-log entries, each with a stable mRID.
	Events []cim.EndDeviceEvent
	// Cursors are where each object now stands, by the driver's name for
	// the object; the head-end stores them only after the bus
	// acknowledged everything above.
	Cursors map[string]time.Time
	// Complete is true when the profile reaches Plan.Until.
	Complete bool
	// MeterTime is the meter's clock and ReadAt our clock at the same
	// moment, for the drift check.
	MeterTime, ReadAt time.Time
	// Problems are the objects the session could not read, each with its
	// cause; the rest of the collection stands.
	Problems []ObjectProblem
	// Subs are what was read of each of the target's sub-meters.
	Subs []SubCollection
}

// SubCollection is what a session read of one sub-meter: its blocks,
// registers and events carry its MeterID, its cursors are its own, and
// Complete says whether its profile reached Plan.Until.
type SubCollection struct {
	MeterID string
	Collection
	// Err is why the sub-meter was not read while its parent was (another
	// device on its channel, say); nothing of it but its events is
	// published, and its cursors stay.
	Err error
}

// ObjectProblem is one object a session could not read, or read only in
// part: an absent object, access denied, a value of the wrong type.
type ObjectProblem struct {
	Object string `json:"object"` // e.g. "1.0.1.8.0.255:2"
	Cause  string `json:"cause"`
	// Warning marks a deviation the driver tolerated: the object was read
	// all the same (a date-time in an unusual encoding, say).
	Warning bool `json:"warning,omitempty"`
}

// Session is one association with one meter. It is not safe for
// concurrent use.
type Session interface {
	// Collect reads the profile, registers, billing profile and event
	// logs per the plan.
	Collect(ctx context.Context, p Plan) (Collection, error)
	// Clock reads the meter's clock.
	Clock(ctx context.Context) (time.Time, error)
	// SetClock sets the meter's clock.
	SetClock(ctx context.Context, t time.Time) error
	// Execute carries out a command and returns what the meter reported,
	// for the command's history. A command the driver cannot carry out
	// returns an error wrapping ErrUnsupported.
	Execute(ctx context.Context, c cim.EndDeviceControl) (string, error)
	// Close releases the association and closes the connection.
	Close(ctx context.Context) error
}

// Describer is implemented by a driver that learns meters' object models,
// so that an operator can see what the head-end reads a meter by without
// the API knowing the protocol.
type Describer interface {
	// Describe returns the model meter m is read by and the channels
	// drawn from it, both ready to encode as JSON; a nil model when
	// nothing was learned yet.
	Describe(ctx context.Context, models Models, m cim.Meter) (model, channels any, err error)
}

// ObjectModel describes what the head-end learned of meter m through its
// driver: a nil model when the driver learns none, the store keeps none,
// or nothing was learned yet.
func (h *HeadEnd) ObjectModel(ctx context.Context, m cim.Meter) (model, channels any, err error) {
	d, ok := h.drivers[m.Protocol].(Describer)
	models, kept := h.st.(Models)
	if !ok || !kept {
		return nil, nil, nil
	}
	return d.Describe(ctx, models, m)
}
