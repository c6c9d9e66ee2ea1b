// Package store owns amigo's persistent state: usage points and meters,
// interval data kept as one versioned row per meter × channel × local day,
// end-device events, the head-end's state, the VEE exceptions queue,
// users and the audit trail. Store is all of it; the interfaces it is made of are what each
// service takes. Two engines implement it — embedded SQLite (store/sqlite)
// and PostgreSQL (store/postgres) — and one test suite (store/storetest)
// runs against both. Open opens either from a URL, for the engines a
// binary links in (store/engines links both).
//
// Nothing outside the store packages speaks SQL.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// ErrNotFound is returned when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store is everything an engine keeps, and what every engine implements.
// A service takes the part it needs (Registry, Readings, EventLog,
// HeadEnd, Exceptions, ObjectModels, Users, AuditLog), so that its tests can fake
// only that and a reader sees what it touches; only what opens and
// closes the database, and what hands the parts out, holds a Store.
type Store interface {
	Engine
	Registry
	Readings
	EventLog
	HeadEnd
	Exceptions
	ObjectModels
	Users
	Campaigns
	AuditLog
	Anomalies
	Weather
	FirmwareImages
	KeyStaging
	Consents
	DemandResponse
	Tariffs
	Accounts
	PriceFeeds
	BillRuns
	Topology
	Outages
	Limits
}

// Engine is the database itself: which engine it is, whether it answers,
// how far it is migrated, and closing it.
type Engine interface {
	// Kind names the engine: "sqlite" or "postgres".
	Kind() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// SchemaVersion is the highest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Registry is the network as it is registered: usage points and the
// meters installed at them.
type Registry interface {
	// PutUsagePoints inserts or updates usage points by mRID.
	PutUsagePoints(ctx context.Context, ups ...cim.UsagePoint) error
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)

	// PutMeters inserts or updates meters by mRID.
	PutMeters(ctx context.Context, ms ...cim.Meter) error
	// PutRegistry writes a batch of an import in one transaction: usage
	// points, meters and the meters' sealed secrets commit together or
	// not at all, so a crash never leaves a meter without its keys.
	PutRegistry(ctx context.Context, b RegistryBatch) error
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	// Meters lists meters in mRID order, filtered and paged by q.
	Meters(ctx context.Context, q MeterQuery) ([]cim.Meter, error)
	CountMeters(ctx context.Context, q MeterQuery) (int, error)
}

// Readings is interval data: one versioned row per meter × channel ×
// local day.
type Readings interface {
	// PutDays stores interval days. A day whose values and qualities equal
	// its latest stored version is not written again (redelivery is
	// idempotent); any other day becomes a new version, and no version is
	// ever overwritten. It returns the version each day now has.
	PutDays(ctx context.Context, days []interval.Day) ([]int, error)
	// PutDaysIfLatest is PutDays for a writer that merged each day over
	// version bases[i] (0: not stored then): a day whose latest version is
	// no longer its base is not written, and reports Stale with the latest
	// version, so that the writer merges again over it instead of hiding
	// another writer's readings under its own version. A day equal to its
	// latest version is never stale.
	PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]DayWrite, error)
	// Day returns the latest version of one day.
	Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error)
	// DayVersions returns every version of one day, oldest first.
	DayVersions(ctx context.Context, meterID, channel string, date cim.Date) ([]interval.Day, error)
	// Days returns the latest version of each stored day in [from, to].
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error)
	// DaysOfMeters is Days for many ranges in a few queries: out[i] holds
	// the latest version of each stored day of ranges[i], oldest first.
	// Validating a batch of days reads their histories this way.
	DaysOfMeters(ctx context.Context, ranges []DayRange) ([][]interval.Day, error)
}

// DayRange names the days [From, To] of one meter channel.
type DayRange struct {
	MeterID, Channel string
	From, To         cim.Date
}

// EventLog is the meters' end-device events, each stored once by mRID.
type EventLog interface {
	// AppendEvents stores events, skipping those whose mRID is already
	// stored, and returns how many were new.
	AppendEvents(ctx context.Context, evs []cim.EndDeviceEvent) (int, error)
	// Events lists events newest first (mRID order within an instant).
	Events(ctx context.Context, q EventQuery) ([]cim.EndDeviceEvent, error)
	// CountEvents counts the events q's filters match, whatever its page.
	CountEvents(ctx context.Context, q EventQuery) (int, error)
	// EventsOfMeters lists the events of many meters in a few queries:
	// out[i] holds ranges[i]'s, of any of types (every type when none),
	// in the order Events lists them.
	EventsOfMeters(ctx context.Context, types []cim.EndDeviceEventType, ranges []EventRange) ([][]cim.EndDeviceEvent, error)
}

