package sim

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// ListenLoopback listens on every address of 127.0.0.0/8 at port (0 picks
// a free one) with a single socket. A socket bound to 127.0.0.1 only takes connections to
// 127.0.0.1, and one socket per meter would need 100,000 descriptors, so
// the socket is bound to the wildcard address but tied to the loopback
// interface with SO_BINDTODEVICE: packets arriving on any other interface
// never reach it. Fleet.Serve also refuses connections whose local address
// is outside 127.0.0.0/8.
func ListenLoopback(ctx context.Context, port uint16) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo")
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("binding to the loopback interface (SO_BINDTODEVICE): %w", serr)
		}
		return nil
	}}
	ln, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(int(port))))
	if err != nil {
		return nil, fmt.Errorf("sim: listen on 127.0.0.0/8 port %d: %w", port, err)
	}
	return ln, nil
}
