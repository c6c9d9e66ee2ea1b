package c1222

import (
	"fmt"
	"strconv"
	"strings"
)

// maxLength bounds any BER length this package accepts: no C12.22
// message comes near it, and it keeps a hostile length from asking for
// memory.
const maxLength = 1 << 20

// appendLength appends a BER definite length.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xFF:
		return append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendTLV appends one element with a single-octet tag.
func appendTLV(b []byte, tag byte, content []byte) []byte {
	b = append(b, tag)
	b = appendLength(b, len(content))
	return append(b, content...)
}

// readLength decodes a BER definite length at b[0:], returning it and the
// octets it took.
func readLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("length missing")
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	if first == 0x80 {
		return 0, 0, fmt.Errorf("indefinite length not allowed")
	}
	k := int(first & 0x7F)
	if k > 3 {
		return 0, 0, fmt.Errorf("length of %d octets too long", k)
	}
	if len(b) < 1+k {
		return 0, 0, fmt.Errorf("length truncated")
	}
	n := 0
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n > maxLength {
		return 0, 0, fmt.Errorf("length %d too large", n)
	}
	return n, 1 + k, nil
}

// tlv is one decoded element: its tag, content, and the whole encoding.
type tlv struct {
	tag     byte
	content []byte
	raw     []byte
}

// readTLV decodes the element at b[0:] and returns it with the rest.
func readTLV(b []byte) (tlv, []byte, error) {
	if len(b) == 0 {
		return tlv{}, nil, fmt.Errorf("element missing")
	}
	tag := b[0]
	if tag&0x1F == 0x1F {
		return tlv{}, nil, fmt.Errorf("multi-octet tag 0x%02X not used by C12.22", tag)
	}
	n, k, err := readLength(b[1:])
	if err != nil {
		return tlv{}, nil, fmt.Errorf("tag 0x%02X: %w", tag, err)
	}
	end := 1 + k + n
	if len(b) < end {
		return tlv{}, nil, fmt.Errorf("tag 0x%02X: length %d, only %d octets follow", tag, n, len(b)-1-k)
	}
	return tlv{tag: tag, content: b[1+k : end], raw: b[:end]}, b[end:], nil
}

// expect decodes one element that must carry tag.
func expect(b []byte, tag byte, what string) (tlv, []byte, error) {
	e, rest, err := readTLV(b)
	if err != nil {
		return tlv{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	if e.tag != tag {
		return tlv{}, nil, fmt.Errorf("%s: tag 0x%02X, want 0x%02X", what, e.tag, tag)
	}
	return e, rest, nil
}

// appendUint appends an unsigned value as the content of a BER INTEGER:
// big-endian, minimal, with a leading zero when the top bit is set.
func appendUint(b []byte, v uint32) []byte {
	var tmp [5]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte(v)
		v >>= 8
		if v == 0 {
			break
		}
	}
	if tmp[i]&0x80 != 0 {
		i--
		tmp[i] = 0
	}
	return append(b, tmp[i:]...)
}

// parseUint decodes the content of a non-negative BER INTEGER of at most
// 32 bits.
func parseUint(c []byte) (uint32, error) {
	if len(c) == 0 {
		return 0, fmt.Errorf("empty integer")
	}
	if c[0]&0x80 != 0 {
		return 0, fmt.Errorf("negative integer")
	}
	if len(c) > 5 || (len(c) == 5 && c[0] != 0) {
		return 0, fmt.Errorf("integer of %d octets too large", len(c))
	}
	var v uint32
	for _, x := range c {
		v = v<<8 | uint32(x)
	}
	return v, nil
}

// explicitInt encodes [tag] { INTEGER v }, the form C12.22 gives invocation
// ids and the AE qualifier.
func explicitInt(b []byte, tag byte, v uint32) []byte {
	in := appendTLV(nil, 0x02, appendUint(nil, v))
	return appendTLV(b, tag, in)
}

// parseExplicitInt decodes the content of [tag] { INTEGER }.
func parseExplicitInt(c []byte) (uint32, error) {
	e, rest, err := expect(c, 0x02, "integer")
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d octets after the integer", len(rest))
	}
	return parseUint(e.content)
}

// ApTitle is an application process title, the address of a C12.22 node:
// an object identifier, absolute ("2.16.124.113620.1.22.1.7") or relative
// to the network's base (written with a leading dot, ".1.7").
type ApTitle struct {
	Arcs     []uint32
	Relative bool
}

// Root is the base of relative ApTitles unless a configuration says
// otherwise: the C12.22 arc, 2.16.124.113620.1.22.
var Root = ApTitle{Arcs: []uint32{2, 16, 124, 113620, 1, 22}}

