package reliability

import (
	"slices"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Outage is a device of the topology without power from Start to End
// (End zero: still out). Callers convert their outage records to it.
type Outage struct {
	Device     string
	Start, End time.Time
}

// Interruption is one customer (service point) without power from Start
// to End (End zero: still out), with the feeder and region it is served
// from.
type Interruption struct {
	Service string    `json:"service"`
	Feeder  string    `json:"feeder,omitempty"`
	Region  string    `json:"region,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
}

// Expand turns device outages into customer interruptions on grid g: an
// outage interrupts every service under its device. One customer's
// overlapping, nested or abutting outages (a transformer out inside its
// feeder's outage, or outlasting it) are one interruption from the
// earliest start to the latest end, since the customer saw power go once
// and come back once. Outages of devices not in g, and outages ending
// before they start, interrupt no one; Unplaced names the former.
// The result is ordered by service, then start.
func Expand(g *topology.Grid, outs []Outage) []Interruption {
	byService := map[string][]Interruption{}
	for _, o := range outs {
		if !o.End.IsZero() && o.End.Before(o.Start) {
			continue
		}
		for _, s := range g.Services(o.Device) {
			byService[s] = append(byService[s], Interruption{Service: s, Start: o.Start, End: o.End})
		}
	}
	services := make([]string, 0, len(byService))
	for s := range byService {
		services = append(services, s)
	}
	slices.Sort(services)
	var out []Interruption
	for _, s := range services {
		feeder, region := placeOf(g, s)
		ints := byService[s]
		slices.SortFunc(ints, func(a, b Interruption) int { return a.Start.Compare(b.Start) })
		cur := ints[0]
		for _, in := range ints[1:] {
			if cur.End.IsZero() || !in.Start.After(cur.End) {
				// Overlapping, nested or abutting: one interruption.
				if in.End.IsZero() {
					cur.End = time.Time{}
				} else if !cur.End.IsZero() && in.End.After(cur.End) {
					cur.End = in.End
				}
				continue
			}
			cur.Feeder, cur.Region = feeder, region
			out = append(out, cur)
			cur = in
		}
		cur.Feeder, cur.Region = feeder, region
		out = append(out, cur)
	}
	return out
}

// Unplaced returns the devices of outs that are not in g, sorted, once
// each: their outages are left out of the indices, and a report says so.
func Unplaced(g *topology.Grid, outs []Outage) []string {
	var out []string
	for _, o := range outs {
		if _, ok := g.Node(o.Device); !ok {
			out = append(out, o.Device)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// placeOf is a service's feeder and region: the region of the nearest
// node on its path that records one.
func placeOf(g *topology.Grid, service string) (feeder, region string) {
	if f, ok := g.Ancestor(service, topology.Feeder); ok {
		feeder = f.ID
	}
	for _, n := range g.Path(service) {
		if n.Region != "" {
			region = n.Region
			break
		}
	}
	return feeder, region
}

// Served is the number of customers served, in total and per feeder and
// region: the denominators of the indices.
type Served struct {
	Total   int            `json:"total"`
	Feeders map[string]int `json:"feeders"`
	Regions map[string]int `json:"regions"`
}

// ServedBy counts the services of g in total, per feeder and per region.
func ServedBy(g *topology.Grid) Served {
	s := Served{Feeders: map[string]int{}, Regions: map[string]int{}}
	for _, f := range g.At(topology.Feeder) {
		s.Feeders[f.ID] = g.Customers(f.ID)
	}
	for _, n := range g.At(topology.Service) {
		s.Total++
		if _, region := placeOf(g, n.ID); region != "" {
			s.Regions[region]++
		}
	}
	return s
}
