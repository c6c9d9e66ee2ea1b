package apdu

import "math"

// berElem is the header of one BER element inside an ACSE APDU.
type berElem struct {
	// tag is the identifier octet; 0 for high-tag-number (multi-octet)
	// identifiers, which ACSE never uses for the elements decoded here.
	tag   byte
	start int // offset of the identifier
	cOff  int // offset of the contents
	cEnd  int // end of the contents as declared; may lie beyond limit
	// limit is where this element must end: its parent's end when strict,
	// the end of the input when lenient.
	limit int
}

// acseParser reads the BER elements of one ACSE APDU.
type acseParser struct {
	b       []byte
	lenient bool
	apdu    string
}

func (p *acseParser) err(off int, field string, err error) error {
	return &DecodeError{APDU: p.apdu, Offset: off, Field: field, Err: err}
}

// berLength decodes a definite BER length at b[off:]; it returns the
// length and the number of octets it took.
func berLength(b []byte, off int) (n, c int, err error) {
	if off >= len(b) {
		return 0, 0, ErrTruncated
	}
	l := b[off]
	if l < 0x80 {
		return int(l), 1, nil
	}
	k := int(l & 0x7F)
	if k == 0 || k > 4 {
		// 0x80 is the indefinite form, which DLMS does not use.
		return 0, 0, ErrBERLength
	}
	if off+1+k > len(b) {
		return 0, 0, ErrTruncated
	}
	var u uint64
	for _, o := range b[off+1 : off+1+k] {
		u = u<<8 | uint64(o)
	}
	if u > math.MaxInt32 {
		return 0, 0, ErrBERLength
	}
	return int(u), 1 + k, nil
}

// header reads the identifier and length of the element at off. The
// header itself must lie within limit; the contents are checked by the
// caller (prim or unwrap), because a lenient reader may overrule them.
func (p *acseParser) header(off, limit int, field string) (berElem, error) {
	b := p.b
	e := berElem{start: off, limit: limit}
	if off >= limit {
		return e, p.err(off, field, ErrTruncated)
	}
	i := off + 1
	if b[off]&0x1F == 0x1F {
		for n := 0; ; n++ {
			if i >= limit {
				return e, p.err(off, field, ErrTruncated)
			}
			if n == 4 {
				return e, p.err(off, field, ErrUnknownTag)
			}
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	} else {
		e.tag = b[off]
	}
	n, c, err := berLength(b[:limit], i)
	if err != nil {
		return e, p.err(i, field, err)
	}
	e.cOff = i + c
	e.cEnd = e.cOff + n
	return e, nil
}

// bounds reports whether the contents fit: ErrTruncated if they run past
// the input, ErrBERLength if past the parent.
func (p *acseParser) bounds(e berElem, field string) error {
	switch {
	case e.cEnd > len(p.b):
		return p.err(e.start, field, ErrTruncated)
	case e.cEnd > e.limit:
		return p.err(e.start, field, ErrBERLength)
	}
	return nil
}

// prim returns the contents of a primitive element.
func (p *acseParser) prim(e berElem, field string) ([]byte, error) {
	if err := p.bounds(e, field); err != nil {
		return nil, err
	}
	return p.b[e.cOff:e.cEnd:e.cEnd], nil
}

// unwrap reads the single element inside an explicitly tagged one and
// returns it with the end of the outer element.
//
// Strictly, the inner element must fill the outer contents exactly. A
// lenient parser trusts the inner length over the outer one: the outer
// element ends where its declared length says or where the inner element
// ends, whichever is later. This is how the protected RLRE of some servers
// (user-information declared one octet short of the octet string it
// holds) still decodes.
func (p *acseParser) unwrap(e berElem, field string) (berElem, int, error) {
	if !p.lenient {
		if err := p.bounds(e, field); err != nil {
			return berElem{}, 0, err
		}
		in, err := p.header(e.cOff, e.cEnd, field)
		if err != nil {
			return in, 0, err
		}
		if err := p.bounds(in, field); err != nil {
			return in, 0, err
		}
		if in.cEnd != e.cEnd {
			return in, 0, p.err(in.cEnd, field, ErrBERLength)
		}
		return in, e.cEnd, nil
	}
	in, err := p.header(e.cOff, e.limit, field)
	if err != nil {
		return in, 0, err
	}
	if err := p.bounds(in, field); err != nil {
		return in, 0, err
	}
	end := in.cEnd
	if e.cEnd > end && e.cEnd <= e.limit {
		end = e.cEnd
	}
	return in, end, nil
}

// explicitPrim unwraps an explicit tag whose inner element must have tag
// want and returns the inner contents.
func (p *acseParser) explicitPrim(e berElem, want byte, field string) ([]byte, int, error) {
	in, end, err := p.unwrap(e, field)
	if err != nil {
		return nil, 0, err
	}
	if in.tag != want {
		return nil, 0, p.err(in.start, field, ErrUnknownTag)
	}
	v, err := p.prim(in, field)
	return v, end, err
}

// explicitInt reads an explicitly tagged small non-negative INTEGER.
func (p *acseParser) explicitInt(e berElem, field string) (uint8, int, error) {
	v, end, err := p.explicitPrim(e, 0x02, field)
	if err != nil {
		return 0, 0, err
	}
	n, ok := smallInt(v)
	if !ok {
		return 0, 0, p.err(e.start, field, ErrInvalid)
	}
	return n, end, nil
}

// smallInt decodes a BER INTEGER that must lie in 0..127 (every ACSE
// enumeration DLMS uses does); leading zero octets are accepted.
func smallInt(v []byte) (uint8, bool) {
	if len(v) == 0 || v[0]&0x80 != 0 {
		return 0, false
	}
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) != 1 || v[0] >= 0x80 {
		return 0, false
	}
	return v[0], true
}

