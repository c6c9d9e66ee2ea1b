package objects

import (
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Header carries the identity every ready-made object shares; embed it
// to get ClassID, Version and LogicalName.
type Header struct {
	Class uint16
	Ver   uint8
	LN    obis.Code
}

// ClassID returns the interface class id.
func (h *Header) ClassID() uint16 { return h.Class }

// Version returns the interface class version.
func (h *Header) Version() uint8 { return h.Ver }

// LogicalName returns the object's OBIS code.
func (h *Header) LogicalName() obis.Code { return h.LN }

// String names the object for logs: "Clock 0.0.1.0.0.255".
func (h *Header) String() string {
	return cosem.ClassName(h.Class) + " " + h.LN.String()
}

// attrName is used in error details: "Register 1.0.1.8.0.255 value".
func (h *Header) attrName(attr int8) string {
	return h.String() + " " + cosem.AttributeName(h.Class, attr)
}

func (h *Header) methodName(m int8) string {
	return h.String() + " " + cosem.MethodName(h.Class, m)
}

func (h *Header) undefinedAttr(attr int8) error {
	return cosem.Errorf(cosem.ResultObjectUndefined, h.String()+": no attribute "+strconv.Itoa(int(attr)))
}

func (h *Header) undefinedMethod(m int8) error {
	return cosem.Errorf(cosem.ResultObjectUndefined, h.String()+": no method "+strconv.Itoa(int(m)))
}

func (h *Header) denied(attr int8) error {
	return cosem.Errorf(cosem.ResultReadWriteDenied, h.attrName(attr)+" is read-only")
}

// noSelective rejects selective access on attributes that define none.
func (h *Header) noSelective(req *cosem.AttributeRequest) error {
	if req.Access != nil {
		return cosem.Errorf(cosem.ResultScopeOfAccessViolated, h.attrName(req.Attribute)+": no selective access defined")
	}
	return nil
}

func (h *Header) typeErr(attr int8, want string, got axdr.Data) error {
	return cosem.Errorf(cosem.ResultTypeUnmatched, h.attrName(attr)+": want "+want+", got "+got.Tag.String())
}

func (h *Header) paramErr(m int8, want string, got axdr.Data) error {
	return cosem.Errorf(cosem.ResultTypeUnmatched, h.methodName(m)+": parameter: want "+want+", got "+got.Tag.String())
}
