package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/dlms/gateway"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/wrapper"
)

// Concentrator is a DLMS data concentrator (gateway) with meters behind
// it: the head-end reaches it over TCP and it forwards each APDU to the
// meter its gateway request addresses (package gateway), on its
// neighbourhood network. One TCP connection carries one meter's session.
type Concentrator struct {
	NetworkID uint8
	// Meters are the fleet indexes of the meters behind it.
	Meters []int
}

// PhysicalAddress is meter i's address on a concentrator's network: its
// system title, which is unique and printed on the meter.
func (f *Fleet) PhysicalAddress(i int) []byte {
	st := f.Identity(i).SystemTitle
	return st[:]
}

// GatewayRow is meter i's manifest row when it sits behind a concentrator
// listening at addr (host:port).
func (f *Fleet) GatewayRow(i int, c Concentrator, addr string) (manifest.Row, error) {
	r, err := f.Row(i)
	if err != nil {
		return r, err
	}
	if r.Protocol != "dlms" {
		return r, fmt.Errorf("sim: meter %d speaks %s: only DLMS meters sit behind a concentrator", i, r.Protocol)
	}
	r.Fields["gateway"] = addr
	r.Fields["gateway_network"] = strconv.Itoa(int(c.NetworkID))
	r.Fields["physical_address"] = hex.EncodeToString(f.PhysicalAddress(i))
	return r, nil
}

// ServeConcentrator serves a concentrator on ln until ctx ends: each
// connection's first gateway request names the meter, which then serves
// the session as if it were dialled itself (one session at a time per
// meter, its faults and its collector's mesh, if any).
func (f *Fleet) ServeConcentrator(ctx context.Context, ln net.Listener, c Concentrator) error {
	behind := make(map[string]int, len(c.Meters))
	for _, i := range c.Meters {
		if i < 0 || i >= f.n {
			return fmt.Errorf("sim: concentrator: no meter %d in a fleet of %d", i, f.n)
		}
		behind[string(f.PhysicalAddress(i))] = i
	}
	return linkio.Serve(ctx, ln, "sim-concentrator", func(ctx context.Context, conn net.Conn) error {
		f.handleGateway(ctx, conn, c.NetworkID, behind)
		return nil
	}, nil)
}

// gatewayFirstFrame bounds the wait for a connection's first request.
const gatewayFirstFrame = 30 * time.Second

func (f *Fleet) handleGateway(ctx context.Context, conn net.Conn, network uint8, behind map[string]int) {
	defer conn.Close()
	wc := wrapper.NewConn(conn, 1, 0, wrapper.WithAnyRemote())
	fctx, cancel := context.WithTimeout(ctx, gatewayFirstFrame)
	first, err := wc.Recv(fctx)
	cancel()
	if err != nil {
		return
	}
	p, err := gateway.Decode(first)
	if err != nil || p.Response {
		f.log.Debug("concentrator: not a gateway request", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	i, ok := behind[string(p.Address)]
	if !ok || p.NetworkID != network {
		// No such meter on the network: the concentrator has nowhere to
		// forward the request, and drops the session.
		f.log.Debug("concentrator: unknown meter", "network", p.NetworkID, "address", hex.EncodeToString(p.Address))
		refuse(conn)
		return
	}
	ss, ok := f.admit(ctx, i)
	if !ok {
		refuse(conn)
		return
	}
	defer ss.close()
	gt := &gatewayServer{wc: wc, network: network, addr: append([]byte(nil), p.Address...), first: append([]byte(nil), p.APDU...)}
	t := &faultyTransport{Conn: wc, raw: conn, dev: ss.dev, path: ss.path}
	t.via = gt
	err = ss.dev.Serve(ctx, t, serverClientInfo(wc, conn))
	if err != nil && ctx.Err() == nil && !errors.Is(err, errExchangeLost) {
		f.log.Debug("meter session through a concentrator ended", "meter", i, "err", err)
	}
}

// gatewayServer is the concentrator's side of one meter's session: it
// unwraps the head-end's gateway requests and wraps the meter's answers
// in gateway responses.
type gatewayServer struct {
	wc      *wrapper.Conn
	network uint8
	addr    []byte
	first   []byte // the first request's APDU, not yet handed on
	buf     []byte
}

func (g *gatewayServer) Recv(ctx context.Context) ([]byte, error) {
	if b := g.first; b != nil {
		g.first = nil
		return b, nil
	}
	b, err := g.wc.Recv(ctx)
	if err != nil {
		return nil, err
	}
	p, err := gateway.Decode(b)
	if err != nil {
		return nil, err
	}
	if p.Response || p.NetworkID != g.network || string(p.Address) != string(g.addr) {
		return nil, fmt.Errorf("sim: concentrator: a request for network %d address %X in the session of %X", p.NetworkID, p.Address, g.addr)
	}
	return p.APDU, nil
}

func (g *gatewayServer) Send(ctx context.Context, apdu []byte) error {
	b, err := gateway.Append(g.buf[:0], gateway.PDU{Response: true, NetworkID: g.network, Address: g.addr, APDU: apdu})
	if err != nil {
		return err
	}
	g.buf = b
	return g.wc.Send(ctx, b)
}
