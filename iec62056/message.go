package iec62056

import (
	"bytes"
	"errors"
	"fmt"
)

// More control characters of IEC 62056-21 (§6.3).
const (
	SOH = 0x01
	STX = 0x02
	ETX = 0x03
	EOT = 0x04
	NAK = 0x15
)

// Errors of the readout and programming codecs and sessions.
var (
	// ErrBCC: the block check character is missing or does not match.
	ErrBCC = errors.New("iec62056: block check character")
	// ErrMeter: the meter answered with an error message "(text)".
	ErrMeter = errors.New("iec62056: meter reported an error")
	// ErrPassword: the meter refused the password.
	ErrPassword = errors.New("iec62056: password refused")
	// ErrTooLong: a message exceeds what we accept.
	ErrTooLong = errors.New("iec62056: message too long")
	// ErrMode: the meter's identification selects a mode the operation
	// cannot be done in.
	ErrMode = errors.New("iec62056: protocol mode")
)

// Limits of data set fields (§6.3.14 and following). Values are allowed
// up to 128 characters rather than the 32 of the standard: load profile
// headers and some manufacturers' status words are longer.
const (
	maxAddress = 16
	maxValue   = 128
	maxUnit    = 16
	// MaxBlock bounds a data block or command message, BCC included.
	MaxBlock = 1 << 16
)

// Mode is a protocol mode of IEC 62056-21, 'A' to 'E'.
type Mode byte

// The protocol modes (§6.4.4 to §6.4.7, and annex E).
const (
	ModeA        Mode = 'A' // 300 baud throughout; readout, programming
	ModeB        Mode = 'B' // baud switch right after the identification, no acknowledgement
	ModeC        Mode = 'C' // acknowledgement/option select, then baud switch; readout, programming
	ModeD        Mode = 'D' // the meter sends identification and data at 2400 baud without request
	ModeEnhanced Mode = 'E' // mode C's sign-on handing over to another protocol (HDLC)
)

func (m Mode) String() string {
	if m >= ModeA && m <= ModeEnhanced {
		return string(rune(m))
	}
	return fmt.Sprintf("mode(0x%02X)", byte(m))
}

// ParseMode reads "A".."E".
func ParseMode(s string) (Mode, error) {
	if len(s) == 1 && s[0] >= 'A' && s[0] <= 'E' {
		return Mode(s[0]), nil
	}
	return 0, fmt.Errorf("%w: %q, want A, B, C, D or E", ErrMode, s)
}

// ModeOf is the protocol mode an identification announces (§6.3.2): the
// rate characters '0'..'6' are mode C, or E with the enhanced "\2"; 'A'
// to 'I' are mode B; anything else is mode A. Mode D looks like mode C
// with '3' and is told apart only by the meter sending unasked.
func ModeOf(id Identification) Mode {
	switch c := id.BaudChar; {
	case c >= '0' && c <= '6':
		if id.Enhanced == '2' {
			return ModeEnhanced
		}
		return ModeC
	case c >= 'A' && c <= 'I':
		return ModeB
	}
	return ModeA
}

// ReadoutBaud is the rate the data of a readout travels at after an
// identification of mode m: mode A stays at 300 baud, mode B and C switch
// to the identification's rate, mode D sends at 2400 baud.
func ReadoutBaud(m Mode, id Identification) int {
	switch m {
	case ModeB, ModeC, ModeEnhanced:
		if b, err := BaudRate(id.BaudChar); err == nil {
			return b
		}
	case ModeD:
		return 2400
	}
	return 300
}

