package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestReadingsEditsAndExceptions goes through the MDM routes: a month of
// readings with quality, an edit that makes a new version and keeps the
// old one, the exceptions queue, and clear 4xx answers to bad requests.
func TestReadingsEditsAndExceptions(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	first := cim.Date{Year: 2026, Month: 6, Day: 1}
	var days []interval.Day
	for k := range 30 {
		date := first.AddDays(k)
		d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range d.Values {
			d.Values[i] = 10
		}
		days = append(days, d)
	}
	days[3].Quality[5] = cim.QualityMissing
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, MaxBodyBytes: 1024}))
	defer srv.Close()
	base := srv.URL + "/api/v1/meters/m1"

	code, m := do(t, "GET", base+"/readings?channel=A%2B15m&from=2026-06-01&to=2026-06-30", "")
	if code != 200 || len(m["days"].([]any)) != 30 || m["total"].(float64) != 30*96*10-10 {
		t.Fatalf("readings %d %v", code, m["total"])
	}
	// Validation finds the missing interval of 4 June.
	code, m = do(t, "POST", base+"/vee", `{"channel":"A+15m","from":"2026-06-01","to":"2026-06-30"}`)
	if code != 200 || m["days"].(float64) != 30 {
		t.Fatalf("vee %d %v", code, m)
	}
	code, m = do(t, "GET", srv.URL+"/api/v1/exceptions?meter=m1&open=true", "")
	if code != 200 {
		t.Fatalf("exceptions %d %v", code, m)
	}
	items := m["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["rule"] != "missing" {
		t.Fatalf("exceptions %v", items)
	}
	code, m = do(t, "POST", base+"/days/A+15m/2026-06-04/edits", `{"user":"alice","reason":"read off the display","values":{"5":12}}`)
	if code != 201 || m["version"].(float64) != 2 || m["user"] != "alice" || m["source"] != "edit" {
		t.Fatalf("edit %d %v", code, m)
	}
	code, m = do(t, "GET", base+"/days/A+15m/2026-06-04/versions", "")
	vs := m["versions"].([]any)
	if code != 200 || len(vs) != 2 || vs[0].(map[string]any)["source"] != "meter" {
		t.Fatalf("versions %d %v", code, m)
	}
	id := items[0].(map[string]any)["id"].(float64)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/exceptions/"+strconv.FormatFloat(id, 'f', 0, 64)+"/resolve",
		strings.NewReader(`{"user":"alice","resolution":"edited from the display"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("resolve: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	code, m = do(t, "GET", base+"/totals?from=2026-06-01&to=2026-06-30&by=month", "")
	tot := m["totals"].([]any)
	if code != 200 || len(tot) != 1 || tot[0].(map[string]any)["total"].(float64) != 30*96*10-10+12 || tot[0].(map[string]any)["edited"].(float64) != 1 {
		t.Fatalf("monthly totals %d %v", code, m)
	}
	code, m = do(t, "GET", base+"/totals?from=2026-06-01&to=2026-06-02", "")
	if tot := m["totals"].([]any); code != 200 || len(tot) != 2 || tot[1].(map[string]any)["total"].(float64) != 960 {
		t.Fatalf("daily totals %d %v", code, m)
	}
	if code, m = do(t, "GET", base+"/registers/latest", ""); code != 200 {
		t.Fatalf("latest %d %v", code, m)
	}
	for _, c := range []struct {
		method, url, body string
		code              int
	}{
		{"GET", base + "/readings?from=2026-06-01&to=junk", "", 400},
		{"GET", base + "/readings?from=2026-06-02&to=2026-06-01", "", 400},
		{"GET", base + "/readings?from=2026-06-01&to=2026-06-02&colour=red", "", 400},
		{"POST", base + "/days/A+15m/2026-06-04/edits", `{"user":"alice","values":{"5":1}}`, 422},
		{"POST", base + "/days/A+15m/2026-06-04/edits", `{"user":"a","reason":"b","values":{"999":1}}`, 422},
		{"POST", base + "/days/A+15m/2026-06-04/edits", `{"user":"a","reason":"b","values":{"x":1}}`, 400},
		{"POST", base + "/days/A+15m/2026-06-04/edits", `{"user":"a","reason":"b","extra":1}`, 400},
		{"POST", base + "/days/A+15m/2026-07-04/edits", `{"user":"a","reason":"b","values":{"1":1}}`, 404},
		{"POST", base + "/days/A+15m/2026-06-04/edits", `{"user":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"POST", base + "/vee", `{"from":"2026-06-02","to":"2026-06-01"}`, 400},
		{"POST", srv.URL + "/api/v1/exceptions/99/resolve", `{"user":"a","resolution":"b"}`, 404},
		{"GET", srv.URL + "/api/v1/exceptions?after=x", "", 400},
		{"GET", base + "/totals?from=2026-06-01&to=2026-06-02&by=week", "", 400},
	} {
		if code, m := do(t, c.method, c.url, c.body); code != c.code || errCode(m) == "" {
			t.Errorf("%s %s %s: %d %v, want %d", c.method, c.url, c.body, code, m, c.code)
		}
	}
}

