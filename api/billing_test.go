package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

const flatTariff = `id: flat
name: Flat
currency: EUR
effective_from: 2020-01-01
base: {name: all, price: 250000}
`

// TestBillingThroughTheAPI: an engineer files a tariff and the accounts,
// an operator runs the cycle, the household reads its own bill and
// nobody else's, an edit is rebilled, and the CIS export adds up.
func TestBillingThroughTheAPI(t *testing.T) {
	r := newAuthRig(t)
	a := New(Deps{Store: r.st, Auth: r.auth, MaxBodyBytes: 1 << 16, Billing: &billing.Runner{Store: r.st, BatchSize: 1}})
	srv := httptest.NewServer(a)
	defer srv.Close()
	admin, olga, anna, bert := r.login(t, "admin"), r.login(t, "olga"), r.login(t, "anna"), r.login(t, "bert")
	for _, s := range []*session{admin, olga, anna, bert} {
		s.base = srv.URL
	}
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1) // the rig stored this day: 40 Wh a quarter hour

	if code, m, _ := olga.call("PUT", "/api/v1/tariffs/flat/versions/1", flatTariff); code != 403 {
		t.Errorf("an operator files a tariff: %d %v", code, m)
	}
	code, m, _ := admin.call("PUT", "/api/v1/tariffs/flat/versions/1", flatTariff)
	if code != 200 || m["version"] != 1.0 || m["effectiveFrom"] != "2020-01-01" {
		t.Fatalf("file tariff: %d %v", code, m)
	}
	if code, m, _ := admin.call("PUT", "/api/v1/tariffs/flat/versions/1", strings.Replace(flatTariff, "250000", "1", 1)); code != 409 {
		t.Errorf("another document under version 1: %d %v", code, m)
	}
	if code, m, _ := admin.call("PUT", "/api/v1/tariffs/flat/versions/2", "id: flat\ncurrency: EUR\nbogus: 1\n"); code != 400 {
		t.Errorf("a misspelt key: %d %v", code, m)
	}
	if code, m, _ := olga.call("GET", "/api/v1/tariffs/flat/versions", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Errorf("versions: %d %v", code, m)
	}
	for _, up := range []string{"up-1", "up-2"} {
		if code, m, _ := admin.call("PUT", "/api/v1/usage-points/"+up+"/tariff-assignments", `{"tariffId": "flat", "from": "2020-01-01"}`); code != 200 || len(m["items"].([]any)) != 1 {
			t.Fatalf("assign: %d %v", code, m)
		}
	}
	if code, m, _ := admin.call("POST", "/api/v1/accounts", "id,usage_point,group,cycle_day\nacc-1,up-1,north,1\nacc-2,up-2,north,1\n"); code != 200 || m["accounts"] != 2.0 {
		t.Fatalf("import accounts: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/accounts", "acc-3,up-1,north,31\n"); code != 400 {
		t.Errorf("cycle day 31: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/accounts?group=north&limit=1", ""); code != 200 || m["next"] != "acc-1" {
		t.Errorf("accounts page: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/price-feeds/epex", "time,price\n2026-01-01T00:00:00Z,120000\n2026-01-01T01:00:00Z,90000\n"); code != 200 || m["prices"] != 2.0 {
		t.Errorf("prices: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/tariffs/flat/critical-peaks", `{"events": [{"start": "2026-01-05T16:00:00Z", "end": "2026-01-05T19:00:00Z"}]}`); code != 200 {
		t.Errorf("critical peaks: %d %v", code, m)
	}
	if code, m, _ := admin.call("GET", "/api/v1/tariffs/flat/critical-peaks?from=2026-01-05&to=2026-01-06", ""); code != 200 || len(m["items"].([]any)) != 1 {
		t.Errorf("critical peaks listed: %d %v", code, m)
	}

	// The operator runs the cycle; it finishes in the background.
	body := fmt.Sprintf(`{"group": "north", "from": %q, "to": %q}`, day, day.AddDays(1))
	if code, m, _ := anna.call("POST", "/api/v1/bill-runs", body); code != 403 {
		t.Errorf("a household starts a run: %d %v", code, m)
	}
	code, m, _ = olga.call("POST", "/api/v1/bill-runs", body)
	if code != 202 {
		t.Fatalf("start run: %d %v", code, m)
	}
	runPath := fmt.Sprintf("/api/v1/bill-runs/%.0f", m["id"])
	run := waitRun(t, olga, runPath)
	if run["billed"] != 2.0 || run["failed"] != 0.0 {
		t.Fatalf("run %v", run)
	}
	// Again: nothing new.
	if code, m, _ := olga.call("POST", "/api/v1/bill-runs", body); code != 202 || m["status"] != "finished" || m["billed"] != 2.0 {
		t.Errorf("run again: %d %v", code, m)
	}

	// The household sees its own bill: 40 Wh × 96 = 3.84 kWh at 0.25 = 0.96.
	code, m, _ = anna.call("GET", "/api/v1/usage-points/up-1/bills", "")
	items, _ := m["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("anna's bills: %d %v", code, m)
	}
	bill := items[0].(map[string]any)
	if bill["total"] != 96.0 || bill["account"] != "acc-1" || bill["status"] != "ready" {
		t.Fatalf("anna's bill %v", bill)
	}
	if code, _, _ := anna.call("GET", "/api/v1/usage-points/up-2/bills", ""); code != 403 {
		t.Errorf("anna reads bert's bills: %d", code)
	}
	if code, _, _ := anna.call("GET", "/api/v1/bills", ""); code != 403 {
		t.Errorf("anna lists every bill: %d", code)
	}
	checkShape(t, admin, map[string]string{
		"/api/v1/bills?latest=true":                   "BillPage",
		fmt.Sprintf("/api/v1/bills/%.0f", bill["id"]): "Bill",
		runPath:                           "BillRun",
		"/api/v1/bill-runs":               "BillRunList",
		"/api/v1/accounts":                "AccountPage",
		"/api/v1/tariffs/flat/versions":   "TariffVersionList",
		"/api/v1/usage-points/up-1/bills": "BillPage",
	})

	// An edit of anna's day, then a rebill: sequence 2 with the reason.
	d, err := r.st.Day(context.Background(), "m1", "A+15m", day)
	if err != nil {
		t.Fatal(err)
	}
	d.Values[0], d.Source, d.User, d.Reason = 1040, interval.SourceEdit, "olga", "meter swap"
	if _, err := r.st.PutDays(context.Background(), []interval.Day{d}); err != nil {
		t.Fatal(err)
	}
	code, m, _ = olga.call("POST", "/api/v1/rebills", fmt.Sprintf(`{"run": %s}`, strings.TrimPrefix(runPath, "/api/v1/bill-runs/")))
	if code != 200 || m["rebilled"] != 1.0 || m["checked"] != 2.0 {
		t.Fatalf("rebill: %d %v", code, m)
	}
	newID := m["bills"].([]any)[0].(float64)
	code, m, _ = anna.call("GET", "/api/v1/usage-points/up-1/bills", "")
	if code != 200 || len(m["items"].([]any)) != 2 {
		t.Fatalf("anna's bills after the rebill: %d %v", code, m)
	}
	code, m, _ = admin.call("GET", fmt.Sprintf("/api/v1/bills/%.0f", newID), "")
	if code != 200 || m["sequence"] != 2.0 || m["total"] != 121.0 || !strings.Contains(m["reason"].(string), "edit by olga (meter swap)") || m["adjustment"] == nil {
		t.Fatalf("the rebill: %d %v", code, m)
	}

	// The CIS export of the latest bills: lines add up to the totals.
	code, _, csvBody := olga.call("GET", "/api/v1/bill-export?format=lines&latest=true", "")
	if code != 200 {
		t.Fatalf("export: %d %s", code, csvBody)
	}
	rows, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "bill_id" {
		t.Fatalf("export rows %v, %v", rows, err)
	}
	code, _, js := olga.call("GET", "/api/v1/bill-export?format=json&account=acc-1", "")
	var exported []billing.ExportedBill
	if code != 200 || json.Unmarshal([]byte(js), &exported) != nil || len(exported) != 2 || exported[1].Sequence != 2 {
		t.Fatalf("json export: %d %s", code, js)
	}
	if code, _, _ := olga.call("GET", "/api/v1/bill-export?format=pdf", ""); code != 400 {
		t.Errorf("format pdf: %d", code)
	}
}

// waitRun polls a run until it is no longer running.
func waitRun(t *testing.T, s *session, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		code, m, _ := s.call("GET", path, "")
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, m)
		}
		if m["status"] != "running" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still running: %v", m)
		}
	}
	return nil
}

// checkShape checks that each path answers only properties its schema
// documents.
func checkShape(t *testing.T, s *session, paths map[string]string) {
	t.Helper()
	_, _, body := s.call("GET", "/api/v1/openapi.json", "")
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	json.Unmarshal([]byte(body), &doc)
	for path, schema := range paths {
		code, m, _ := s.call("GET", path, "")
		if code != 200 {
			t.Errorf("%s: %d", path, code)
			continue
		}
		props := doc.Components.Schemas[schema].Properties
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s answers %q, which schema %s does not document", path, k, schema)
			}
		}
	}
}
