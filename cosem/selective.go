package cosem

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// Selective access selectors of the Profile generic buffer.
const (
	SelectorRange uint8 = 1
	SelectorEntry uint8 = 2
)

// ErrSelectiveAccess is wrapped by every ParseSelectiveAccess error; the
// errors also match ErrTypeUnmatched or ErrScopeOfAccessViolated so a
// server can answer them directly.
var ErrSelectiveAccess = errors.New("cosem: malformed selective access")

// CaptureObject is a capture_object_definition: one column of a profile.
type CaptureObject struct {
	ClassID     uint16
	LogicalName obis.Code
	Attribute   int8
	// DataIndex picks one element of an array or structure attribute,
	// 1-based; 0 captures the whole attribute.
	DataIndex uint16
}

// Data returns structure{long-unsigned, octet-string, integer, long-unsigned}.
func (c CaptureObject) Data() axdr.Data {
	return axdr.Structure(axdr.Uint16(c.ClassID), LogicalNameData(c.LogicalName), axdr.Int8(c.Attribute), axdr.Uint16(c.DataIndex))
}

// String renders "class/ln/attr[/index]".
func (c CaptureObject) String() string {
	s := strconv.Itoa(int(c.ClassID)) + "/" + c.LogicalName.String() + "/" + strconv.Itoa(int(c.Attribute))
	if c.DataIndex != 0 {
		s += "/" + strconv.Itoa(int(c.DataIndex))
	}
	return s
}

// ParseCaptureObject reads a capture_object_definition.
func ParseCaptureObject(d axdr.Data) (CaptureObject, error) {
	if !isStruct(d, 4) {
		return CaptureObject{}, saErr(ResultTypeUnmatched, "capture_object_definition: want structure of 4, got %s of %d", d.Tag, len(d.Items))
	}
	cid, ok1 := UintOf(d.Items[0], axdr.TagUint16)
	ln, ok2 := LogicalNameOf(d.Items[1])
	attr, ok3 := IntOf(d.Items[2], axdr.TagInt8)
	idx, ok4 := UintOf(d.Items[3], axdr.TagUint16)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return CaptureObject{}, saErr(ResultTypeUnmatched, "capture_object_definition: want {long-unsigned, octet-string(6), integer, long-unsigned}")
	}
	return CaptureObject{ClassID: uint16(cid), LogicalName: ln, Attribute: int8(attr), DataIndex: uint16(idx)}, nil
}

