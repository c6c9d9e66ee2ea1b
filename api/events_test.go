package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestEventListing pages the events with the next cursor, filters them by
// severity, meter and dates, and counts what the filters match.
func TestEventListing(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	var evs []cim.EndDeviceEvent
	for i := range 30 {
		sev := "info"
		if i%3 == 0 {
			sev = "major"
		}
		// Two events to each minute; 30 minutes apart, so they span midnight.
		evs = append(evs, cim.EndDeviceEvent{MRID: fmt.Sprintf("e%02d", i), MeterID: fmt.Sprintf("m%d", i%2), Type: cim.EventPowerOff,
			CreatedAt: t0.Add(time.Duration(i/2) * 30 * time.Minute), Severity: sev})
	}
	if _, err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st}))
	defer srv.Close()

	seen := map[string]bool{}
	next := ""
	for pages := 1; ; pages++ {
		q := url.Values{"limit": {"7"}}
		if next != "" {
			q.Set("after", next)
		}
		code, m := do(t, "GET", srv.URL+"/api/v1/events?"+q.Encode(), "")
		if code != 200 || m["total"] != float64(30) {
			t.Fatalf("page %d: %d %v", pages, code, m)
		}
		for _, it := range m["items"].([]any) {
			id := it.(map[string]any)["mRID"].(string)
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
		next, _ = m["next"].(string)
		if next == "" {
			if pages != 5 {
				t.Fatalf("%d pages of 7 for 30 events", pages)
			}
			break
		}
	}
	if len(seen) != 30 {
		t.Fatalf("paging listed %d of 30", len(seen))
	}

	for _, c := range []struct {
		query string
		total float64
	}{
		{"severity=major", 10},
		{"severity=major&meter=m0", 5},
		{"from=2026-12-01", 22},                                  // from midnight UTC on
		{"to=2026-11-30", 8},                                     // the whole of 30 November
		{"from=2026-11-30T23:00:00Z&to=2026-12-01T00:00:00Z", 4}, // an instant range, its end excluded
		{"type=3.26.0.85&severity=major&from=2026-12-01", 7},
	} {
		code, m := do(t, "GET", srv.URL+"/api/v1/events?"+c.query, "")
		if code != 200 || m["total"] != c.total || float64(len(m["items"].([]any))) != c.total {
			t.Errorf("%s: %d, total %v, %d items; want %v", c.query, code, m["total"], len(m["items"].([]any)), c.total)
		}
	}
	for _, q := range []string{"after=nonsense", "from=yesterday", "to=2026-13-01", "colour=red", "limit=0"} {
		if code, m := do(t, "GET", srv.URL+"/api/v1/events?"+q, ""); code != 400 || errCode(m) != "bad_query" {
			t.Errorf("%s: %d %v", q, code, m)
		}
	}
}

// TestMeterStatus: the listing tells how each meter was last read, and one
// meter's page its zone and relay, from its newest switching event or
// confirmed command.
func TestMeterStatus(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1", Tags: map[string]string{"kind": "electricity"}}, cim.Meter{MRID: "m2"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	today := cim.DateOf(now, time.UTC)
	if err := st.PutCollectionResults(ctx, []store.CollectionResult{
		{Day: today.AddDays(-2), MeterID: "m1", Outcome: store.OutcomeOK, Attempts: 1, Readings: 96, Complete: true, At: now.Add(-30 * time.Hour)},
		{Day: today.AddDays(-1), MeterID: "m1", Outcome: headend.OutcomeTimeout, Attempts: 3, At: now.Add(-6 * time.Hour),
			Error: "meter m1: dial 10.0.0.1:4059: i/o timeout", Problems: "1 object failed: 0.0.96.5.0.255:2 read-write-denied"},
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st}))
	defer srv.Close()

	code, m := do(t, "GET", srv.URL+"/api/v1/meters", "")
	items, _ := m["items"].([]any)
	if code != 200 || len(items) != 2 {
		t.Fatalf("meters: %d %v", code, m)
	}
	c1, _ := items[0].(map[string]any)["collection"].(map[string]any)
	lastOK, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(c1["lastOK"]))
	if c1["outcome"] != "timeout" || c1["day"] != today.AddDays(-1).String() || lastOK.Sub(now.Add(-30*time.Hour)).Abs() > time.Millisecond ||
		c1["error"] != "meter m1: dial 10.0.0.1:4059: i/o timeout" || c1["problems"] != "1 object failed: 0.0.96.5.0.255:2 read-write-denied" {
		t.Errorf("m1's collection %v", c1)
	}
	if _, ok := items[1].(map[string]any)["collection"]; ok {
		t.Errorf("m2, never read, has a collection: %v", items[1])
	}

	relayOf := func() map[string]any {
		t.Helper()
		code, m := do(t, "GET", srv.URL+"/api/v1/meters/m1", "")
		if code != 200 || m["timeZone"] != "Europe/Amsterdam" || m["mRID"] != "m1" {
			t.Fatalf("meter m1: %d %v", code, m)
		}
		r, _ := m["relay"].(map[string]any)
		return r
	}
	if r := relayOf(); r != nil {
		t.Fatalf("relay %v before any switching", r)
	}
	c, _, err := st.IssueControl(ctx, cim.EndDeviceControl{MRID: "c1", CorrelationID: "c1", MeterID: "m1", Type: cim.ControlDisconnect,
		Status: cim.ControlQueued, ScheduledAt: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]cim.ControlStatus{{cim.ControlQueued, cim.ControlSent}, {cim.ControlSent, cim.ControlConfirmed}} {
		if err := st.TransitionControl(ctx, c.MRID, s[0], s[1], "relay disconnected", now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if r := relayOf(); r["state"] != "disconnected" || r["source"] != "command" {
		t.Fatalf("relay %v after a confirmed disconnect", r)
	}
	// Reconnected by hand at the meter, later: the log's event wins.
	if _, err := st.AppendEvents(ctx, []cim.EndDeviceEvent{{MRID: "m1/x", MeterID: "m1", Type: eventRelayClosed, CreatedAt: now.Add(-time.Minute), Reason: "manual connection"}}); err != nil {
		t.Fatal(err)
	}
	if r := relayOf(); r["state"] != "connected" || r["source"] != "event" || r["detail"] != "manual connection" {
		t.Fatalf("relay %v after a later manual connection", r)
	}
}