// BCC is the block check character: the XOR of the bytes after the
// opening SOH or STX up to and including the closing ETX or EOT (§6.3.12);
// pass them without the opening character.
func BCC(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// Value is one value of a data set, with its unit when it has one.
type Value struct {
	Value string
	Unit  string
}

// DataSet is "address(value*unit)(value*unit)..." (§6.3.14 to §6.3.17):
// an OBIS-style address and one value or more. The address is empty in
// an error message and in a password's data set.
type DataSet struct {
	Address string
	Values  []Value
}

// String renders the data set as it goes on the line.
func (d DataSet) String() string { return string(d.append(nil)) }

func (d DataSet) append(b []byte) []byte {
	b = append(b, d.Address...)
	if len(d.Values) == 0 {
		return append(b, '(', ')')
	}
	for _, v := range d.Values {
		b = append(b, '(')
		b = append(b, v.Value...)
		if v.Unit != "" {
			b = append(b, '*')
			b = append(b, v.Unit...)
		}
		b = append(b, ')')
	}
	return b
}

func addressChar(c byte) bool {
	return printable(c) && c != '(' && c != ')' && c != '/' && c != '!'
}

func valueChar(c byte) bool { return addressChar(c) && c != '*' }

// Check reports what makes d impossible to send.
func (d DataSet) Check() error {
	if len(d.Address) > maxAddress {
		return &SyntaxError{"data set", 0, fmt.Sprintf("address of %d characters exceeds %d", len(d.Address), maxAddress)}
	}
	for i := 0; i < len(d.Address); i++ {
		if !addressChar(d.Address[i]) {
			return &SyntaxError{"data set", i, fmt.Sprintf("character 0x%02X not allowed in address", d.Address[i])}
		}
	}
	for _, v := range d.Values {
		if len(v.Value) > maxValue || len(v.Unit) > maxUnit {
			return &SyntaxError{"data set", 0, "value or unit too long"}
		}
		for i := 0; i < len(v.Value); i++ {
			if !valueChar(v.Value[i]) {
				return &SyntaxError{"data set", i, fmt.Sprintf("character 0x%02X not allowed in value", v.Value[i])}
			}
		}
		for i := 0; i < len(v.Unit); i++ {
			if !addressChar(v.Unit[i]) {
				return &SyntaxError{"data set", i, fmt.Sprintf("character 0x%02X not allowed in unit", v.Unit[i])}
			}
		}
	}
	return nil
}

// ParseDataSets decodes the data sets of one data line: "a(v)(v)b(v*u)".
// A value without an address before it belongs to the data set before it.
// A line without any data set is an error.
func ParseDataSets(line []byte) ([]DataSet, error) {
	const msg = "data line"
	var out []DataSet
	i := 0
	for i < len(line) {
		start := i
		for i < len(line) && line[i] != '(' {
			if !addressChar(line[i]) {
				return nil, &SyntaxError{msg, i, fmt.Sprintf("character 0x%02X not allowed in address", line[i])}
			}
			i++
		}
		if i == len(line) {
			return nil, &SyntaxError{msg, start, "address without a value"}
		}
		addr := string(line[start:i])
		if len(addr) > maxAddress {
			return nil, &SyntaxError{msg, start, fmt.Sprintf("address of %d characters exceeds %d", len(addr), maxAddress)}
		}
		ds := DataSet{Address: addr}
		for i < len(line) && line[i] == '(' {
			i++
			vs := i
			for i < len(line) && line[i] != ')' {
				if !addressChar(line[i]) {
					return nil, &SyntaxError{msg, i, fmt.Sprintf("character 0x%02X not allowed in value", line[i])}
				}
				i++
			}
			if i == len(line) {
				return nil, &SyntaxError{msg, vs - 1, "'(' without ')'"}
			}
			raw := line[vs:i]
			i++
			v, u, _ := bytes.Cut(raw, []byte{'*'})
			if len(v) > maxValue || len(u) > maxUnit {
				return nil, &SyntaxError{msg, vs, "value or unit too long"}
			}
			if bytes.IndexByte(u, '*') >= 0 {
				return nil, &SyntaxError{msg, vs, "two '*' in one value"}
			}
			if len(raw) > 0 {
				ds.Values = append(ds.Values, Value{Value: string(v), Unit: string(u)})
			}
		}
		if addr == "" && len(out) > 0 {
			// A value continuing the previous data set, as the load
			// profile lines and some meters' multi-value sets are
			// written.
			prev := &out[len(out)-1]
			prev.Values = append(prev.Values, ds.Values...)
			continue
		}
		out = append(out, ds)
	}
	if len(out) == 0 {
		return nil, &SyntaxError{msg, 0, "empty"}
	}
	return out, nil
}

// AppendDataBlock appends the data message of a readout (§6.3.4): STX,
// one data set a line, "!" CR LF, ETX and the BCC.
func AppendDataBlock(b []byte, sets []DataSet) ([]byte, error) {
	start := len(b)
	b = append(b, STX)
	for _, d := range sets {
		if err := d.Check(); err != nil {
			return b[:start], err
		}
		b = d.append(b)
		b = append(b, CR, LF)
	}
	b = append(b, '!', CR, LF, ETX)
	return append(b, BCC(b[start+1:])), nil
}

// ParseDataBlock decodes a readout's data message, STX through BCC, and
// checks its BCC and end line.
func ParseDataBlock(msg []byte) ([]DataSet, error) {
	body, err := checkFrame(msg, STX, "data block")
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndex(body, []byte{'!', CR, LF})
	if end < 0 || end+3 != len(body) || (end > 0 && body[end-1] != LF) {
		return nil, &SyntaxError{"data block", len(msg) - 2, "no end line \"!\" CR LF before ETX"}
	}
	var out []DataSet
	lines := body[:end]
	off := 1
	for len(lines) > 0 {
		line, rest, ok := bytes.Cut(lines, []byte{CR, LF})
		if !ok {
			return nil, &SyntaxError{"data block", off, "data line without CR LF"}
		}
		sets, err := ParseDataSets(line)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				se.Offset += off
			}
			return nil, err
		}
		out = append(out, sets...)
		off += len(line) + 2
		lines = rest
	}
	return out, nil
}

