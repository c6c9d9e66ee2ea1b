package store

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/outage"
)

// Outages keeps outage events (package outage owns their life; package
// reliability reads them back for the indices).
type Outages interface {
	// PutOutage stores an event, replacing every field of the one with
	// the same ID: an outage is written again at each change of state.
	PutOutage(ctx context.Context, e outage.Event) error
	// Outage returns one event by ID: ErrNotFound when there is none.
	Outage(ctx context.Context, id string) (outage.Event, error)
	// Outages lists events newest start first (then by ID), filtered by q.
	Outages(ctx context.Context, q OutageQuery) ([]outage.Event, error)
}

// OutageQuery filters Outages. Zero fields do not filter.
type OutageQuery struct {
	// From and To select the events whose time without power overlaps
	// [From, To); an open event lasts until now, so it overlaps every
	// period that ends after its start.
	From, To time.Time
	// Device, Feeder and Region select by the event's own fields.
	Device, Feeder, Region string
	// States selects events in any of these states.
	States []outage.State
	// Open selects only events still without an end.
	Open bool
	// Limit caps the result (0: no cap).
	Limit int
}
