package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// topologyPath is the grid's route; a version is uploaded to it as CSV,
// under a body limit of its own.
const topologyPath = "/api/v1/topology"

// maxTopologyBytes bounds a topology file: a million services are about
// 80 MB with every column.
const maxTopologyBytes = 256 << 20

func (a *API) topologyRoutes() []route {
	at := param{name: "at", typ: "string", doc: "the version in force at this RFC 3339 time, or at the start (UTC) of this date; default now"}
	return []route{
		{method: "PUT", path: topologyPath, perm: auth.Configure, tag: "topology", summary: "Store a new version of the grid (CSV body: usage_point,transformer,feeder,substation[,region,lat,lon,phase,distance_m,transformer_distance_m]) effective from a date; a bad file is refused whole, naming its line and column",
			query: []param{{name: "effective", typ: "string", doc: "when the version takes over: a date (from its UTC start; default today), or an RFC 3339 time, e.g. a local midnight 2026-04-01T00:00:00+02:00"}}, status: 201, resp: "TopologyVersion", h: a.putTopology},
		{method: "GET", path: topologyPath, perm: auth.ReadFleet, tag: "topology", summary: "The grid in force at a time: its version and nodes, top down",
			query: []param{at, {name: "level", typ: "string", doc: "only the nodes of this level: substation, feeder, transformer or service"}}, resp: "Topology", h: a.getTopology},
		{method: "GET", path: topologyPath + "/export", perm: auth.ReadFleet, tag: "topology", summary: "The grid in force at a time as the CSV file PUT takes",
			query: []param{at}, respType: "text/csv", h: a.exportTopology},
		{method: "GET", path: topologyPath + "/versions", perm: auth.ReadFleet, tag: "topology", summary: "Every version of the grid, oldest first, with the date it is effective from", resp: "TopologyVersionList", h: a.topologyVersions},
		{method: "GET", path: topologyPath + "/nodes/{id}", perm: auth.ReadFleet, tag: "topology", summary: "One node of the grid in force at a time: its path from the substation, children, customers, and a service's meters",
			query: []param{at}, resp: "TopologyNodeDetail", h: a.topologyNode},
	}
}

// topologyVersionOut is a stored version as the API answers it.
type topologyVersionOut struct {
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effectiveFrom"`
	Nodes         int       `json:"nodes"`
	Services      int       `json:"services,omitempty"`
}

func (a *API) putTopology(w http.ResponseWriter, r *http.Request) {
	from, err := instantParam(r.URL.Query().Get("effective"), false)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "effective "+err.Error())
		return
	}
	if from.IsZero() {
		from = cim.DateOf(a.now(), time.UTC).Start(time.UTC)
	}
	from = from.UTC()
	g, err := topology.ParseCSV(http.MaxBytesReader(w, r.Body, maxTopologyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("topology file over %d bytes", mbe.Limit))
		return
	case err != nil:
		Error(w, http.StatusBadRequest, "bad_topology", err.Error())
		return
	}
	v, err := a.d.Store.PutTopology(r.Context(), from, g)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, topologyVersionOut{Version: v, EffectiveFrom: from, Nodes: g.Len(), Services: g.Total()})
}

// topologyAt reads the at parameter and returns the grid in force then,
// or writes the error and returns nil.
func (a *API) topologyAt(w http.ResponseWriter, r *http.Request) *topology.Grid {
	at, err := instantParam(r.URL.Query().Get("at"), false)
	if err != nil {
		Error(w, http.StatusBadRequest, "bad_query", "at "+err.Error())
		return nil
	}
	if at.IsZero() {
		at = a.now()
	}
	g, err := a.d.Store.TopologyAt(r.Context(), at)
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("no version of the grid is in force at %s", at.UTC().Format(time.RFC3339)))
		return nil
	case err != nil:
		a.internal(w, r, err)
		return nil
	}
	return g
}

