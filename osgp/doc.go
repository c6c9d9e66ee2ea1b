// Package osgp owns the Open Smart Grid Protocol (ETSI TS 104 001) over
// ISO/IEC 14908-1 framing: its table reads and writes on C12.19-based
// tables, its legacy security (the OMA digest and RC4, both broken, and
// named so wherever they are used) and its AES-128 PSK variant, for both
// the client and the meter side.
package osgp
