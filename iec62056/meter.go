package iec62056

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Meter is what the meter side of a readout or programming session
// serves: the data readout, its access rules and its passwords. Package
// sim implements it from the load model.
type Meter interface {
	// Readout returns the data sets of the readout, taken now.
	Readout() ([]DataSet, error)
	// Operand is what the P0 message carries on entering programming
	// mode (the serial, or a challenge for a P2 password).
	Operand() string
	// Authorize checks the password of level '1' (P1) or '2' (P2).
	Authorize(level byte, password string) bool
	// Read returns the data set at address for a session holding level
	// (0: no password given).
	Read(level byte, addr string) (DataSet, error)
	// Write sets address to values for a session holding level.
	Write(level byte, addr string, values []Value) error
}

// MeterError is an error whose text a Meter wants in the error message it
// answers with, e.g. "ERR02"; any other error answers "(ERROR)".
type MeterError string

func (e MeterError) Error() string { return "iec62056: " + string(e) }

// programmingIdle is how long a meter in programming mode waits for the
// next command before it returns to rest (§6.4.5: a timeout of 60 s to
// 120 s after the last valid message).
const programmingIdle = 120 * time.Second

// WithIdleTimeout makes the meter side give up on a connection where no
// request comes for d.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idle = d } }

// ServeReadout answers sign-ons on rw as the meter ident describes until
// ctx ends or the line fails: a request (for our WithDeviceAddress, or
// for none) is answered with the identification, whose baud character
// selects the mode (ModeOf): mode A sends the readout at once, mode B
// after switching to its rate, mode C waits for the acknowledgement and
// then sends the readout or enters programming mode. After each session
// the meter is back at rest and at 300 baud.
func ServeReadout(ctx context.Context, rw io.ReadWriter, ident Identification, m Meter, opts ...Option) error {
	o := collect(opts)
	mode := ModeOf(ident)
	if mode == ModeEnhanced {
		return fmt.Errorf("%w: ServeReadout serves modes A to C; mode E is AcceptModeE's", ErrMode)
	}
	idMsg, err := AppendIdentification(nil, ident)
	if err != nil {
		return err
	}
	l := newLink(ctx, rw, o)
	stop := l.dl.Watch(ctx)
	defer stop()
	for {
		if err := serveOne(l, o, mode, ident, idMsg, m); err != nil {
			return err
		}
		if err := switchBaud(o, 300); err != nil {
			return err
		}
	}
}

// errAbandoned marks a session the client left mid-way: the meter goes
// back to rest rather than ending the connection.
var errAbandoned = errors.New("iec62056: session abandoned")

func serveOne(l *link, o options, mode Mode, ident Identification, idMsg []byte, m Meter) error {
	l.waiting = true
	for {
		line, err := l.line(func(c byte) bool { return c == '/' })
		l.waiting = false
		if err != nil {
			return err
		}
		addr, err := ParseRequest(line)
		if err != nil {
			l.waiting = true
			continue // noise; wait for a well-formed request
		}
		if addr == "" || o.address == "" || addr == o.address {
			break
		}
		l.waiting = true
	}
	if err := l.write(idMsg); err != nil {
		return err
	}
	switch mode {
	case ModeA:
		return sendReadout(l, m)
	case ModeB:
		if err := switchBaud(o, ReadoutBaud(mode, ident)); err != nil {
			return err
		}
		return sendReadout(l, m)
	}
	line, err := l.line(func(c byte) bool { return c == ACK || c == '/' })
	if err != nil {
		return quiet(err)
	}
	if line[0] == '/' {
		return nil // a new request instead: start over
	}
	ack, err := ParseAck(line)
	if err != nil || ack.Protocol != ProtocolNormal {
		return nil // not for us: back to rest, as §6.4.5 has it
	}
	baud, err := BaudRate(ack.BaudChar)
	if err != nil || ack.BaudChar > ident.BaudChar {
		return nil // a rate above the one we offered
	}
	if o.echo {
		if err := l.write(AppendAck(nil, ack)); err != nil {
			return err
		}
	}
	if err := switchBaud(o, baud); err != nil {
		return err
	}
	switch ack.Mode {
	case ModeDataReadout:
		return sendReadout(l, m)
	case ModeProgramming:
		return quiet(program(l, m))
	}
	return nil
}

