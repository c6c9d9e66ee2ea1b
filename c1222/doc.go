// Package c1222 owns ANSI C12.22 over TCP/IP: the ACSE association
// elements and the EPSEM envelope that carry PSEM between ApTitles,
// security mode 2 with the AES-128 EAX' mode (and the guard against its
// one-block forgery), segmentation, and enough of the relay and master
// relay roles to route a request, for both the client and the meter side.
package c1222
