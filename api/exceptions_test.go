package api

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestExceptionsFilterCountAndPage: the queue's filters by meter, rule,
// open and day range, the count of all that match on every page, and a
// cursor that walks every match once and is absent on the last page.
func TestExceptionsFilterCountAndPage(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	first := cim.Date{Year: 2026, Month: 11, Day: 1}
	var es []store.Exception
	for k := range 10 {
		for _, m := range []string{"m1", "m2"} {
			es = append(es, store.Exception{MeterID: m, Channel: "A+15m", Date: first.AddDays(k), Version: 1, Rule: "missing",
				Interval: 4, Indexes: []int{4, 5, 6}, Reason: "3 intervals missing: 01:00–01:45 CET"})
		}
		es = append(es, store.Exception{MeterID: "m1", Channel: "A+15m", Date: first.AddDays(k), Version: 1, Rule: "demand-limit",
			Interval: 70, Indexes: []int{70}, Unit: "Wh", Reason: "1 interval above the limit"})
	}
	if _, err := st.PutExceptions(ctx, es); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st}))
	defer srv.Close()
	list := func(q url.Values) (int, map[string]any) {
		return do(t, "GET", srv.URL+"/api/v1/exceptions?"+q.Encode(), "")
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"", 30},
		{"meter=m1", 20},
		{"meter=m1&rule=demand-limit", 10},
		{"rule=missing&from=2026-11-03&to=2026-11-04", 4},
		{"from=2026-11-10", 3},
		{"to=2026-11-01&open=true", 3},
		{"open=false&meter=m3", 0},
	} {
		q, _ := url.ParseQuery(c.q)
		// Walk the pages; every page says the same total.
		seen := map[float64]bool{}
		q.Set("limit", "4")
		for pages := 0; ; pages++ {
			code, m := list(q)
			if code != 200 || m["total"] != float64(c.want) {
				t.Fatalf("%s: %d %v, want total %d", c.q, code, m, c.want)
			}
			for _, it := range m["items"].([]any) {
				e := it.(map[string]any)
				if seen[e["id"].(float64)] {
					t.Fatalf("%s: exception %v twice", c.q, e["id"])
				}
				seen[e["id"].(float64)] = true
				if e["intervals"] == nil || (e["rule"] == "demand-limit") != (e["unit"] == "Wh") {
					t.Fatalf("%s: %v without its intervals or unit", c.q, e)
				}
			}
			next, ok := m["next"].(string)
			if !ok {
				break
			}
			if pages > 10 {
				t.Fatalf("%s: more pages than exceptions", c.q)
			}
			q.Set("after", next)
		}
		if len(seen) != c.want {
			t.Errorf("%s: walked %d exceptions, want %d", c.q, len(seen), c.want)
		}
	}
	code, m := list(url.Values{"meter": {"m1"}, "rule": {"missing"}, "limit": {"1"}})
	if it := m["items"].([]any); code != 200 || len(it) != 1 || it[0].(map[string]any)["intervals"] != float64(3) {
		t.Fatalf("intervals: %d %v", code, m)
	}
	for _, q := range []string{"from=2026-13-01", "to=yesterday", "from=2026-11-05&to=2026-11-04", "open=yes", "after=-1", "limit=0", "severity=high"} {
		if code, m := do(t, "GET", srv.URL+"/api/v1/exceptions?"+q, ""); code != 400 || errCode(m) == "" {
			t.Errorf("%s: %d %v, want 400", q, code, m)
		}
	}
}
