package sqldb

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

func init() {
	queries["putTopology"] = `INSERT INTO topology_versions(effective_us, nodes, data, created_us) VALUES (?, ?, ?, ?) RETURNING version`
	queries["topologyAt"] = `SELECT version, effective_us FROM topology_versions WHERE effective_us <= ?
		ORDER BY effective_us DESC, version DESC LIMIT 1`
	queries["topologyData"] = `SELECT data FROM topology_versions WHERE version = ?`
	queries["topologyVersions"] = `SELECT version, effective_us, nodes FROM topology_versions ORDER BY version`
}

// PutTopology implements store.Topology. A version is kept whole, as its
// nodes in JSON, gzipped: a grid is read as one piece (an outage is
// worked out on all of it), and a fleet's tree compresses tenfold.
func (s *DB) PutTopology(ctx context.Context, effectiveFrom time.Time, g *topology.Grid) (int, error) {
	if g == nil || g.Len() == 0 {
		return 0, errors.New("topology: a version needs at least one node")
	}
	if effectiveFrom.IsZero() {
		return 0, errors.New("topology: a version needs the date it is effective from")
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(g.Source()); err != nil {
		return 0, fmt.Errorf("topology: encoding the grid: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("topology: compressing the grid: %w", err)
	}
	var v int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putTopology"])
		if err != nil {
			return err
		}
		defer st.Close()
		return st.QueryRowContext(rowContext(ctx), effectiveFrom.UnixMicro(), g.Len(), buf.Bytes(), time.Now().UnixMicro()).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("topology: storing the version effective from %s: %w", effectiveFrom.UTC().Format(time.RFC3339), err)
	}
	return v, nil
}

// topoCache holds the grid version read last. A version never changes
// once stored, so the cache is right whatever other nodes store, and the
// outage engine and the API, which ask for the grid of today over and
// over, skip decoding a fleet's tree each time.
type topoCache struct {
	mu sync.Mutex
	g  *topology.Grid
}

// TopologyAt implements store.Topology. The grid returned may be shared
// with other callers: it is not to be changed.
func (s *DB) TopologyAt(ctx context.Context, at time.Time) (*topology.Grid, error) {
	var (
		v     int
		effUS int64
	)
	err := s.queryRow(ctx, s.q["topologyAt"], at.UnixMicro()).Scan(&v, &effUS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("topology in force at %s: %w", at.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("topology in force at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	s.topo.mu.Lock()
	g := s.topo.g
	s.topo.mu.Unlock()
	if g != nil && g.Version == v {
		return g, nil
	}
	var data []byte
	if err := s.queryRow(ctx, s.q["topologyData"], v).Scan(&data); err != nil {
		return nil, fmt.Errorf("topology version %d: %w", v, err)
	}
	g, err = decodeGrid(data)
	if err != nil {
		return nil, fmt.Errorf("topology version %d: %w", v, err)
	}
	g.Version = v
	g.EffectiveFrom = time.UnixMicro(effUS).UTC()
	s.topo.mu.Lock()
	s.topo.g = g
	s.topo.mu.Unlock()
	return g, nil
}

func decodeGrid(data []byte) (*topology.Grid, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	var nodes []topology.Node
	if err := json.Unmarshal(raw, &nodes); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return topology.New(nodes)
}

// TopologyVersions implements store.Topology.
func (s *DB) TopologyVersions(ctx context.Context) ([]store.TopologyVersion, error) {
	rows, err := s.QueryContext(ctx, s.q["topologyVersions"])
	if err != nil {
		return nil, fmt.Errorf("topology versions: %w", err)
	}
	defer rows.Close()
	var out []store.TopologyVersion
	for rows.Next() {
		var tv store.TopologyVersion
		var effUS int64
		if err := rows.Scan(&tv.Version, &effUS, &tv.Nodes); err != nil {
			return nil, fmt.Errorf("topology versions: %w", err)
		}
		tv.EffectiveFrom = time.UnixMicro(effUS).UTC()
		out = append(out, tv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("topology versions: %w", err)
	}
	return out, nil
}

var _ store.Topology = (*DB)(nil)
