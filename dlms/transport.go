// Package dlms is the client side of DLMS/COSEM with logical-name
// referencing: it associates with a meter under a security profile, then
// gets, sets and acts on COSEM objects and reads profiles, over the TCP
// wrapper or HDLC. APDU codecs live in dlms/apdu, ciphering in
// dlms/security, the meter side in dlms/server.
package dlms

import "context"

// Transport carries whole APDUs between a client and a logical device. The
// wrapper (wrapper.Conn) and HDLC (hdlc.Client, hdlc.Server) links
// implement it; each applies the context's deadline to its I/O.
type Transport interface {
	Send(ctx context.Context, apdu []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}