// TestRuleSets: the API says which validation rules apply to which meters.
func TestRuleSets(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutMeters(ctx, cim.Meter{MRID: "lamp", Tags: map[string]string{"class": "lighting"}}, cim.Meter{MRID: "house"}); err != nil {
		t.Fatal(err)
	}
	rs, err := vee.BuildRuleSets(nil, []vee.GroupSpec{{Name: "lighting", Match: vee.Match{Tags: map[string]string{"class": "lighting"}},
		Rules: map[string]float64{"zero_run": 0}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, Rules: &rs}))
	defer srv.Close()
	code, m := do(t, "GET", srv.URL+"/api/v1/vee/rulesets", "")
	sets, _ := m["ruleSets"].([]any)
	if code != 200 || len(sets) != 7 || sets[0].(map[string]any)["name"] != "lighting" || sets[1].(map[string]any)["name"] != "prosumer" ||
		sets[6].(map[string]any)["name"] != "default" {
		t.Fatalf("rule sets %d %v", code, m)
	}
	for meter, want := range map[string]string{"lamp": "lighting", "house": "default"} {
		code, m = do(t, "GET", srv.URL+"/api/v1/vee/rulesets?meter="+meter, "")
		if code != 200 || m["name"] != want {
			t.Fatalf("meter %s: %d %v, want %s", meter, code, m, want)
		}
	}
	if code, m = do(t, "GET", srv.URL+"/api/v1/vee/rulesets?meter=nope", ""); code != 404 {
		t.Fatalf("unknown meter: %d %v", code, m)
	}
}

// racingStore stores a reading of interval 7 between the edit's read of a
// day and its write, once, as the ingest would.
type racingStore struct {
	store.Store
	raced bool
}

func (s *racingStore) PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	if !s.raced {
		s.raced = true
		d, err := s.Store.Day(ctx, days[0].MeterID, days[0].Channel, days[0].Date)
		if err != nil {
			return nil, err
		}
		d.Values[7], d.Quality[7] = 77, 0
		if _, err := s.Store.PutDays(ctx, []interval.Day{d}); err != nil {
			return nil, err
		}
	}
	return s.Store.PutDaysIfLatest(ctx, days, bases)
}

// An edit overtaken by the ingest is made again over the ingest's
// version: both the reading and the edit stand.
func TestEditOvertakenByTheIngest(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 4}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Quality {
		d.Quality[i] = cim.QualityMissing
	}
	if _, err := st.PutDays(ctx, []interval.Day{d}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: &racingStore{Store: st}, MaxBodyBytes: 1024}))
	defer srv.Close()
	code, m := do(t, "POST", srv.URL+"/api/v1/meters/m1/days/A+15m/2026-06-04/edits", `{"user":"alice","reason":"read off the display","values":{"5":12}}`)
	if code != 201 || m["version"].(float64) != 3 {
		t.Fatalf("edit %d %v", code, m)
	}
	got, err := st.Day(ctx, "m1", "A+15m", date)
	if err != nil || got.Version != 3 || got.Values[5] != 12 || got.Values[7] != 77 {
		t.Fatalf("latest version %d: interval 5 = %d, 7 = %d, %v; want 12 and 77", got.Version, got.Values[5], got.Values[7], err)
	}
}
