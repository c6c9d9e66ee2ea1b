package mdm

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// ExceptionQueue is what the exceptions service reads and closes.
type ExceptionQueue interface {
	ListExceptions(ctx context.Context, q store.ExceptionQuery) ([]store.Exception, error)
	CountExceptions(ctx context.Context, q store.ExceptionQuery) (int, error)
	ResolveException(ctx context.Context, id int64, user, resolution string, at time.Time) error
}

// Exceptions is the queue of validation failures as people work it:
// pages of it, oldest first, and closing one with who and how.
type Exceptions struct {
	Store ExceptionQueue
	// Now is the clock resolutions are stamped with (nil: time.Now).
	Now func() time.Time
}

// ExceptionPage is one page of the queue.
type ExceptionPage struct {
	Items []store.Exception
	// Total counts every exception the query matches, so a console can
	// say how many there are.
	Total int
	// More says a next page exists; it starts after the last item's id.
	More bool
}

// List returns the page of exceptions q asks for (q.Limit of them, at
// least one).
func (e *Exceptions) List(ctx context.Context, q store.ExceptionQuery) (ExceptionPage, error) {
	var p ExceptionPage
	limit := max(q.Limit, 1)
	// One more than a page says whether there is a next one.
	q.Limit = limit + 1
	es, err := e.Store.ListExceptions(ctx, q)
	if err != nil {
		return p, fmt.Errorf("mdm: listing exceptions (meter %q): %w", q.MeterID, err)
	}
	if p.More = len(es) > limit; p.More {
		es = es[:limit]
	}
	p.Items = es
	if p.Total, err = e.Store.CountExceptions(ctx, q); err != nil {
		return p, fmt.Errorf("mdm: counting exceptions (meter %q): %w", q.MeterID, err)
	}
	return p, nil
}

// Resolve closes an open exception with who closed it and how. One not
// queued is store.ErrNotFound; one already resolved, store.ErrConflict.
// The store's error comes back as it is: its text already names the
// exception and says what stood in the way, and a person reads it.
func (e *Exceptions) Resolve(ctx context.Context, id int64, user, resolution string) error {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	return e.Store.ResolveException(ctx, id, user, resolution, now())
}