// ParseCaptureObjects reads a capture_objects attribute value.
func ParseCaptureObjects(d axdr.Data) ([]CaptureObject, error) {
	if d.Tag != axdr.TagArray {
		return nil, saErr(ResultTypeUnmatched, "capture_objects: want array, got %s", d.Tag)
	}
	out := make([]CaptureObject, 0, len(d.Items))
	for _, it := range d.Items {
		c, err := ParseCaptureObject(it)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CaptureObjectsData encodes a capture_objects attribute value.
func CaptureObjectsData(cols []CaptureObject) axdr.Data {
	items := make([]axdr.Data, len(cols))
	for i, c := range cols {
		items[i] = c.Data()
	}
	return axdr.Array(items...)
}

// RangeDescriptor is selective access by range (selector 1): rows whose
// RestrictingObject column lies in [From, To], with the SelectedValues
// columns (all when empty).
type RangeDescriptor struct {
	RestrictingObject CaptureObject
	From, To          axdr.Data
	SelectedValues    []CaptureObject
}

// Data returns the range_descriptor structure.
func (r *RangeDescriptor) Data() axdr.Data {
	return axdr.Structure(r.RestrictingObject.Data(), r.From, r.To, CaptureObjectsData(r.SelectedValues))
}

// Access returns the selective access for a GET request.
func (r *RangeDescriptor) Access() *AccessSelection {
	return &AccessSelection{Selector: SelectorRange, Parameters: r.Data()}
}

// EntryDescriptor is selective access by entry (selector 2). Entries and
// values are 1-based; ToEntry and ToSelectedValue 0 mean "up to the
// last", FromEntry and FromSelectedValue 0 are taken as 1.
type EntryDescriptor struct {
	FromEntry, ToEntry                 uint32
	FromSelectedValue, ToSelectedValue uint16
}

// Data returns the entry_descriptor structure.
func (e *EntryDescriptor) Data() axdr.Data {
	return axdr.Structure(axdr.Uint32(e.FromEntry), axdr.Uint32(e.ToEntry), axdr.Uint16(e.FromSelectedValue), axdr.Uint16(e.ToSelectedValue))
}

// Access returns the selective access for a GET request.
func (e *EntryDescriptor) Access() *AccessSelection {
	return &AccessSelection{Selector: SelectorEntry, Parameters: e.Data()}
}

// Selection is a decoded selective access of a Profile generic buffer:
// at most one of Range and Entry is set; neither means the whole buffer.
type Selection struct {
	Range *RangeDescriptor
	Entry *EntryDescriptor
}

func saErr(r Result, format string, args ...any) error {
	return &AccessError{Result: r, Detail: fmt.Sprintf(format, args...), Err: ErrSelectiveAccess}
}

// ParseSelectiveAccess decodes the parameters of selector 1 or 2.
func ParseSelectiveAccess(selector uint8, params axdr.Data) (Selection, error) {
	switch selector {
	case SelectorRange:
		if !isStruct(params, 4) {
			return Selection{}, saErr(ResultTypeUnmatched, "range_descriptor: want structure of 4, got %s of %d", params.Tag, len(params.Items))
		}
		ro, err := ParseCaptureObject(params.Items[0])
		if err != nil {
			return Selection{}, fmt.Errorf("restricting_object: %w", err)
		}
		r := &RangeDescriptor{RestrictingObject: ro, From: params.Items[1], To: params.Items[2]}
		if !IsSimple(r.From) || !IsSimple(r.To) {
			return Selection{}, saErr(ResultTypeUnmatched, "range_descriptor: from/to values must be simple types")
		}
		sv, err := ParseCaptureObjects(params.Items[3])
		if err != nil {
			return Selection{}, fmt.Errorf("selected_values: %w", err)
		}
		r.SelectedValues = sv
		return Selection{Range: r}, nil
	case SelectorEntry:
		if !isStruct(params, 4) {
			return Selection{}, saErr(ResultTypeUnmatched, "entry_descriptor: want structure of 4, got %s of %d", params.Tag, len(params.Items))
		}
		fe, ok1 := UintOf(params.Items[0], axdr.TagUint32)
		te, ok2 := UintOf(params.Items[1], axdr.TagUint32)
		fv, ok3 := UintOf(params.Items[2], axdr.TagUint16)
		tv, ok4 := UintOf(params.Items[3], axdr.TagUint16)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return Selection{}, saErr(ResultTypeUnmatched, "entry_descriptor: want {double-long-unsigned x2, long-unsigned x2}")
		}
		return Selection{Entry: &EntryDescriptor{FromEntry: uint32(fe), ToEntry: uint32(te), FromSelectedValue: uint16(fv), ToSelectedValue: uint16(tv)}}, nil
	}
	return Selection{}, saErr(ResultScopeOfAccessViolated, "selector %d not supported", selector)
}

// columnOf finds the column of c in cols: an exact match, or the whole
// attribute when c asks for data index 0.
func columnOf(cols []CaptureObject, c CaptureObject) int {
	for i, x := range cols {
		if x.ClassID == c.ClassID && x.LogicalName == c.LogicalName && x.Attribute == c.Attribute && x.DataIndex == c.DataIndex {
			return i
		}
	}
	return -1
}

// Apply filters rows (each a structure with one item per column of cols)
// by the selection and returns the selected rows with only the selected
// columns. Rows are in buffer order, entry 1 first. The result shares
// values with rows.
func (s Selection) Apply(rows []axdr.Data, cols []CaptureObject) ([]axdr.Data, error) {
	var pick []int // nil: all columns
	switch {
	case s.Range != nil:
		rc := columnOf(cols, s.Range.RestrictingObject)
		if rc < 0 {
			return nil, saErr(ResultScopeOfAccessViolated, "restricting object %s is not a captured column", s.Range.RestrictingObject)
		}
		if len(s.Range.SelectedValues) > 0 {
			pick = make([]int, len(s.Range.SelectedValues))
			for i, c := range s.Range.SelectedValues {
				if pick[i] = columnOf(cols, c); pick[i] < 0 {
					return nil, saErr(ResultScopeOfAccessViolated, "selected value %s is not a captured column", c)
				}
			}
		}
		// Date-time bounds are resolved once, not per row.
		from, okFrom := TimeOf(s.Range.From)
		to, okTo := TimeOf(s.Range.To)
		var kept []axdr.Data
		for _, r := range rows {
			if rc >= len(r.Items) {
				continue
			}
			v := r.Items[rc]
			if okFrom && okTo {
				if tv, ok := TimeOf(v); ok {
					if !tv.Before(from) && !tv.After(to) {
						kept = append(kept, r)
					}
					continue
				}
			}
			lo, ok1 := CompareValues(s.Range.From, v)
			hi, ok2 := CompareValues(v, s.Range.To)
			if ok1 && ok2 && lo <= 0 && hi <= 0 {
				kept = append(kept, r)
			}
		}
		rows = kept
	case s.Entry != nil:
		e := s.Entry
		from, to := uint64(e.FromEntry), uint64(e.ToEntry)
		if from == 0 {
			from = 1
		}
		if to == 0 || to > uint64(len(rows)) {
			to = uint64(len(rows))
		}
		if from > to {
			rows = nil
		} else {
			rows = rows[from-1 : to]
		}
		fv, tv := int(e.FromSelectedValue), int(e.ToSelectedValue)
		if fv == 0 {
			fv = 1
		}
		if tv == 0 || tv > len(cols) {
			tv = len(cols)
		}
		if fv > 1 || tv < len(cols) {
			pick = []int{}
			for c := fv; c <= tv; c++ {
				pick = append(pick, c-1)
			}
		}
	}
	out := make([]axdr.Data, len(rows))
	if pick == nil {
		copy(out, rows)
		return out, nil
	}
	// One backing array for all projected rows.
	cells := make([]axdr.Data, 0, len(rows)*len(pick))
	for i, r := range rows {
		start := len(cells)
		for _, c := range pick {
			if c < len(r.Items) {
				cells = append(cells, r.Items[c])
			} else {
				cells = append(cells, axdr.Null())
			}
		}
		out[i] = axdr.Structure(cells[start:len(cells):len(cells)]...)
	}
	return out, nil
}

// CompareValues orders two values the way a range bound or a monitor
// threshold does: date-times by instant, numbers by value, strings by
// bytes. ok is false when they cannot be compared.
func CompareValues(a, b axdr.Data) (int, bool) {
	if IsDateTime(a) && IsDateTime(b) {
		ta, ok1 := TimeOf(a)
		tb, ok2 := TimeOf(b)
		if ok1 && ok2 {
			return ta.Compare(tb), true
		}
		return bytes.Compare(a.Bytes, b.Bytes), true
	}
	if x, ok := a.Int(); ok {
		if y, ok := b.Int(); ok {
			return cmp64(x, y), true
		}
	}
	if x, ok := a.Uint(); ok {
		if y, ok := b.Uint(); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	if x, ok := a.Float(); ok {
		if y, ok := b.Float(); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			case x == y:
				return 0, true
			}
			return 0, false
		}
	}
	if a.Tag == b.Tag && a.Items == nil && b.Items == nil {
		return bytes.Compare(a.Bytes, b.Bytes), true
	}
	return 0, false
}

func cmp64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