// quiet turns a client that went silent into the end of the session.
func quiet(err error) error {
	if errors.Is(err, errAbandoned) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return nil
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func sendReadout(l *link, m Meter) error {
	sets, err := m.Readout()
	var msg []byte
	if err == nil {
		msg, err = AppendDataBlock(nil, sets)
	}
	if err != nil {
		// The readout could not be built: the error message tells the
		// reader rather than silence.
		msg, _ = AppendError(nil, errorText(err))
	}
	return l.write(msg)
}

func errorText(err error) string {
	var me MeterError
	if errors.As(err, &me) {
		return string(me)
	}
	return "ERROR"
}

// program serves programming mode: P0 with the operand, then commands
// until the break or the idle timeout.
func program(l *link, m Meter) error {
	p0 := P0
	p0.Data = &DataSet{Values: []Value{{Value: m.Operand()}}}
	if m.Operand() == "" {
		p0.Data = &DataSet{}
	}
	msg, err := AppendCommand(nil, p0)
	if err != nil {
		return err
	}
	if err := l.write(msg); err != nil {
		return err
	}
	var level byte
	saved := l.timeout
	l.timeout = max(programmingIdle, saved)
	defer func() { l.timeout = saved }()
	for {
		in, err := l.frame()
		if err != nil {
			return err
		}
		if len(in) == 1 {
			continue
		}
		if in[0] == STX {
			return nil // a client reading a readout: not programming
		}
		c, err := ParseCommand(in)
		if errors.Is(err, ErrBCC) {
			if err := l.write([]byte{NAK}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if err := writeError(l, "ERROR"); err != nil {
				return err
			}
			continue
		}
		var ans []byte
		switch {
		case c.C == 'B':
			return nil
		case c.C == 'P' && (c.D == '1' || c.D == '2') && c.Data != nil:
			pw := ""
			if len(c.Data.Values) > 0 {
				pw = c.Data.Values[0].Value
			}
			if !m.Authorize(c.D, pw) {
				ans, _ = AppendError(nil, "PASSWORD")
				break
			}
			level = c.D
			ans = []byte{ACK}
		case c.C == 'R' && (c.D == '1' || c.D == '2') && c.Data != nil:
			d, err := m.Read(level, c.Data.Address)
			if err == nil {
				ans, err = AppendDataMessage(nil, d)
			}
			if err != nil {
				ans, _ = AppendError(nil, errorText(err))
			}
		case c.C == 'W' && (c.D == '1' || c.D == '2') && c.Data != nil:
			if err := m.Write(level, c.Data.Address, c.Data.Values); err != nil {
				ans, _ = AppendError(nil, errorText(err))
			} else {
				ans = []byte{ACK}
			}
		case c.C == 'R' && (c.D == '5' || c.D == '6') && c.Data != nil:
			pm, ok := m.(ProfileMeter)
			if !ok {
				ans, _ = AppendError(nil, "UNSUPPORTED")
				break
			}
			sets, err := pm.Profile(level, c.Data.Address, c.Data.Values)
			if err == nil {
				if err := sendLines(l, sets); err != nil {
					return err
				}
				continue
			}
			ans, _ = AppendError(nil, errorText(err))
		default:
			ans, _ = AppendError(nil, "UNSUPPORTED")
		}
		if err := l.write(ans); err != nil {
			return err
		}
	}
}

func writeError(l *link, text string) error {
	msg, err := AppendError(nil, text)
	if err != nil {
		return err
	}
	return l.write(msg)
}

// SendModeD writes what a mode D meter sends when its button is pressed:
// the identification and the data readout, without being asked.
func SendModeD(ctx context.Context, w io.ReadWriter, ident Identification, m Meter, opts ...Option) error {
	o := collect(opts)
	l := newLink(ctx, w, o)
	stop := l.dl.Watch(ctx)
	defer stop()
	idMsg, err := AppendIdentification(nil, ident)
	if err != nil {
		return err
	}
	if err := write(ctx, w, l.dl, idMsg); err != nil { // unasked: nothing to react to
		return err
	}
	return sendReadout(l, m)
}
