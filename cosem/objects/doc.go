// Package objects owns the behaviour of COSEM interface objects: ready-made
// Data, Register, Profile generic, Clock, Disconnect control, Association
// LN, Image transfer and the other classes cosem describes, backed by
// plain Go values and callbacks, and the Tree that is one logical
// device's object directory.
//
// It sits beside cosem rather than inside dlms/server because nothing
// here depends on an xDLMS session: the server dispatches into these
// objects, and the simulator and the lab meter build whole meters from
// them, while a client needs only cosem.
//
// Ready-made objects embed a sync.Mutex that guards their exported
// fields: set the fields freely before the object is shared, and hold the
// lock (Lock/Unlock) when changing them afterwards. Callbacks are always
// invoked without that lock held, so they may use the object.
package objects
