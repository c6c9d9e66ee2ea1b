package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/pq"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// gridStore is the rig's store with one grid version.
type gridStore struct {
	store.Store
	g *topology.Grid
}

func (s gridStore) TopologyAt(context.Context, time.Time) (*topology.Grid, error) { return s.g, nil }

func TestPowerQualityEndpoints(t *testing.T) {
	r := newAuthRig(t)
	ctx := context.Background()
	week := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	level := map[string]int64{"m1": 2600, "m2": 2300} // m1 at 260 V: out of bounds
	var days []interval.Day
	for m, v := range level {
		for d := range 7 {
			start := week.AddDate(0, 0, d)
			for _, s := range []pq.Stat{pq.Avg, pq.Min, pq.Max} {
				day := interval.Day{MeterID: m, Channel: pq.Channel(1, s), Date: cim.DateOf(start, time.UTC), Start: start, Interval: pq.Interval,
					Values: make([]int64, 144), Quality: make([]cim.Quality, 144)}
				for i := range day.Values {
					day.Values[i] = v
				}
				days = append(days, day)
			}
		}
	}
	if _, err := r.st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.AppendEvents(ctx, []cim.EndDeviceEvent{{MRID: "m2/sag", MeterID: "m2", Type: "3.26.38.150", Code: 76,
		CreatedAt: week.Add(time.Hour), Details: map[string]string{"duration": "1.5s", "depth": "60"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := topology.New([]topology.Node{{ID: "S", Level: topology.Substation}, {ID: "F1", Level: topology.Feeder, Parent: "S"},
		{ID: "T1", Level: topology.Transformer, Parent: "F1", DistanceM: 100},
		{ID: "up-1", Level: topology.Service, Parent: "T1", DistanceM: 80}, {ID: "up-2", Level: topology.Service, Parent: "T1", DistanceM: 20}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(Deps{Store: gridStore{r.st, g}, Auth: r.auth}))
	defer ts.Close()
	admin, anna := r.login(t, "admin"), r.login(t, "anna")
	admin.base, anna.base = ts.URL, ts.URL

	code, m, _ := admin.call("GET", "/api/v1/pq/en50160?week=2025-06-02", "")
	if code != 200 {
		t.Fatalf("report: %d %v", code, m)
	}
	meters, _ := m["meters"].([]any)
	flagged := map[string]bool{}
	for _, x := range meters {
		mw := x.(map[string]any)
		flagged[mw["meter"].(string)] = mw["compliant"] == false
	}
	if len(meters) != 2 || !flagged["m1"] || flagged["m2"] {
		t.Errorf("report meters: %v", meters)
	}
	fs, _ := m["feeders"].([]any)
	if len(fs) != 1 || fs[0].(map[string]any)["flagged"] != true || fs[0].(map[string]any)["sags"] != 1.0 {
		t.Errorf("feeders: %v", fs)
	}
	for _, c := range []struct{ path, accept string }{{"/api/v1/pq/en50160.csv?week=2025-06-02&feeder=F1", ""}, {"/api/v1/pq/en50160?week=2025-06-02", "text/csv"}} {
		req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
		req.Header.Set("Accept", c.accept)
		resp, err := admin.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) != 3 || !strings.HasPrefix(lines[0], "week,meter,") {
			t.Errorf("%s (Accept %q): %d %s %q", c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	if code, m, _ := admin.call("GET", "/api/v1/pq/en50160?week=June", ""); code != 400 {
		t.Errorf("bad week: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/pq/en50160?week=2025-06-02&feeder=T1", ""); code != 404 {
		t.Errorf("a transformer as the feeder: %d %v", code, m)
	}
	if code, _, _ := anna.call("GET", "/api/v1/pq/en50160?week=2025-06-02", ""); code != 403 {
		t.Errorf("a consumer reads the fleet's report: %d", code)
	}

	code, m, _ = admin.call("GET", "/api/v1/pq/feeders/F1/voltage?at=2025-06-03T12:05:00Z", "")
	pts, _ := m["points"].([]any)
	if code != 200 || len(pts) != 2 || pts[0].(map[string]any)["meter"] != "m2" || pts[1].(map[string]any)["meanV"] != 260.0 ||
		pts[1].(map[string]any)["distanceM"] != 180.0 {
		t.Errorf("voltage along F1: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/pq/feeders/F9/voltage", ""); code != 404 {
		t.Errorf("unknown feeder: %d %v", code, m)
	}

	code, m, _ = admin.call("GET", "/api/v1/pq/events?from=2025-06-02&to=2025-06-08&feeder=F1", "")
	items, _ := m["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["kind"] != "sag" || items[0].(map[string]any)["residualPct"] != 60.0 ||
		items[0].(map[string]any)["durationS"] != 1.5 {
		t.Errorf("events: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/pq/events?from=2025-06-02&to=2025-06-08&meter=m1", ""); code != 200 || len(m["items"].([]any)) != 0 {
		t.Errorf("m1's events: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/pq/events?from=2025-06-08&to=2025-06-02", ""); code != 400 {
		t.Errorf("from after to: %d %v", code, m)
	}
}
