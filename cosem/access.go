package cosem

import (
	"strconv"
)

// AccessMode is an attribute access_mode of Association LN versions 1 and
// 2 (version 0 uses only 0..3).
type AccessMode uint8

// Attribute access modes.
const (
	NoAccess               AccessMode = 0
	ReadOnly               AccessMode = 1
	WriteOnly              AccessMode = 2
	ReadWrite              AccessMode = 3
	AuthenticatedReadOnly  AccessMode = 4
	AuthenticatedWriteOnly AccessMode = 5
	AuthenticatedReadWrite AccessMode = 6
	accessModeLimit        AccessMode = 7
)

var accessModeNames = [...]string{"no-access", "read-only", "write-only", "read-and-write",
	"authenticated-read-only", "authenticated-write-only", "authenticated-read-and-write"}

// String returns the Blue Book name.
func (m AccessMode) String() string {
	if m < accessModeLimit {
		return accessModeNames[m]
	}
	return "access-mode(" + strconv.Itoa(int(m)) + ")"
}

// CanRead reports whether the mode grants reading to a request with
// protection p.
func (m AccessMode) CanRead(p Protection) bool {
	switch m {
	case ReadOnly, ReadWrite:
		return true
	case AuthenticatedReadOnly, AuthenticatedReadWrite:
		return p&ProtAuthenticated != 0
	}
	return false
}

// CanWrite reports whether the mode grants writing to a request with
// protection p.
func (m AccessMode) CanWrite(p Protection) bool {
	switch m {
	case WriteOnly, ReadWrite:
		return true
	case AuthenticatedWriteOnly, AuthenticatedReadWrite:
		return p&ProtAuthenticated != 0
	}
	return false
}

// MethodAccessMode is a method access_mode of Association LN versions 1
// and 2. Version 0 carries a boolean, read as NoMethodAccess or
// MethodAccess.
type MethodAccessMode uint8

// Method access modes.
const (
	NoMethodAccess            MethodAccessMode = 0
	MethodAccess              MethodAccessMode = 1
	AuthenticatedMethodAccess MethodAccessMode = 2
)

// String returns the Blue Book name.
func (m MethodAccessMode) String() string {
	switch m {
	case NoMethodAccess:
		return "no-access"
	case MethodAccess:
		return "access"
	case AuthenticatedMethodAccess:
		return "authenticated-access"
	}
	return "method-access-mode(" + strconv.Itoa(int(m)) + ")"
}

// CanInvoke reports whether the mode grants invoking to a request with
// protection p.
func (m MethodAccessMode) CanInvoke(p Protection) bool {
	switch m {
	case MethodAccess:
		return true
	case AuthenticatedMethodAccess:
		return p&ProtAuthenticated != 0
	}
	return false
}

// AttributeAccess is one attribute_access_item.
type AttributeAccess struct {
	Attribute int8
	Mode      AccessMode
	// Selectors lists the selective access selectors allowed; nil
	// encodes as null-data (none).
	Selectors []int8
}

// MethodAccessItem is one method_access_item.
type MethodAccessItem struct {
	Method int8
	Mode   MethodAccessMode
}

// AccessRights is the access_rights of one object in one association.
// Attributes and methods not listed have no access.
type AccessRights struct {
	Attributes []AttributeAccess
	Methods    []MethodAccessItem
}

// Attribute returns the access item for attribute attr.
func (r *AccessRights) Attribute(attr int8) (AttributeAccess, bool) {
	for _, a := range r.Attributes {
		if a.Attribute == attr {
			return a, true
		}
	}
	return AttributeAccess{}, false
}

// Method returns the access mode of method m.
func (r *AccessRights) Method(m int8) MethodAccessMode {
	for _, a := range r.Methods {
		if a.Method == m {
			return a.Mode
		}
	}
	return NoMethodAccess
}

