package headend

import "errors"

// ErrUnsupported is wrapped by a driver that cannot carry out a command.
var ErrUnsupported = errors.New("headend: not supported by the driver")