// ParseApTitle reads the dotted form; a leading dot makes it relative.
func ParseApTitle(s string) (ApTitle, error) {
	a := ApTitle{}
	if strings.HasPrefix(s, ".") {
		a.Relative = true
		s = s[1:]
	}
	if s == "" {
		return ApTitle{}, fmt.Errorf("c1222: empty ApTitle")
	}
	for _, p := range strings.Split(s, ".") {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return ApTitle{}, fmt.Errorf("c1222: ApTitle %q: arc %q is not a number", s, p)
		}
		a.Arcs = append(a.Arcs, uint32(v))
	}
	if !a.Relative {
		if len(a.Arcs) < 2 || a.Arcs[0] > 2 || (a.Arcs[0] < 2 && a.Arcs[1] > 39) {
			return ApTitle{}, fmt.Errorf("c1222: ApTitle %q is not a valid object identifier", s)
		}
	}
	return a, nil
}

// MustApTitle is ParseApTitle for constants.
func MustApTitle(s string) ApTitle {
	a, err := ParseApTitle(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String is the dotted form, relative ones with a leading dot.
func (a ApTitle) String() string {
	var sb strings.Builder
	for i, v := range a.Arcs {
		if i > 0 || a.Relative {
			sb.WriteByte('.')
		}
		sb.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return sb.String()
}

// IsZero reports an unset ApTitle.
func (a ApTitle) IsZero() bool { return len(a.Arcs) == 0 }

// Absolute resolves a relative ApTitle against base.
func (a ApTitle) Absolute(base ApTitle) ApTitle {
	if !a.Relative {
		return a
	}
	arcs := append(append([]uint32(nil), base.Arcs...), a.Arcs...)
	return ApTitle{Arcs: arcs}
}

// Equal compares two ApTitles after resolving relative ones against base.
func (a ApTitle) Equal(b, base ApTitle) bool {
	x, y := a.Absolute(base), b.Absolute(base)
	if len(x.Arcs) != len(y.Arcs) {
		return false
	}
	for i := range x.Arcs {
		if x.Arcs[i] != y.Arcs[i] {
			return false
		}
	}
	return true
}

// Key is the absolute dotted form, for maps.
func (a ApTitle) Key(base ApTitle) string { return a.Absolute(base).String() }

func appendArc(b []byte, v uint32) []byte {
	var tmp [5]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7F)
	for v >>= 7; v > 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7F) | 0x80
	}
	return append(b, tmp[i:]...)
}

// contents encodes the arcs as OBJECT IDENTIFIER or RELATIVE-OID content.
func (a ApTitle) contents() []byte {
	var b []byte
	arcs := a.Arcs
	if !a.Relative {
		b = appendArc(b, arcs[0]*40+arcs[1])
		arcs = arcs[2:]
	}
	for _, v := range arcs {
		b = appendArc(b, v)
	}
	return b
}

// element encodes the ApTitle as C12.22 carries it inside its context
// tag: universal OBJECT IDENTIFIER (0x06) or [0] IMPLICIT RELATIVE-OID
// (0x80).
func (a ApTitle) element() []byte {
	if a.Relative {
		return appendTLV(nil, 0x80, a.contents())
	}
	return appendTLV(nil, 0x06, a.contents())
}

// parseArcs decodes OBJECT IDENTIFIER or RELATIVE-OID content.
func parseArcs(c []byte, relative bool) (ApTitle, error) {
	if len(c) == 0 {
		return ApTitle{}, fmt.Errorf("empty object identifier")
	}
	a := ApTitle{Relative: relative}
	var v uint64
	started := false
	for i, x := range c {
		if !started && x == 0x80 {
			return ApTitle{}, fmt.Errorf("arc at octet %d not minimally encoded", i)
		}
		started = true
		v = v<<7 | uint64(x&0x7F)
		if v > 0xFFFFFFFF {
			return ApTitle{}, fmt.Errorf("arc at octet %d exceeds 32 bits", i)
		}
		if x&0x80 == 0 {
			if !relative && len(a.Arcs) == 0 {
				switch {
				case v < 40:
					a.Arcs = append(a.Arcs, 0, uint32(v))
				case v < 80:
					a.Arcs = append(a.Arcs, 1, uint32(v-40))
				default:
					a.Arcs = append(a.Arcs, 2, uint32(v-80))
				}
			} else {
				a.Arcs = append(a.Arcs, uint32(v))
			}
			v = 0
			started = false
		}
	}
	if started {
		return ApTitle{}, fmt.Errorf("object identifier ends inside an arc")
	}
	return a, nil
}

// parseApTitleElement decodes the content of [2] or [6].
func parseApTitleElement(c []byte) (ApTitle, error) {
	e, rest, err := readTLV(c)
	if err != nil {
		return ApTitle{}, err
	}
	if len(rest) != 0 {
		return ApTitle{}, fmt.Errorf("%d octets after the ApTitle", len(rest))
	}
	switch e.tag {
	case 0x06:
		return parseArcs(e.content, false)
	case 0x80, 0x0D:
		return parseArcs(e.content, true)
	}
	return ApTitle{}, fmt.Errorf("ApTitle tag 0x%02X, want 0x06 (absolute) or 0x80 (relative)", e.tag)
}
