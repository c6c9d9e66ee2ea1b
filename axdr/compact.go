package axdr

import (
	"errors"
	"strings"
)

// CompactArray returns a compact-array of items, described by the type of
// the first item. It fails if items is empty (there is nothing to describe)
// or if an item does not match that type.
func CompactArray(items ...Data) (Data, error) {
	if len(items) == 0 {
		return Data{}, errors.New("axdr: compact array needs at least one item to describe")
	}
	return CompactArrayOf(Describe(items[0]), items...)
}

// CompactArrayOf returns a compact-array of items with the element type
// desc, checking that every item matches it.
func CompactArrayOf(desc TypeDesc, items ...Data) (Data, error) {
	if err := desc.validate(0); err != nil {
		return Data{}, err
	}
	if len(items) > 0 && desc.minContentLen() == 0 {
		// Elements that take no bytes cannot be counted back out of the
		// contents.
		return Data{}, errors.New("axdr: compact array of " + desc.String() + " elements, which encode to no bytes")
	}
	for i := range items {
		if !desc.Matches(items[i]) {
			return Data{}, errors.New("axdr: compact array item " + itoa(i) + " does not match " + desc.String())
		}
	}
	return Data{Tag: TagCompactArray, Items: items, Desc: &desc}, nil
}

// Describe returns the TypeDescription of d. An empty array is described
// as an array of null-data; a compact array, which a description cannot
// hold, as null-data.
func Describe(d Data) TypeDesc {
	switch d.Tag {
	case TagArray:
		e := TypeDesc{Tag: TagNull}
		if len(d.Items) > 0 {
			e = Describe(d.Items[0])
		}
		return TypeDesc{Tag: TagArray, Count: uint16(len(d.Items)), Elem: &e}
	case TagStructure:
		f := make([]TypeDesc, len(d.Items))
		for i := range d.Items {
			f[i] = Describe(d.Items[i])
		}
		return TypeDesc{Tag: TagStructure, Fields: f}
	case TagCompactArray:
		return TypeDesc{Tag: TagNull}
	}
	return TypeDesc{Tag: d.Tag}
}

// Matches reports whether d has the type t describes, so that it can be
// an element of a compact array of t.
func (t TypeDesc) Matches(d Data) bool {
	if d.Tag != t.Tag {
		return false
	}
	switch t.Tag {
	case TagArray:
		if t.Elem == nil || len(d.Items) != int(t.Count) {
			return false
		}
		for i := range d.Items {
			if !t.Elem.Matches(d.Items[i]) {
				return false
			}
		}
	case TagStructure:
		if len(d.Items) != len(t.Fields) {
			return false
		}
		for i := range d.Items {
			if !t.Fields[i].Matches(d.Items[i]) {
				return false
			}
		}
	case TagCompactArray:
		return false
	}
	return true
}

// minContentLen is the fewest bytes an element of type t takes in
// compact-array contents.
func (t TypeDesc) minContentLen() int {
	switch t.Tag {
	case TagArray:
		if t.Elem == nil {
			return 0
		}
		return int(t.Count) * t.Elem.minContentLen()
	case TagStructure:
		n := 0
		for i := range t.Fields {
			n += t.Fields[i].minContentLen()
		}
		return n
	}
	if n := scalarSize(t.Tag); n >= 0 {
		return n
	}
	return 1
}

func (t TypeDesc) validate(depth int) error {
	switch t.Tag {
	case TagArray, TagStructure:
		if depth >= MaxDepth {
			return ErrDepth
		}
		if t.Tag == TagArray {
			if t.Elem == nil {
				return errors.New("axdr: array description without element type")
			}
			return t.Elem.validate(depth + 1)
		}
		for i := range t.Fields {
			if err := t.Fields[i].validate(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	if scalarSize(t.Tag) < -1 {
		return ErrCompact
	}
	return nil
}

// Append appends the TypeDescription encoding of t: the tag, then for an
// array a two-octet count and the element description, for a structure
// the field count and the field descriptions. A nil array element is
// written as null-data.
func (t TypeDesc) Append(b []byte) []byte {
	b = append(b, byte(t.Tag))
	switch t.Tag {
	case TagArray:
		b = append(b, byte(t.Count>>8), byte(t.Count))
		if t.Elem == nil {
			return append(b, byte(TagNull))
		}
		return t.Elem.Append(b)
	case TagStructure:
		b = AppendLength(b, len(t.Fields))
		for i := range t.Fields {
			b = t.Fields[i].Append(b)
		}
	}
	return b
}

// EncodedLen returns the number of bytes Append writes for t.
func (t TypeDesc) EncodedLen() int {
	switch t.Tag {
	case TagArray:
		if t.Elem == nil {
			return 4
		}
		return 3 + t.Elem.EncodedLen()
	case TagStructure:
		n := 1 + lengthSize(len(t.Fields))
		for i := range t.Fields {
			n += t.Fields[i].EncodedLen()
		}
		return n
	}
	return 1
}

// Equal reports whether t and o describe the same type.
func (t TypeDesc) Equal(o TypeDesc) bool {
	if t.Tag != o.Tag {
		return false
	}
	switch t.Tag {
	case TagArray:
		if t.Count != o.Count {
			return false
		}
		var te, oe TypeDesc
		if t.Elem != nil {
			te = *t.Elem
		}
		if o.Elem != nil {
			oe = *o.Elem
		}
		return te.Equal(oe)
	case TagStructure:
		if len(t.Fields) != len(o.Fields) {
			return false
		}
		for i := range t.Fields {
			if !t.Fields[i].Equal(o.Fields[i]) {
				return false
			}
		}
	}
	return true
}

// String renders t, e.g. "structure{octet-string, uint32}".
func (t TypeDesc) String() string {
	var sb strings.Builder
	t.format(&sb)
	return sb.String()
}

func (t TypeDesc) format(sb *strings.Builder) {
	switch t.Tag {
	case TagArray:
		sb.WriteString("array[")
		sb.WriteString(itoa(int(t.Count)))
		sb.WriteString("] of ")
		if t.Elem == nil {
			sb.WriteString(TagNull.String())
			return
		}
		t.Elem.format(sb)
	case TagStructure:
		sb.WriteString("structure{")
		for i := range t.Fields {
			if i > 0 {
				sb.WriteString(", ")
			}
			t.Fields[i].format(sb)
		}
		sb.WriteByte('}')
	default:
		sb.WriteString(t.Tag.String())
	}
}

// compactDesc is the description a compact array is written with.
func (d Data) compactDesc() TypeDesc {
	if d.Desc != nil {
		return *d.Desc
	}
	if len(d.Items) == 0 {
		return TypeDesc{Tag: TagNull}
	}
	return Describe(d.Items[0])
}
