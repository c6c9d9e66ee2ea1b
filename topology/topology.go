// Package topology owns the electrical network behind the meters as a
// utility records it: substations, their feeders, the distribution
// transformers on each feeder and the service points (usage points) each
// transformer supplies. A Grid is one version of that tree, valid from a
// date; switching a transformer to another feeder is a new version, so an
// outage or an index is always worked out on the tree of its own day.
package topology

import (
	"fmt"
	"slices"
	"time"
)

// Level is a node's place in the tree, from the top.
type Level string

// The levels, top down. A service is a usage point: its node id is the
// usage point's id, so the registry's meters hang under it.
const (
	Substation  Level = "substation"
	Feeder      Level = "feeder"
	Transformer Level = "transformer"
	Service     Level = "service"
)

// Levels lists the levels top down.
var Levels = []Level{Substation, Feeder, Transformer, Service}

// Depth is the level's distance from the top (substation 0), or -1 for an
// unknown level.
func (l Level) Depth() int { return slices.Index(Levels, l) }

// Node is one device or service point in the tree.
type Node struct {
	ID     string `json:"id"`
	Level  Level  `json:"level"`
	Parent string `json:"parent,omitempty"` // empty for a substation
	Region string `json:"region,omitempty"`
	// Lat and Lon place the node on the console's map (WGS 84); zero when
	// unknown. A device without its own position sits at the mean of the
	// services under it.
	Lat float64 `json:"lat,omitempty"`
	Lon float64 `json:"lon,omitempty"`
	// Phase is the phase a single-phase service is connected to (1..3; 0:
	// unknown or three-phase).
	Phase int `json:"phase,omitempty"`
	// DistanceM is a service's cable distance from its transformer, or a
	// transformer's from its substation along the feeder, in metres (0:
	// unknown). The console orders voltage along a feeder by it.
	DistanceM int `json:"distanceM,omitempty"`
}

// Grid is one version of the tree. It is immutable once built, so it can be
// shared between goroutines.
type Grid struct {
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effectiveFrom"`

	nodes    map[string]*Node
	children map[string][]string
	order    []string        // node ids, top down then by id
	under    map[string]int  // services under each node
	placed   map[string]bool // devices whose position place() derived
}

// New builds a grid from its nodes, in any order. It refuses a node whose
// parent is missing or is not exactly one level up, a duplicate id, and an
// unknown level, naming the node.
func New(nodes []Node) (*Grid, error) {
	g := &Grid{nodes: make(map[string]*Node, len(nodes)), children: map[string][]string{}, under: map[string]int{}}
	for i := range nodes {
		n := nodes[i]
		if n.ID == "" {
			return nil, fmt.Errorf("topology: node %d has no id", i+1)
		}
		if n.Level.Depth() < 0 {
			return nil, fmt.Errorf("topology: node %q: unknown level %q", n.ID, n.Level)
		}
		if _, dup := g.nodes[n.ID]; dup {
			return nil, fmt.Errorf("topology: node %q appears twice", n.ID)
		}
		g.nodes[n.ID] = &n
	}
	// In the caller's order, so that of several faults the first is named.
	for i := range nodes {
		n := g.nodes[nodes[i].ID]
		if n.Level == Substation {
			if n.Parent != "" {
				return nil, fmt.Errorf("topology: substation %q has a parent %q", n.ID, n.Parent)
			}
			continue
		}
		p, ok := g.nodes[n.Parent]
		if !ok {
			return nil, fmt.Errorf("topology: %s %q: parent %q is not in the grid", n.Level, n.ID, n.Parent)
		}
		if p.Level.Depth() != n.Level.Depth()-1 {
			return nil, fmt.Errorf("topology: %s %q: parent %q is a %s, not a %s", n.Level, n.ID, p.ID, p.Level, Levels[n.Level.Depth()-1])
		}
		g.children[p.ID] = append(g.children[p.ID], n.ID)
	}
	// Top down, by id within a level: sorted a level at a time, without a
	// map lookup per comparison (a fleet's tree sorts in a tenth the time).
	byLevel := make([][]string, len(Levels))
	for id, n := range g.nodes {
		d := n.Level.Depth()
		byLevel[d] = append(byLevel[d], id)
	}
	g.order = make([]string, 0, len(g.nodes))
	for _, ids := range byLevel {
		slices.Sort(ids)
		g.order = append(g.order, ids...)
	}
	for _, c := range g.children {
		slices.Sort(c)
	}
	// Count services bottom up.
	for i := len(g.order) - 1; i >= 0; i-- {
		n := g.nodes[g.order[i]]
		if n.Level == Service {
			g.under[n.ID] = 1
		}
		if n.Parent != "" {
			g.under[n.Parent] += g.under[n.ID]
		}
	}
	g.place()
	return g, nil
}