// checkFrame checks a message opened by open and closed by ETX (or EOT,
// a partial block) and its BCC; it returns what lies between.
func checkFrame(msg []byte, open byte, what string) ([]byte, error) {
	if len(msg) > MaxBlock {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrTooLong, what, len(msg))
	}
	if len(msg) == 0 || msg[0] != open {
		return nil, &SyntaxError{what, 0, fmt.Sprintf("want 0x%02X first", open)}
	}
	end := bytes.IndexAny(msg, "\x03\x04")
	if end < 0 {
		return nil, &SyntaxError{what, len(msg), "no ETX"}
	}
	switch {
	case end+1 == len(msg):
		return nil, fmt.Errorf("%w: missing after ETX of the %s", ErrBCC, what)
	case end+2 != len(msg):
		return nil, &SyntaxError{what, end + 2, "bytes after the BCC"}
	}
	if got, want := msg[end+1], BCC(msg[1:end+1]); got != want {
		return nil, fmt.Errorf("%w: %s has 0x%02X, computed 0x%02X", ErrBCC, what, got, want)
	}
	return msg[1:end], nil
}

// Command is a programming command message (§6.3.5): SOH, command
// character C, type D, then STX data set ETX BCC (or just ETX BCC for a
// break).
type Command struct {
	C    byte     // 'P' password, 'W' write, 'R' read, 'E' execute, 'B' break
	D    byte     // '0'..'9'
	Data *DataSet // nil for B0
}

// Command characters and the usual types.
var (
	// P0 is the meter's own message after the option select of
	// programming mode: the operand it wants the password combined with.
	P0 = Command{C: 'P', D: '0'}
	// Break ends the session (B0).
	Break = Command{C: 'B', D: '0'}
)

// Password returns the P1 (or, with d = '2', P2) command for pw.
func Password(d byte, pw string) Command {
	return Command{C: 'P', D: d, Data: &DataSet{Values: []Value{{Value: pw}}}}
}

