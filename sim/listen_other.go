//go:build !linux

package sim

import (
	"context"
	"errors"
	"net"
)

// ListenLoopback listens on every address of 127.0.0.0/8. It needs Linux, where all of 127.0.0.0/8 is local and a
// socket can be tied to the loopback interface; elsewhere it would have to
// listen on every interface, which the simulator must not do.
func ListenLoopback(context.Context, uint16) (net.Listener, error) {
	return nil, errors.New("sim: serving a fleet on 127.0.0.0/8 needs Linux")
}
