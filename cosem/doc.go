// Package cosem owns the COSEM object model of IEC 62056-6-2 (the DLMS
// Blue Book) as a server sees it: the metadata of the supported interface
// classes, the Object interface a DLMS server dispatches GET, SET and
// ACTION requests into, the typed errors that map onto the xDLMS
// Data-Access-Result and Action-Result enumerations, the object directory
// (Tree) with per-association access rights and the object_list encoding
// of Association LN, the selective-access descriptors of Profile generic,
// and ready-made objects backed by plain Go values and callbacks that a
// virtual or real meter can sit behind.
//
// Values travel as axdr.Data. Ready-made objects embed a sync.Mutex that
// guards their exported fields: set the fields freely before the object is
// shared, and hold the lock (Lock/Unlock) when changing them afterwards.
// Callbacks are always invoked without that lock held, so they may use
// the object.
package cosem
