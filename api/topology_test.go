package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/topology"
)

// gridCSV is a grid of n services, four to a transformer, two
// transformers to a feeder; t1Feeder is TR-1's feeder.
func gridCSV(n int, t1Feeder string) string {
	var b strings.Builder
	b.WriteString("usage_point,transformer,feeder,substation,region,lat,lon\n")
	for i := range n {
		up := fmt.Sprintf("up-%d", i+1)
		tr := i / 4
		fd := fmt.Sprintf("FD-%d", tr/2)
		if tr == 1 {
			fd = t1Feeder
		}
		fmt.Fprintf(&b, "%s,TR-%d,%s,SS-1,north,52.%d,5.1\n", up, tr, fd, i)
	}
	return b.String()
}

type nodeDetail struct {
	Version   int             `json:"version"`
	Node      topology.Node   `json:"node"`
	Path      []topology.Node `json:"path"`
	Children  []topology.Node `json:"children"`
	Customers int             `json:"customers"`
	Meters    []string        `json:"meters"`
}

func (s *session) get(path string, v any) int {
	s.t.Helper()
	code, _, body := s.call("GET", path, "")
	if code == 200 {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			s.t.Fatalf("GET %s: %v in %q", path, err, body)
		}
	}
	return code
}

func TestTopologyVersionsOverHTTP(t *testing.T) {
	r := newAuthRig(t)
	admin, olga := r.login(t, "admin"), r.login(t, "olga")
	// 200 services: over the rig's 4 KiB body limit, which the topology
	// file is not held to.
	march := gridCSV(200, "FD-0")
	if len(march) < 4096 {
		t.Fatalf("file of %d bytes is under the general limit", len(march))
	}
	if code, _, _ := olga.call("PUT", "/api/v1/topology?effective=2026-03-01", march); code != 403 {
		t.Fatalf("an operator stored a version: %d", code)
	}
	if code, m, _ := olga.call("GET", "/api/v1/topology", ""); code != 404 || errCode(m) != "not_found" {
		t.Fatalf("no version yet: %d %v", code, m)
	}
	code, m, _ := admin.call("PUT", "/api/v1/topology?effective=2026-03-01", march)
	if code != 201 || m["version"] != 1.0 || m["services"] != 200.0 || m["effectiveFrom"] != "2026-03-01T00:00:00Z" {
		t.Fatalf("put March: %d %v", code, m)
	}
	// TR-1 (up-5..up-8) switched from FD-0 to FD-7 in April.
	if code, m, _ := admin.call("PUT", "/api/v1/topology?effective=2026-04-01", gridCSV(200, "FD-7")); code != 201 || m["version"] != 2.0 {
		t.Fatalf("put April: %d %v", code, m)
	}

	// A local midnight takes over at that instant.
	if code, m, _ := admin.call("PUT", "/api/v1/topology?effective=2026-05-01T00:00:00%2B02:00", march); code != 201 || m["version"] != 3.0 || m["effectiveFrom"] != "2026-04-30T22:00:00Z" {
		t.Fatalf("put May, local midnight: %d %v", code, m)
	}
	var d nodeDetail
	if code := olga.get("/api/v1/topology/nodes/up-6?at=2026-04-30T21:59:59Z", &d); code != 200 || d.Version != 2 {
		t.Fatalf("up-6 before a local midnight: %d %+v", code, d)
	}
	if code := olga.get("/api/v1/topology/nodes/up-6?at=2026-04-30T22:00:00Z", &d); code != 200 || d.Version != 3 || d.Path[1].ID != "FD-0" {
		t.Fatalf("up-6 from a local midnight: %d %+v", code, d)
	}
	if code := olga.get("/api/v1/topology/nodes/up-6?at=2026-03-31T23:59:59Z", &d); code != 200 {
		t.Fatalf("node in March: %d", code)
	}
	if d.Version != 1 || len(d.Path) != 4 || d.Path[0].ID != "SS-1" || d.Path[1].ID != "FD-0" || d.Path[2].ID != "TR-1" || d.Path[3].ID != "up-6" || d.Customers != 1 {
		t.Fatalf("up-6 in March: %+v", d)
	}
	if code := olga.get("/api/v1/topology/nodes/up-6?at=2026-04-01", &d); code != 200 || d.Version != 2 || d.Path[1].ID != "FD-7" {
		t.Fatalf("up-6 in April: %d %+v", code, d)
	}
	// A service's meters come from the registry (the rig has m1 at up-1).
	if code := olga.get("/api/v1/topology/nodes/up-1", &d); code != 200 || len(d.Meters) != 1 || d.Meters[0] != "m1" || d.Node.Lat != 52.0 {
		t.Fatalf("up-1: %d %+v", code, d)
	}
	var fd nodeDetail
	if code := olga.get("/api/v1/topology/nodes/FD-0?at=2026-03-15", &fd); code != 200 || fd.Customers != 8 || len(fd.Children) != 2 || fd.Meters != nil {
		t.Fatalf("FD-0 in March: %d %+v", code, fd)
	}
	if code := olga.get("/api/v1/topology/nodes/FD-0?at=2026-04-15", &fd); code != 200 || fd.Customers != 4 || len(fd.Children) != 1 {
		t.Fatalf("FD-0 in April: %d %+v", code, fd)
	}

	var whole struct {
		Version  int             `json:"version"`
		Nodes    int             `json:"nodes"`
		Services int             `json:"services"`
		Items    []topology.Node `json:"items"`
	}
	if code := olga.get("/api/v1/topology?at=2026-03-02&level=feeder", &whole); code != 200 || whole.Version != 1 || len(whole.Items) != 25 || whole.Services != 200 {
		t.Fatalf("feeders in March: %d %d items %+v", code, len(whole.Items), whole.Version)
	}
	var vs struct {
		Items []struct {
			Version       int       `json:"version"`
			EffectiveFrom time.Time `json:"effectiveFrom"`
			Nodes         int       `json:"nodes"`
		} `json:"items"`
	}
	if code := olga.get("/api/v1/topology/versions", &vs); code != 200 || len(vs.Items) != 3 || vs.Items[1].Version != 2 || vs.Items[1].Nodes != 1+25+50+200 {
		t.Fatalf("versions: %d %+v", code, vs)
	}
	// The export is the file PUT takes, of the version asked for.
	code, _, body := olga.call("GET", "/api/v1/topology/export?at=2026-03-10", "")
	g, err := topology.ParseCSV(strings.NewReader(body))
	if code != 200 || err != nil || g.Total() != 200 {
		t.Fatalf("export: %d %v", code, err)
	}
	if f, _ := g.Ancestor("up-6", topology.Feeder); f.ID != "FD-0" {
		t.Fatalf("export of March puts up-6 on %s", f.ID)
	}

	for _, c := range []struct {
		method, path, body string
		code               int
		err, says          string
	}{
		{"PUT", "/api/v1/topology?effective=2026-05-01", "usage_point,transformer,feeder,substation\nup-1,TR-1,FD-1,SS-1\nup-1,TR-2,FD-1,SS-1\n", 400, "bad_topology", "line 3, column usage_point"},
		{"PUT", "/api/v1/topology?effective=May", march, 400, "bad_query", "effective"},
		{"GET", "/api/v1/topology?at=2026-02-28", "", 404, "not_found", "no version"},
		{"GET", "/api/v1/topology?at=soon", "", 400, "bad_query", "at"},
		{"GET", "/api/v1/topology?level=bay", "", 400, "bad_query", "level"},
		{"GET", "/api/v1/topology/nodes/TR-999", "", 404, "not_found", "TR-999"},
	} {
		code, m, _ := admin.call(c.method, c.path, c.body)
		e, _ := m["error"].(map[string]any)
		if msg, _ := e["message"].(string); code != c.code || errCode(m) != c.err || !strings.Contains(msg, c.says) {
			t.Errorf("%s %s: %d %v, want %d %s saying %q", c.method, c.path, code, m, c.code, c.err, c.says)
		}
	}
	if code := olga.get("/api/v1/topology/versions", &vs); code != 200 || len(vs.Items) != 3 {
		t.Fatalf("a refused file made a version: %+v", vs)
	}
}

