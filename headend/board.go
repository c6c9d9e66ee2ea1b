package headend

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// RunBoard is where the head-end nodes of a cluster learn of runs started
// by hand on any node, and report their share of the progress
// (bus.RunBoard). Without one, runs and progress are this node's own.
type RunBoard interface {
	Request(ctx context.Context, r bus.RunRequest) error
	Requests(ctx context.Context) (<-chan bus.RunRequest, error)
	PutProgress(ctx context.Context, node string, v any) error
	Progress(ctx context.Context) (map[string]json.RawMessage, error)
}

// boardTimeout bounds a call to the run board from a request's path.
const boardTimeout = 5 * time.Second

// requestRun asks every head-end node for a run through the board. A
// node that collects starts its own share at once, as a single node
// would, and says so if it is busy: the run is then not asked for.
func (h *HeadEnd) requestRun(spec runSpec) error {
	id := uuid.NewString()
	h.run.mu.Lock()
	collects := h.run.ctx != nil
	h.run.mu.Unlock()
	if collects {
		if !h.startRun(spec) {
			return ErrBusy
		}
		h.run.mu.Lock()
		h.run.ownRequest = id
		h.run.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), boardTimeout)
	defer cancel()
	return h.board.Request(ctx, bus.RunRequest{ID: id, Day: spec.day, Spread: spec.window > 0, At: h.now(), By: h.nodeName()})
}

// followBoard starts the runs asked for on the board, until ctx ends.
func (h *HeadEnd) followBoard(ctx context.Context) {
	var reqs <-chan bus.RunRequest
	for n := 1; reqs == nil; n++ {
		var err error
		if reqs, err = h.board.Requests(ctx); err != nil {
			h.log.Warn("run board: not following run requests", "attempt", n, "err", err)
			if retry.Wait(ctx, min(time.Duration(n)*time.Second, 10*time.Second)) != nil {
				return
			}
		}
	}
	for r := range reqs {
		h.run.mu.Lock()
		own := r.ID == h.run.ownRequest || h.run.ownCatchUps[r.ID]
		delete(h.run.ownCatchUps, r.ID)
		h.run.mu.Unlock()
		if own {
			continue // started or queued when asked
		}
		if r.CatchUp {
			h.queueCatchUp(ctx, r)
			continue
		}
		spec := runSpec{day: r.Day, kind: RunManual}
		if r.Spread {
			spec.window = h.ccfg.Window
		}
		if !h.startRun(spec) {
			h.log.Warn("run asked for while another is going on this node; not started", "day", r.Day.String(), "request", r.ID, "by", r.By)
		}
	}
}

// maxCatchUpList is the most meters a catch-up request names; an import
// of more asks every node to read whatever it holds that was never read.
const maxCatchUpList = 20_000

// requestCatchUp asks every head-end node to queue ids for a catch-up.
func (h *HeadEnd) requestCatchUp(ids []string) {
	r := bus.RunRequest{ID: uuid.NewString(), CatchUp: true, At: h.now(), By: h.nodeName()}
	if len(ids) <= maxCatchUpList {
		r.Meters = ids
	}
	h.run.mu.Lock()
	if h.run.ownCatchUps == nil {
		h.run.ownCatchUps = map[string]bool{}
	}
	h.run.ownCatchUps[r.ID] = true
	h.run.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), boardTimeout)
	defer cancel()
	if err := h.board.Request(ctx, r); err != nil {
		h.log.Warn("run board: imported meters not offered to the other head-end nodes; the daily run reads them", "meters", len(ids), "err", err)
	}
}

// queueCatchUp queues the meters of a catch-up asked for on another node;
// without a list, every collectable meter with no cursor yet.
func (h *HeadEnd) queueCatchUp(ctx context.Context, r bus.RunRequest) {
	ids := r.Meters
	if ids == nil {
		q := store.MeterQuery{Limit: 1000}
		for {
			ms, err := h.st.Meters(ctx, q)
			if err != nil {
				h.log.Warn("catch-up asked by another node: listing meters", "err", err)
				return
			}
			for _, m := range ms {
				if !h.collectable(m) || !h.reads(m.MRID) {
					continue
				}
				if cs, err := h.st.Cursors(ctx, m.MRID); err == nil && len(cs) == 0 {
					ids = append(ids, m.MRID)
				}
			}
			if len(ms) < q.Limit {
				break
			}
			q.After = ms[len(ms)-1].MRID
		}
	}
	h.run.mu.Lock()
	h.run.catchUp = append(h.run.catchUp, ids...)
	h.run.mu.Unlock()
}

// reportProgress puts this node's progress on the board when it changes,
// at most once a second, until ctx ends.
func (h *HeadEnd) reportProgress(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last []byte
	put := func() {
		p := h.localProgress()
		p.Node = h.nodeName()
		data, _ := json.Marshal(p)
		if bytes.Equal(data, last) {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, boardTimeout)
		defer cancel()
		if err := h.board.PutProgress(pctx, h.nodeName(), p); err != nil {
			if ctx.Err() == nil {
				h.log.Debug("run board: progress not reported", "err", err)
			}
			return
		}
		last = data
	}
	for {
		put()
		select {
		case <-ctx.Done():
			// The last word: a run cut short says so.
			ctx = context.WithoutCancel(ctx)
			put()
			return
		case <-t.C:
		}
	}
}

// clusterProgress sums the head-end nodes' progress of the latest run
// day on the board; Nodes lists each node's own.
func (h *HeadEnd) clusterProgress() (Progress, error) {
	ctx, cancel := context.WithTimeout(context.Background(), boardTimeout)
	defer cancel()
	all, err := h.board.Progress(ctx)
	if err != nil {
		return Progress{}, err
	}
	var nodes []Progress
	h.run.mu.Lock()
	collects := h.run.ctx != nil
	h.run.mu.Unlock()
	if collects {
		// This node's own is fresher than what it last reported.
		delete(all, bus.SafeToken(h.nodeName()))
		nodes = append(nodes, h.localProgress())
	}
	for name, raw := range all {
		var p Progress
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		if p.Node == "" {
			p.Node = name
		}
		p.Nodes = nil
		nodes = append(nodes, p)
	}
	return sumProgress(nodes), nil
}

// sumProgress adds up the nodes of the run started last: those of its
// day; a node still on an older day is in Nodes but not in the sums.
func sumProgress(nodes []Progress) Progress {
	if len(nodes) == 0 {
		return Progress{}
	}
	slices.SortFunc(nodes, func(a, b Progress) int { return cmp.Compare(a.Node, b.Node) })
	latest := nodes[0]
	for _, p := range nodes[1:] {
		if p.StartedAt.After(latest.StartedAt) {
			latest = p
		}
	}
	sum := Progress{Day: latest.Day, Kind: latest.Kind, Nodes: nodes}
	for _, p := range nodes {
		if p.Day != latest.Day {
			continue
		}
		sum.Running = sum.Running || p.Running
		if sum.StartedAt.IsZero() || (!p.StartedAt.IsZero() && p.StartedAt.Before(sum.StartedAt)) {
			sum.StartedAt = p.StartedAt
		}
		if p.EndedAt.After(sum.EndedAt) {
			sum.EndedAt = p.EndedAt
		}
		sum.Total += p.Total
		sum.Done += p.Done
		sum.OK += p.OK
		sum.Failed += p.Failed
		sum.Readings += p.Readings
	}
	if sum.Running {
		sum.EndedAt = time.Time{}
	}
	return sum
}
