package iec62056

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Readout signs on to the meter at address (empty: whichever meter is on
// the line) and reads its data readout, in the mode its identification
// announces (§6.4): mode A at 300 baud; mode B switching to the
// identification's rate at once; mode C acknowledging with option select
// "data readout" at that rate (capped by WithMaxBaud) and then switching.
// The baud switch calls WithBaudSwitch's hook; over TCP, without one, it
// is only agreed. A mode E meter (HDLC) is refused with ErrMode: use
// SignOnModeE. The meter is back at rest when Readout returns.
func Readout(ctx context.Context, rw io.ReadWriter, address string, opts ...Option) (Identification, []DataSet, error) {
	o := collect(opts)
	l := newLink(ctx, rw, o)
	stop := l.dl.Watch(ctx)
	defer stop()
	id, mode, err := signOn(l, address)
	if err != nil {
		return id, nil, err
	}
	switch mode {
	case ModeA:
	case ModeB:
		if err := switchBaud(o, ReadoutBaud(mode, id)); err != nil {
			return id, nil, err
		}
	case ModeC:
		if err := optionSelect(l, o, id, ModeDataReadout); err != nil {
			return id, nil, err
		}
	default:
		return id, nil, fmt.Errorf("%w: identification %q announces mode %s, not a readout", ErrMode, id.Manufacturer+string(id.BaudChar), mode)
	}
	sets, err := readBlock(l)
	return id, sets, err
}

// ReadModeD reads what a mode D meter sends unasked (after its button is
// pressed): the identification and the data readout, at 2400 baud.
func ReadModeD(ctx context.Context, r io.ReadWriter, opts ...Option) (Identification, []DataSet, error) {
	o := collect(opts)
	l := newLink(ctx, r, o)
	stop := l.dl.Watch(ctx)
	defer stop()
	line, err := l.line(func(c byte) bool { return c == '/' })
	if err != nil {
		return Identification{}, nil, err
	}
	id, err := ParseAnyIdentification(line)
	if err != nil {
		return id, nil, err
	}
	sets, err := readBlock(l)
	return id, sets, err
}

func signOn(l *link, address string) (Identification, Mode, error) {
	req, err := AppendRequest(nil, address)
	if err != nil {
		return Identification{}, 0, err
	}
	if err := write(l.ctx, l.rw, l.dl, req); err != nil { // the first message: nothing to react to
		return Identification{}, 0, err
	}
	for {
		line, err := l.line(func(c byte) bool { return c == '/' })
		if err != nil {
			return Identification{}, 0, fmt.Errorf("iec62056: waiting for the identification: %w", err)
		}
		if bytes.Equal(line, req) {
			continue // the optical head's echo of our request
		}
		id, err := ParseAnyIdentification(line)
		if err != nil {
			return id, 0, err
		}
		return id, ModeOf(id), nil
	}
}

// optionSelect sends mode C's acknowledgement with option y at the
// meter's rate (capped) and switches to it.
func optionSelect(l *link, o options, id Identification, y byte) error {
	z := id.BaudChar
	baud, err := BaudRate(z)
	if err != nil {
		return err
	}
	if o.maxBaud > 0 && baud > o.maxBaud {
		if z, err = BaudChar(o.maxBaud); err != nil {
			return err
		}
		baud = o.maxBaud
	}
	if err := l.write(AppendAck(nil, Ack{ProtocolNormal, z, y})); err != nil {
		return err
	}
	return switchBaud(o, baud)
}

func readBlock(l *link) ([]DataSet, error) {
	for {
		msg, err := l.frame()
		if err != nil {
			return nil, fmt.Errorf("iec62056: reading the data block: %w", err)
		}
		if len(msg) == 1 {
			continue // an echoed acknowledgement's ACK
		}
		if msg[0] != STX {
			return nil, &SyntaxError{"data block", 0, "want STX"}
		}
		sets, err := ParseDataBlock(msg)
		if errors.Is(err, ErrSyntax) {
			if _, merr := ParseDataMessage(msg); errors.Is(merr, ErrMeter) {
				return nil, merr
			}
		}
		return sets, err
	}
}

// Programming is a session in programming mode (mode C, option select
// '1'): the meter sent its P0 operand and waits for commands. Not safe
// for concurrent use.
type Programming struct {
	l  *link
	o  options
	ID Identification
	// Operand is what the meter's P0 message carried: the value a P2
	// password is computed from, or the meter's serial.
	Operand string
	closed  bool
}

// retries is how often a command the meter NAKs is sent again (§6.3.13:
// a repeated NAK ends the exchange).
const retries = 2

// Program signs on to the meter at address and enters programming mode.
// It needs a mode C meter.
func Program(ctx context.Context, rw io.ReadWriter, address string, opts ...Option) (*Programming, error) {
	o := collect(opts)
	l := newLink(ctx, rw, o)
	stop := l.dl.Watch(ctx)
	defer stop()
	id, mode, err := signOn(l, address)
	if err != nil {
		return nil, err
	}
	if mode != ModeC {
		return nil, fmt.Errorf("%w: programming needs mode C, the meter announces %s", ErrMode, mode)
	}
	if err := optionSelect(l, o, id, ModeProgramming); err != nil {
		return nil, err
	}
	var msg []byte
	for len(msg) <= 1 { // an optical head's echo of our acknowledgement starts with ACK
		if msg, err = l.frame(); err != nil {
			return nil, fmt.Errorf("iec62056: waiting for P0: %w", err)
		}
	}
	c, err := ParseCommand(msg)
	if err != nil {
		return nil, fmt.Errorf("iec62056: waiting for P0: %w", err)
	}
	if c.C != 'P' || c.D != '0' {
		return nil, fmt.Errorf("%w: meter sent %s instead of P0", ErrSyntax, c)
	}
	p := &Programming{l: l, o: o, ID: id}
	if c.Data != nil && len(c.Data.Values) > 0 {
		p.Operand = c.Data.Values[0].Value
	}
	return p, nil
}

// exchange sends c and returns the meter's answer: a lone ACK or NAK, or
// a message. A NAK is answered by sending c again.
func (p *Programming) exchange(ctx context.Context, c Command) ([]byte, error) {
	if p.closed {
		return nil, errors.New("iec62056: programming session closed")
	}
	p.l.ctx = ctx
	stop := p.l.dl.Watch(ctx)
	defer stop()
	msg, err := AppendCommand(nil, c)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		if err := p.l.write(msg); err != nil {
			return nil, err
		}
		ans, err := p.l.frame()
		if err != nil {
			return nil, fmt.Errorf("iec62056: answer to %s: %w", c, err)
		}
		if len(ans) == 1 && ans[0] == NAK && try < retries {
			continue
		}
		return ans, nil
	}
}