// drainingHeadEnd imports by reading every row, refusing the rows of
// serials starting "BAD" as a driver would refuse their columns.
type drainingHeadEnd struct{ stubHeadEnd }

func (drainingHeadEnd) ImportFrom(_ context.Context, src headend.RowSource) (headend.ImportReport, error) {
	var rep headend.ImportReport
	for {
		row, bad, err := src.Next()
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
		switch {
		case bad != nil:
			rep.Rejected++
			rep.Bad = append(rep.Bad, bad)
		case strings.HasPrefix(row.Serial, "BAD"):
			rep.Rejected++
			rep.Bad = append(rep.Bad, &manifest.RowError{Line: row.Line, Column: "serial", Err: errors.New("refused")})
		default:
			rep.Created++
		}
	}
}

func TestManifestPlacesMetersInTheGrid(t *testing.T) {
	r := newAuthRig(t)
	srv := httptest.NewServer(New(Deps{Store: r.st, Auth: r.auth, HeadEnd: drainingHeadEnd{}, MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	admin := r.login(t, "admin")
	admin.base = srv.URL
	if code, _, _ := admin.call("PUT", "/api/v1/topology?effective=2026-01-01", gridCSV(12, "FD-0")); code != 201 {
		t.Fatalf("base version: %d", code)
	}
	const head = "meter_id,serial,manufacturer,model,kind,protocol,address,usage_point_id,time_zone,segment,region,archetype,substation,feeder,transformer,phase,lat,lon\n"
	row := func(id int, serial, up, grid string) string {
		return fmt.Sprintf("%d,%s,AMG,E1,electricity-1p,dlms,tcp://127.0.0.2:4059,%s,UTC,cell-0,north,family,%s\n", id, serial, up, grid)
	}
	body := head +
		row(1, "S1", "up-1", "SS-2,FD-9,TR-9,2,,") + // moves to a new transformer on a new substation
		row(2, "S2", "up-50", ",,TR-0,1,51.5,4.5") + // a new service under a transformer the grid knows
		row(3, "BAD3", "up-2", "SS-2,FD-9,TR-9,,,") + // refused by the head-end: up-2 stays
		row(4, "S4", "up-51", ",,,,,") // no place given
	code, m, _ := admin.call("POST", importPath, body)
	if code != 200 || m["topologyVersion"] != 2.0 || m["topologyError"] != nil {
		t.Fatalf("import: %d %v", code, m)
	}
	var d nodeDetail
	if admin.get("/api/v1/topology/nodes/up-1", &d); d.Version != 2 || d.Path[0].ID != "SS-2" || d.Path[2].ID != "TR-9" || d.Node.Phase != 2 || d.Node.Lat != 52.0 {
		t.Fatalf("up-1 after the import: %+v", d)
	}
	if admin.get("/api/v1/topology/nodes/up-50", &d); d.Path[1].ID != "FD-0" || d.Node.Lat != 51.5 {
		t.Fatalf("up-50 after the import: %+v", d)
	}
	if admin.get("/api/v1/topology/nodes/up-2", &d); d.Path[2].ID != "TR-0" {
		t.Fatalf("up-2, whose row was refused, moved: %+v", d)
	}
	if code := admin.get("/api/v1/topology/nodes/up-51", &d); code != 404 {
		t.Fatalf("up-51, placed nowhere, is in the grid: %d", code)
	}
	// The earlier version still answers for its dates.
	if admin.get("/api/v1/topology/nodes/up-1?at=2026-01-02", &d); d.Version != 1 || d.Path[2].ID != "TR-0" {
		t.Fatalf("up-1 in January: %+v", d)
	}
	// A manifest whose rows contradict the grid imports its meters and
	// says why it made no version.
	code, m, _ = admin.call("POST", importPath, head+row(5, "S5", "up-60", "SS-1,FD-0,TR-1,,,")+row(6, "S6", "up-61", "SS-1,TR-1,TR-7,,,"))
	if code != 200 || m["created"] != 2.0 || m["topologyVersion"] != nil || !strings.Contains(fmt.Sprint(m["topologyError"]), "TR-1") {
		t.Fatalf("contradicting import: %d %v", code, m)
	}
}
