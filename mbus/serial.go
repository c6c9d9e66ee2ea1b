package mbus

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"go.bug.st/serial"
)

// SerialPort is a serial line to an M-Bus level converter: 8 data bits,
// even parity, one stop bit (EN 13757-2 clause 4), 2400 Bd unless told.
// It has the read deadline a Master needs (linkio.Serial).
type SerialPort struct{ *linkio.Serial }

// DefaultBaud is the rate M-Bus slaves answer at out of the box.
const DefaultBaud = 2400

// OpenSerial opens name at baud (0: 2400) with 8E1 framing.
func OpenSerial(name string, baud int) (*SerialPort, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	p, err := serial.Open(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.EvenParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("mbus: open %s: %w", name, err)
	}
	return &SerialPort{linkio.NewSerial(p)}, nil
}

// DialTCP connects to an M-Bus converter (transparent TCP to the bus, as
// most serve on a port of their own), bounded by ctx.
func DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	if _, ok := ctx.Deadline(); !ok {
		d.Timeout = 10 * time.Second
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mbus: dial %s: %w", addr, err)
	}
	return c, nil
}
