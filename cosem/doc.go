// Package cosem owns the COSEM object model of IEC 62056-6-2 (the DLMS
// Blue Book) as both ends of an association see it: the metadata of the
// supported interface classes (ids, versions, attribute and method
// descriptors and their types), the Object contract a server dispatches
// GET, SET and ACTION requests into, the Data-Access-Result and
// Action-Result enumerations with the typed errors that carry them,
// access rights, the object_list encoding and the other attribute values
// of Association LN, the capture objects and selective-access descriptors
// of Profile generic, and the date-time and logical-name value codecs.
// Mechanism and application context ids are dlms/security's.
//
// A client reads meters with this package alone. The behaviour of
// objects (what a register, a clock or a profile buffer does when asked)
// belongs to package cosem/objects.
//
// Values travel as axdr.Data.
package cosem