// answer interprets the meter's reply to a command that expects ACK.
func answer(c Command, ans []byte) error {
	switch {
	case len(ans) == 1 && ans[0] == ACK:
		return nil
	case len(ans) == 1:
		return fmt.Errorf("%w: %s refused with NAK", ErrMeter, c)
	case ans[0] == SOH:
		if b, err := ParseCommand(ans); err == nil && b.C == 'B' {
			return fmt.Errorf("%w: meter ended the session after %s", ErrMeter, c)
		}
	}
	_, err := ParseDataMessage(ans)
	if err == nil {
		return fmt.Errorf("%w: data instead of an acknowledgement to %s", ErrSyntax, c)
	}
	return fmt.Errorf("%s: %w", c, err)
}

// Password sends the P1 (level '1') or P2 (level '2') password.
func (p *Programming) Password(ctx context.Context, level byte, pw string) error {
	c := Password(level, pw)
	ans, err := p.exchange(ctx, c)
	if err != nil {
		return err
	}
	if err := answer(c, ans); err != nil {
		if errors.Is(err, ErrMeter) {
			return fmt.Errorf("%w: %w", ErrPassword, err)
		}
		return err
	}
	return nil
}

// Read reads the data set at address (R1).
func (p *Programming) Read(ctx context.Context, addr string) (DataSet, error) {
	c := Read(addr)
	ans, err := p.exchange(ctx, c)
	if err != nil {
		return DataSet{}, err
	}
	if len(ans) == 1 || ans[0] != STX {
		return DataSet{}, fmt.Errorf("%s: %w", c, answer(c, ans))
	}
	d, err := ParseDataMessage(ans)
	if err != nil {
		return d, fmt.Errorf("%s: %w", c, err)
	}
	return d, nil
}

// Write writes values to address (W1).
func (p *Programming) Write(ctx context.Context, addr string, values ...Value) error {
	c := Write(addr, values...)
	ans, err := p.exchange(ctx, c)
	if err != nil {
		return err
	}
	return answer(c, ans)
}

// Close sends the break B0, which returns the meter to rest.
func (p *Programming) Close(ctx context.Context) error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.l.ctx = ctx
	stop := p.l.dl.Watch(ctx)
	defer stop()
	msg, _ := AppendCommand(nil, Break)
	return p.l.write(msg)
}
