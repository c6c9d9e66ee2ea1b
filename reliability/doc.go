// Package reliability computes the IEEE 1366 reliability indices (SAIDI,
// SAIFI, CAIDI, MAIFI) per feeder and region over any period from customer
// interruptions, and identifies major event days by the 2.5 beta method so
// that they can be excluded.
package reliability