func (a *API) getTopology(w http.ResponseWriter, r *http.Request) {
	level := topology.Level(r.URL.Query().Get("level"))
	if level != "" && level.Depth() < 0 {
		Error(w, http.StatusBadRequest, "bad_query", "level must be substation, feeder, transformer or service")
		return
	}
	g := a.topologyAt(w, r)
	if g == nil {
		return
	}
	nodes := g.Nodes()
	if level != "" {
		nodes = g.At(level)
	}
	if nodes == nil {
		nodes = []topology.Node{}
	}
	JSON(w, struct {
		topologyVersionOut
		Items []topology.Node `json:"items"`
	}{topologyVersionOut{Version: g.Version, EffectiveFrom: g.EffectiveFrom, Nodes: g.Len(), Services: g.Total()}, nodes})
}

func (a *API) exportTopology(w http.ResponseWriter, r *http.Request) {
	g := a.topologyAt(w, r)
	if g == nil {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="topology-v%d.csv"`, g.Version))
	if err := g.WriteCSV(w); err != nil {
		a.d.Logger.Warn("topology export", "version", g.Version, "err", err)
	}
}

func (a *API) topologyVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := a.d.Store.TopologyVersions(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := make([]topologyVersionOut, len(vs))
	for i, v := range vs {
		out[i] = topologyVersionOut{Version: v.Version, EffectiveFrom: v.EffectiveFrom, Nodes: v.Nodes}
	}
	JSON(w, page[topologyVersionOut]{Items: out})
}

// maxNodeMeters bounds the meters listed under one service.
const maxNodeMeters = 100

func (a *API) topologyNode(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g := a.topologyAt(w, r)
	if g == nil {
		return
	}
	n, ok := g.Node(id)
	if !ok {
		Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("node %q is not in version %d of the grid", id, g.Version))
		return
	}
	path := g.Path(id)
	slices.Reverse(path)
	children := []topology.Node{}
	for _, c := range g.Children(id) {
		cn, _ := g.Node(c)
		children = append(children, cn)
	}
	var meters []string
	if n.Level == topology.Service {
		ms, err := a.d.Store.Meters(r.Context(), store.MeterQuery{UsagePointID: id, Limit: maxNodeMeters})
		if err != nil {
			a.internal(w, r, err)
			return
		}
		meters = []string{}
		for _, m := range ms {
			meters = append(meters, m.MRID)
		}
	}
	JSON(w, struct {
		Version       int             `json:"version"`
		EffectiveFrom time.Time       `json:"effectiveFrom"`
		Node          topology.Node   `json:"node"`
		Path          []topology.Node `json:"path"`
		Children      []topology.Node `json:"children"`
		Customers     int             `json:"customers"`
		Meters        []string        `json:"meters,omitempty"`
	}{g.Version, g.EffectiveFrom, n, path, children, g.Customers(id), meters})
}

// gridRows passes a manifest's rows on to the import and keeps where
// those that name a transformer hang in the grid.
type gridRows struct {
	src  headend.RowSource
	rows []topology.Row
}

func (s *gridRows) Next() (manifest.Row, *manifest.RowError, error) {
	row, bad, err := s.src.Next()
	if err == nil && bad == nil && row.Transformer != "" {
		s.rows = append(s.rows, topology.Row{UsagePoint: row.UsagePointID, Transformer: row.Transformer, Feeder: row.Feeder,
			Substation: row.Substation, Region: row.Region, Lat: row.Lat, Lon: row.Lon, Phase: row.Phase, Line: row.Line})
	}
	return row, bad, err
}

// placeImported stores a new version of the grid effective from the
// import's day, its rows laid over the version in force: the usage
// points of the rows the head-end accepted take the place the manifest
// gives them, and the others keep theirs. It returns 0 when no row
// placed a meter.
func (a *API) placeImported(ctx context.Context, s *gridRows, rep headend.ImportReport) (int, error) {
	refused := map[int]bool{}
	for _, b := range rep.Bad {
		refused[b.Line] = true
	}
	var rows []topology.Row
	for _, r := range s.rows {
		if !refused[r.Line] {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return 0, nil
	}
	nodes, err := topology.NodesOf(rows)
	if err != nil {
		return 0, err
	}
	now := a.now()
	base, err := a.d.Store.TopologyAt(ctx, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	g, err := topology.Merge(base, nodes)
	if err != nil {
		return 0, err
	}
	return a.d.Store.PutTopology(ctx, cim.DateOf(now, time.UTC).Start(time.UTC), g)
}
