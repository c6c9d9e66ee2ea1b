package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// outageRig serves the API over a store with a topology of 10 services:
// FD-A (TR-1: S1..S3, TR-2: S4) and FD-B (TR-3: S5..S10) under SS-1.
func outageRig(t *testing.T, withGrid bool) (*session, store.Store) {
	t.Helper()
	r := newAuthRig(t)
	nodes := []topology.Node{{ID: "SS-1", Level: topology.Substation, Lat: 52, Lon: 4},
		{ID: "FD-A", Level: topology.Feeder, Parent: "SS-1"}, {ID: "FD-B", Level: topology.Feeder, Parent: "SS-1"},
		{ID: "TR-1", Level: topology.Transformer, Parent: "FD-A", Region: "north"}, {ID: "TR-2", Level: topology.Transformer, Parent: "FD-A", Region: "north"},
		{ID: "TR-3", Level: topology.Transformer, Parent: "FD-B", Region: "south"}}
	for i, tr := range []string{"TR-1", "TR-1", "TR-1", "TR-2", "TR-3", "TR-3", "TR-3", "TR-3", "TR-3", "TR-3"} {
		nodes = append(nodes, topology.Node{ID: "S" + string(rune('A'+i)), Level: topology.Service, Parent: tr, Lat: 52 + float64(i)/100, Lon: 4.1})
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if withGrid {
		if _, err := r.st.PutTopology(context.Background(), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), g); err != nil {
			t.Fatal(err)
		}
	}
	return r.login(t, "olga"), r.st
}

func TestOutageEndpoints(t *testing.T) {
	s, st := outageRig(t, true)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []outage.Event{
		{ID: "FD-A@1", Level: topology.Feeder, Device: "FD-A", Feeder: "FD-A", State: outage.Verified, Start: day.Add(10 * time.Hour), End: day.Add(11 * time.Hour), Customers: 4},
		{ID: "TR-1@2", Level: topology.Transformer, Device: "TR-1", Feeder: "FD-A", Region: "north", State: outage.Verified, Start: day.Add(10*time.Hour + 30*time.Minute), End: day.Add(11*time.Hour + 30*time.Minute), Customers: 3, Parent: "FD-A@1"},
		{ID: "TR-3@3", Level: topology.Transformer, Device: "TR-3", Feeder: "FD-B", Region: "south", State: outage.Momentary, Start: day.Add(14 * time.Hour), End: day.Add(14*time.Hour + 2*time.Minute), Customers: 6},
		{ID: "TR-2@4", Level: topology.Transformer, Device: "TR-2", Feeder: "FD-A", Region: "north", State: outage.Confirmed, Start: now.Add(-time.Hour), Customers: 1, Confidence: 0.9},
	} {
		e.DetectedAt = e.Start
		if err := st.PutOutage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var list struct{ Items []outage.Event }
	get := func(path string, out any) int {
		t.Helper()
		code, _, body := s.call("GET", path, "")
		if code == 200 && out != nil {
			if err := json.Unmarshal([]byte(body), out); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return code
	}
	if code := get("/api/v1/outages?open=true", &list); code != 200 || len(list.Items) != 1 || list.Items[0].ID != "TR-2@4" {
		t.Fatalf("open: %d %+v", code, list)
	}
	if code := get("/api/v1/outages?feeder=FD-A&state=verified,momentary&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", &list); code != 200 || len(list.Items) != 2 || list.Items[0].ID != "TR-1@2" {
		t.Fatalf("feeder FD-A: %d %+v", code, list)
	}
	for _, bad := range []string{"?state=lost", "?open=maybe", "?from=yesterday", "?colour=red", "?limit=0"} {
		if code := get("/api/v1/outages"+bad, nil); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}

	var d struct {
		ID                string
		AffectedCustomers int
		Services          []string
		Path              []topology.Node
	}
	if code := get("/api/v1/outages/TR-1@2", &d); code != 200 || d.ID != "TR-1@2" || d.AffectedCustomers != 3 || len(d.Services) != 3 || len(d.Path) != 3 {
		t.Fatalf("detail: %d %+v", code, d)
	}
	if code := get("/api/v1/outages/none", nil); code != 404 {
		t.Fatalf("missing outage: %d", code)
	}

	// The hand-worked day of package reliability, without the clipped
	// outages: FD-A 330 customer minutes over 10: SAIDI 33, SAIFI 0.4,
	// CAIDI 82.5, MAIFI 0.6.
	var rep struct {
		Total struct {
			Served                     int
			SAIDI, SAIFI, CAIDI, MAIFI float64
		}
		Feeders []struct{ Name string }
		Regions []struct{ Name string }
		MED     struct{ Note string }
	}
	if code := get("/api/v1/reliability?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", &rep); code != 200 || rep.Total.Served != 10 ||
		rep.Total.SAIDI != 33 || rep.Total.SAIFI != 0.4 || rep.Total.CAIDI != 82.5 || rep.Total.MAIFI != 0.6 || len(rep.Feeders) != 2 || len(rep.Regions) != 2 || rep.MED.Note == "" {
		t.Fatalf("reliability: %d %+v", code, rep)
	}
	if code := get("/api/v1/reliability?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=region&excludeMED=true&tz=Europe/Amsterdam", &rep); code != 200 || len(rep.Feeders) != 0 || len(rep.Regions) != 2 {
		t.Fatalf("by region: %d %+v", code, rep)
	}
	for _, bad := range []string{"", "?from=2026-03-01T00:00:00Z", "?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
		"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=county", "?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&tz=Mars/Olympus",
		"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&momentary=0"} {
		if code := get("/api/v1/reliability"+bad, nil); code != 400 {
			t.Errorf("reliability%s: %d", bad, code)
		}
	}
	code, _, body := s.call("GET", "/api/v1/reliability.csv?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=feeder", "")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(rows) != 4 || rows[1][0] != "total" || rows[1][5] != "33.0000" {
		t.Fatalf("csv: %d %v %v", code, err, rows)
	}

	var m struct {
		Customers int
		Devices   []struct{ ID, State, Outage string }
		Outages   []outage.Event
	}
	if code := get("/api/v1/outage-map", &m); code != 200 || m.Customers != 10 || len(m.Devices) != 6 || len(m.Outages) != 1 {
		t.Fatalf("map: %d %+v", code, m)
	}
	for _, dv := range m.Devices {
		if want := map[bool]string{true: "out", false: "normal"}[dv.ID == "TR-2"]; dv.State != want {
			t.Errorf("%s is %s, want %s", dv.ID, dv.State, want)
		}
	}
}

func TestOutageEndpointsAreTheOperators(t *testing.T) {
	r := newAuthRig(t)
	anna := r.login(t, "anna")
	for _, path := range []string{"/api/v1/outages", "/api/v1/outage-map", "/api/v1/reliability?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z"} {
		if code, _, _ := anna.call("GET", path, ""); code != 403 {
			t.Errorf("a household reads %s: %d", path, code)
		}
	}
}

func TestOutageEndpointsWithoutTopology(t *testing.T) {
	s, _ := outageRig(t, false)
	if code, m, _ := s.call("GET", "/api/v1/reliability?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", ""); code != 404 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "topology") {
		t.Fatalf("no topology: %d %v", code, m)
	}
	if code, _, _ := s.call("GET", "/api/v1/outage-map", ""); code != 404 {
		t.Fatalf("map without topology: %d", code)
	}
	if code, _, _ := s.call("GET", "/api/v1/outages", ""); code != 200 {
		t.Fatalf("the list needs no topology: %d", code)
	}
}
