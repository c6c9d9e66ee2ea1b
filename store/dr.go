package store

import (
	"context"
	"time"
)

// DemandResponse keeps demand-response programs, their enrolments, events
// and each participant's part in an event (package dr owns the rules).
type DemandResponse interface {
	// PutDRProgram stores a program, replacing one of the same id.
	PutDRProgram(ctx context.Context, p DRProgram) error
	// DRProgram returns a program: ErrNotFound when there is none.
	DRProgram(ctx context.Context, id string) (DRProgram, error)
	// DRPrograms lists the programs by id.
	DRPrograms(ctx context.Context) ([]DRProgram, error)
	// PutDREnrolment stores an enrolment, replacing the one of the same
	// program and usage point.
	PutDREnrolment(ctx context.Context, e DREnrolment) error
	// DREnrolments lists a program's enrolments by usage point.
	DREnrolments(ctx context.Context, programID string) ([]DREnrolment, error)
	// CreateDREvent stores a new event with its participations in one
	// transaction. An event whose id is stored already is not taken
	// again: the stored one is returned with created false.
	CreateDREvent(ctx context.Context, e DREvent, parts []DRParticipation) (DREvent, bool, error)
	// DREvent returns an event: ErrNotFound when there is none.
	DREvent(ctx context.Context, id string) (DREvent, error)
	// DREvents lists events by start, filtered by q.
	DREvents(ctx context.Context, q DREventQuery) ([]DREvent, error)
	// MoveDREvent moves an event from status from to status to, setting
	// approvedBy when given and the reason, at the time given; ErrConflict
	// when the event is no longer in status from.
	MoveDREvent(ctx context.Context, id, from, to, approvedBy, reason string, at time.Time) (DREvent, error)
	// DRParticipations lists an event's participations by usage point.
	DRParticipations(ctx context.Context, eventID string) ([]DRParticipation, error)
	// DRParticipationsOf lists a usage point's participations, newest
	// event first, at most limit.
	DRParticipationsOf(ctx context.Context, usagePoint string, limit int) ([]DRParticipation, error)
	// StampDRParticipations sets one of a participation's times (a
	// DRStamp) on the usage points given, where it is not set yet, and
	// returns the usage points it set it on.
	StampDRParticipations(ctx context.Context, eventID string, stamp DRStamp, at time.Time, usagePoints []string) ([]string, error)
}

// DRStamp names one time kept on a participation.
type DRStamp string

// The times of a participation, each set once.
const (
	DRNotified      DRStamp = "notified"
	DROptedOut      DRStamp = "opted-out"
	DRDispatched    DRStamp = "dispatched"
	DRCountermanded DRStamp = "countermanded"
)

// DRProgram is a program as stored; durations in seconds would lose
// nothing, and are kept as durations here.
type DRProgram struct {
	ID, Name, Kind string
	Notice         time.Duration
	Randomize      time.Duration
	Baseline       string
	Adjust         bool
	Incentive      int64
	Currency       string
	FloorW         int64
	Approval       bool
	CreatedAt      time.Time
}

// DREnrolment is an enrolment as stored; Until zero is open-ended.
type DREnrolment struct {
	ProgramID, UsagePointID, MeterID string
	From, Until                      time.Time
}

// DREvent is an event as stored.
type DREvent struct {
	ID, ProgramID        string
	Start, End           time.Time
	ThresholdW, Price    int64
	Currency, Relay      string
	Status, Source       string
	CreatedBy            string
	ApprovedBy, Reason   string
	CreatedAt, UpdatedAt time.Time
}

// DREventQuery filters an event listing; empty fields match all.
type DREventQuery struct {
	ProgramID string
	Status    string
	// From and Until bound the events' starts: [From, Until).
	From, Until time.Time
	Limit       int
}

// DRParticipation is a participation as stored.
type DRParticipation struct {
	EventID, UsagePointID, MeterID string
	StartOffset, EndOffset         time.Duration
	NotifiedAt, OptedOutAt         time.Time
	DispatchedAt, CountermandedAt  time.Time
}