// EventRange names one meter's events in [From, To) (a zero bound is
// open), at most Limit of them, the newest (0: all).
type EventRange struct {
	MeterID  string
	From, To time.Time
	Limit    int
}

// MeterQuery filters and pages a meter listing. Empty fields match all.
type MeterQuery struct {
	Segment, Region, Status, UsagePointID, Protocol string
	// Parent selects the meters reached through the meter of that mRID
	// (its gas and water meters).
	Parent string
	// After returns meters whose mRID sorts after it (keyset paging).
	After string
	// Limit caps the result; zero means 100.
	Limit int
}

// EventQuery filters an event listing. Empty fields match all.
type EventQuery struct {
	MeterID string
	Type    cim.EndDeviceEventType
	// Types matches any of several types (with Type, if both are set).
	Types    []cim.EndDeviceEventType
	Severity string
	From, To time.Time
	// AfterAt and AfterMRID page the listing (keyset): when AfterAt is
	// set, only events after the event (AfterAt, AfterMRID) in listing
	// order are returned — older, or as old with a greater mRID.
	AfterAt   time.Time
	AfterMRID string
	Limit     int
}

// ErrConflict is returned when a write finds the row in another state
// than the caller expected (a command already moved on, say).
var ErrConflict = errors.New("conflict")

// HeadEnd is the head-end's durable state: sealed meter secrets,
// invocation counters, collection cursors and results, register reads and
// the command lifecycle.
type HeadEnd interface {
	// PutMeterSecret stores a meter's sealed key material. The store never
	// sees a key in clear: sealing is the vault's job.
	PutMeterSecret(ctx context.Context, meterID string, sealed []byte) error
	// MeterSecret returns the sealed key material, or ErrNotFound.
	MeterSecret(ctx context.Context, meterID string) ([]byte, error)

	// ReserveCounter durably raises the counter (meterID, name) by n and
	// returns the first of the n values now reserved: the stored value
	// before the call (0 for a new counter). Values handed out are never
	// handed out again, across processes and crashes.
	ReserveCounter(ctx context.Context, meterID, name string, n uint32) (first uint64, err error)
	// ReserveCounters makes several reservations in one transaction, in
	// order, and returns the first value of each: all or none are made.
	ReserveCounters(ctx context.Context, rs []CounterReservation) ([]uint64, error)
	// AdvanceCounter stores v as the counter (meterID, name) only if v is
	// greater than the stored value, and reports whether it did: a false
	// answer means v was seen before (a replay).
	AdvanceCounter(ctx context.Context, meterID, name string, v uint64) (bool, error)

	// Cursor returns where collection of one object of one meter stands
	// (the capture time of the last entry collected), zero if never.
	Cursor(ctx context.Context, meterID, name string) (time.Time, error)
	// Cursors returns every cursor of one meter, in name order.
	Cursors(ctx context.Context, meterID string) ([]Cursor, error)
	// PutCursors stores cursors; a cursor never moves backwards (an older
	// value than the stored one is ignored).
	PutCursors(ctx context.Context, cs []Cursor) error

	// PutRegisterReads stores register reads, skipping those already
	// stored (same meter, reading type and time), and returns how many
	// were new.
	PutRegisterReads(ctx context.Context, rs []RegisterRead) (int, error)
	// RegisterReads lists one meter's reads of one reading type in [from,
	// to), oldest first; an empty readingType lists all types.
	RegisterReads(ctx context.Context, meterID, readingType string, from, to time.Time) ([]RegisterRead, error)
	// RegisterReadsOfMeters is RegisterReads for many ranges in a few
	// queries: out[i] holds ranges[i]'s reads, oldest first. Each range
	// names its reading type.
	RegisterReadsOfMeters(ctx context.Context, ranges []ReadRange) ([][]RegisterRead, error)

	// PutCollectionResults records the outcome of collection jobs, one per
	// run day and meter, accumulating over the runs of that day: attempts
	// and readings add up, Complete once true stays true, and the outcome,
	// error and time are the latest run's, except that a failed run does
	// not overwrite the outcome of a day already complete.
	PutCollectionResults(ctx context.Context, rs []CollectionResult) error
	// CollectionSummary counts the results of one run day per segment
	// (every segment when segment is empty), segments in name order.
	CollectionSummary(ctx context.Context, day cim.Date, segment string) ([]CollectionSummary, error)
	// CollectionResults lists one run day's results, filtered by segment
	// and outcome when set, in meter order after `after`.
	CollectionResults(ctx context.Context, day cim.Date, segment, outcome, after string, limit int) ([]CollectionResult, error)
	// MeterResults returns the results of the given meters on the run days
	// [from, to] (at most 62 days), by meter, newest day first: a page of a
	// meter listing learns how each was last read in one query.
	MeterResults(ctx context.Context, meterIDs []string, from, to cim.Date) ([]CollectionResult, error)

	// IssueControl stores a new command in state queued. When a command
	// with the same CorrelationID exists, it returns that one and false.
	IssueControl(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error)
	// Control returns one command by mRID, or ErrNotFound.
	Control(ctx context.Context, mrid string) (cim.EndDeviceControl, error)
	// Controls lists commands newest first.
	Controls(ctx context.Context, q ControlQuery) ([]cim.EndDeviceControl, error)
	// DueControls returns queued commands whose scheduled time is at or
	// before now, highest priority first, then oldest scheduled.
	DueControls(ctx context.Context, now time.Time, limit int) ([]cim.EndDeviceControl, error)
	// TransitionControl moves a command from one status to another,
	// recording the step with its reason and time. It returns ErrConflict
	// if the command is not in status from, ErrNotFound if it does not
	// exist.
	TransitionControl(ctx context.Context, mrid string, from, to cim.ControlStatus, reason string, at time.Time) error
	// DecideControl is TransitionControl by a person: an approval,
	// rejection, release or discard, recorded with who decided.
	DecideControl(ctx context.Context, mrid string, from, to cim.ControlStatus, by, reason string, at time.Time) error
	// ControlSteps returns a command's history, oldest first.
	ControlSteps(ctx context.Context, mrid string) ([]ControlStep, error)
	// CountIssued counts the commands one user issued (of one type, with
	// one parameter's value, when set) since a time.
	CountIssued(ctx context.Context, q IssuedQuery) (int, error)
}

