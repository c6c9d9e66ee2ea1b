// Package mbus owns wired M-Bus: the EN 13757-2 link layer (single
// character, short, control and long frames, their lengths and checksums),
// the EN 13757-3 application layer (CI fields, the fixed data header, and
// the data records with their DIF/DIFE/VIF/VIFE coding, which wireless
// M-Bus shares), the master's session (SND_NKE, REQ_UD2 with FCB toggling,
// multi-telegram reads, primary and secondary addressing, wildcard scans)
// and the slave side answering a master from a small meter interface, over
// TCP (M-Bus converters) or a serial port.
//
// Codecs are pure functions on bytes; only the Master, the Slave and the
// transports do I/O.
package mbus
