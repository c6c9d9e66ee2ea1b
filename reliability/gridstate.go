package reliability

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// The states a device is shown in, worst first.
const (
	// StateOut: an outage of the device or above it is open.
	StateOut = "out"
	// StateRestored: power is back but not every meter under it has
	// answered yet.
	StateRestored = "restored"
	// StateMomentary: a momentary interruption in the last 24 hours.
	StateMomentary = "momentary"
	StateNormal    = "normal"
)

var stateRank = map[string]int{StateNormal: 0, StateMomentary: 1, StateRestored: 2, StateOut: 3}

// DeviceState is a device of the tree (substation, feeder, transformer)
// with the state it is shown in.
type DeviceState struct {
	topology.Node
	Customers int    `json:"customers"`
	State     string `json:"state"`
	// Outage is the ID of the outage that gives it its state.
	Outage string `json:"outage,omitempty"`
}

// GridState is the tree as the console draws it: every device with its
// state, and the outages that coloured it.
type GridState struct {
	At              time.Time      `json:"at"`
	TopologyVersion int            `json:"topologyVersion"`
	Customers       int            `json:"customers"`
	Devices         []DeviceState  `json:"devices"`
	Outages         []outage.Event `json:"outages"`
}

// Window is how far back a momentary interruption still colours a device.
const Window = 24 * time.Hour

// eventState is the state an event gives its device now ("" for none).
func eventState(e outage.Event, now time.Time) string {
	switch {
	case e.State == outage.Dismissed || e.State == outage.Verified:
		return ""
	case e.End.IsZero():
		return StateOut
	case e.State == outage.Restored:
		return StateRestored
	case e.State == outage.Momentary && now.Sub(e.Start) <= Window:
		return StateMomentary
	}
	return ""
}

// GridState returns the devices of the topology in force now, each in the
// worst state an outage of it or of a device above it gives it: open
// (out), restored but not verified, momentary in the last 24 hours, or
// normal; and those outages (open ones whatever their age), newest first.
func (s *Service) GridState(ctx context.Context) (GridState, error) {
	now := s.now()
	g, err := s.grid(ctx, now)
	if err != nil {
		return GridState{}, err
	}
	// A week back catches restorations still waiting for verification.
	evs, err := s.Outages.Outages(ctx, store.OutageQuery{From: now.Add(-7 * Window), To: now.Add(time.Second)})
	if err != nil {
		return GridState{}, fmt.Errorf("outage map: %w", err)
	}
	gs := GridState{At: now, TopologyVersion: g.Version, Customers: g.Total(), Outages: []outage.Event{}}
	state, by := map[string]string{}, map[string]string{}
	var mark func(id, st, ev string)
	mark = func(id, st, ev string) {
		n, ok := g.Node(id)
		if !ok || n.Level == topology.Service {
			return
		}
		if stateRank[st] > stateRank[state[id]] {
			state[id], by[id] = st, ev
		}
		for _, c := range g.Children(id) {
			mark(c, st, ev)
		}
	}
	for _, e := range evs {
		st := eventState(e, now)
		if st == "" {
			continue
		}
		gs.Outages = append(gs.Outages, e)
		mark(e.Device, st, e.ID)
	}
	for _, n := range g.Nodes() {
		if n.Level == topology.Service {
			continue
		}
		st := state[n.ID]
		if st == "" {
			st = StateNormal
		}
		gs.Devices = append(gs.Devices, DeviceState{Node: n, Customers: g.Customers(n.ID), State: st, Outage: by[n.ID]})
	}
	if gs.Devices == nil {
		gs.Devices = []DeviceState{}
	}
	return gs, nil
}
