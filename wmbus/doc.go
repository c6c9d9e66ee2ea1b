// Package wmbus owns wireless M-Bus (EN 13757-4) telegrams: the link
// layer's frame formats A and B with their per-block CRCs, the byte
// renditions of modes T1 (3-of-6), C1 and S1 (Manchester) a receiver
// hands over, the extended link layer (ELL), the authentication and
// fragmentation layer (AFL), the transport layer headers, and the AES-128
// security modes 5 and 7 (OMS), both ways. A Receiver decodes a stream of
// telegrams with a Keyring of per-meter keys and counts what it cannot
// read, by kind, without stopping.
//
// The application data inside a telegram are EN 13757-3 data records; the
// mbus package decodes them.
package wmbus
