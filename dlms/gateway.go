package dlms

import (
	"context"

	"github.com/amigo-ami/amigo/dlms/gateway"
)

// Gateway is a meter's place behind a data concentrator: the network the
// concentrator reaches it on and its physical address there (package
// gateway).
type Gateway struct {
	NetworkID uint8
	Address   []byte
}

// wrap puts the gateway protocol over a link; a nil Gateway leaves the
// link as it is.
func (g *Gateway) wrap(t Transport) Transport {
	if g == nil || t == nil {
		return t
	}
	return &gatewayLink{Client: gateway.Client{T: t, NetworkID: g.NetworkID, Address: g.Address}, inner: t}
}

// gatewayLink is a link through a concentrator: it readdresses the link
// beneath for the next association.
type gatewayLink struct {
	gateway.Client
	inner Transport
}

// Readdress implements Readdresser when the link beneath does.
func (l *gatewayLink) Readdress(ctx context.Context, clientSAP uint16) error {
	if r, ok := l.inner.(Readdresser); ok {
		return r.Readdress(ctx, clientSAP)
	}
	return nil
}
