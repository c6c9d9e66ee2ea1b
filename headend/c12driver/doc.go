// Package c12driver reaches ANSI C12 meters for the head-end: C12.18 PSEM
// over TCP and C12.22 over IP. It owns their manifest columns and
// credentials, the reading of C12.19 registers, load profile and logs
// into a collection, and the procedures behind commands (remote connect
// and disconnect, clock set, demand reset).
package c12driver
