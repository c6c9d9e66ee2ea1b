package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// apiGet reads one JSON answer of the demo's API; it returns the status.
func apiGet(s *apiSession, path string, out any) int {
	s.t.Helper()
	resp, err := s.c.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("GET %s: %v: %.300s", path, err, b)
		}
	}
	return resp.StatusCode
}

// TestDemoGasAndWater runs the demo and reconciles the gas and water
// meters' days of yesterday with a model of the same fleet: every hour a
// meter captured is stored as the model has it, under the sub-meter's
// own id; the days were validated by the gas and water rule sets; and
// the household's portal summary shows its gas and water.
func TestDemoGasAndWater(t *testing.T) {
	const meters = 60
	d := startDemo(t, meters)
	admin := signInAPI(t, d.url, "admin", d.adminPW)
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	faults := meter.DefaultFaults()
	model, err := sim.NewFleet(sim.Config{Meters: meters, Seed: 1, Location: loc, HistoryDays: 14, Faults: &faults, Gas: 0.3, Water: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	yesterday := cim.DateOf(time.Now().In(loc), loc).AddDays(-1)

	type sub struct {
		parent      int
		id, kind    string
		m           *meter.Meter
		upOfParent  string
		channelName string
	}
	var subs []sub
	for i := range meters {
		rows, err := model.SubRows(i)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := model.SubMeters(i)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := model.Row(i)
		for k, r := range rows {
			ch := "G60me-3"
			if r.Kind == "water" {
				ch = "W60me-3"
			}
			subs = append(subs, sub{i, r.Serial, r.Kind, ms[k], p.UsagePointID, ch})
		}
	}
	if len(subs) < 10 {
		t.Fatalf("only %d gas and water meters among %d", len(subs), meters)
	}

	// The first run's results, sub-meters' included.
	type result struct {
		Meter, Outcome, Error string
		Complete              bool
	}
	results := map[string]result{}
	for deadline := time.Now().Add(8 * time.Minute); len(results) < meters+len(subs); {
		clear(results)
		for after := ""; ; {
			var page struct {
				Items []result
				Next  string
			}
			if code := apiGet(admin, fmt.Sprintf("/api/v1/collection/%s/results?limit=500&after=%s", yesterday, url.QueryEscape(after)), &page); code != http.StatusOK {
				t.Fatalf("results: HTTP %d", code)
			}
			for _, r := range page.Items {
				results[r.Meter] = r
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d results of %d meters and %d sub-meters", len(results), meters, len(subs))
		}
		if len(results) < meters+len(subs) {
			time.Sleep(500 * time.Millisecond)
		}
	}

	complete := 0
	for _, s := range subs {
		r := results[s.id]
		parent, _ := model.Row(s.parent)
		pr := results[parent.Serial]
		if pr.Outcome != "ok" {
			if r.Outcome != pr.Outcome {
				t.Fatalf("%s meter %s behind a meter that failed (%s): %+v", s.kind, s.id, pr.Outcome, r)
			}
			continue
		}
		if r.Outcome != "ok" || !r.Complete {
			t.Logf("%s meter %s not complete: %+v", s.kind, s.id, r)
			continue
		}
		complete++
		lk := model.Lock(s.parent)
		lk.Lock()
		entries := s.m.ProfileRange(time.Now(), yesterday.Start(loc).Add(time.Hour), yesterday.AddDays(1).Start(loc))
		lk.Unlock()
		byEnd := map[int64]meter.Entry{}
		var total int64
		for _, e := range entries {
			byEnd[e.Stamp.Unix()] = e
			total += e.Import
		}
		// The ingest may still be storing what the run published.
		var mismatch string
		for deadline := time.Now().Add(time.Minute); ; {
			var vs struct {
				Versions []struct {
					Start           time.Time
					IntervalSeconds int
					Values          []int64
					Quality         []cim.Quality
				}
			}
			mismatch = ""
			code := apiGet(admin, fmt.Sprintf("/api/v1/meters/%s/days/%s/%s/versions", s.id, s.channelName, yesterday), &vs)
			switch {
			case code != http.StatusOK:
				mismatch = fmt.Sprintf("HTTP %d", code)
			default:
				day := vs.Versions[len(vs.Versions)-1]
				if n := len(day.Values); day.IntervalSeconds != 3600 || n < 23 || n > 25 {
					mismatch = fmt.Sprintf("%d intervals of %ds", len(day.Values), day.IntervalSeconds)
				}
				for j := 0; mismatch == "" && j < len(day.Values); j++ {
					end := day.Start.Add(time.Duration(j+1) * time.Hour).Unix()
					e, ok := byEnd[end]
					missing := day.Quality[j]&cim.QualityMissing != 0
					switch {
					case ok && (missing || day.Values[j] != e.Import):
						mismatch = fmt.Sprintf("hour %d: stored %d L (quality %v), the model %d L", j, day.Values[j], day.Quality[j], e.Import)
					case !ok && !missing:
						mismatch = fmt.Sprintf("hour %d: stored %d L where the meter captured nothing", j, day.Values[j])
					}
				}
			}
			if mismatch == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if mismatch != "" {
			t.Fatalf("%s meter %s %s: %s", s.kind, s.id, yesterday, mismatch)
		}
		// Validated by its kind's rule set.
		var rep struct {
			Days    int
			RuleSet string
		}
		if code := admin.post("/api/v1/meters/"+s.id+"/vee", fmt.Sprintf(`{"channel":%q,"from":%q,"to":%q}`, s.channelName, yesterday, yesterday), &rep); code != http.StatusOK ||
			rep.RuleSet != s.kind || rep.Days != 1 {
			t.Fatalf("%s meter %s: validation HTTP %d %+v", s.kind, s.id, code, rep)
		}
		// The household behind the same meter sees it in its portal.
		var sum struct {
			Volumes []struct {
				Meter, Kind string
				Days        []struct {
					Date string
					M3   float64
				}
			}
		}
		if code := apiGet(admin, "/api/v1/usage-points/"+url.PathEscape(s.upOfParent)+"/summary", &sum); code != http.StatusOK {
			t.Fatalf("summary of %s: HTTP %d", s.upOfParent, code)
		}
		found := false
		for _, v := range sum.Volumes {
			if v.Meter != s.id {
				continue
			}
			for _, dd := range v.Days {
				if dd.Date == yesterday.String() {
					found = v.Kind == s.kind && math.Abs(dd.M3-float64(total)/1000) < 1e-9
				}
			}
		}
		if !found {
			t.Fatalf("%s meter %s: the portal of %s does not show %s's %.3f m³: %+v", s.kind, s.id, s.upOfParent, yesterday, float64(total)/1000, sum.Volumes)
		}
	}
	if complete < len(subs)*3/4 {
		t.Fatalf("only %d of %d gas and water meters complete", complete, len(subs))
	}
	t.Logf("%d of %d gas and water meters reconciled with the model for %s", complete, len(subs), yesterday)
}
