// Package headend owns the head-end: the meter registry and its sealed
// keys, the daily collection with its throttling per network segment, the
// push listener, and the command lifecycle. It talks to meters through one
// Driver per protocol and hands everything it reads to the bus in the CIM
// vocabulary; a reading counts as collected only once the bus has it.
package headend
