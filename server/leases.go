package server

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/headend"
)

// openLeases builds this node's leases on the fleet's shards when it runs
// the head-end among others: on an external bus only, since an embedded
// bus is one process's and its node reads every meter.
func (s *Server) openLeases() error {
	if !s.cfg.Node.Has(config.RoleHeadEnd) || s.Bus == nil || s.Bus.Embedded() {
		return nil
	}
	ttl := s.cfg.Node.LeaseTTL
	if ttl <= 0 {
		ttl = config.DefaultNode().LeaseTTL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := s.Bus.Leases(ctx, bus.LeaseConfig{Node: s.cfg.Node.Name, Shards: headend.Shards, TTL: ttl,
		Metrics: s.registerer(), Logger: s.log})
	if err != nil {
		return fmt.Errorf("leases of node %s: %w", s.cfg.Node.Name, err)
	}
	s.leases = l
	return nil
}

// headEndLeases is what the head-end reads its share by (nil: every meter).
func (s *Server) headEndLeases() headend.Leases {
	if s.leases == nil {
		return nil
	}
	return s.leases
}

// runLeases renews and balances the leases until ctx ends, then releases
// them, so that the other nodes take this one's shards at once.
func (s *Server) runLeases(ctx context.Context) error {
	if s.leases == nil {
		return nil
	}
	return s.leases.Run(ctx)
}
