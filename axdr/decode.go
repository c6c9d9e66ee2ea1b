package axdr

// Decode decodes one Data from the start of b and returns it with the
// number of bytes it took; bytes after it are left alone (callers that
// expect nothing after the value check consumed against len(b)).
//
// The result aliases b: octet, visible and utf8 strings, bit-strings and
// date/time octets are sub-slices of b (capped, so appending to them never
// writes into b), and all nested Items share one backing array. Keep b
// unchanged while the result is in use, or call Clone.
//
// Decoding walks the input twice: a first pass validates everything and
// counts the values, so the second pass fills one pre-sized array and a
// load profile costs one allocation however many rows it has.
func Decode(b []byte) (Data, int, error) {
	c := decoder{b: b, end: len(b), limit: nodeLimit(len(b)), workLimit: workLimit(len(b))}
	v, err := c.value(0)
	if err != nil {
		return Data{}, 0, err
	}
	n := c.pos
	if c.nodes == 0 && v.Tag != TagCompactArray {
		// Scalars and empty containers come out of the first pass whole.
		return v, n, nil
	}
	d := decoder{b: b[:n], end: n, build: true, limit: c.nodes, workLimit: c.workLimit, arena: make([]Data, c.nodes)}
	v, err = d.value(0)
	if err != nil {
		return Data{}, 0, err
	}
	return v, n, nil
}

// Skip returns the encoded length of the Data at the start of b, validating
// it as Decode does but building nothing.
func Skip(b []byte) (int, error) {
	c := decoder{b: b, end: len(b), limit: nodeLimit(len(b)), workLimit: workLimit(len(b))}
	if _, err := c.value(0); err != nil {
		return 0, err
	}
	return c.pos, nil
}

// nodeLimit caps how many values an input of n bytes may expand into.
// Ordinary encodings spend at least one byte (the tag) per value; only
// compact-array contents can describe more values than they have bytes
// (structures of one-byte fields, null-data fields), so the cap leaves
// room for those and nothing else.
func nodeLimit(n int) int { return 4*n + 64 }

// workLimit caps the description bytes re-walked for empty arrays inside
// compact-array elements.
func workLimit(n int) int { return 64*n + 1024 }

type decoder struct {
	b         []byte
	pos       int
	end       int // reads stop here; narrowed inside compact-array contents
	build     bool
	nodes     int // values inside containers counted so far
	limit     int // cap on nodes
	work      int // description bytes re-walked for empty compact arrays
	workLimit int
	arena     []Data
}

func errAt(off int, tag Tag, err error) error {
	return &DecodeError{Offset: off, Tag: tag, HasTag: true, Err: err}
}

// reserve accounts for n more values and, when building, hands out their
// slots.
func (d *decoder) reserve(n int) ([]Data, bool) {
	d.nodes += n
	if n < 0 || d.nodes > d.limit {
		return nil, false
	}
	if !d.build || n == 0 {
		return nil, true
	}
	if len(d.arena) < n {
		// Unreachable when the counting pass agrees with this one; stay
		// correct rather than trust that.
		return make([]Data, n), true
	}
	s := d.arena[:n:n]
	d.arena = d.arena[n:]
	return s, true
}

func (d *decoder) value(depth int) (Data, error) {
	start := d.pos
	if d.pos >= d.end {
		return Data{}, &DecodeError{Offset: start, Err: ErrTruncated}
	}
	tag := Tag(d.b[d.pos])
	d.pos++
	switch tag {
	case TagArray, TagStructure:
		return d.container(tag, start, depth)
	case TagCompactArray:
		return d.compact(start, depth)
	}
	return d.simple(tag, start)
}

func (d *decoder) container(tag Tag, start, depth int) (Data, error) {
	if depth >= MaxDepth {
		return Data{}, errAt(start, tag, ErrDepth)
	}
	n, k, err := DecodeLength(d.b[d.pos:d.end])
	if err != nil {
		return Data{}, errAt(start, tag, err)
	}
	d.pos += k
	// Every element takes at least its tag byte.
	if n > d.end-d.pos {
		return Data{}, errAt(start, tag, ErrTooLarge)
	}
	items, ok := d.reserve(n)
	if !ok {
		return Data{}, errAt(start, tag, ErrTooLarge)
	}
	if items == nil {
		for i := 0; i < n; i++ {
			if _, err := d.value(depth + 1); err != nil {
				return Data{}, err
			}
		}
		return Data{Tag: tag}, nil
	}
	for i := range items {
		if items[i], err = d.value(depth + 1); err != nil {
			return Data{}, err
		}
	}
	return Data{Tag: tag, Items: items}, nil
}

