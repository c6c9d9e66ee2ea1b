package objects

import (
	"errors"
	"sort"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// ErrDuplicate is returned by Tree.Add for a logical name already present.
var ErrDuplicate = errors.New("cosem: logical name already in the tree")

// Tree is the object directory of one logical device. Logical names are
// unique in a device, so lookups go by OBIS code and the class id only
// confirms it. A Tree is safe for concurrent use.
type Tree struct {
	mu    sync.RWMutex
	byLN  map[obis.Code]cosem.Object
	order []cosem.Object // insertion order, the order of object_list
}

// NewTree returns a tree holding objs, in that order.
func NewTree(objs ...cosem.Object) (*Tree, error) {
	t := &Tree{byLN: make(map[obis.Code]cosem.Object)}
	for _, o := range objs {
		if err := t.Add(o); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Add appends o. A second object with the same logical name is refused.
func (t *Tree) Add(o cosem.Object) error {
	ln := o.LogicalName()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byLN == nil {
		t.byLN = make(map[obis.Code]cosem.Object)
	}
	if _, ok := t.byLN[ln]; ok {
		return errors.Join(ErrDuplicate, errors.New("cosem: "+ln.String()))
	}
	t.byLN[ln] = o
	t.order = append(t.order, o)
	return nil
}

// Remove deletes the object with logical name ln and reports whether
// there was one.
func (t *Tree) Remove(ln obis.Code) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.byLN[ln]
	if !ok {
		return false
	}
	delete(t.byLN, ln)
	for i, x := range t.order {
		if x == o {
			t.order = append(t.order[:i:i], t.order[i+1:]...)
			break
		}
	}
	return true
}

// Find returns the object with logical name ln, whatever its class.
func (t *Tree) Find(ln obis.Code) (cosem.Object, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	o, ok := t.byLN[ln]
	return o, ok
}

// Lookup resolves a COSEM attribute or method descriptor's class id and
// instance id. It fails with ErrObjectUndefined when no object has that
// logical name and with ErrClassInconsistent when one does but of
// another class.
func (t *Tree) Lookup(classID uint16, ln obis.Code) (cosem.Object, error) {
	o, ok := t.Find(ln)
	if !ok {
		return nil, cosem.Errorf(cosem.ResultObjectUndefined, "no object "+ln.String())
	}
	if o.ClassID() != classID {
		return nil, cosem.Errorf(cosem.ResultObjectClassInconsistent, ln.String()+" is "+cosem.ClassName(o.ClassID())+", not "+cosem.ClassName(classID))
	}
	return o, nil
}

// Objects returns the objects in insertion order.
func (t *Tree) Objects() []cosem.Object {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]cosem.Object, len(t.order))
	copy(out, t.order)
	return out
}

// ByClass returns the objects of one class, sorted by logical name.
func (t *Tree) ByClass(classID uint16) []cosem.Object {
	var out []cosem.Object
	for _, o := range t.Objects() {
		if o.ClassID() == classID {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].LogicalName(), out[j].LogicalName()
		return string(a[:]) < string(b[:])
	})
	return out
}

// Len returns the number of objects.
func (t *Tree) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.order)
}

// Entries lists the objects visible under rights, in insertion order,
// with their access rights. A nil rights shows everything with
// FullAccess.
func (t *Tree) Entries(rights cosem.RightsFunc) []cosem.ObjectListEntry {
	if rights == nil {
		rights = cosem.FullAccess
	}
	objs := t.Objects()
	out := make([]cosem.ObjectListEntry, 0, len(objs))
	for _, o := range objs {
		r, ok := rights(o)
		if !ok {
			continue
		}
		out = append(out, cosem.ObjectListEntry{ClassID: o.ClassID(), Version: o.Version(), LogicalName: o.LogicalName(), Rights: r})
	}
	return out
}

// ObjectList encodes the objects of t visible under rights as a version 1
// object_list.
func (t *Tree) ObjectList(rights cosem.RightsFunc) axdr.Data {
	return cosem.EncodeObjectList(t.Entries(rights), 1)
}
