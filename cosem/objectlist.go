package cosem

import (
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// ObjectListEntry is one object_list_element of Association LN.
type ObjectListEntry struct {
	ClassID     uint16
	Version     uint8
	LogicalName obis.Code
	Rights      AccessRights
}

// ErrObjectList is wrapped by every ParseObjectList error.
var ErrObjectList = errors.New("cosem: malformed object_list")

// EncodeObjectList builds the object_list attribute value for an
// Association LN of the given version: method access_mode is a boolean in
// version 0 and an enum from version 1 on.
func EncodeObjectList(entries []ObjectListEntry, assocVersion uint8) axdr.Data {
	items := make([]axdr.Data, len(entries))
	for i := range entries {
		items[i] = entries[i].encode(assocVersion)
	}
	return axdr.Array(items...)
}

func (e *ObjectListEntry) encode(v uint8) axdr.Data {
	attrs := make([]axdr.Data, len(e.Rights.Attributes))
	for i, a := range e.Rights.Attributes {
		sel := axdr.Null()
		if a.Selectors != nil {
			s := make([]axdr.Data, len(a.Selectors))
			for j, x := range a.Selectors {
				s[j] = axdr.Int8(x)
			}
			sel = axdr.Array(s...)
		}
		attrs[i] = axdr.Structure(axdr.Int8(a.Attribute), axdr.Enum(uint8(a.Mode)), sel)
	}
	meths := make([]axdr.Data, len(e.Rights.Methods))
	for i, m := range e.Rights.Methods {
		mode := axdr.Enum(uint8(m.Mode))
		if v == 0 {
			mode = axdr.Bool(m.Mode != NoMethodAccess)
		}
		meths[i] = axdr.Structure(axdr.Int8(m.Method), mode)
	}
	return axdr.Structure(
		axdr.Uint16(e.ClassID),
		axdr.Uint8(e.Version),
		LogicalNameData(e.LogicalName),
		axdr.Structure(axdr.Array(attrs...), axdr.Array(meths...)),
	)
}

func olErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrObjectList}, args...)...)
}

// ParseObjectList decodes an object_list as a client reads it from any
// Association LN version: method access_mode may be a boolean (version
// 0) or an enum (versions 1 to 3; version 3 bit-mapped modes are kept as
// the raw number). access_selectors may be null-data or an array of
// integers.
func ParseObjectList(d axdr.Data) ([]ObjectListEntry, error) {
	if d.Tag != axdr.TagArray {
		return nil, olErr("want array, got %s", d.Tag)
	}
	out := make([]ObjectListEntry, 0, len(d.Items))
	for i, el := range d.Items {
		e, err := parseObjectListElement(el)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseObjectListElement(el axdr.Data) (ObjectListEntry, error) {
	var e ObjectListEntry
	if el.Tag != axdr.TagStructure || len(el.Items) != 4 {
		return e, olErr("want structure of 4, got %s of %d", el.Tag, len(el.Items))
	}
	cid, ok := UintOf(el.Items[0], axdr.TagUint16)
	if !ok {
		return e, olErr("class_id: want uint16, got %s", el.Items[0].Tag)
	}
	ver, ok := UintOf(el.Items[1], axdr.TagUint8)
	if !ok {
		return e, olErr("version: want uint8, got %s", el.Items[1].Tag)
	}
	ln, ok := LogicalNameOf(el.Items[2])
	if !ok {
		return e, olErr("logical_name: want octet-string of 6, got %s", el.Items[2].Tag)
	}
	e.ClassID, e.Version, e.LogicalName = uint16(cid), uint8(ver), ln
	ar := el.Items[3]
	if ar.Tag != axdr.TagStructure || len(ar.Items) != 2 || ar.Items[0].Tag != axdr.TagArray || ar.Items[1].Tag != axdr.TagArray {
		return e, olErr("%s: access_rights: want structure{array, array}", ln)
	}
	if n := len(ar.Items[0].Items); n > 0 {
		e.Rights.Attributes = make([]AttributeAccess, 0, n)
	}
	for _, it := range ar.Items[0].Items {
		if it.Tag != axdr.TagStructure || len(it.Items) != 3 {
			return e, olErr("%s: attribute_access_item: want structure of 3", ln)
		}
		id, ok := IntOf(it.Items[0], axdr.TagInt8)
		if !ok {
			return e, olErr("%s: attribute_id: want int8, got %s", ln, it.Items[0].Tag)
		}
		mode, ok := UintOf(it.Items[1], axdr.TagEnum)
		if !ok {
			return e, olErr("%s: attribute %d access_mode: want enum, got %s", ln, id, it.Items[1].Tag)
		}
		a := AttributeAccess{Attribute: int8(id), Mode: AccessMode(mode)}
		switch s := it.Items[2]; s.Tag {
		case axdr.TagNull:
		case axdr.TagArray:
			a.Selectors = make([]int8, 0, len(s.Items))
			for _, x := range s.Items {
				v, ok := IntOf(x, axdr.TagInt8)
				if !ok {
					return e, olErr("%s: attribute %d access_selectors: want int8, got %s", ln, id, x.Tag)
				}
				a.Selectors = append(a.Selectors, int8(v))
			}
		default:
			return e, olErr("%s: attribute %d access_selectors: want null-data or array, got %s", ln, id, s.Tag)
		}
		e.Rights.Attributes = append(e.Rights.Attributes, a)
	}
	if n := len(ar.Items[1].Items); n > 0 {
		e.Rights.Methods = make([]MethodAccessItem, 0, n)
	}
	for _, it := range ar.Items[1].Items {
		if it.Tag != axdr.TagStructure || len(it.Items) != 2 {
			return e, olErr("%s: method_access_item: want structure of 2", ln)
		}
		id, ok := IntOf(it.Items[0], axdr.TagInt8)
		if !ok {
			return e, olErr("%s: method_id: want int8, got %s", ln, it.Items[0].Tag)
		}
		var mode MethodAccessMode
		switch m := it.Items[1]; m.Tag {
		case axdr.TagBoolean:
			if b, _ := m.Bool(); b {
				mode = MethodAccess
			}
		case axdr.TagEnum:
			v, _ := m.Uint()
			mode = MethodAccessMode(v)
		default:
			return e, olErr("%s: method %d access_mode: want boolean or enum, got %s", ln, id, m.Tag)
		}
		e.Rights.Methods = append(e.Rights.Methods, MethodAccessItem{Method: int8(id), Mode: mode})
	}
	return e, nil
}
