package headend

import (
	"context"
	"fmt"
	"slices"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// reads reports whether this node reads meterID now: without leases it
// reads every meter, with them only those of the shards it holds.
func (h *HeadEnd) reads(meterID string) bool {
	return h.leases == nil || h.leases.Holds(ShardOf(meterID))
}

// carriedElsewhere names the live node that carries meterID's commands
// when it is another than this one ("" when this node may carry them: it
// holds the shard, or nobody does).
func (h *HeadEnd) carriedElsewhere(meterID string) string {
	if h.leases == nil {
		return ""
	}
	s := ShardOf(meterID)
	if h.leases.Holds(s) {
		return ""
	}
	if holder := h.leases.Holder(s); holder != h.leases.Node() {
		return holder
	}
	return ""
}

// liveNodes is how many head-end nodes share the fleet's sessions.
func (h *HeadEnd) liveNodes() int {
	if h.leases == nil {
		return 1
	}
	return max(1, h.leases.Nodes())
}

// nodeName is this node's name among head-end nodes ("" alone).
func (h *HeadEnd) nodeName() string {
	if h.node != "" || h.leases == nil {
		return h.node
	}
	return h.leases.Node()
}

func ceilDiv(a, b int) int {
	if b <= 1 {
		return a
	}
	return max(1, (a+b-1)/b)
}

// watchLeases notes the shards this node gains, for a takeover run, until
// ctx ends.
func (h *HeadEnd) watchLeases(ctx context.Context) {
	held := map[int]bool{}
	for _, s := range h.leases.Held() {
		held[s] = true
	}
	h.gain(held)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.leases.Changed():
		}
		now := map[int]bool{}
		gained := map[int]bool{}
		for _, s := range h.leases.Held() {
			now[s] = true
			if !held[s] {
				gained[s] = true
			}
		}
		held = now
		h.gain(gained)
		h.payOwed()
	}
}

// owe notes shards a run left: those this node holds now are gained at
// once, the others when it holds them again (payOwed). A shard another
// node holds by then was read by that node's run or takeover, and the
// takeover here finds its meters complete.
func (h *HeadEnd) owe(shards map[int]bool) {
	if h.leases == nil || len(shards) == 0 {
		return
	}
	h.run.mu.Lock()
	if h.run.owed == nil {
		h.run.owed = map[int]bool{}
	}
	for s := range shards {
		h.run.owed[s] = true
	}
	h.run.mu.Unlock()
	h.payOwed()
}

// payOwed moves the owed shards this node holds now to gained.
func (h *HeadEnd) payOwed() {
	h.run.mu.Lock()
	held := map[int]bool{}
	for s := range h.run.owed {
		if h.leases.Holds(s) {
			held[s] = true
			delete(h.run.owed, s)
		}
	}
	h.run.mu.Unlock()
	h.gain(held)
}

// gain queues shards for a takeover run.
func (h *HeadEnd) gain(shards map[int]bool) {
	if len(shards) == 0 {
		return
	}
	h.run.mu.Lock()
	defer h.run.mu.Unlock()
	if h.run.gained == nil {
		h.run.gained = map[int]bool{}
	}
	for s := range shards {
		h.run.gained[s] = true
	}
}

// takeoverDay is the run day a takeover reads: the latest run over every
// meter this node started, else the day before today.
func (h *HeadEnd) takeoverDay(yesterday cim.Date) cim.Date {
	h.run.mu.Lock()
	defer h.run.mu.Unlock()
	if !h.run.fullDay.IsZero() {
		return h.run.fullDay
	}
	return yesterday
}

// startTakeover starts a run over the meters of gained shards that have
// no complete result for the run day yet, once no other run is going:
// their previous holder may have read some before it stopped, and what it
// did not read comes from the cursors it left. It reports whether it
// started one.
func (h *HeadEnd) startTakeover(ctx context.Context, yesterday cim.Date) bool {
	h.run.mu.Lock()
	gained := h.run.gained
	idle := !h.run.running
	if len(gained) == 0 || !idle {
		h.run.mu.Unlock()
		return false
	}
	h.run.gained = nil
	h.run.mu.Unlock()
	day := h.takeoverDay(yesterday)
	ids, err := h.takeoverMeters(ctx, day, gained)
	if err == nil && len(ids) > 0 && h.startRun(runSpec{day: day, kind: RunTakeover, window: min(h.ccfg.Window, h.ccfg.CatchUpWindow), meters: ids}) {
		h.log.Info("takeover run started", "node", h.nodeName(), "day", day.String(), "shards", len(gained), "meters", len(ids))
		return true
	}
	if err != nil && ctx.Err() == nil {
		h.log.Warn("takeover run", "node", h.nodeName(), "day", day.String(), "err", err)
	}
	if err != nil || len(ids) > 0 {
		// Not started: the shards wait for the next chance.
		h.gain(gained)
	}
	return false
}

// takeoverMeters lists the meters of shards this node holds among gained
// whose run day is not complete, when some node has run the day.
func (h *HeadEnd) takeoverMeters(ctx context.Context, day cim.Date, gained map[int]bool) ([]string, error) {
	complete := map[string]bool{}
	any := false
	for after := ""; ; {
		rs, err := h.st.CollectionResults(ctx, day, "", "", after, 1000)
		if err != nil {
			return nil, fmt.Errorf("takeover of %s: results: %w", day, err)
		}
		for _, r := range rs {
			any = true
			if r.Complete {
				complete[r.MeterID] = true
			}
		}
		if len(rs) < 1000 {
			break
		}
		after = rs[len(rs)-1].MeterID
	}
	if !any && !h.fullRunOf(day) {
		// Nobody has run the day yet: its run reads the shard, and a
		// node starting up reads nothing twice. A run of the day this
		// node started before it held the shard did not.
		return nil, nil
	}
	var ids []string
	q := store.MeterQuery{Limit: 1000}
	for {
		ms, err := h.st.Meters(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("takeover of %s: listing meters: %w", day, err)
		}
		for _, m := range ms {
			s := ShardOf(m.MRID)
			if gained[s] && h.leases.Holds(s) && h.collectable(m) && !complete[m.MRID] {
				ids = append(ids, m.MRID)
			}
		}
		if len(ms) < q.Limit {
			break
		}
		q.After = ms[len(ms)-1].MRID
	}
	slices.Sort(ids)
	return ids, nil
}
