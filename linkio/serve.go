package linkio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Serve accepts connections on ln and runs handle for each in its own
// goroutine until ctx ends. Then it closes ln and every open connection,
// waits for the handlers to return, and returns nil. A handler's error is
// passed to ended (which may be nil) unless ctx has ended. Serve returns
// an error only when accepting fails for good; layer names it.
func Serve(ctx context.Context, ln net.Listener, layer string, handle func(context.Context, net.Conn) error, ended func(net.Conn, error)) error {
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
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			cancel()
			return fmt.Errorf("%s: accept: %w", layer, err)
		}
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