// scalarSize gives the fixed body size of the simple types, -1 for
// variable-length ones and -2 for tags that are not simple types.
func scalarSize(tag Tag) int {
	switch tag {
	case TagNull, TagDontCare:
		return 0
	case TagBoolean, TagInt8, TagUint8, TagEnum, TagBCD:
		return 1
	case TagInt16, TagUint16:
		return 2
	case TagInt32, TagUint32, TagFloat32:
		return 4
	case TagInt64, TagUint64, TagFloat64:
		return 8
	case TagTime:
		return 4
	case TagDate:
		return 5
	case TagDateTime:
		return 12
	case TagOctetString, TagVisibleString, TagUTF8String, TagBitString:
		return -1
	}
	return -2
}

// simple decodes the body of a non-container type whose tag (at start) has
// been read; compact-array contents use it for their tagless elements.
func (d *decoder) simple(tag Tag, start int) (Data, error) {
	switch tag {
	case TagNull, TagDontCare:
		return Data{Tag: tag}, nil
	case TagBoolean, TagInt8, TagUint8, TagEnum, TagBCD, TagInt16, TagUint16,
		TagInt32, TagUint32, TagFloat32, TagInt64, TagUint64, TagFloat64:
		size := scalarSize(tag)
		if d.end-d.pos < size {
			return Data{}, errAt(start, tag, ErrTruncated)
		}
		var u uint64
		for _, o := range d.b[d.pos : d.pos+size] {
			u = u<<8 | uint64(o)
		}
		d.pos += size
		switch tag {
		case TagBoolean:
			if u != 0 {
				u = 1
			}
		case TagInt8:
			u = uint64(int64(int8(u)))
		case TagInt16:
			u = uint64(int64(int16(u)))
		case TagInt32:
			u = uint64(int64(int32(u)))
		}
		return Data{Tag: tag, bits: u}, nil
	case TagDateTime, TagDate, TagTime:
		size := scalarSize(tag)
		if d.end-d.pos < size {
			return Data{}, errAt(start, tag, ErrTruncated)
		}
		v := Data{Tag: tag, Bytes: d.b[d.pos : d.pos+size : d.pos+size]}
		d.pos += size
		return v, nil
	case TagOctetString, TagVisibleString, TagUTF8String:
		n, k, err := DecodeLength(d.b[d.pos:d.end])
		if err != nil {
			return Data{}, errAt(start, tag, err)
		}
		d.pos += k
		if n > d.end-d.pos {
			return Data{}, errAt(start, tag, ErrTruncated)
		}
		v := Data{Tag: tag, Bytes: d.b[d.pos : d.pos+n : d.pos+n]}
		d.pos += n
		return v, nil
	case TagBitString:
		bits, k, err := DecodeLength(d.b[d.pos:d.end])
		if err != nil {
			return Data{}, errAt(start, tag, err)
		}
		d.pos += k
		n := (bits + 7) / 8
		if n > d.end-d.pos {
			return Data{}, errAt(start, tag, ErrTruncated)
		}
		v := Data{Tag: tag, bits: uint64(bits), Bytes: d.b[d.pos : d.pos+n : d.pos+n]}
		d.pos += n
		return v, nil
	}
	return Data{}, errAt(start, tag, ErrUnknownTag)
}

// compact decodes a compact-array (tag 19): a TypeDescription of the
// element type, then the elements without tags packed into one
// octet-string. The description is walked straight from the input bytes,
// so counting needs no allocation; only the building pass turns it into a
// TypeDesc.
func (d *decoder) compact(start, depth int) (Data, error) {
	if depth >= MaxDepth {
		return Data{}, errAt(start, TagCompactArray, ErrDepth)
	}
	descStart := d.pos
	dl, err := d.descLen(descStart, depth+1)
	if err != nil {
		return Data{}, err
	}
	desc := d.b[descStart : descStart+dl]
	d.pos += dl
	n, k, err := DecodeLength(d.b[d.pos:d.end])
	if err != nil {
		return Data{}, errAt(start, TagCompactArray, err)
	}
	d.pos += k
	if n > d.end-d.pos {
		return Data{}, errAt(start, TagCompactArray, ErrTruncated)
	}
	outerEnd := d.end
	d.end = d.pos + n
	defer func() { d.end = outerEnd }()

	out := Data{Tag: TagCompactArray}
	if !d.build {
		for d.pos < d.end {
			if _, ok := d.reserve(1); !ok {
				return Data{}, errAt(start, TagCompactArray, ErrTooLarge)
			}
			if err := d.compactElem(desc); err != nil {
				return Data{}, err
			}
		}
		return out, nil
	}

	// The building pass needs the element count before it can hand out
	// contiguous slots: count again without building (the input was
	// already validated, so this only costs time).
	pos, nodes, work := d.pos, d.nodes, d.work
	d.build = false
	count := 0
	for d.pos < d.end {
		if err := d.compactElem(desc); err != nil {
			d.build = true
			return Data{}, err
		}
		count++
	}
	d.build = true
	d.pos, d.nodes, d.work = pos, nodes, work

	items, ok := d.reserve(count)
	if !ok {
		return Data{}, errAt(start, TagCompactArray, ErrTooLarge)
	}
	for i := range items {
		if items[i], _, err = d.elem(desc); err != nil {
			return Data{}, err
		}
	}
	td := buildDesc(desc)
	out.Items = items
	out.Desc = &td
	return out, nil
}

