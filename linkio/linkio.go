// Package linkio owns what every link layer needs from a context: its
// deadline and cancellation interrupting blocking reads and writes on a
// stream (a TCP connection, a serial port) that supports I/O deadlines, the
// context's error reported when it was the cause, and a listener's
// connections served until the context ends; and the read deadline a
// serial port lacks.
package linkio

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

// Deadlines applies context deadlines and cancellation to a transport that
// may support read and write deadlines. Without that support, a blocked
// read cannot be interrupted and only the context checks between
// operations apply.
type Deadlines struct {
	rd       readDeadliner
	wd       writeDeadliner
	mu       sync.Mutex
	canceled bool
}

// New inspects rw for SetReadDeadline and SetWriteDeadline.
func New(rw any) *Deadlines {
	d := &Deadlines{}
	d.rd, _ = rw.(readDeadliner)
	d.wd, _ = rw.(writeDeadliner)
	return d
}

// CanTimeRead reports whether reads can be given a deadline; without it a
// caller cannot wait "a while" for a reply, only until the peer answers.
func (d *Deadlines) CanTimeRead() bool { return d.rd != nil }

var past = time.Unix(1, 0)

// Watch arranges for a cancellation of ctx to interrupt blocked I/O. The
// returned function must be called when the operation ends.
func (d *Deadlines) Watch(ctx context.Context) func() bool {
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

// SetRead sets the read deadline to the earlier of ctx's deadline and
// until (zero: none besides ctx's).
func (d *Deadlines) SetRead(ctx context.Context, until time.Time) error {
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

// SetWrite sets the write deadline to ctx's deadline.
func (d *Deadlines) SetWrite(ctx context.Context) error {
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

// Error turns a transport error into the context's error when the context
// caused it, so callers can test errors.Is(err, context.DeadlineExceeded);
// layer and op say where it happened ("hdlc", "read").
func Error(ctx context.Context, layer, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %s: %w (%v)", layer, op, context.Cause(ctx), err)
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return fmt.Errorf("%s: %s: %w (%v)", layer, op, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%s: %s: %w", layer, op, err)
}
