package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Sort methods of Profile generic (attribute 5).
const (
	SortFIFO          uint8 = 1
	SortLIFO          uint8 = 2
	SortLargest       uint8 = 3
	SortSmallest      uint8 = 4
	SortNearestToZero uint8 = 5
	SortFarFromZero   uint8 = 6
)

// BufferFunc serves the buffer attribute: it returns the rows (each a
// structure) the selection asks for, already filtered and projected. A
// callback holding all rows can return sel.Apply(rows, cols).
type BufferFunc func(ctx context.Context, sel cosem.Selection) ([]axdr.Data, error)

// ProfileGeneric is a Profile generic object (class 7, version 1).
//
// Without Buffer it keeps its rows in Rows (oldest first), bounded by
// ProfileEntries, and captures by reading its capture objects from
// Source. With Buffer, the meter owns the rows and EntriesInUse, Reset
// and Capture should be given too.
type ProfileGeneric struct {
	sync.Mutex
	Header
	CaptureObjects []cosem.CaptureObject
	CapturePeriod  uint32 // seconds, 0 = no automatic capture
	SortMethod     uint8
	SortObject     cosem.CaptureObject // zero: none
	ProfileEntries uint32

	Rows []axdr.Data
	// Source resolves capture objects for in-memory captures.
	Source *Tree

	Buffer       BufferFunc
	EntriesInUse func(ctx context.Context) (uint32, error)
	Reset        func(ctx context.Context) error
	Capture      func(ctx context.Context) error
}

// NewProfileGeneric returns an in-memory FIFO profile of at most entries
// rows over cols, capturing from src.
func NewProfileGeneric(ln obis.Code, cols []cosem.CaptureObject, period, entries uint32, src *Tree) *ProfileGeneric {
	return &ProfileGeneric{Header: Header{Class: cosem.ClassProfileGeneric, Ver: 1, LN: ln}, CaptureObjects: cols,
		CapturePeriod: period, SortMethod: SortFIFO, ProfileEntries: entries, Source: src}
}

// Get implements Object. The buffer (attribute 2) takes selectors 1
// (range) and 2 (entry).
func (o *ProfileGeneric) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Attribute == 2 {
		sel := cosem.Selection{}
		if req.Access != nil {
			var err error
			if sel, err = cosem.ParseSelectiveAccess(req.Access.Selector, req.Access.Parameters); err != nil {
				return axdr.Data{}, err
			}
		}
		rows, err := o.Select(ctx, sel)
		if err != nil {
			return axdr.Data{}, err
		}
		return axdr.Array(rows...), nil
	}
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	if req.Attribute == 7 {
		o.Lock()
		f := o.EntriesInUse
		n := uint32(len(o.Rows))
		o.Unlock()
		if f != nil {
			var err error
			if n, err = f(ctx); err != nil {
				return axdr.Data{}, err
			}
		}
		return axdr.Uint32(n), nil
	}
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 3:
		return cosem.CaptureObjectsData(o.CaptureObjects), nil
	case 4:
		return axdr.Uint32(o.CapturePeriod), nil
	case 5:
		return axdr.Enum(o.SortMethod), nil
	case 6:
		return o.SortObject.Data(), nil
	case 8:
		return axdr.Uint32(o.ProfileEntries), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Select returns the buffer rows sel picks.
func (o *ProfileGeneric) Select(ctx context.Context, sel cosem.Selection) ([]axdr.Data, error) {
	o.Lock()
	f := o.Buffer
	rows, cols := o.Rows, o.CaptureObjects
	o.Unlock()
	if f != nil {
		return f(ctx, sel)
	}
	// Rows is only ever replaced or appended beyond len, never written in
	// place, so the snapshot stays valid without the lock.
	return sel.Apply(rows, cols)
}

