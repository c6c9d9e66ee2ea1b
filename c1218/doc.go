// Package c1218 owns the ANSI C12.18 optical-port protocol and the C12.21
// telephone-modem additions: the packet link (framing, CRC-16/X-25, the
// toggle bit, acknowledgements, retransmission and the timing rules) that
// carries PSEM, on an optical probe, a serial line or TCP, for both the
// client and the meter side.
package c1218