// walk reads the APDU header (identifier p.b[0], already checked) and
// calls fn for each element inside. fn returns where the element ends. It
// returns where the APDU ends.
//
// A declared APDU length longer than the input is ErrTruncated even when
// lenient: a cut frame is far likelier than an over-long length. When
// lenient, a declared length shorter than its elements is overruled by
// the elements.
func (p *acseParser) walk(fn func(e berElem) (int, error)) (int, error) {
	n, c, err := berLength(p.b, 1)
	if err != nil {
		return 0, p.err(1, "length", err)
	}
	end := 1 + c + n
	if end > len(p.b) {
		return 0, p.err(0, "length", ErrTruncated)
	}
	limit := end
	if p.lenient {
		limit = len(p.b)
	}
	for off := 1 + c; off < end; {
		e, err := p.header(off, limit, "element")
		if err != nil {
			return 0, err
		}
		next, err := fn(e)
		if err != nil {
			return 0, err
		}
		off = next
		if off > end {
			end = off
		}
	}
	return end, nil
}

// appendBERLength appends a definite BER length in its shortest form.
func appendBERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xFF:
		return append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// openTLV writes tag and a one-octet length placeholder; closeTLV fixes
// the length once the contents are written, moving them if the length
// needs the long form.
func openTLV(b []byte, tag byte) ([]byte, int) {
	b = append(b, tag, 0)
	return b, len(b)
}

func closeTLV(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	hdr := appendBERLength(make([]byte, 0, 5), n)
	extra := len(hdr) - 1
	for range extra {
		b = append(b, 0)
	}
	copy(b[start+extra:], b[start:start+n])
	copy(b[start-1:], hdr)
	return b
}

func appendPrim(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = appendBERLength(b, len(v))
	return append(b, v...)
}

// appendExplicit writes outer { inner v }.
func appendExplicit(b []byte, outer, inner byte, v []byte) []byte {
	b, s := openTLV(b, outer)
	b = appendPrim(b, inner, v)
	return closeTLV(b, s)
}
