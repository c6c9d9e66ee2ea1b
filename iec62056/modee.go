// Package iec62056 owns the IEC 62056-21 pieces needed to reach DLMS/COSEM
// meters through an optical probe: the mode E sign-on (request,
// identification and acknowledgement/option-select messages) that hands the
// line over to HDLC (package hdlc), and a serial port adapter with read
// deadlines; and the readout and programming of modes A to D: the
// messages (message.go), the client (client.go) and the meter (meter.go).
package iec62056

import (
	"github.com/amigo-ami/amigo/linkio"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Control characters of IEC 62056-21.
const (
	ACK = 0x06
	CR  = 0x0D
	LF  = 0x0A
)

// Protocol control and mode control characters of the acknowledgement.
const (
	ProtocolNormal    = '0'
	ProtocolSecondary = '1'
	ProtocolHDLC      = '2' // mode E
	ModeDataReadout   = '0'
	ModeProgramming   = '1'
	ModeBinaryHDLC    = '2' // mode E
)

// Errors wrapped by the codecs and sessions.
var (
	ErrSyntax   = errors.New("iec62056: malformed message")
	ErrBaud     = errors.New("iec62056: unknown baud rate character")
	ErrNotModeE = errors.New("iec62056: meter did not select HDLC mode E")
	ErrLine     = errors.New("iec62056: line too long")
)

// maxLine bounds every line we read; the longest legal message (a request
// with a 32-character address) is 37 bytes.
const maxLine = 128

// SyntaxError reports what is wrong with a message and where.
type SyntaxError struct {
	Msg    string
	Offset int
	Why    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("iec62056: %s: %s at offset %d", e.Msg, e.Why, e.Offset)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Identification is the meter's identification message
// "/XXXZ[\W]ident CR LF".
type Identification struct {
	Manufacturer string // three characters; a lower-case third one means 20 ms reaction time
	BaudChar     byte   // '0'..'6' (modes C and E) or 'A'..'I' (mode B)
	Enhanced     byte   // W of an optional "\W" sequence, 0 when absent
	Ident        string // up to 16 printable characters
}

// Baud returns the baud rate of the identification's baud character.
func (id Identification) Baud() (int, error) { return BaudRate(id.BaudChar) }

// BaudRate maps a baud rate character to bits per second: '0'..'6' are 300
// to 19200 (modes C and E), 'A'..'F' are 600 to 19200 (mode B).
func BaudRate(c byte) (int, error) {
	switch {
	case c >= '0' && c <= '6':
		return 300 << (c - '0'), nil
	case c >= 'A' && c <= 'F':
		return 600 << (c - 'A'), nil
	}
	return 0, fmt.Errorf("%w: 0x%02X", ErrBaud, c)
}

// BaudChar returns the mode C/E character for baud, the inverse of BaudRate.
func BaudChar(baud int) (byte, error) {
	for c := byte('0'); c <= '6'; c++ {
		if 300<<(c-'0') == baud {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: no character for %d baud", ErrBaud, baud)
}

func printable(c byte) bool { return c >= 0x20 && c < 0x7F }

// ParseIdentification decodes an identification message, with or without
// its trailing CR LF.
func ParseIdentification(line []byte) (Identification, error) {
	return parseIdentification(line, false)
}

// ParseAnyIdentification decodes an identification of any protocol mode:
// besides the rate characters of modes B to E it takes mode A's, any
// printable character other than '/' and '!' (§6.3.2).
func ParseAnyIdentification(line []byte) (Identification, error) {
	return parseIdentification(line, true)
}

func parseIdentification(line []byte, modeA bool) (Identification, error) {
	const msg = "identification"
	var id Identification
	line = bytes.TrimSuffix(line, []byte{CR, LF})
	if len(line) < 5 || line[0] != '/' {
		return id, &SyntaxError{msg, 0, "want '/' and at least 4 characters"}
	}
	for i := 1; i < len(line); i++ {
		if !printable(line[i]) || line[i] == '/' || line[i] == '!' {
			return id, &SyntaxError{msg, i, fmt.Sprintf("character 0x%02X not allowed", line[i])}
		}
	}
	id.Manufacturer = string(line[1:4])
	id.BaudChar = line[4]
	if _, err := BaudRate(id.BaudChar); err != nil && !modeA {
		return Identification{}, &SyntaxError{msg, 4, err.Error()}
	}
	rest := line[5:]
	if len(rest) >= 2 && rest[0] == '\\' {
		id.Enhanced = rest[1]
		rest = rest[2:]
	}
	if len(rest) > 16 {
		return Identification{}, &SyntaxError{msg, len(line) - len(rest), fmt.Sprintf("identification of %d characters exceeds 16", len(rest))}
	}
	id.Ident = string(rest)
	return id, nil
}

// AppendIdentification appends the identification message with CR LF.
func AppendIdentification(b []byte, id Identification) ([]byte, error) {
	if len(id.Manufacturer) != 3 || len(id.Ident) > 16 {
		return b, &SyntaxError{"identification", 0, "manufacturer must have 3 and ident at most 16 characters"}
	}
	if c := id.BaudChar; !printable(c) || c == '/' || c == '!' || c == '\\' {
		return b, fmt.Errorf("%w: 0x%02X", ErrBaud, c)
	}
	b = append(b, '/')
	b = append(b, id.Manufacturer...)
	b = append(b, id.BaudChar)
	if id.Enhanced != 0 {
		b = append(b, '\\', id.Enhanced)
	}
	b = append(b, id.Ident...)
	return append(b, CR, LF), nil
}

// AppendRequest appends the request message "/?address!" CR LF; address may
// be empty to address any meter on the probe.
func AppendRequest(b []byte, address string) ([]byte, error) {
	if len(address) > 32 {
		return b, &SyntaxError{"request", 2, "device address longer than 32 characters"}
	}
	for i := 0; i < len(address); i++ {
		if !printable(address[i]) || address[i] == '!' || address[i] == '/' || address[i] == '?' {
			return b, &SyntaxError{"request", 2 + i, "character not allowed in device address"}
		}
	}
	b = append(b, '/', '?')
	b = append(b, address...)
	return append(b, '!', CR, LF), nil
}

// ParseRequest decodes a request message and returns its device address.
func ParseRequest(line []byte) (string, error) {
	line = bytes.TrimSuffix(line, []byte{CR, LF})
	if len(line) < 3 || line[0] != '/' || line[1] != '?' || line[len(line)-1] != '!' {
		return "", &SyntaxError{"request", 0, "want /?[address]!"}
	}
	addr := line[2 : len(line)-1]
	if len(addr) > 32 {
		return "", &SyntaxError{"request", 2, "device address longer than 32 characters"}
	}
	for i, c := range addr {
		if !printable(c) || c == '!' || c == '/' || c == '?' {
			return "", &SyntaxError{"request", 2 + i, "character not allowed in device address"}
		}
	}
	return string(addr), nil
}

// Ack is the acknowledgement/option select message ACK V Z Y CR LF.
type Ack struct {
	Protocol byte // V: ProtocolNormal, ProtocolSecondary or ProtocolHDLC
	BaudChar byte // Z
	Mode     byte // Y: ModeDataReadout, ModeProgramming or ModeBinaryHDLC
}

// ModeE returns the acknowledgement that selects HDLC at baud character z.
func ModeE(z byte) Ack { return Ack{ProtocolHDLC, z, ModeBinaryHDLC} }

// IsModeE reports whether the acknowledgement selects HDLC (mode E).
func (a Ack) IsModeE() bool { return a.Protocol == ProtocolHDLC && a.Mode == ModeBinaryHDLC }

// AppendAck appends the acknowledgement message.
func AppendAck(b []byte, a Ack) []byte {
	return append(b, ACK, a.Protocol, a.BaudChar, a.Mode, CR, LF)
}

// ParseAck decodes an acknowledgement message, with or without CR LF.
func ParseAck(line []byte) (Ack, error) {
	line = bytes.TrimSuffix(line, []byte{CR, LF})
	if len(line) != 4 || line[0] != ACK {
		return Ack{}, &SyntaxError{"acknowledgement", 0, "want ACK and 3 characters"}
	}
	a := Ack{line[1], line[2], line[3]}
	if a.Protocol < '0' || a.Protocol > '9' {
		return Ack{}, &SyntaxError{"acknowledgement", 1, "protocol control character not a digit"}
	}
	if _, err := BaudRate(a.BaudChar); err != nil {
		return Ack{}, &SyntaxError{"acknowledgement", 2, err.Error()}
	}
	if a.Mode < '0' || a.Mode > '9' {
		return Ack{}, &SyntaxError{"acknowledgement", 3, "mode control character not a digit"}
	}
	return a, nil
}

// Option configures SignOnModeE and AcceptModeE.
type Option func(*options)

type options struct {
	setBaud  func(int) error
	echoWait time.Duration
	echo     bool
	address  string
	maxBaud  int
	timeout  time.Duration
	idle     time.Duration
	react    time.Duration
}

// WithBaudSwitch installs the hook that switches the line to the agreed baud
// rate (8N1) once the acknowledgement is sent or received, e.g.
// (*SerialPort).SetBaudRate. Over TCP it is not needed.
func WithBaudSwitch(f func(baud int) error) Option { return func(o *options) { o.setBaud = f } }

// WithEchoWait makes SignOnModeE wait up to d for the meter (or the optical
// head) to echo the acknowledgement and consume it before switching baud
// rate. Without it an echo is left in the stream, where the HDLC reader
// skips it as bytes outside frames.
func WithEchoWait(d time.Duration) Option { return func(o *options) { o.echoWait = d } }

// WithMaxBaud caps the baud rate SignOnModeE accepts from the meter.
func WithMaxBaud(baud int) Option { return func(o *options) { o.maxBaud = baud } }

// WithEcho makes AcceptModeE echo the client's acknowledgement, as some
// meters do.
func WithEcho() Option { return func(o *options) { o.echo = true } }

// WithDeviceAddress makes AcceptModeE answer only requests for this device
// address or for no address.
func WithDeviceAddress(addr string) Option { return func(o *options) { o.address = addr } }

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// readLine reads one line ending in LF byte by byte so that nothing after it
// (the first HDLC frame) is consumed. Bytes before start are dropped, which
// skips line noise and echoes of our own messages.
func readLine(ctx context.Context, r io.Reader, dl *linkio.Deadlines, until time.Time, start func(byte) bool) ([]byte, error) {
	if err := dl.SetRead(ctx, until); err != nil {
		return nil, err
	}
	var line []byte
	var c [1]byte
	for {
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return line, linkio.Error(ctx, "iec62056", "read line", err)
		}
		if len(line) == 0 && !start(c[0]) {
			continue
		}
		line = append(line, c[0])
		if c[0] == LF {
			return line, nil
		}
		if len(line) > maxLine {
			return nil, fmt.Errorf("%w: more than %d bytes without LF", ErrLine, maxLine)
		}
	}
}

func write(ctx context.Context, w io.Writer, dl *linkio.Deadlines, b []byte) error {
	if err := dl.SetWrite(ctx); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return linkio.Error(ctx, "iec62056", "write", err)
	}
	return nil
}

// SignOnModeE performs the client side of the mode E sign-on: request,
// identification, acknowledgement selecting HDLC at the meter's baud rate
// (capped by WithMaxBaud), then the baud switch. The line is then ready for
// HDLC. An echo of our request before the identification is skipped.
func SignOnModeE(ctx context.Context, rw io.ReadWriter, address string, opts ...Option) (Identification, error) {
	o := collect(opts)
	dl := linkio.New(rw)
	stop := dl.Watch(ctx)
	defer stop()
	req, err := AppendRequest(nil, address)
	if err != nil {
		return Identification{}, err
	}
	if err := write(ctx, rw, dl, req); err != nil {
		return Identification{}, err
	}
	var id Identification
	for {
		line, err := readLine(ctx, rw, dl, time.Time{}, func(c byte) bool { return c == '/' })
		if err != nil {
			return Identification{}, err
		}
		if bytes.Equal(line, req) {
			continue // optical echo of the request
		}
		if id, err = ParseIdentification(line); err != nil {
			return Identification{}, err
		}
		break
	}
	z := id.BaudChar
	baud, err := BaudRate(z)
	if err != nil || z < '0' || z > '6' {
		return id, fmt.Errorf("%w: baud character %q is not a mode C/E rate", ErrNotModeE, z)
	}
	if o.maxBaud > 0 && baud > o.maxBaud {
		if z, err = BaudChar(o.maxBaud); err != nil {
			return id, err
		}
		baud = o.maxBaud
	}
	ack := AppendAck(nil, ModeE(z))
	if err := write(ctx, rw, dl, ack); err != nil {
		return id, err
	}
	if o.echoWait > 0 && dl.CanTimeRead() {
		line, err := readLine(ctx, rw, dl, time.Now().Add(o.echoWait), func(c byte) bool { return c == ACK })
		if err != nil && ctx.Err() != nil {
			return id, err
		}
		_ = line // an echo, or nothing within the wait: both are fine
		if err := dl.SetRead(ctx, time.Time{}); err != nil {
			return id, err
		}
	}
	if o.setBaud != nil {
		if err := o.setBaud(baud); err != nil {
			return id, fmt.Errorf("iec62056: switch to %d baud: %w", baud, err)
		}
	}
	return id, nil
}

// AcceptModeE performs the meter side: it waits for a request (for us, see
// WithDeviceAddress), answers with ident, reads the acknowledgement, requires
// mode E, optionally echoes it and switches baud. It returns the
// acknowledgement.
func AcceptModeE(ctx context.Context, rw io.ReadWriter, ident Identification, opts ...Option) (Ack, error) {
	o := collect(opts)
	dl := linkio.New(rw)
	stop := dl.Watch(ctx)
	defer stop()
	idMsg, err := AppendIdentification(nil, ident)
	if err != nil {
		return Ack{}, err
	}
	for {
		line, err := readLine(ctx, rw, dl, time.Time{}, func(c byte) bool { return c == '/' })
		if err != nil {
			return Ack{}, err
		}
		addr, err := ParseRequest(line)
		if err != nil {
			continue // noise; wait for a well-formed request
		}
		if addr == "" || o.address == "" || addr == o.address {
			break
		}
	}
	if err := write(ctx, rw, dl, idMsg); err != nil {
		return Ack{}, err
	}
	line, err := readLine(ctx, rw, dl, time.Time{}, func(c byte) bool { return c == ACK })
	if err != nil {
		return Ack{}, err
	}
	ack, err := ParseAck(line)
	if err != nil {
		return Ack{}, err
	}
	if !ack.IsModeE() {
		return ack, fmt.Errorf("%w: acknowledgement %q", ErrNotModeE, line)
	}
	baud, err := BaudRate(ack.BaudChar)
	if err != nil {
		return ack, err
	}
	if o.echo {
		if err := write(ctx, rw, dl, AppendAck(nil, ack)); err != nil {
			return ack, err
		}
	}
	if o.setBaud != nil {
		if err := o.setBaud(baud); err != nil {
			return ack, fmt.Errorf("iec62056: switch to %d baud: %w", baud, err)
		}
	}
	return ack, nil
}
