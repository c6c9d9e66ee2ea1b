package dlmsdriver

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/gateway"
	"github.com/amigo-ami/amigo/manifest"
)

// The columns of a meter behind a DLMS data concentrator (gateway): the
// concentrator's host:port, the network it reaches the meter on, and the
// meter's physical address there. All empty: the meter is reached at its
// own address.
var (
	colGateway         = manifest.Column{Name: "gateway", MaxBytes: 255}
	colGatewayNetwork  = manifest.Column{Name: "gateway_network"}
	colPhysicalAddress = manifest.Column{Name: "physical_address", MaxBytes: 2 * gateway.MaxAddress}
)

var gatewayColumns = []manifest.Column{colGateway, colGatewayNetwork, colPhysicalAddress}

// registerGateway reads a row's gateway columns into c.
func registerGateway(r manifest.Row, c *Credentials) error {
	vals := make([]string, len(gatewayColumns))
	for i, col := range gatewayColumns {
		v, err := r.Field(col)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	bad := func(col manifest.Column, err error) error {
		return &manifest.RowError{Line: r.Line, Column: col.Name, Err: err}
	}
	gw, network, addr := vals[0], vals[1], vals[2]
	if gw == "" {
		if network != "" || addr != "" {
			return bad(colGateway, errors.New("empty, while gateway_network or physical_address is set"))
		}
		return nil
	}
	if r.SubMeter() {
		return bad(colGateway, errors.New("a gas or water meter is reached through its parent, not a gateway"))
	}
	if _, port, err := net.SplitHostPort(gw); err != nil || port == "" {
		return bad(colGateway, fmt.Errorf("%q: want host:port", gw))
	}
	c.Gateway = gw
	if network != "" {
		n, err := strconv.ParseUint(network, 10, 8)
		if err != nil {
			return bad(colGatewayNetwork, errors.New("want 0 to 255"))
		}
		c.GatewayNetwork = uint8(n)
	}
	b, err := hex.DecodeString(addr)
	switch {
	case err != nil:
		return bad(colPhysicalAddress, errors.New("not hex"))
	case len(b) == 0:
		return bad(colPhysicalAddress, errors.New("empty: a meter behind a gateway needs its physical address"))
	case len(b) > gateway.MaxAddress:
		return bad(colPhysicalAddress, fmt.Errorf("%d bytes: at most %d", len(b), gateway.MaxAddress))
	}
	c.PhysicalAddress = b
	return nil
}

// dialAddress is where a session to the meter is dialled: its own
// address, or its concentrator's, with the gateway set in o.
func (c Credentials) dialAddress(own string, o *dlms.Options) string {
	if c.Gateway == "" {
		return own
	}
	o.Gateway = &dlms.Gateway{NetworkID: c.GatewayNetwork, Address: c.PhysicalAddress}
	return c.Gateway
}
