package sim

import (
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/topology"
)

// GridFields are the manifest columns naming a meter's place in the
// network when the fleet runs on a supply with a topology: the devices
// above its usage point. WriteManifest writes them after ManifestFields.
var GridFields = []string{"substation", "feeder", "transformer"}

// Topology returns the tree of the fleet's supply, or nil when the fleet
// has no supply or the supply knows no tree.
func (f *Fleet) Topology() *topology.Grid {
	if t, ok := f.model.Supply.(interface{ Topology() *topology.Grid }); ok {
		return t.Topology()
	}
	return nil
}

// gridFields fills row's grid columns from the topology: the usage
// point's transformer, feeder and substation.
func (f *Fleet) gridFields(row *manifest.Row) {
	g := f.Topology()
	if g == nil {
		return
	}
	for _, n := range g.Path(row.UsagePointID) {
		switch n.Level {
		case topology.Substation, topology.Feeder, topology.Transformer:
			row.Fields[string(n.Level)] = n.ID
		}
	}
}
