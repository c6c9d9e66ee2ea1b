package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
)

// shape checks the structure of an attribute value.
type shape func(axdr.Data) bool

func tagShape(t axdr.Tag) shape { return func(d axdr.Data) bool { return d.Tag == t } }

func octetsShape(n int) shape {
	return func(d axdr.Data) bool { return d.Tag == axdr.TagOctetString && (n < 0 || len(d.Bytes) == n) }
}

func arrayOf(s shape) shape {
	return func(d axdr.Data) bool {
		if d.Tag != axdr.TagArray {
			return false
		}
		for _, it := range d.Items {
			if !s(it) {
				return false
			}
		}
		return true
	}
}

func structOf(fields ...shape) shape {
	return func(d axdr.Data) bool {
		if !isStruct(d, len(fields)) {
			return false
		}
		for i, f := range fields {
			if !f(d.Items[i]) {
				return false
			}
		}
		return true
	}
}

var (
	anyShape      shape = func(axdr.Data) bool { return true }
	simpleShape   shape = cosem.IsSimple
	dateTimeShape shape = cosem.IsDateTime
	lnShape             = octetsShape(6)
	u8Shape             = tagShape(axdr.TagUint8)
	u16Shape            = tagShape(axdr.TagUint16)
	u32Shape            = tagShape(axdr.TagUint32)
	i8Shape             = tagShape(axdr.TagInt8)
	enumShape           = tagShape(axdr.TagEnum)
	boolShape           = tagShape(axdr.TagBoolean)
	anyOctets           = octetsShape(-1)
	// script reference: structure{script_logical_name, script_selector}.
	scriptShape = structOf(lnShape, u16Shape)
	// capture_object_definition without data index (value_definition).
	valueDefShape = structOf(u16Shape, lnShape, i8Shape)
)

// field binds one attribute to the Go value behind it. store is nil for
// attributes clients may not write; check validates a value before store
// sees it. get and store run with the object's lock held.
type field struct {
	get   func() axdr.Data
	check shape
	store func(axdr.Data)
	want  string
}

func dataField(p *axdr.Data, s shape, want string, writable bool) field {
	f := field{get: func() axdr.Data { return *p }, check: s, want: want}
	if writable {
		f.store = func(v axdr.Data) { *p = v.Clone() }
	}
	return f
}

func uintField[T uint8 | uint16 | uint32](p *T, tag axdr.Tag, mk func(T) axdr.Data, writable bool) field {
	f := field{get: func() axdr.Data { return mk(*p) }, check: tagShape(tag), want: tag.String()}
	if writable {
		f.store = func(v axdr.Data) {
			n, _ := v.Uint()
			*p = T(n)
		}
	}
	return f
}

func u8Field(p *uint8, w bool) field   { return uintField(p, axdr.TagUint8, axdr.Uint8, w) }
func u16Field(p *uint16, w bool) field { return uintField(p, axdr.TagUint16, axdr.Uint16, w) }
func u32Field(p *uint32, w bool) field { return uintField(p, axdr.TagUint32, axdr.Uint32, w) }
func enumField(p *uint8, w bool) field { return uintField(p, axdr.TagEnum, axdr.Enum, w) }

func boolField(p *bool, w bool) field {
	f := field{get: func() axdr.Data { return axdr.Bool(*p) }, check: boolShape, want: "boolean"}
	if w {
		f.store = func(v axdr.Data) { *p, _ = v.Bool() }
	}
	return f
}

func bytesField(p *[]byte, n int, w bool) field {
	f := field{get: func() axdr.Data { return axdr.OctetString(append([]byte(nil), (*p)...)) }, check: octetsShape(n), want: "octet-string"}
	if w {
		f.store = func(v axdr.Data) { *p = append([]byte(nil), v.Bytes...) }
	}
	return f
}

// tableGet serves attribute 1 and the fields (attribute i+2 is fields[i]).
func tableGet(h *Header, mu *sync.Mutex, fields func() []field, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := h.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	if req.Attribute == 1 {
		return cosem.LogicalNameData(h.LN), nil
	}
	mu.Lock()
	defer mu.Unlock()
	fs := fields()
	i := int(req.Attribute) - 2
	if i < 0 || i >= len(fs) {
		return axdr.Data{}, h.undefinedAttr(req.Attribute)
	}
	return fs[i].get(), nil
}

// SetHook is told about a well-typed SET before it is stored and may
// refuse it.
type SetHook func(ctx context.Context, attr int8, v axdr.Data) error

// tableSet type-checks a value, lets the hook (run without the lock)
// refuse it, then stores it.
func tableSet(ctx context.Context, h *Header, mu *sync.Mutex, fields func() []field, req *cosem.AttributeRequest, v axdr.Data, hook SetHook) error {
	if err := h.noSelective(req); err != nil {
		return err
	}
	if req.Attribute == 1 {
		return h.denied(1)
	}
	mu.Lock()
	fs := fields()
	i := int(req.Attribute) - 2
	if i < 0 || i >= len(fs) {
		mu.Unlock()
		return h.undefinedAttr(req.Attribute)
	}
	f := fs[i]
	mu.Unlock()
	if f.store == nil {
		return h.denied(req.Attribute)
	}
	if !f.check(v) {
		return h.typeErr(req.Attribute, f.want, v)
	}
	if hook != nil {
		if err := hook(ctx, req.Attribute, v); err != nil {
			return err
		}
	}
	mu.Lock()
	f.store(v)
	mu.Unlock()
	return nil
}
