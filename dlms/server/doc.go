// Package server owns the meter side of DLMS/COSEM with logical-name
// referencing: logical devices (Device) that accept associations under
// per-client security policies (no security, LLS, HLS-GMAC, HLS-SHA256,
// HLS-ECDSA; ciphering with authentication and/or encryption), serve GET,
// SET and ACTION in their normal, with-list and block-transfer forms into a
// cosem.Tree while enforcing the access rights of each client, release
// associations (plainly or protected), and send unsolicited
// data-notification and event-notification pushes.
//
// A Device serves one connection at a time per call of Serve over any
// dlms.Transport; Server puts several logical devices behind a TCP listener
// speaking the wrapper (IEC 62056-47) or HDLC (IEC 62056-46, optionally
// after an IEC 62056-21 mode E sign-on), the address in the first frame of a
// connection selecting the device.
//
// Hostile input never brings the device down: a malformed, unknown or
// undecipherable APDU is answered with an EXCEPTION-response or an AARE
// rejection, or at worst ends that one connection. Reassembly of long SET and
// ACTION requests is bounded by Device.MaxReassembly.
package server
