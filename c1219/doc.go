// Package c1219 owns the ANSI C12.19 utility industry end device data
// tables: the data formats ST0 declares (byte order, character format,
// time format, non-integer formats), the standard tables a head-end reads
// and writes (identification, configuration, registers, load profile,
// logs), procedures through ST7 and ST8, and a meter-side table store that
// serves full, offset and index reads and writes. Codecs are pure
// functions on bytes; no transport lives here.
package c1219
