package linkio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// ServeOption adjusts Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	acceptFailed func(err error, wait time.Duration)
	recovered    func(failures int)
}

// OnAcceptError tells failed about every accept that failed for a cause
// that passes (descriptors or kernel memory exhausted, a connection
// aborted before it was taken) and how long Serve waits before it accepts
// again, and recovered about the first accept after a run of failures:
// for a log line and a metric. Either may be nil.
func OnAcceptError(failed func(err error, wait time.Duration), recovered func(failures int)) ServeOption {
	return func(o *serveOptions) { o.acceptFailed, o.recovered = failed, recovered }
}

// Accept back-off bounds: the first retry comes soon, so one aborted
// connection costs nothing, and a process out of descriptors retries
// once a second rather than spinning on a core.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// Temporary reports whether an accept error passes by itself: the process
// or the system is out of descriptors or buffers, or a peer gave up before
// its connection was taken. The listener stays good and must go on.
func Temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// AcceptCause names an accept error for a metric label: the errno of a
// passing cause in lower case ("emfile", "enfile", "econnaborted"...),
// "timeout", or "other".
func AcceptCause(err error) string {
	for _, c := range []struct {
		e    error
		name string
	}{{syscall.EMFILE, "emfile"}, {syscall.ENFILE, "enfile"}, {syscall.ECONNABORTED, "econnaborted"},
		{syscall.ENOBUFS, "enobufs"}, {syscall.ENOMEM, "enomem"}, {syscall.EINTR, "eintr"}, {syscall.EAGAIN, "eagain"}} {
		if errors.Is(err, c.e) {
			return c.name
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}

// Serve accepts connections on ln and runs handle for each in its own
// goroutine until ctx ends. Then it closes ln and every open connection,
// waits for the handlers to return, and returns nil. A handler's error is
// passed to ended (which may be nil) unless ctx has ended. An accept that
// fails for a passing cause (see Temporary) is retried after a back-off
// that doubles up to a second; Serve returns an error only when accepting
// fails for good, and layer names it.
func Serve(ctx context.Context, ln net.Listener, layer string, handle func(context.Context, net.Conn) error, ended func(net.Conn, error), opts ...ServeOption) error {
	var o serveOptions
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	var wait time.Duration
	failures := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !Temporary(err) {
				cancel()
				return fmt.Errorf("%s: accept: %w", layer, err)
			}
			wait = min(max(2*wait, minAcceptBackoff), maxAcceptBackoff)
			failures++
			if o.acceptFailed != nil {
				// Called before the wait, so a caller sees the failure
				// while it lasts.
				o.acceptFailed(err, wait)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		if failures > 0 && o.recovered != nil {
			o.recovered(failures)
		}
		wait, failures = 0, 0
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			if err := handle(ctx, c); err != nil && ctx.Err() == nil && ended != nil {
				ended(c, err)
			}
		}()
	}
}