// Cursor is where collection of one object of one meter stands. Name is
// the driver's name for the object, e.g. "profile:1.0.99.1.0.255".
type Cursor struct {
	MeterID string
	Name    string
	At      time.Time
}

// DayWrite is what PutDaysIfLatest did with one day.
type DayWrite struct {
	// Version is the day's latest version after the call.
	Version int
	// Stale: another writer's version came after the base; nothing was
	// written.
	Stale bool
}

// ReadRange names one meter's reads of one reading type in [From, To).
type ReadRange struct {
	MeterID, ReadingType string
	From, To             time.Time
}

// CounterReservation asks for N values of the counter (MeterID, Name).
type CounterReservation struct {
	MeterID string
	Name    string
	N       uint32
}

// RegisterRead is a meter register's value at a time.
type RegisterRead = cim.Reading

// OutcomeOK is the outcome of a collection job that stored what it read.
// The head-end names the failure causes (headend.Outcome*); the store
// knows only success, since a failed run never overwrites it.
const OutcomeOK = "ok"

// SealedSecret is a meter's key material sealed by the vault.
type SealedSecret struct {
	MeterID string
	Sealed  []byte
}

// RegistryBatch is what one transaction of an import writes.
type RegistryBatch struct {
	UsagePoints []cim.UsagePoint
	Meters      []cim.Meter
	Secrets     []SealedSecret
}

// CollectionResult is how one meter's collection job of one run day went,
// summed over the runs of that day.
type CollectionResult struct {
	Day      cim.Date `json:"day"`
	MeterID  string   `json:"meter"`
	Segment  string   `json:"segment"`
	Outcome  string   `json:"outcome"` // OutcomeOK or a failure cause
	Attempts int      `json:"attempts"`
	// Readings is how many interval readings the jobs collected.
	Readings int `json:"readings"`
	// Complete is true when the meter's profile is collected up to the
	// end of the run day (no gap left); a run of the day still going
	// (intraday) never sets it.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
	// Problems sums up the objects the latest run could not read while
	// its session went on (e.g. "1 object failed: 0.0.96.5.0.255:2
	// read-write-denied"), bounded in length; empty when there were none.
	Problems string    `json:"problems,omitempty"`
	At       time.Time `json:"at"`
}