// Read returns the R1 command for address.
func Read(addr string) Command {
	return Command{C: 'R', D: '1', Data: &DataSet{Address: addr}}
}

// Write returns the W1 command setting address to values.
func Write(addr string, values ...Value) Command {
	return Command{C: 'W', D: '1', Data: &DataSet{Address: addr, Values: values}}
}

func commandChar(c byte) bool { return c == 'P' || c == 'W' || c == 'R' || c == 'E' || c == 'B' }

func (c Command) String() string {
	s := string([]byte{c.C, c.D})
	if c.Data != nil {
		if c.C == 'P' {
			return s + "(…)" // never log a password
		}
		s += " " + c.Data.String()
	}
	return s
}

// AppendCommand appends a command message.
func AppendCommand(b []byte, c Command) ([]byte, error) {
	if !commandChar(c.C) || c.D < '0' || c.D > '9' {
		return b, &SyntaxError{"command", 1, fmt.Sprintf("command %q", []byte{c.C, c.D})}
	}
	start := len(b)
	b = append(b, SOH, c.C, c.D)
	if c.Data != nil {
		if err := c.Data.Check(); err != nil {
			return b[:start], err
		}
		b = append(b, STX)
		b = c.Data.append(b)
	}
	b = append(b, ETX)
	return append(b, BCC(b[start+1:])), nil
}

// ParseCommand decodes a command message, SOH through BCC.
func ParseCommand(msg []byte) (Command, error) {
	body, err := checkFrame(msg, SOH, "command")
	if err != nil {
		return Command{}, err
	}
	if len(body) < 2 || !commandChar(body[0]) || body[1] < '0' || body[1] > '9' {
		return Command{}, &SyntaxError{"command", 1, "want a command character and a type digit"}
	}
	c := Command{C: body[0], D: body[1]}
	rest := body[2:]
	if len(rest) == 0 {
		return c, nil
	}
	if rest[0] != STX {
		return Command{}, &SyntaxError{"command", 3, "want STX before the data set"}
	}
	sets, err := ParseDataSets(rest[1:])
	if err != nil {
		return Command{}, err
	}
	if len(sets) != 1 {
		return Command{}, &SyntaxError{"command", 4, fmt.Sprintf("%d data sets, want one", len(sets))}
	}
	c.Data = &sets[0]
	return c, nil
}

// AppendDataMessage appends the answer to a read command: STX, the data
// set, ETX and BCC, without the readout's end line (§6.3.6). An error
// message is a data set with an empty address (AppendError).
func AppendDataMessage(b []byte, d DataSet) ([]byte, error) {
	if err := d.Check(); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, STX)
	b = d.append(b)
	b = append(b, ETX)
	return append(b, BCC(b[start+1:])), nil
}

// AppendError appends an error message "(text)" (§6.3.7).
func AppendError(b []byte, text string) ([]byte, error) {
	return AppendDataMessage(b, DataSet{Values: []Value{{Value: text}}})
}

// ParseDataMessage decodes the answer to a read command. An error
// message comes back as an error wrapping ErrMeter with its text.
func ParseDataMessage(msg []byte) (DataSet, error) {
	body, err := checkFrame(msg, STX, "data message")
	if err != nil {
		return DataSet{}, err
	}
	body = bytes.TrimSuffix(body, []byte{CR, LF})
	sets, err := ParseDataSets(body)
	if err != nil {
		return DataSet{}, err
	}
	d := sets[0]
	if d.Address == "" && len(sets) == 1 && len(d.Values) == 1 && d.Values[0].Unit == "" {
		return d, fmt.Errorf("%w: %q", ErrMeter, d.Values[0].Value)
	}
	if len(sets) != 1 {
		return DataSet{}, &SyntaxError{"data message", 1, fmt.Sprintf("%d data sets, want one", len(sets))}
	}
	return d, nil
}
