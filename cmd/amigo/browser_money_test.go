package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMoneyAndDemandResponse: in real headless Chromium against
// `amigo demo`, the household sees its bill so far and the forecast with
// the amounts the API gives, sees the coming event, opts out of it and
// sees itself opted out (and the API agrees); the administrator's Billing
// and Demand response pages list their rows.
func TestBrowserMoneyAndDemandResponse(t *testing.T) {
	d := startDemo(t, 60)
	ctx := browser(t)

	do(t, ctx, "open the portal", chromedp.Navigate(d.url+"/portal/"))
	signIn(t, ctx, "household", d.homePW)
	do(t, ctx, "the bill", chromedp.WaitVisible(`#bill-so-far-amount`, chromedp.ByQuery))
	// The forecast needs the collected history: the portal refreshes
	// every 30 s; a collection beside other tests can take minutes.
	waitJS(t, ctx, "the forecast", `document.querySelector("#bill-forecast-amount").dataset.minor !== ""`, 6*time.Minute)
	var agree struct {
		SoFar, Forecast, APISoFar, APIForecast string
		SoFarText, ForecastText                string
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		do(t, ctx, "the amounts against the API", chromedp.Evaluate(fmt.Sprintf(`(async () => {
			const b = await fetch("/api/v1/usage-points/%s/bill-summary").then(r => r.json());
			const q = (s) => document.querySelector(s);
			return {soFar: q("#bill-so-far-amount").dataset.minor, forecast: q("#bill-forecast-amount").dataset.minor,
				apiSoFar: String(b.soFar ? b.soFar.total : 0), apiForecast: String(b.forecast ? b.forecast.total : ""),
				soFarText: q("#bill-so-far-amount").textContent, forecastText: q("#bill-forecast-amount").textContent};
		})()`, d.up), &agree, awaitPromise))
		if agree.SoFar == agree.APISoFar && agree.Forecast == agree.APIForecast && agree.Forecast != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page shows %+v", agree)
		}
		time.Sleep(time.Second)
	}
	if agree.SoFarText[:4] != "EUR " || agree.ForecastText[:4] != "EUR " {
		t.Errorf("amounts without their currency: %q, %q", agree.SoFarText, agree.ForecastText)
	}
	t.Logf("bill so far %s, forecast %s", agree.SoFarText, agree.ForecastText)
	do(t, ctx, "the flat comparison", chromedp.WaitVisible(`#bill-flat`, chromedp.ByQuery))

	// The coming event, told of as soon as the program's step ran.
	waitJS(t, ctx, "the coming event", `!!document.querySelector("#dr-events li.dr-event[data-opted-out=false] button.opt-out")`, 2*time.Minute)
	var event string
	do(t, ctx, "the event's id", chromedp.Evaluate(`document.querySelector("#dr-events li.dr-event").dataset.event`, &event))
	shot(t, ctx, "portal-money")
	noPageErrors(t, "the portal's money")
	do(t, ctx, "opt out", chromedp.Click(`#dr-events li.dr-event button.opt-out`, chromedp.ByQuery))
	waitJS(t, ctx, "opted out on the page", `!!document.querySelector("#dr-events li.dr-event[data-opted-out=true]")`, 30*time.Second)
	var optedOut bool
	do(t, ctx, "the API's participation", chromedp.Evaluate(fmt.Sprintf(`(async () => {
		const p = await fetch("/api/v1/usage-points/%s/dr-events").then(r => r.json());
		return p.items.some((x) => x.eventId === %q && !!x.optedOutAt);
	})()`, d.up, event), &optedOut, awaitPromise))
	if !optedOut {
		t.Fatalf("the API has usage point %s still in event %s", d.up, event)
	}
	shot(t, ctx, "portal-opted-out")
	noPageErrors(t, "opting out")

	// The operator's pages. A bill run of the demo's group gives the
	// billing page a run and bills.
	admin := signInAPI(t, d.url, "admin", d.adminPW)
	var run struct{ ID int64 }
	asOf := time.Now().Format(time.DateOnly)
	if code := admin.post("/api/v1/bill-runs", `{"group":"demo","cycleDay":1,"asOf":"`+asOf+`"}`, &run); code/100 != 2 {
		t.Fatalf("bill run: HTTP %d", code)
	}
	do(t, ctx, "sign out", chromedp.Click(`header .who button.link`, chromedp.ByQuery),
		chromedp.WaitVisible(`#login`, chromedp.ByQuery), chromedp.Navigate(d.url+"/"))
	signIn(t, ctx, "admin", d.adminPW)
	do(t, ctx, "the billing page", chromedp.WaitVisible(`nav a[data-nav="billing"]`, chromedp.ByQuery),
		chromedp.Click(`nav a[data-nav="billing"]`, chromedp.ByQuery))
	waitJS(t, ctx, "the tariff's versions", `!!document.querySelector('#billing-tariffs tr[data-tariff="residential-tou"]')`, 30*time.Second)
	waitJS(t, ctx, "the bill run", fmt.Sprintf(`!!document.querySelector('#billing-runs tr[data-run="%d"] a[href*="format=lines"]')`, run.ID), 30*time.Second)
	waitJS(t, ctx, "the account's bills", `document.querySelectorAll('#billing-bills tr[data-bill]').length > 0 && document.querySelectorAll('#billing-bill .bill-lines tbody tr').length > 0`, 3*time.Minute)
	shot(t, ctx, "console-billing")
	noPageErrors(t, "the billing page")
	do(t, ctx, "the demand-response page", chromedp.Click(`nav a[data-nav="dr"]`, chromedp.ByQuery))
	waitJS(t, ctx, "the program", `!!document.querySelector('#dr-programs tr[data-program="evening-peak"]')`, 30*time.Second)
	waitJS(t, ctx, "the event", fmt.Sprintf(`!!document.querySelector('#dr-events tr[data-event=%q]')`, event), 30*time.Second)
	do(t, ctx, "the event's participants", chromedp.Click(fmt.Sprintf(`#dr-events tr[data-event=%q] a`, event), chromedp.ByQuery))
	waitJS(t, ctx, "the participants", fmt.Sprintf(`(() => { const r = document.querySelector('#dr-participants tr[data-usage-point=%q]'); return !!r && r.textContent.includes("opted-out"); })()`, d.up), 30*time.Second)
	shot(t, ctx, "console-dr")
	noPageErrors(t, "the demand-response page")
}
