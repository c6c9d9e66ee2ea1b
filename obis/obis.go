// Package obis owns OBIS codes (IEC 62056-6-1), the six-group logical
// names of COSEM objects: parsing their dotted and IEC textual forms,
// formatting them, and converting them to and from the six-octet
// octet-string that carries them on the wire.
package obis

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/amigo-ami/amigo/axdr"
)

// Code is an OBIS code, groups A to F in order.
type Code [6]byte

// Well-known codes. They are variables only because Go has no array
// constants; do not assign to them.
var (
	Clock               = Code{0, 0, 1, 0, 0, 255}
	LogicalDeviceName   = Code{0, 0, 42, 0, 0, 255}
	CurrentAssociation  = Code{0, 0, 40, 0, 0, 255}
	InvocationCounter   = Code{0, 0, 43, 1, 0, 255}
	ActiveEnergyImport  = Code{1, 0, 1, 8, 0, 255}
	ActiveEnergyExport  = Code{1, 0, 2, 8, 0, 255}
	LoadProfile1        = Code{1, 0, 99, 1, 0, 255}
	DailyBillingProfile = Code{1, 0, 98, 1, 0, 255}
	DisconnectControl   = Code{0, 0, 96, 3, 10, 255}
	StandardEventLog    = Code{0, 0, 99, 98, 0, 255}
	SAPAssignment       = Code{0, 0, 41, 0, 0, 255}
	ActivePowerImport   = Code{1, 0, 1, 7, 0, 255}
	ActivePowerExport   = Code{1, 0, 2, 7, 0, 255}
	VoltageL1           = Code{1, 0, 32, 7, 0, 255}
	CurrentL1           = Code{1, 0, 31, 7, 0, 255}
	DeviceID1           = Code{0, 0, 96, 1, 0, 255} // manufacturing serial number
)

// Errors returned by Parse and FromBytes.
var (
	// ErrSyntax: the text is not an OBIS code in a supported form.
	ErrSyntax = errors.New("obis: invalid syntax")
	// ErrRange: a group is above 255.
	ErrRange = errors.New("obis: group out of range 0..255")
	// ErrSize: an octet string that is not six octets long.
	ErrSize = errors.New("obis: code is not 6 octets")
)

// ParseError reports the text that failed to parse.
type ParseError struct {
	Input string
	Err   error
}

func (e *ParseError) Error() string {
	return "obis: parsing " + strconv.Quote(e.Input) + ": " + e.Err.Error()
}

// Unwrap returns ErrSyntax or ErrRange.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads an OBIS code in one of these forms (groups are decimal,
// 0 to 255, at most three digits):
//
//	1.0.1.8.0.255     six dotted groups, the form String writes
//	1-0:1.8.0*255     IEC 62056-6-1 form, the form IEC writes
//	1-0:1.8.0.255     IEC form with a dot before F
//	1-0:1.8.0         IEC form without F, which then is 255 (Reduced)
//
// Shorter dotted forms such as "1.8.0" are rejected: which groups they
// leave out differs between vendors.
func Parse(s string) (Code, error) {
	var c Code
	p := parser{s: s}
	if strings.IndexByte(s, ':') >= 0 || strings.IndexByte(s, '-') >= 0 {
		c[0] = p.group()
		p.sep('-')
		c[1] = p.group()
		p.sep(':')
		c[2] = p.group()
		p.sep('.')
		c[3] = p.group()
		p.sep('.')
		c[4] = p.group()
		if p.err == nil && p.i == len(s) {
			c[5] = 255
			return c, nil
		}
		if p.err == nil && p.i < len(s) && (s[p.i] == '*' || s[p.i] == '.') {
			p.i++
		} else {
			p.fail(ErrSyntax)
		}
		c[5] = p.group()
	} else {
		for i := range c {
			if i > 0 {
				p.sep('.')
			}
			c[i] = p.group()
		}
	}
	if p.err == nil && p.i != len(s) {
		p.fail(ErrSyntax)
	}
	if p.err != nil {
		return Code{}, &ParseError{Input: s, Err: p.err}
	}
	return c, nil
}

type parser struct {
	s   string
	i   int
	err error
}

func (p *parser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *parser) sep(c byte) {
	if p.err != nil {
		return
	}
	if p.i >= len(p.s) || p.s[p.i] != c {
		p.fail(ErrSyntax)
		return
	}
	p.i++
}

func (p *parser) group() byte {
	if p.err != nil {
		return 0
	}
	v, n := 0, 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		if n == 3 {
			p.fail(ErrRange)
			return 0
		}
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
		n++
	}
	if n == 0 {
		p.fail(ErrSyntax)
		return 0
	}
	if v > 255 {
		p.fail(ErrRange)
		return 0
	}
	return byte(v)
}

// MustParse is Parse for constants in code; it panics on error.
func MustParse(s string) Code {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the six dotted groups, e.g. "1.0.1.8.0.255".
func (c Code) String() string {
	b := make([]byte, 0, 23)
	return string(c.appendDotted(b))
}

func (c Code) appendDotted(b []byte) []byte {
	for i, g := range c {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(g), 10)
	}
	return b
}

// IEC returns the IEC 62056-6-1 form, e.g. "1-0:1.8.0*255".
func (c Code) IEC() string {
	return c.iec(false)
}

// Reduced returns the IEC form without F when F is 255, e.g. "1-0:1.8.0",
// and with it otherwise, e.g. "1-0:1.8.0*101".
func (c Code) Reduced() string {
	return c.iec(true)
}

func (c Code) iec(reduce bool) string {
	b := make([]byte, 0, 23)
	b = strconv.AppendUint(b, uint64(c[0]), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(c[1]), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c[2]), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(c[3]), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(c[4]), 10)
	if !reduce || c[5] != 255 {
		b = append(b, '*')
		b = strconv.AppendUint(b, uint64(c[5]), 10)
	}
	return string(b)
}

// Compare orders codes group by group: -1, 0 or +1.
func (c Code) Compare(o Code) int { return bytes.Compare(c[:], o[:]) }

// AppendText appends the dotted form (encoding.TextAppender).
func (c Code) AppendText(b []byte) ([]byte, error) { return c.appendDotted(b), nil }

// MarshalText returns the dotted form (encoding.TextMarshaler).
func (c Code) MarshalText() ([]byte, error) { return c.appendDotted(make([]byte, 0, 23)), nil }

// UnmarshalText accepts every form Parse does (encoding.TextUnmarshaler).
func (c *Code) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// FromBytes reads a code from its six-octet wire form.
func FromBytes(b []byte) (Code, error) {
	var c Code
	if len(b) != len(c) {
		return Code{}, ErrSize
	}
	copy(c[:], b)
	return c, nil
}

// Data returns c as the six-octet octet-string COSEM carries logical names
// in.
func (c Code) Data() axdr.Data {
	b := c
	return axdr.OctetString(b[:])
}

// FromData reads a code from a six-octet octet-string.
func FromData(d axdr.Data) (Code, error) {
	if d.Tag != axdr.TagOctetString {
		return Code{}, ErrSize
	}
	return FromBytes(d.Bytes)
}
