package dsmr

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"
)

// SourceOptions configure Open.
type SourceOptions struct {
	// Baud is a serial port's speed (0: 115200, DSMR 4 and 5; DSMR 2.2
	// and 3.0 ports run at 9600 with 7E1, see Old).
	Baud int
	// Old opens a serial port 9600 7E1, as DSMR 2.2 and 3.0 meters send.
	Old bool
	// Idle ends a TCP or serial source silent this long (0: 60 s; a meter
	// sends every 1 or 10 s).
	Idle time.Duration
	// DialTimeout bounds a TCP connection (0: 10 s).
	DialTimeout time.Duration
}

// Open opens a P1 source: tcp://host:port (a ser2net-style bridge, or a
// simulated meter), a serial device (/dev/ttyUSB0, COM3) or a file of
// recorded telegrams. The source is closed when ctx ends, which ends a
// blocked read.
func Open(ctx context.Context, source string, o SourceOptions) (io.ReadCloser, error) {
	if o.Idle <= 0 {
		o.Idle = 60 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	var rc io.ReadCloser
	switch {
	case strings.HasPrefix(source, "tcp://"):
		addr := strings.TrimPrefix(source, "tcp://")
		dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
		c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dsmr: P1 bridge %s: %w", addr, err)
		}
		rc = &idleConn{Conn: c, idle: o.Idle}
	case isDevice(source):
		mode := &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
		if o.Old {
			mode = &serial.Mode{BaudRate: 9600, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.OneStopBit}
		}
		if o.Baud > 0 {
			mode.BaudRate = o.Baud
		}
		p, err := serial.Open(source, mode)
		if err != nil {
			return nil, fmt.Errorf("dsmr: P1 port %s: %w", source, err)
		}
		if err := p.SetReadTimeout(o.Idle); err != nil {
			p.Close()
			return nil, fmt.Errorf("dsmr: P1 port %s: %w", source, err)
		}
		rc = &serialPort{Port: p, name: source, idle: o.Idle}
	default:
		f, err := os.Open(source)
		if err != nil {
			return nil, fmt.Errorf("dsmr: %w", err)
		}
		rc = f
	}
	return closeOnDone(ctx, rc), nil
}

// isDevice tells a serial device from a file: a character device, or a
// Windows COM port name.
func isDevice(name string) bool {
	if strings.HasPrefix(strings.ToUpper(name), "COM") {
		return true
	}
	fi, err := os.Stat(name)
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// idleConn fails a read after idle without a byte, so that a bridge
// whose meter went quiet is noticed.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return n, fmt.Errorf("dsmr: P1 bridge %s silent for %s: %w", c.RemoteAddr(), c.idle, err)
	}
	return n, err
}

// serialPort turns the driver's read timeout (0 bytes, no error) into an
// error.
type serialPort struct {
	serial.Port
	name string
	idle time.Duration
}

func (p *serialPort) Read(b []byte) (int, error) {
	n, err := p.Port.Read(b)
	if n == 0 && err == nil {
		return 0, fmt.Errorf("dsmr: P1 port %s silent for %s", p.name, p.idle)
	}
	return n, err
}

type ctxCloser struct {
	io.ReadCloser
	stop func() bool
	once sync.Once
	err  error
}

func closeOnDone(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	c := &ctxCloser{ReadCloser: rc}
	c.stop = context.AfterFunc(ctx, func() { c.Close() })
	return c
}

func (c *ctxCloser) Close() error {
	c.once.Do(func() {
		c.stop()
		c.err = c.ReadCloser.Close()
	})
	return c.err
}
