// Package hdlc owns the IEC 62056-46 HDLC data link layer used by DLMS/COSEM
// over serial lines, optical probes (after an IEC 62056-21 mode E sign-on) and
// TCP: the frame format type 3 codec with its address, control, HCS/FCS and
// SNRM/UA parameter fields, a stream reader that finds frames between 0x7E
// flags, and client and server link sessions that connect, segment and
// reassemble APDUs and track N(S)/N(R) sequence numbers.
//
// The codec functions are pure and allocation-bounded; the sessions take any
// io.ReadWriter and use SetReadDeadline/SetWriteDeadline when the transport
// offers them, so the same code runs over net.Conn, a pty or a serial port.
package hdlc
