package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/pq"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/topology"
	"github.com/amigo-ami/amigo/web"
)

// TestBrowserPowerQuality drives the console's power quality page in
// headless Chromium over a store holding a week of voltage for six meters
// on two feeders, one of them 12 % high: the page lists it first and
// highlighted, flags its feeder, and plots the voltage along the feeder.
func TestBrowserPowerQuality(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	svc, err := auth.New(st.(store.Users), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "a password long enough"
	if _, err := svc.CreateUser(ctx, "admin", pw, auth.Admin, nil); err != nil {
		t.Fatal(err)
	}
	week := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	nodes := []topology.Node{{ID: "SS-1", Level: topology.Substation},
		{ID: "FD-1", Level: topology.Feeder, Parent: "SS-1"}, {ID: "FD-2", Level: topology.Feeder, Parent: "SS-1"},
		{ID: "TR-1", Level: topology.Transformer, Parent: "FD-1", DistanceM: 800}, {ID: "TR-2", Level: topology.Transformer, Parent: "FD-2", DistanceM: 1500}}
	var days []interval.Day
	for i := range 6 {
		id, up := fmt.Sprintf("m%d", i), fmt.Sprintf("UP%d", i)
		tr := []string{"TR-1", "TR-2"}[i%2]
		nodes = append(nodes, topology.Node{ID: up, Level: topology.Service, Parent: tr, DistanceM: 30 * (i + 1)})
		if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: up, TimeZone: "UTC"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutMeters(ctx, cim.Meter{MRID: id, UsagePointID: up, Kind: "electricity-1p"}); err != nil {
			t.Fatal(err)
		}
		level := int64(2300 - 20*i)
		if i == 3 {
			level = 2580
		}
		for d := range 7 {
			start := week.AddDate(0, 0, d)
			for _, s := range []pq.Stat{pq.Avg, pq.Min, pq.Max} {
				day := interval.Day{MeterID: id, Channel: pq.Channel(1, s), Date: cim.DateOf(start, time.UTC), Start: start, Interval: pq.Interval,
					Values: make([]int64, 144), Quality: make([]cim.Quality, 144)}
				for k := range day.Values {
					day.Values[k] = level + int64(k%5)
				}
				days = append(days, day)
			}
		}
	}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutTopology(ctx, week.AddDate(0, 0, -7), g); err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Auth: svc})
	a.Handle("/", web.Handler())
	srv := httptest.NewServer(a)
	defer srv.Close()

	bctx := browser(t)
	do(t, bctx, "open the console", chromedp.Navigate(srv.URL+"/"))
	signIn(t, bctx, "admin", pw)
	do(t, bctx, "the power quality page", chromedp.WaitVisible(`nav a[data-nav=pq]`, chromedp.ByQuery), chromedp.Click(`nav a[data-nav=pq]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#pq-week`, chromedp.ByQuery))
	do(t, bctx, "the week", chromedp.SetValue(`#pq-week`, "2026-06-01", chromedp.ByQuery), chromedp.Click(`form.filters button[type=submit]`, chromedp.ByQuery))
	waitJS(t, bctx, "the report", `document.querySelectorAll("#pq-meters tbody tr").length === 6`, 20*time.Second)
	var got struct {
		First, Feeder, Summary string
		Flagged                int
		Chart                  bool
	}
	waitJS(t, bctx, "the chart", `!!document.querySelector("#pq-chart .uplot")`, 20*time.Second)
	do(t, bctx, "read the page", chromedp.Evaluate(`({
		first: document.querySelector("#pq-meters tbody tr").dataset.meter,
		flagged: document.querySelectorAll("#pq-meters tbody tr.flagged").length,
		feeder: [...document.querySelectorAll("#pq-feeders tbody tr.flagged td:first-child")].map((td) => td.textContent).join(","),
		summary: document.querySelector("#pq-summary").textContent,
		chart: !!document.querySelector("#pq-chart .uplot"),
	})`, &got))
	if got.First != "m3" || got.Flagged != 1 || got.Feeder != "FD-2" || !got.Chart {
		t.Errorf("page: %+v", got)
	}
	shot(t, bctx, "console-pq")
	noPageErrors(t, "the power quality page")
}
