package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/topology"
	"github.com/amigo-ami/amigo/web"
)

// outageGrid is ten customers near Utrecht:
//
//	SS-1 ─ FD-A ─ TR-1: S01 S02 S03
//	            └ TR-2: S04
//	     └ FD-B ─ TR-3: S05 S06 S07
//	            └ TR-4: S08 S09 S10
func outageGrid(t *testing.T) *topology.Grid {
	t.Helper()
	nodes := []topology.Node{{ID: "SS-1", Level: topology.Substation, Region: "utrecht", Lat: 52.09, Lon: 5.12},
		{ID: "FD-A", Level: topology.Feeder, Parent: "SS-1"}, {ID: "FD-B", Level: topology.Feeder, Parent: "SS-1"}}
	trs := map[string][2]float64{"TR-1": {52.10, 5.10}, "TR-2": {52.11, 5.14}, "TR-3": {52.07, 5.09}, "TR-4": {52.06, 5.15}}
	for _, tr := range []string{"TR-1", "TR-2", "TR-3", "TR-4"} {
		fd := map[bool]string{true: "FD-A", false: "FD-B"}[tr <= "TR-2"]
		nodes = append(nodes, topology.Node{ID: tr, Level: topology.Transformer, Parent: fd, Lat: trs[tr][0], Lon: trs[tr][1]})
	}
	for i, tr := range []string{"TR-1", "TR-1", "TR-1", "TR-2", "TR-3", "TR-3", "TR-3", "TR-4", "TR-4", "TR-4"} {
		p := trs[tr]
		nodes = append(nodes, topology.Node{ID: fmt.Sprintf("S%02d", i+1), Level: topology.Service, Parent: tr, Lat: p[0] + float64(i%3)/500, Lon: p[1] + 0.002})
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestBrowserOutages: in real headless Chromium, the console's Outages
// page shows the tree and the map coloured by state (an open outage red,
// a restoration not verified amber, a momentary interruption yellow, the
// rest green), lists the open and recent outages with the customers they
// cut off, and shows the reliability indices the API computes, a nested
// outage counted once.
func TestBrowserOutages(t *testing.T) {
	ctx0 := context.Background()
	st, _ := storetest.OpenSQLite(t)
	authSvc, err := auth.New(st.(store.Users), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "an administrator's password"
	if _, err := authSvc.CreateUser(ctx0, "admin", pw, auth.Admin, nil); err != nil {
		t.Fatal(err)
	}
	g := outageGrid(t)
	if _, err := st.PutTopology(ctx0, time.Now().AddDate(-1, 0, 0), g); err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Auth: authSvc})
	a.Handle("/", web.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()

	// The outages sit before today's midnight (UTC), and the page is asked
	// for the three days before it, so that the figures do not move with
	// the clock; only the colours depend on now.
	now := time.Now().UTC().Truncate(time.Second)
	midnight := now.Truncate(24 * time.Hour)
	ev := func(device string, level topology.Level, st outage.State, start, end time.Time) outage.Event {
		feeder, _ := g.Ancestor(device, topology.Feeder)
		return outage.Event{ID: fmt.Sprintf("%s@%d", device, start.Unix()), Level: level, Device: device, Feeder: feeder.ID, Region: "utrecht",
			State: st, Start: start, End: end, DetectedAt: start.Add(20 * time.Second), Customers: g.Customers(device), Confidence: 0.9, LastGasps: 1}
	}
	open := ev("TR-2", topology.Transformer, outage.Confirmed, midnight.Add(-time.Hour), time.Time{})
	restored := ev("TR-3", topology.Transformer, outage.Restored, midnight.Add(-3*time.Hour), midnight.Add(-2*time.Hour))
	// A momentary interruption in the period, and one just now that
	// colours TR-4 whatever the hour.
	blip := ev("TR-4", topology.Transformer, outage.Momentary, midnight.Add(-10*time.Hour), midnight.Add(-10*time.Hour+90*time.Second))
	blipStart := now.Add(-40 * time.Second)
	if blipStart.Before(midnight) {
		blipStart = midnight
	}
	recent := ev("TR-4", topology.Transformer, outage.Momentary, blipStart, blipStart.Add(20*time.Second))
	// FD-A out two hours the day before yesterday, TR-1 out inside and
	// past it: S01..S03 are interrupted once, 30 h to 27 h before
	// midnight.
	feeder := ev("FD-A", topology.Feeder, outage.Verified, midnight.Add(-30*time.Hour), midnight.Add(-28*time.Hour))
	nested := ev("TR-1", topology.Transformer, outage.Verified, midnight.Add(-29*time.Hour), midnight.Add(-27*time.Hour))
	nested.Parent = feeder.ID
	for _, e := range []outage.Event{open, restored, blip, recent, feeder, nested} {
		if err := st.PutOutage(ctx0, e); err != nil {
			t.Fatal(err)
		}
	}

	ctx := browser(t)
	// Days and times in UTC, as the figures are worked out.
	do(t, ctx, "the browser's zone", emulation.SetTimezoneOverride("UTC"))
	do(t, ctx, "open the outages page", chromedp.Navigate(base+"/#/outages"))
	signIn(t, ctx, "admin", pw)
	waitJS(t, ctx, "the tree", `document.querySelectorAll("#outage-tree li[data-device]").length === 7`, 30*time.Second)
	waitJS(t, ctx, "the map", `document.querySelectorAll("#outage-map circle[data-device]").length === 7`, 30*time.Second)
	waitJS(t, ctx, "the indices", `!!document.querySelector("#rel-saidi[data-value]")`, 30*time.Second)

	// The colours, by state and as drawn.
	var drawn map[string]struct {
		Tree, Map, Fill, Dot string
	}
	do(t, ctx, "the colours", chromedp.Evaluate(`(() => {
		const out = {};
		for (const li of document.querySelectorAll("#outage-tree li[data-device]")) {
			const c = document.querySelector('#outage-map circle[data-device="' + li.dataset.device + '"]');
			out[li.dataset.device] = {tree: li.dataset.state, map: c.dataset.state, fill: getComputedStyle(c).fill,
				dot: getComputedStyle(li.querySelector(":scope > .st-dot")).backgroundColor};
		}
		return out;
	})()`, &drawn))
	want := map[string]string{"SS-1": "normal", "FD-A": "normal", "FD-B": "normal", "TR-1": "normal", "TR-2": "out", "TR-3": "restored", "TR-4": "momentary"}
	colour := map[string]string{"out": "rgb(220, 38, 38)", "restored": "rgb(245, 158, 11)", "momentary": "rgb(250, 204, 21)", "normal": "rgb(22, 163, 74)"}
	for id, st := range want {
		d := drawn[id]
		if d.Tree != st || d.Map != st || d.Fill != colour[st] || d.Dot != colour[st] {
			t.Errorf("%s is drawn %+v, want %s in %s", id, d, st, colour[st])
		}
	}

	// The open and recent outages: those that colour the tree, with the
	// customers each cut off; the verified ones are history. (The blip in
	// the period is listed while it is less than 24 h old.)
	var rows []struct{ ID, State, Customers, End string }
	do(t, ctx, "the outage rows", chromedp.Evaluate(`[...document.querySelectorAll("#outages-open tr[data-outage]")].map((r) => ({
		id: r.dataset.outage, state: r.dataset.state, customers: r.querySelector(".customers").textContent, end: r.children[6].textContent}))`, &rows))
	byID := map[string]struct{ ID, State, Customers, End string }{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	if r := byID[open.ID]; r.State != "confirmed" || r.Customers != "1" || r.End != "–" {
		t.Errorf("open outage row %+v", r)
	}
	if r := byID[restored.ID]; r.State != "restored" || r.Customers != "3" || r.End == "–" {
		t.Errorf("restored outage row %+v", r)
	}
	if r := byID[recent.ID]; r.State != "momentary" || r.Customers != "3" {
		t.Errorf("momentary row %+v", r)
	}
	if _, ok := byID[feeder.ID]; ok || len(rows) < 3 || len(rows) > 4 {
		t.Errorf("outage rows %+v", rows)
	}
	shot(t, ctx, "console-outages")

	// The indices of the three days before midnight.
	from, to := midnight.AddDate(0, 0, -3), midnight
	do(t, ctx, "the period", chromedp.SetValue(`#rel-from`, from.Format(time.DateOnly), chromedp.ByQuery),
		chromedp.SetValue(`#rel-to`, to.Format(time.DateOnly), chromedp.ByQuery), chromedp.Click(`#rel-form button[type=submit]`, chromedp.ByQuery))
	waitJS(t, ctx, "the period's indices", fmt.Sprintf(`(() => { const p = document.querySelector("#rel-period"); return !!p && p.dataset.to === %q && p.dataset.from === %q; })()`,
		to.Format(time.RFC3339), from.Format(time.RFC3339)), 30*time.Second)
	// The indices shown are the API's for the period shown.
	var shown struct {
		From, To                   string
		SAIDI, SAIFI, CAIDI, MAIFI string
		API                        map[string]any
		Feeders                    []string
	}
	do(t, ctx, "the indices against the API", chromedp.Evaluate(`(async () => {
		const p = document.querySelector("#rel-period");
		const r = await fetch("/api/v1/reliability?from=" + p.dataset.from + "&to=" + p.dataset.to).then((x) => x.json());
		const v = (id) => document.querySelector(id).dataset.value;
		return {from: p.dataset.from, to: p.dataset.to, saidi: v("#rel-saidi"), saifi: v("#rel-saifi"), caidi: v("#rel-caidi"), maifi: v("#rel-maifi"),
			api: r.total, feeders: [...document.querySelectorAll("#rel-feeders tr[data-feeder]")].map((x) => x.dataset.feeder + " " + x.querySelector(".saidi").textContent)};
	})()`, &shown, awaitPromise))
	for name, got := range map[string]string{"saidi": shown.SAIDI, "saifi": shown.SAIFI, "caidi": shown.CAIDI, "maifi": shown.MAIFI} {
		if got != fmt.Sprint(shown.API[name]) {
			t.Errorf("%s shown %s, the API says %v", name, got, shown.API[name])
		}
	}
	// By hand: S01..S03 out 3 h once (FD-A's outage and TR-1's nested
	// in it, 30 h to 27 h before midnight); S04 2 h in FD-A's and 1 h
	// until the period's end (still out); S05..S07 1 h: 3×180 + 120 + 60
	// + 3×60 = 900 customer minutes over 10 served: SAIDI 90; customers
	// interrupted 3 + 1 + 1 + 3: SAIFI 0.8; CAIDI 90 / 0.8 = 112.5;
	// MAIFI: TR-4's 90 s, 3 / 10 = 0.3.
	if shown.API["saidi"] != 90.0 || shown.API["saifi"] != 0.8 || shown.API["caidi"] != 112.5 || shown.API["maifi"] != 0.3 {
		t.Errorf("the API's indices %v", shown.API)
	}
	if len(shown.Feeders) != 2 || !strings.HasPrefix(shown.Feeders[0], "FD-A ") {
		t.Errorf("feeder rows %v", shown.Feeders)
	}

	// One outage: the customers it cut off on the topology of its start.
	do(t, ctx, "the open outage", chromedp.Click(fmt.Sprintf(`#outages-open tr[data-outage=%q] a`, open.ID), chromedp.ByQuery))
	waitJS(t, ctx, "the outage's customers", `(() => { const n = document.querySelector("#outage-affected"); return !!n && n.textContent === "1"; })()`, 30*time.Second)
	var services string
	do(t, ctx, "the outage's services", chromedp.Text(`#outage-services`, &services, chromedp.ByQuery))
	if services != "S04" {
		t.Errorf("the open outage interrupted %q", services)
	}
	shot(t, ctx, "console-outage")
	noPageErrors(t, "the outages page")
}
