package store

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Topology is the electrical network behind the meters, kept as versions
// effective from a date: a transformer switched to another feeder is a new
// version, and an outage or an index of any day is worked out on the tree
// in force that day.
type Topology interface {
	// PutTopology stores g as a new version effective from effectiveFrom
	// and returns its number. Numbers only increase; a later version
	// effective from the same instant replaces the earlier one from then.
	PutTopology(ctx context.Context, effectiveFrom time.Time, g *topology.Grid) (version int, err error)
	// TopologyAt returns the version in force at at: the latest whose
	// EffectiveFrom is not after at (the highest number among those of
	// one date). ErrNotFound when none is.
	TopologyAt(ctx context.Context, at time.Time) (*topology.Grid, error)
	// TopologyVersions lists every version, oldest number first.
	TopologyVersions(ctx context.Context) ([]TopologyVersion, error)
}

// TopologyVersion describes one stored version of the grid.
type TopologyVersion struct {
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effectiveFrom"`
	Nodes         int       `json:"nodes"`
}
