package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
)

// The run board is where head-end nodes learn of collection runs started
// by hand, and where each says how its share of a run goes: a run started
// through any API node reaches every head-end node, and the progress any
// API node shows is the sum of theirs. It lives in two key-value buckets
// beside the streams, replicated as they are:
//
//	<NS>_runs      key "request"   JSON RunRequest: the latest run asked for
//	<NS>_progress  key <node>      JSON, the node's own progress (the head-end's type)
//
// A request is a key, not a stream message: a node wants only the latest
// one, and one that starts later must not replay old runs.
type RunBoard struct {
	runs, progress jetstream.KeyValue
}

// RunRequest asks every head-end node to collect a day now.
type RunRequest struct {
	// ID tells two requests of the same day apart.
	ID  string   `json:"id"`
	Day cim.Date `json:"day"`
	// Spread spreads the jobs over each node's collection window.
	Spread bool `json:"spread,omitempty"`
	// CatchUp asks for the meters newly imported to be read at once,
	// each by the node holding it: Meters, or every meter not read yet
	// when the list was too long to carry.
	CatchUp bool      `json:"catchUp,omitempty"`
	Meters  []string  `json:"meters,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
}

const runKey = "request"

// progressTTL is how long a node's progress outlives its last report: a
// node gone for longer no longer counts in the sum.
const progressTTL = 24 * time.Hour

func (b *Bus) bucketName(kind string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, b.opt.Namespace) + "_" + kind)
}

// RunBoard opens (creating them when missing) the run board's buckets.
func (b *Bus) RunBoard(ctx context.Context) (*RunBoard, error) {
	runs, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.bucketName("runs"),
		Description: "collection runs asked of every head-end node", History: 1, Replicas: b.opt.Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("bus %s: run board: %w", b.where(), err)
	}
	progress, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.bucketName("progress"),
		Description: "each head-end node's collection progress", History: 1, TTL: progressTTL, Replicas: b.opt.Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("bus %s: run board: %w", b.where(), err)
	}
	return &RunBoard{runs: runs, progress: progress}, nil
}

// Request asks every head-end node to run r.
func (rb *RunBoard) Request(ctx context.Context, r RunRequest) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := rb.runs.Put(ctx, runKey, data); err != nil {
		return fmt.Errorf("run board: asking for a run of %s: %w", r.Day, err)
	}
	return nil
}

// Requests sends each run asked for after the call, until ctx ends; the
// channel closes then. A watch that breaks is opened again, and a
// request made meanwhile is still delivered, once.
func (rb *RunBoard) Requests(ctx context.Context) (<-chan RunRequest, error) {
	var last uint64
	if e, err := rb.runs.Get(ctx, runKey); err == nil {
		last = e.Revision()
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("run board: %w", err)
	}
	out := make(chan RunRequest, 4)
	go func() {
		defer close(out)
		for n := 0; ctx.Err() == nil; n++ {
			w, err := rb.runs.Watch(ctx, runKey)
			if err != nil {
				if retry.Wait(ctx, time.Second) != nil {
					return
				}
				continue
			}
			for e := range w.Updates() {
				if e == nil || e.Revision() <= last || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				last = e.Revision()
				var r RunRequest
				if json.Unmarshal(e.Value(), &r) != nil {
					continue
				}
				select {
				case out <- r:
				case <-ctx.Done():
				}
			}
			w.Stop()
			if retry.Wait(ctx, time.Second) != nil {
				return
			}
		}
	}()
	return out, nil
}

// PutProgress records node's progress (any JSON value).
func (rb *RunBoard) PutProgress(ctx context.Context, node string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := rb.progress.Put(ctx, SafeToken(node), data); err != nil {
		return fmt.Errorf("run board: progress of node %s: %w", node, err)
	}
	return nil
}

// Progress returns every node's latest progress, by node.
func (rb *RunBoard) Progress(ctx context.Context) (map[string]json.RawMessage, error) {
	lister, err := rb.progress.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("run board: %w", err)
	}
	out := map[string]json.RawMessage{}
	for k := range lister.Keys() {
		e, err := rb.progress.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("run board: progress of node %s: %w", k, err)
		}
		out[k] = json.RawMessage(e.Value())
	}
	return out, nil
}