// CollectionSummary counts one run day's results in one segment.
type CollectionSummary struct {
	Segment  string `json:"segment"`
	Total    int    `json:"total"`
	OK       int    `json:"ok"`
	Complete int    `json:"complete"`
	Readings int    `json:"readings"`
	// Failed counts failures by outcome.
	Failed map[string]int `json:"failed"`
}

// ControlQuery filters a command listing. Empty fields match all.
type ControlQuery struct {
	MeterID string
	Status  cim.ControlStatus
	Limit   int
	// OldestFirst lists the oldest first (a queue), not the newest.
	OldestFirst bool
}

// IssuedQuery selects the commands one user issued since a time. Empty
// Type and Param match all.
type IssuedQuery struct {
	IssuedBy string
	Type     cim.EndDeviceControlType
	Since    time.Time
	// Param and Value keep the commands whose parameter Param is Value.
	Param, Value string
}

// ControlStep is one transition in a command's lifecycle.
type ControlStep struct {
	Status cim.ControlStatus `json:"status"`
	Reason string            `json:"reason"`
	At     time.Time         `json:"at"`
	// Actor is the user who made the step ("" for the head-end itself).
	Actor string `json:"actor,omitempty"`
}

// ObjectModels keeps what the head-end learned of meters' object models.
// A template is shared by the meters of one make, model and firmware, so a
// fleet is discovered once per kind of meter, not once per meter. The
// template is the driver's own blob: the store keeps it and never parses
// it.
type ObjectModels interface {
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

// Exceptions is the VEE exceptions queue: what failed validation, by rule
// and reason, until a person resolves it.
type Exceptions interface {
	// PutExceptions records validation failures, one per meter, channel,
	// day and rule. One already recorded for the same version is
	// skipped; an open one of an earlier version of the day is replaced
	// by the new version's. It returns how many were new or replaced.
	PutExceptions(ctx context.Context, es []Exception) (int, error)
	// SettleExceptions closes, for each validated day version, the open
	// exceptions of its earlier versions: after PutExceptions moved those
	// still failing to the new version, what is left is what the new
	// version passes (a late read filled the gap). The resolution names
	// the version. It returns how many it closed.
	SettleExceptions(ctx context.Context, days []DayVersion, at time.Time) (int, error)
	// ListExceptions lists exceptions, oldest first, after the id After.
	ListExceptions(ctx context.Context, q ExceptionQuery) ([]Exception, error)
	// CountExceptions counts the exceptions the query's filters match,
	// whatever its After and Limit.
	CountExceptions(ctx context.Context, q ExceptionQuery) (int, error)
	// ResolveException closes an open exception with who and how; an
	// exception already resolved is ErrConflict.
	ResolveException(ctx context.Context, id int64, user, resolution string, at time.Time) error
}

// Exception is one rule's failure on one version of a stored day, with
// every interval it covers.
type Exception struct {
	ID       int64    `json:"id"`
	MeterID  string   `json:"meter"`
	Channel  string   `json:"channel"`
	Date     cim.Date `json:"day"`
	Version  int      `json:"version"`
	Rule     string   `json:"rule"`
	Interval int      `json:"interval"` // the first interval; -1: the whole day
	// Intervals is how many intervals the exception covers (0: it is
	// about the whole day), Indexes which, in order.
	Intervals int    `json:"intervals"`
	Indexes   []int  `json:"indexes,omitempty"`
	Reason    string `json:"reason"`
	// Unit is the unit of the values the reason speaks of, when it does.
	Unit       string    `json:"unit,omitempty"`
	Open       bool      `json:"open"`
	CreatedAt  time.Time `json:"createdAt"`
	ResolvedBy string    `json:"resolvedBy,omitempty"`
	Resolution string    `json:"resolution,omitempty"`
}

// DayVersion names one version of a stored day.
type DayVersion struct {
	MeterID, Channel string
	Date             cim.Date
	Version          int
}

// SettledBy is who closes an exception a later version of its day passes.
const SettledBy = "vee"

// ExceptionQuery filters the exceptions queue. Empty fields match all.
type ExceptionQuery struct {
	MeterID  string
	Rule     string
	OpenOnly bool
	// From and To bound the days, both included.
	From, To cim.Date
	After    int64
	Limit    int
}

// Anomalies is what the anomaly limits keep: issued commands counted in
// time buckets per type and scope, the history their limits are learnt
// from, and the quarantined commands a security officer decides on.
type Anomalies interface {
	// CountCommand counts one more command in bucket of each counter and
	// returns, for each counter, its count over the buckets from each of
	// since (inclusive) on, this command included. Every head-end node
	// counts in the same rows, so a burst split over nodes is one burst.
	CountCommand(ctx context.Context, counters []CommandCounter, bucket int64, since []int64) ([][]int, error)
	// PruneCommandCounts drops the buckets before bucket.
	PruneCommandCounts(ctx context.Context, before int64) error
	// CommandPeaks returns the highest count of commands per type and
	// issuer, per type and segment, and per type fleet-wide, in one clock
	// hour and in one UTC day, among the commands created in [from, to)
	// that were not quarantined, discarded or rejected (a burst held back
	// teaches nothing).
	CommandPeaks(ctx context.Context, from, to time.Time) ([]CommandPeak, error)
	// HeldControl returns a command of type typ for meter that is
	// quarantined, or was discarded at or after discardedSince, or
	// ErrNotFound.
	HeldControl(ctx context.Context, meterID string, typ cim.EndDeviceControlType, discardedSince time.Time) (cim.EndDeviceControl, error)
	// ControlByCorrelation returns the command issued with a correlation
	// id, or ErrNotFound.
	ControlByCorrelation(ctx context.Context, correlationID string) (cim.EndDeviceControl, error)
	// QuarantinedControls lists quarantined commands in mRID order after
	// q.After.
	QuarantinedControls(ctx context.Context, q QuarantineQuery) ([]cim.EndDeviceControl, error)
	// QuarantineGroups counts the quarantined commands q's filters match
	// by issuer and type.
	QuarantineGroups(ctx context.Context, q QuarantineQuery) ([]QuarantineGroup, error)
	// DecideControls is DecideControl for many commands in one
	// transaction: it returns the mRIDs it moved; one not in status from
	// is left as it is.
	DecideControls(ctx context.Context, mrids []string, from, to cim.ControlStatus, by, reason string, at time.Time) ([]string, error)
}

// CommandCounter names one count of commands: a type's in a scope
// ("user", "segment" or "fleet") under a key (the user, the segment, "").
type CommandCounter struct {
	Type  cim.EndDeviceControlType
	Scope string
	Key   string
}

// CommandPeak is the highest count of one counter in one window ("hour"
// or "day").
type CommandPeak struct {
	CommandCounter
	Window string
	Count  int
}

// QuarantineQuery filters quarantined commands. Empty fields match all.
type QuarantineQuery struct {
	IssuedBy string
	Type     cim.EndDeviceControlType
	// From and To bound when the commands were issued: [From, To).
	From, To time.Time
	// IDs picks commands by mRID.
	IDs   []string
	After string
	// Limit caps a listing; zero means 100.
	Limit int
}

// QuarantineGroup counts quarantined commands of one issuer and type.
type QuarantineGroup struct {
	IssuedBy string                   `json:"issuedBy"`
	Type     cim.EndDeviceControlType `json:"type"`
	Count    int                      `json:"count"`
	First    time.Time                `json:"first"`
	Last     time.Time                `json:"last"`
}

// KeyStaging keeps a meter's pending credentials beside its current ones
// while the meter's keys are being changed, so that a crash between
// telling the meter its new keys and recording that it took them leaves
// both sets at hand. Both are sealed by the vault.
type KeyStaging interface {
	// StageMeterSecret stores sealed as the meter's pending secret,
	// replacing any pending one; ErrNotFound when the meter has no
	// current secret.
	StageMeterSecret(ctx context.Context, meterID string, sealed []byte) error
	// PendingMeterSecret returns the pending secret, or ErrNotFound.
	PendingMeterSecret(ctx context.Context, meterID string) ([]byte, error)
	// PromoteMeterSecret makes the pending secret the current one and
	// forgets the old; ErrNotFound when none is pending.
	PromoteMeterSecret(ctx context.Context, meterID string) error
	// DropPendingMeterSecret forgets the pending secret, if any.
	DropPendingMeterSecret(ctx context.Context, meterID string) error
}
