package headend

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// Secrets is what the head-end must know to reach one meter securely. It
// is kept sealed at rest (see package vault) and opened only for a session.
type Secrets struct {
	// Transport is the link under the application layer: "wrapper" or "hdlc".
	Transport string `json:"transport"`
	// ClientSAP is the client address of the management association.
	ClientSAP uint16 `json:"clientSap"`
	// Authentication is "hls-gmac", "lls" or "none".
	Authentication string `json:"authentication"`
	// SecurityPolicy is "authenticated-encrypted", "authenticated",
	// "encrypted" or "none".
	SecurityPolicy string `json:"securityPolicy"`
	// SystemTitle is the meter's system title (8 bytes).
	SystemTitle []byte `json:"systemTitle,omitempty"`
	// EK and AK are the global unicast encryption and authentication keys.
	EK []byte `json:"ek,omitempty"`
	AK []byte `json:"ak,omitempty"`
	// Password is the LLS password.
	Password []byte `json:"password,omitempty"`
}

// String never shows key material, so a Secrets value may be logged.
func (s Secrets) String() string {
	return "secrets{" + s.Transport + "," + s.Authentication + "," + s.SecurityPolicy + "}"
}

// Counters hands out invocation counters that are stored durably before
// they are used (store.HeadEnd.ReserveCounter for one meter).
type Counters interface {
	// Reserve reserves n values of the named counter and returns the first.
	Reserve(ctx context.Context, name string, n uint32) (first uint64, err error)
}

// Target is one meter as a driver needs it for a session.
type Target struct {
	Meter    cim.Meter
	Secrets  Secrets
	Location *time.Location // the usage point's time zone
	Counters Counters
	// Now is the head-end's clock, which a clock sync sets the meter to
	// and drift is measured against.
	Now func() time.Time
	// Models keeps the object models drivers learn, shared by meters of
	// one kind; nil keeps them in the driver's memory only.
	Models store.ObjectModels
}

// Driver reaches meters of one protocol.
type Driver interface {
	// Protocol is the cim.Meter.Protocol value the driver serves ("dlms").
	Protocol() string
	// Open connects and associates. The context bounds the whole session.
	Open(ctx context.Context, t Target) (Session, error)
	// Cause classifies an error of Open or a Session method as one of the
	// store.Outcome failure causes.
	Cause(err error) string
}

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
	// Cursors are where each object now stands; the head-end stores them
	// only after the bus acknowledged everything above.
	Cursors []store.Cursor
	// Complete is true when the profile reaches Plan.Until.
	Complete bool
	// MeterTime is the meter's clock and ReadAt our clock at the same
	// moment, for the drift check.
	MeterTime, ReadAt time.Time
	// Problems are the objects the session could not read, each with its
	// cause; the rest of the collection stands.
	Problems []ObjectProblem
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
