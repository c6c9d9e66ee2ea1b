package topology

import (
	"cmp"
	"fmt"
)

// Merge lays nodes over base, the version in force, and returns the tree
// that results (without a version or date: the store gives those). A node
// of base that nodes do not name keeps its place; one they name moves to
// its new parent and takes the attributes they give, keeping base's where
// they give none (a manifest that knows a service's transformer but not
// its position does not erase the position). A node of nodes used at a
// level other than its level in base is refused, naming both. base may be
// nil: the first version.
func Merge(base *Grid, nodes []Node) (*Grid, error) {
	seen := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		if prev, dup := seen[n.ID]; dup && prev != n {
			return nil, fmt.Errorf("topology: %s %q is given twice, differently", n.Level, n.ID)
		}
		seen[n.ID] = n
	}
	if base == nil {
		return New(nodes)
	}
	out := make([]Node, 0, base.Len()+len(nodes))
	for _, b := range base.Source() {
		n, ok := seen[b.ID]
		if !ok {
			out = append(out, b)
			continue
		}
		if n.Level != b.Level {
			return nil, fmt.Errorf("topology: %q is a %s in the update but a %s in version %d", n.ID, n.Level, b.Level, base.Version)
		}
		// The parent is where the update places the node; a substation
		// has none.
		m := Node{ID: b.ID, Level: b.Level, Parent: n.Parent,
			Region: cmp.Or(n.Region, b.Region), Phase: cmp.Or(n.Phase, b.Phase), DistanceM: cmp.Or(n.DistanceM, b.DistanceM)}
		m.Lat, m.Lon = b.Lat, b.Lon
		if n.Lat != 0 || n.Lon != 0 {
			m.Lat, m.Lon = n.Lat, n.Lon
		}
		out = append(out, m)
		delete(seen, b.ID)
	}
	for _, n := range nodes {
		if _, ok := seen[n.ID]; ok {
			out = append(out, n)
			delete(seen, n.ID)
		}
	}
	return New(out)
}