// CheckGet returns nil if the rights allow req as a GET, otherwise
// ErrReadWriteDenied (mode) or ErrScopeOfAccessViolated (selector).
func (r *AccessRights) CheckGet(req *AttributeRequest) error {
	a, _ := r.Attribute(req.Attribute)
	if !a.Mode.CanRead(req.Caller.Protection) {
		return Errorf(ResultReadWriteDenied, "attribute "+strconv.Itoa(int(req.Attribute))+" not readable ("+a.Mode.String()+")")
	}
	return a.checkSelector(req)
}

// CheckSet is CheckGet for a SET.
func (r *AccessRights) CheckSet(req *AttributeRequest) error {
	a, _ := r.Attribute(req.Attribute)
	if !a.Mode.CanWrite(req.Caller.Protection) {
		return Errorf(ResultReadWriteDenied, "attribute "+strconv.Itoa(int(req.Attribute))+" not writable ("+a.Mode.String()+")")
	}
	return a.checkSelector(req)
}

// CheckAction returns nil if the rights allow req, otherwise
// ErrReadWriteDenied.
func (r *AccessRights) CheckAction(req *MethodRequest) error {
	if m := r.Method(req.Method); !m.CanInvoke(req.Caller.Protection) {
		return Errorf(ResultReadWriteDenied, "method "+strconv.Itoa(int(req.Method))+" not invocable ("+m.String()+")")
	}
	return nil
}

func (a AttributeAccess) checkSelector(req *AttributeRequest) error {
	if req.Access == nil {
		return nil
	}
	for _, s := range a.Selectors {
		if int(s) == int(req.Access.Selector) {
			return nil
		}
	}
	return Errorf(ResultScopeOfAccessViolated, "attribute "+strconv.Itoa(int(req.Attribute))+
		": selective access selector "+strconv.Itoa(int(req.Access.Selector))+" not allowed")
}

// RightsFunc gives the access rights of an object in one association;
// false hides the object from that association altogether (it is left out
// of object_list and the server answers object-undefined).
type RightsFunc func(o Object) (AccessRights, bool)

// selectorsOf gives the selectors ready-made objects support, so default
// rights advertise them.
func selectorsOf(classID uint16, attr int8) []int8 {
	if classID == ClassProfileGeneric && attr == 2 {
		return []int8{1, 2}
	}
	return nil
}

// DefaultRights builds rights for o from its class metadata: logical_name
// read-only, every other attribute attrMode, every method methodMode. The
// Profile generic buffer advertises selectors 1 and 2. Unknown classes
// get logical_name only.
func DefaultRights(o Object, attrMode AccessMode, methodMode MethodAccessMode) AccessRights {
	c, ok := ClassInfo(o.ClassID())
	if !ok {
		return AccessRights{Attributes: []AttributeAccess{{Attribute: 1, Mode: ReadOnly}}}
	}
	r := AccessRights{Attributes: make([]AttributeAccess, len(c.Attributes))}
	if len(c.Methods) > 0 {
		r.Methods = make([]MethodAccessItem, len(c.Methods))
	}
	for i, a := range c.Attributes {
		m := attrMode
		if a.Index == 1 {
			m = ReadOnly
			if attrMode == NoAccess {
				m = NoAccess
			}
		}
		r.Attributes[i] = AttributeAccess{Attribute: a.Index, Mode: m, Selectors: selectorsOf(c.ID, a.Index)}
	}
	for i, m := range c.Methods {
		r.Methods[i] = MethodAccessItem{Method: m.Index, Mode: methodMode}
	}
	return r
}

// FullAccess is a RightsFunc that shows every object with read-write
// access to all attributes but logical_name and access to all methods.
func FullAccess(o Object) (AccessRights, bool) {
	return DefaultRights(o, ReadWrite, MethodAccess), true
}

// ReadOnlyAccess is a RightsFunc that shows every object read-only with no
// method access, as for a public client.
func ReadOnlyAccess(o Object) (AccessRights, bool) {
	return DefaultRights(o, ReadOnly, NoMethodAccess), true
}
