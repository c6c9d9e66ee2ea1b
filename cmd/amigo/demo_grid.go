package main

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/server"
)

// demoNetwork is the distribution network the demo's meters hang from:
// its faults reach from the start of the meters' history to a month
// ahead, so the collected history holds outages and the running demo
// meets new ones.
func demoNetwork(meters int, seed uint64, now time.Time, history int, loc *time.Location) (*distribution.Network, error) {
	y, m, d := now.In(loc).Date()
	cfg := distribution.DefaultConfig(seed, meters, time.Date(y, m, d-history, 0, 0, 0, 0, loc))
	cfg.Days = history + 31
	cfg.Location = loc
	n, err := distribution.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo network: %w", err)
	}
	return n, nil
}

// demoTopology files the network's tree as the version in force since the
// start of the history, so outages and indices have their grid.
func demoTopology(ctx context.Context, srv *server.Server, n *distribution.Network) error {
	if _, err := srv.Store.PutTopology(ctx, n.Config().Start, n.Topology()); err != nil {
		return fmt.Errorf("demo topology: %w", err)
	}
	return nil
}