// place gives devices without a position the mean of the positions of
// the services under them, and notes which it placed so that Source can
// tell a surveyed position from a derived one.
func (g *Grid) place() {
	type acc struct {
		lat, lon float64
		n        int
	}
	sum := map[string]*acc{}
	for _, id := range g.order {
		s := g.nodes[id]
		if s.Level != Service || (s.Lat == 0 && s.Lon == 0) {
			continue
		}
		for p, ok := g.nodes[s.Parent]; ok; p, ok = g.nodes[p.Parent] {
			a := sum[p.ID]
			if a == nil {
				a = &acc{}
				sum[p.ID] = a
			}
			a.lat += s.Lat
			a.lon += s.Lon
			a.n++
		}
	}
	for id, a := range sum {
		if n := g.nodes[id]; n.Lat == 0 && n.Lon == 0 {
			n.Lat, n.Lon = a.lat/float64(a.n), a.lon/float64(a.n)
			if g.placed == nil {
				g.placed = map[string]bool{}
			}
			g.placed[id] = true
		}
	}
}

// Source returns the nodes as they were given to New, top down: devices
// placed at their services' mean position come without it, so that a new
// version built from them places them afresh.
func (g *Grid) Source() []Node {
	out := g.Nodes()
	for i := range out {
		if g.placed[out[i].ID] {
			out[i].Lat, out[i].Lon = 0, 0
		}
	}
	return out
}

// Len is the number of nodes.
func (g *Grid) Len() int { return len(g.order) }

// Node returns the node with that id.
func (g *Grid) Node(id string) (Node, bool) {
	n, ok := g.nodes[id]
	if !ok {
		return Node{}, false
	}
	return *n, true
}

// Nodes returns every node, top down, by id within a level.
func (g *Grid) Nodes() []Node {
	out := make([]Node, len(g.order))
	for i, id := range g.order {
		out[i] = *g.nodes[id]
	}
	return out
}

// At returns the nodes of one level, by id.
func (g *Grid) At(l Level) []Node {
	var out []Node
	for _, id := range g.order {
		if n := g.nodes[id]; n.Level == l {
			out = append(out, *n)
		}
	}
	return out
}

// Children returns the ids of a node's children, sorted. The slice is
// the caller's: a grid is shared between goroutines.
func (g *Grid) Children(id string) []string { return slices.Clone(g.children[id]) }

// Ancestor returns the node's ancestor (or itself) at level l.
func (g *Grid) Ancestor(id string, l Level) (Node, bool) {
	n, ok := g.nodes[id]
	for ok && n.Level.Depth() > l.Depth() {
		n, ok = g.nodes[n.Parent]
	}
	if !ok || n.Level != l {
		return Node{}, false
	}
	return *n, true
}

// Path returns the node and its ancestors, the node first.
func (g *Grid) Path(id string) []Node {
	var out []Node
	for n, ok := g.nodes[id]; ok; n, ok = g.nodes[n.Parent] {
		out = append(out, *n)
	}
	return out
}

// Services returns the ids of the services under a node (itself, for a
// service), sorted.
func (g *Grid) Services(id string) []string {
	n, ok := g.nodes[id]
	if !ok {
		return nil
	}
	if n.Level == Service {
		return []string{id}
	}
	var out []string
	for _, c := range g.children[id] {
		out = append(out, g.Services(c)...)
	}
	slices.Sort(out)
	return out
}

// Customers is the number of services under a node (1 for a service, 0
// for an unknown id): the customers an outage of it interrupts.
func (g *Grid) Customers(id string) int { return g.under[id] }

// Total is the number of services in the grid: the customers served.
func (g *Grid) Total() int {
	t := 0
	for _, id := range g.order {
		if g.nodes[id].Level == Substation {
			t += g.under[id]
		}
	}
	return t
}
