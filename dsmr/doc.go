// Package dsmr owns the DSMR P1 port: the telegrams Dutch (DSMR 2.2 to
// 5.0.2), Belgian (e-MUCS) and Luxembourg/Austrian meters push on it, as a
// model, a version-aware parser and a generator; their AES-128-GCM
// encrypted frames; and the readers that split telegrams out of a serial
// port, a TCP bridge or a file, keeping what does not parse and counting
// it rather than stopping.
//
// Codecs are pure functions on bytes (Parse, Telegram.Encode, Decrypt,
// Encrypt); Reader and Open do the I/O.
package dsmr
