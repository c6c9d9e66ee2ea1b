package iec62056

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/amigo-ami/amigo/linkio"
)

// DefaultTimeout is how long a session waits for the next character of a
// message it expects. The standard's reaction time is at most 1.5 s
// (§6.3.13 and table 7); a modem or TCP hop adds to it.
const DefaultTimeout = 5 * time.Second

// WithTimeout sets how long the readout and programming sessions wait for
// the next character of an expected message (0: DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// link is one side's view of the line for a readout or programming
// session. Reading through a buffer is safe because the protocol is
// strictly one message at a time: nothing follows a message we read until
// we answer it (mode E's hand-over to HDLC, where it is not, reads
// unbuffered in modee.go).
type link struct {
	rw      io.ReadWriter
	dl      *linkio.Deadlines
	br      *bufio.Reader
	ctx     context.Context
	timeout time.Duration
	// idle replaces timeout while waiting for a request (zero: none).
	waiting bool
	idle    time.Duration
	react   time.Duration
}

func newLink(ctx context.Context, rw io.ReadWriter, o options) *link {
	l := &link{rw: rw, dl: linkio.New(rw), ctx: ctx, timeout: o.timeout, idle: o.idle, react: o.react}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	l.br = bufio.NewReaderSize(timedReader{l}, 512)
	return l
}

// timedReader sets an inter-character deadline before every read of the
// line, so that a long readout at 300 baud is never cut short while a
// silent meter is noticed quickly.
type timedReader struct{ l *link }

func (t timedReader) Read(p []byte) (int, error) {
	l := t.l
	var until time.Time
	switch {
	case !l.waiting:
		until = time.Now().Add(l.timeout)
	case l.idle > 0:
		until = time.Now().Add(l.idle)
	}
	if err := l.dl.SetRead(l.ctx, until); err != nil {
		return 0, err
	}
	n, err := l.rw.Read(p)
	if err != nil {
		return n, linkio.Error(l.ctx, "iec62056", "read", err)
	}
	return n, nil
}

// write sends an answer, after the reaction time.
func (l *link) write(b []byte) error {
	if l.react > 0 {
		t := time.NewTimer(l.react)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return l.ctx.Err()
		}
	}
	return write(l.ctx, l.rw, l.dl, b)
}

// WithReactionTime makes a session wait d after a message before it
// answers: IEC 62056-21 wants at least 200 ms between a message and its
// answer on a serial line or optical head (20 ms for a meter whose
// manufacturer's third letter is lower case, §6.3.14), so that the other
// side has turned its transceiver round. Over TCP it is not needed.
func WithReactionTime(d time.Duration) Option { return func(o *options) { o.react = d } }

// line reads a line ending in LF whose first byte satisfies start; bytes
// before it are dropped.
func (l *link) line(start func(byte) bool) ([]byte, error) {
	var line []byte
	for {
		c, err := l.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 && !start(c) {
			continue
		}
		line = append(line, c)
		if c == LF {
			return line, nil
		}
		if len(line) > maxLine {
			return nil, fmt.Errorf("%w: more than %d bytes without LF", ErrLine, maxLine)
		}
	}
}

// frame reads the next message opened by SOH or STX through its BCC, or a
// lone ACK or NAK, skipping anything before them. A frame's BCC is not
// checked here.
func (l *link) frame() ([]byte, error) {
	var msg []byte
	for {
		c, err := l.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if len(msg) == 0 {
			switch c {
			case ACK, NAK:
				return []byte{c}, nil
			case SOH, STX:
			default:
				continue
			}
		}
		msg = append(msg, c)
		if len(msg) > MaxBlock {
			return nil, fmt.Errorf("%w: more than %d bytes without ETX", ErrTooLong, MaxBlock)
		}
		if c == ETX || c == EOT {
			bcc, err := l.br.ReadByte()
			if err != nil {
				return msg, fmt.Errorf("%w: none after ETX: %w", ErrBCC, err)
			}
			return append(msg, bcc), nil
		}
	}
}

// switchBaud moves the line to baud, where the line is one that can; on
// TCP the switch is only agreed, and nothing changes.
func switchBaud(o options, baud int) error {
	if o.setBaud == nil {
		return nil
	}
	if err := o.setBaud(baud); err != nil {
		return fmt.Errorf("iec62056: switch to %d baud: %w", baud, err)
	}
	return nil
}