// compactElem decodes one top-level element of compact-array contents and
// rejects elements that take no bytes, which would otherwise let a tiny
// input describe an endless array.
func (d *decoder) compactElem(desc []byte) error {
	p := d.pos
	if _, _, err := d.elem(desc); err != nil {
		return err
	}
	if d.pos == p {
		return errAt(p, Tag(desc[0]), ErrCompact)
	}
	return nil
}

// descLen validates the TypeDescription at p and returns its length.
// depth is the nesting level the described value will have.
func (d *decoder) descLen(p, depth int) (int, error) {
	if p >= d.end {
		return 0, &DecodeError{Offset: p, Err: ErrTruncated}
	}
	tag := Tag(d.b[p])
	switch tag {
	case TagArray:
		if depth >= MaxDepth {
			return 0, errAt(p, tag, ErrDepth)
		}
		if d.end-p < 3 {
			return 0, errAt(p, tag, ErrTruncated)
		}
		n, err := d.descLen(p+3, depth+1)
		return 3 + n, err
	case TagStructure:
		if depth >= MaxDepth {
			return 0, errAt(p, tag, ErrDepth)
		}
		n, k, err := DecodeLength(d.b[p+1 : d.end])
		if err != nil {
			return 0, errAt(p, tag, err)
		}
		q := p + 1 + k
		if n > d.end-q {
			return 0, errAt(p, tag, ErrTooLarge)
		}
		for i := 0; i < n; i++ {
			l, err := d.descLen(q, depth+1)
			if err != nil {
				return 0, err
			}
			q += l
		}
		return q - p, nil
	}
	if scalarSize(tag) < -1 {
		if tag == TagCompactArray {
			return 0, errAt(p, tag, ErrCompact)
		}
		return 0, errAt(p, tag, ErrUnknownTag)
	}
	return 1, nil
}

// elem decodes one tagless value described by the (validated) description
// at the start of desc, returning it and the description bytes used.
func (d *decoder) elem(desc []byte) (Data, int, error) {
	tag := Tag(desc[0])
	switch tag {
	case TagArray:
		count := int(desc[1])<<8 | int(desc[2])
		sub := desc[3:]
		items, ok := d.reserve(count)
		if !ok {
			return Data{}, 0, errAt(d.pos, tag, ErrTooLarge)
		}
		span := -1
		for i := 0; i < count; i++ {
			v, s, err := d.elem(sub)
			if err != nil {
				return Data{}, 0, err
			}
			if items != nil {
				items[i] = v
			}
			span = s
		}
		if span < 0 {
			// An empty array still has to step over its element
			// description, once per enclosing element; charge that walk so
			// a long description inside many elements cannot cost
			// quadratic time.
			span = descSpan(sub)
			d.work += span
			if d.work > d.workLimit {
				return Data{}, 0, errAt(d.pos, tag, ErrTooLarge)
			}
		}
		return Data{Tag: TagArray, Items: items}, 3 + span, nil
	case TagStructure:
		n, k, _ := DecodeLength(desc[1:])
		p := 1 + k
		items, ok := d.reserve(n)
		if !ok {
			return Data{}, 0, errAt(d.pos, tag, ErrTooLarge)
		}
		for i := 0; i < n; i++ {
			v, s, err := d.elem(desc[p:])
			if err != nil {
				return Data{}, 0, err
			}
			if items != nil {
				items[i] = v
			}
			p += s
		}
		return Data{Tag: TagStructure, Items: items}, p, nil
	}
	v, err := d.simple(tag, d.pos)
	return v, 1, err
}

// descSpan is the length of a validated TypeDescription.
func descSpan(desc []byte) int {
	if len(desc) == 0 {
		return 0
	}
	switch Tag(desc[0]) {
	case TagArray:
		if len(desc) < 3 {
			return len(desc)
		}
		return 3 + descSpan(desc[3:])
	case TagStructure:
		n, k, err := DecodeLength(desc[1:])
		if err != nil {
			return len(desc)
		}
		p := 1 + k
		for i := 0; i < n && p < len(desc); i++ {
			p += descSpan(desc[p:])
		}
		return p
	}
	return 1
}

// buildDesc turns a validated TypeDescription into a TypeDesc.
func buildDesc(desc []byte) TypeDesc {
	t := TypeDesc{Tag: Tag(desc[0])}
	switch t.Tag {
	case TagArray:
		t.Count = uint16(desc[1])<<8 | uint16(desc[2])
		e := buildDesc(desc[3:])
		t.Elem = &e
	case TagStructure:
		n, k, _ := DecodeLength(desc[1:])
		p := 1 + k
		t.Fields = make([]TypeDesc, n)
		for i := range t.Fields {
			t.Fields[i] = buildDesc(desc[p:])
			p += descSpan(desc[p:])
		}
	}
	return t
}
