// Package osgpdriver reaches OSGP meters (ETSI TS 104 001) for the
// head-end: their manifest columns and keys, the sequence numbers and
// digest guard of their links, and the exposure of meters still on the
// broken legacy security, which it names in the meter's record. Their
// C12.19 tables are read, and commands run, by c12driver's Reader.
package osgpdriver
