package wrapper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

type readDeadliner interface{ SetReadDeadline(time.Time) error }
type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

// deadlines applies context deadlines and cancellation to a transport that
// may support read and write deadlines. Without that support, a blocked read
// cannot be interrupted and only the context check between frames applies.
type deadlines struct {
	rd       readDeadliner
	wd       writeDeadliner
	mu       sync.Mutex
	canceled bool
}

func newDeadlines(rw any) *deadlines {
	d := &deadlines{}
	d.rd, _ = rw.(readDeadliner)
	d.wd, _ = rw.(writeDeadliner)
	return d
}

var past = time.Unix(1, 0)

// watch arranges for a cancellation of ctx to interrupt blocked I/O. The
// returned function must be called when the operation ends.
func (d *deadlines) watch(ctx context.Context) func() bool {
	d.mu.Lock()
	d.canceled = false
	d.mu.Unlock()
	return context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.canceled = true
		if d.rd != nil {
			_ = d.rd.SetReadDeadline(past)
		}
		if d.wd != nil {
			_ = d.wd.SetWriteDeadline(past)
		}
	})
}

// earliest returns the earlier of the context deadline and until (zero means none).
func earliest(ctx context.Context, until time.Time) time.Time {
	if dl, ok := ctx.Deadline(); ok && (until.IsZero() || dl.Before(until)) {
		return dl
	}
	return until
}

func (d *deadlines) setRead(ctx context.Context, until time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.canceled || ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if d.rd != nil {
		return d.rd.SetReadDeadline(earliest(ctx, until))
	}
	return nil
}

func (d *deadlines) setWrite(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.canceled || ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if d.wd != nil {
		return d.wd.SetWriteDeadline(earliest(ctx, time.Time{}))
	}
	return nil
}

// ioError turns a transport error into the context error when the context
// caused it, so callers can test errors.Is(err, context.DeadlineExceeded).
func ioError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("wrapper: %s: %w (%v)", op, context.Cause(ctx), err)
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return fmt.Errorf("wrapper: %s: %w (%v)", op, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("wrapper: %s: %w", op, err)
}

var zeroTime time.Time
