package api

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// collectorHeadEnd adds session times and capacities to the fake
// head-end.
type collectorHeadEnd struct{ fakeHeadEnd }

func (collectorHeadEnd) SessionTimes(cim.Date) map[string]headend.SessionTime {
	return map[string]headend.SessionTime{"col-0001": {Sessions: 3, Median: 40 * time.Millisecond, P95: 90 * time.Millisecond}}
}
func (collectorHeadEnd) SegmentCapacity(string) int { return 8 }

// The collector view lists every collector of the day, worst read
// success first, with failures by cause and, where the head-end timed
// them, session times.
func TestCollectorsRoute(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	day := cim.Date{Year: 2026, Month: 6, Day: 1}
	var rs []store.CollectionResult
	for i, seg := range []string{"col-0001", "col-0001", "col-0001", "col-0002", "col-0002"} {
		r := store.CollectionResult{Day: day, MeterID: "m" + string(rune('a'+i)), Segment: seg, Outcome: store.OutcomeOK, Attempts: 1, At: time.Now()}
		if i == 4 {
			r.Outcome = headend.OutcomeTimeout
		}
		rs = append(rs, r)
	}
	if err := st.PutCollectionResults(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, MaxBodyBytes: 1024, HeadEnd: collectorHeadEnd{fakeHeadEnd{st}}}))
	defer srv.Close()
	code, m := do(t, "GET", srv.URL+"/api/v1/collectors?day=2026-06-01", "")
	if code != 200 {
		t.Fatalf("collectors %d %v", code, m)
	}
	cs := m["collectors"].([]any)
	if len(cs) != 2 {
		t.Fatalf("%d collectors: %v", len(cs), m)
	}
	worst, best := cs[0].(map[string]any), cs[1].(map[string]any)
	if worst["collector"] != "col-0002" || worst["successRate"].(float64) != 0.5 || worst["healthy"] != false ||
		worst["failed"].(map[string]any)["timeout"].(float64) != 1 || worst["sessions"].(float64) != 0 {
		t.Fatalf("worst collector %v", worst)
	}
	if best["collector"] != "col-0001" || best["successRate"].(float64) != 1 || best["healthy"] != true ||
		best["medianMs"].(float64) != 40 || best["p95Ms"].(float64) != 90 || best["capacity"].(float64) != 8 {
		t.Fatalf("best collector %v", best)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/collectors?day=June", ""); code != 400 {
		t.Fatalf("a bad day: %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/collectors?segment=x", ""); code != 400 {
		t.Fatalf("an unknown parameter: %d", code)
	}
}