// Set implements Object. Changing capture_objects clears the buffer, as
// the Blue Book requires; shrinking profile_entries drops the oldest rows.
func (o *ProfileGeneric) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 1, 2, 7:
		return o.denied(req.Attribute)
	case 3:
		cols, err := cosem.ParseCaptureObjects(v)
		if err != nil {
			return o.typeErr(3, "array of capture_object_definition", v)
		}
		o.Lock()
		o.CaptureObjects = cols
		o.Rows = nil
		o.Unlock()
		return nil
	case 4, 8:
		n, ok := cosem.UintOf(v, axdr.TagUint32)
		if !ok {
			return o.typeErr(req.Attribute, "double-long-unsigned", v)
		}
		o.Lock()
		if req.Attribute == 4 {
			o.CapturePeriod = uint32(n)
		} else {
			o.ProfileEntries = uint32(n)
			o.trimLocked()
		}
		o.Unlock()
		return nil
	case 5:
		n, ok := cosem.UintOf(v, axdr.TagEnum)
		if !ok {
			return o.typeErr(5, "enum", v)
		}
		if n < 1 || n > 6 {
			return cosem.Errorf(cosem.ResultOtherReason, o.attrName(5)+": unknown sort method")
		}
		o.Lock()
		o.SortMethod = uint8(n)
		o.Unlock()
		return nil
	case 6:
		c, err := cosem.ParseCaptureObject(v)
		if err != nil {
			return o.typeErr(6, "capture_object_definition", v)
		}
		o.Lock()
		o.SortObject = c
		o.Unlock()
		return nil
	}
	return o.undefinedAttr(req.Attribute)
}

func (o *ProfileGeneric) trimLocked() {
	if o.ProfileEntries > 0 && uint64(len(o.Rows)) > uint64(o.ProfileEntries) {
		drop := len(o.Rows) - int(o.ProfileEntries)
		rows := make([]axdr.Data, int(o.ProfileEntries))
		copy(rows, o.Rows[drop:])
		o.Rows = rows
	}
}

// Append adds a row (a structure, one item per capture object) to the
// in-memory buffer, dropping the oldest row when full.
func (o *ProfileGeneric) Append(row axdr.Data) {
	o.Lock()
	defer o.Unlock()
	if o.ProfileEntries > 0 && uint64(len(o.Rows)) >= uint64(o.ProfileEntries) {
		// Copy rather than reslice, so snapshots taken by Select keep
		// seeing the rows they had.
		rows := make([]axdr.Data, len(o.Rows)-1, len(o.Rows)+int(o.ProfileEntries)/4+1)
		copy(rows, o.Rows[1:])
		o.Rows = rows
	}
	o.Rows = append(o.Rows, row)
}

// CaptureNow reads every capture object from Source and appends the row.
// A column whose object is missing or fails to read is captured as
// null-data rather than losing the row.
func (o *ProfileGeneric) CaptureNow(ctx context.Context) error {
	o.Lock()
	cols, src := o.CaptureObjects, o.Source
	o.Unlock()
	if src == nil {
		return cosem.Errorf(cosem.ResultObjectUnavailable, o.methodName(2)+": no capture source")
	}
	cells := make([]axdr.Data, len(cols))
	for i, c := range cols {
		cells[i] = captureValue(ctx, src, c)
	}
	o.Append(axdr.Structure(cells...))
	return nil
}

func captureValue(ctx context.Context, src *Tree, c cosem.CaptureObject) axdr.Data {
	obj, err := src.Lookup(c.ClassID, c.LogicalName)
	if err != nil {
		return axdr.Null()
	}
	v, err := obj.Get(ctx, &cosem.AttributeRequest{Attribute: c.Attribute})
	if err != nil {
		return axdr.Null()
	}
	if c.DataIndex > 0 {
		if int(c.DataIndex) > len(v.Items) {
			return axdr.Null()
		}
		v = v.Items[c.DataIndex-1]
	}
	return v.Clone()
}

// Action implements Object: method 1 reset empties the buffer, method 2
// capture takes a row.
func (o *ProfileGeneric) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	switch req.Method {
	case 1, 2:
		if err := checkResetParam(&o.Header, p); err != nil {
			return axdr.Data{}, err
		}
	default:
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	o.Lock()
	reset, capture := o.Reset, o.Capture
	o.Unlock()
	if req.Method == 1 {
		if reset != nil {
			return axdr.Null(), reset(ctx)
		}
		o.Lock()
		o.Rows = nil
		o.Unlock()
		return axdr.Null(), nil
	}
	if capture != nil {
		return axdr.Null(), capture(ctx)
	}
	return axdr.Null(), o.CaptureNow(ctx)
}
