package main

import (
	"strings"
	"time"

	"github.com/amigo-ami/amigo/sim"
)

// simMesh is the radio mesh of `amigo sim --collectors`: urban hops of
// 20 ms at 30 kB/s, 2 % frame loss each, which the link layer's retries
// mostly hide; nil without collectors.
func simMesh(collectors int, rural float64, down string) *sim.Mesh {
	if collectors <= 0 {
		return nil
	}
	m := &sim.Mesh{Collectors: collectors, Rural: rural, Hop: sim.HopClass{Latency: 20 * time.Millisecond, BytesPerSecond: 30_000},
		HopLoss: 0.02}
	for _, id := range strings.Split(down, ",") {
		if id = strings.TrimSpace(id); id != "" {
			m.Down = append(m.Down, id)
		}
	}
	return m
}
