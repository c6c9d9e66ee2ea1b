package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/amigo-ami/amigo/testenv"
)

// demoRun is `amigo demo` started for a browser.
type demoRun struct {
	url                 string
	adminPW, homePW, up string
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDemo runs the demo as a user would and reads the sign-in lines it
// prints.
func startDemo(t *testing.T, meters int) demoRun {
	t.Helper()
	cmd := exec.Command(amigoBin, "demo", "--meters", fmt.Sprint(meters), "--http", fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)),
		"--sim-port", fmt.Sprint(freeTCPPort(t)), "--data", t.TempDir(), "--history", "14", "--intraday", "5s", "--log-format", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	console := regexp.MustCompile(`operator console (http://\S+)/ \(user admin, password (\S+)\)`)
	portal := regexp.MustCompile(`consumer portal \S+ \(user household, password (\S+), usage point (\S+)\)`)
	var d demoRun
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(2 * time.Minute)
	for d.url == "" || d.homePW == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo exited:\n%s", logs.String())
			}
			if m := console.FindStringSubmatch(l); m != nil {
				d.url, d.adminPW = m[1], m[2]
			}
			if m := portal.FindStringSubmatch(l); m != nil {
				d.homePW, d.up = m[1], m[2]
			}
		case <-deadline:
			t.Fatalf("the demo printed no sign-in lines:\n%s", logs.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return d
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// browser starts headless Chromium, as Debian packages it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		testenv.Service(t, "Chromium at "+path, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	// Confirm every "are you sure" the pages ask, and keep every error a
	// page raises or logs.
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		case *runtime.EventExceptionThrown:
			pageErrors.add("page error: " + ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				pageErrors.add("console error: " + strings.Join(args, " "))
			}
		}
	})
	return ctx
}

// errorLog is what the pages raised or logged as errors.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) add(m string) { l.mu.Lock(); l.msgs = append(l.msgs, m); l.mu.Unlock() }

func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.msgs
	l.msgs = nil
	return out
}

var pageErrors errorLog

// noPageErrors fails the test with the errors the pages raised since the
// last call.
func noPageErrors(t *testing.T, when string) {
	t.Helper()
	if errs := pageErrors.take(); len(errs) > 0 {
		t.Fatalf("%s: %d page errors:\n%s", when, len(errs), strings.Join(errs, "\n"))
	}
}

// shot saves a screenshot where AMIGO_SCREENSHOTS points, else in the
// test's temporary directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("AMIGO_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(expr, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func signIn(t *testing.T, ctx context.Context, user, pw string) {
	t.Helper()
	do(t, ctx, "sign in as "+user,
		chromedp.WaitVisible(`#login input[name=user]`, chromedp.ByQuery),
		chromedp.SendKeys(`#login input[name=user]`, user, chromedp.ByQuery),
		chromedp.SendKeys(`#login input[name=password]`, pw, chromedp.ByQuery),
		chromedp.Click(`#login button[type=submit]`, chromedp.ByQuery))
}

// TestBrowserConsoleAndPortal drives the console and the portal in real
// headless Chromium against `amigo demo`: sign in, watch the collection
// move, open a meter's chart, disconnect it and see the meter confirm,
// then sign in as a household that sees only its own data and downloads it.
func TestBrowserConsoleAndPortal(t *testing.T) {
	d := startDemo(t, 400)
	ctx := browser(t)

	do(t, ctx, "open the console", chromedp.Navigate(d.url+"/"))
	signIn(t, ctx, "admin", d.adminPW)
	do(t, ctx, "fleet overview", chromedp.WaitVisible(`#progress-text`, chromedp.ByQuery))
	// The error collector hears what a page throws and logs.
	do(t, ctx, "a probe error", chromedp.Evaluate(`setTimeout(() => { console.error("probe"); throw new Error("probe"); }, 0); true`, nil))
	for deadline := time.Now().Add(10 * time.Second); ; {
		pageErrors.mu.Lock()
		n := len(pageErrors.msgs)
		pageErrors.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the error collector heard %d of a thrown and a logged error", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if errs := pageErrors.take(); !strings.Contains(strings.Join(errs, "\n"), "probe") {
		t.Fatalf("probe errors: %q", errs)
	}
	var first, later string
	do(t, ctx, "progress", chromedp.Text(`#progress-text`, &first, chromedp.ByQuery))
	deadline := time.Now().Add(90 * time.Second)
	for later = first; later == first; {
		if time.Now().After(deadline) {
			t.Fatalf("the overview never moved from %q", first)
		}
		time.Sleep(500 * time.Millisecond)
		do(t, ctx, "progress", chromedp.Text(`#progress-text`, &later, chromedp.ByQuery))
	}
	t.Logf("overview moved: %q → %q", first, later)
	shot(t, ctx, "console-overview")
	// Let the first run finish, so the meter's week is stored. Alone it
	// takes about ten seconds; beside the race-detector run of the other
	// packages on two cores it has taken four minutes, so wait for it, up
	// to eight.
	waitJS(t, ctx, "the first collection to end", `document.querySelector("#progress-text").textContent.startsWith("Last run")`, 8*time.Minute)
	shot(t, ctx, "console-overview-done")
	noPageErrors(t, "the overview")

	// The readings card and the collection API agree on the day's count.
	var agree struct {
		Card, API, Day string
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		do(t, ctx, "the readings card", chromedp.Evaluate(`(async () => {
			const card = document.querySelector("#c-readings .card-value").textContent;
			const day = document.querySelector("#c-readings .card-sub").textContent.replace("collected for ", "");
			const api = await fetch("/api/v1/collection/" + day).then(r => r.json());
			return {card, day, api: Number(api.readings).toLocaleString("en-GB")};
		})()`, &agree, awaitPromise))
		if agree.Card == agree.API && agree.Card != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the readings card says %q for %s, the collection API %q", agree.Card, agree.Day, agree.API)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("readings for %s: card %s, API %s", agree.Day, agree.Card, agree.API)

	// Every page, clicked through faster than their refreshes: leaving a
	// view stops its timers and requests, and no page raises an error.
	nav := func(name string) chromedp.Action {
		return chromedp.Click(`nav a[data-nav="`+name+`"]`, chromedp.ByQuery)
	}
	for round, dwell := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond} {
		for _, name := range []string{"meters", "overview", "commands", "overview", "events", "exceptions", "overview", "meters"} {
			do(t, ctx, fmt.Sprintf("round %d: %s", round, name), nav(name), chromedp.Sleep(dwell))
		}
		do(t, ctx, "a meter from the list", chromedp.WaitVisible(`#view table a[href^="#/meter/"]`, chromedp.ByQuery),
			chromedp.Click(`#view table a[href^="#/meter/"]`, chromedp.ByQuery), chromedp.Sleep(dwell), nav("overview"), chromedp.Sleep(dwell))
	}
	// Long enough for any refresh of the views left behind to come due:
	// the overview's second, the commands' two, the meter's five.
	do(t, ctx, "the overview again", chromedp.WaitVisible(`#c-readings`, chromedp.ByQuery), chromedp.Sleep(6*time.Second))
	noPageErrors(t, "clicking through every page")

	do(t, ctx, "the meters", nav("meters"), chromedp.WaitVisible(`#meters-count`, chromedp.ByQuery))
	waitJS(t, ctx, "the meters' read status", `[...document.querySelectorAll("#view .badge")].length > 0`, 30*time.Second)
	shot(t, ctx, "console-meters")
	do(t, ctx, "the events", nav("events"), chromedp.WaitVisible(`#events-list table`, chromedp.ByQuery))
	waitJS(t, ctx, "the events' count", `/^[\d,]+ events$/.test(document.querySelector("#events-count").textContent)`, 30*time.Second)
	shot(t, ctx, "console-events")
	do(t, ctx, "the commands", nav("commands"), chromedp.WaitVisible(`#view h1`, chromedp.ByQuery))
	shot(t, ctx, "console-commands")

	// The exceptions page counts the open exceptions and pages through
	// them, ten at a time.
	do(t, ctx, "the exceptions", nav("exceptions"), chromedp.WaitVisible(`#exceptions-count`, chromedp.ByQuery))
	waitJS(t, ctx, "the exceptions' count", `/^[\d,]+ open exceptions$/.test(document.querySelector("#exceptions-count").textContent)`, 30*time.Second)
	var exCount string
	do(t, ctx, "the count", chromedp.Text(`#exceptions-count`, &exCount, chromedp.ByQuery))
	var apiTotal int
	do(t, ctx, "the exceptions API", chromedp.Evaluate(`fetch("/api/v1/exceptions?open=true&limit=1").then(r => r.json()).then(p => p.total)`, &apiTotal, awaitPromise))
	if want := fmt.Sprintf("%s open exceptions", commas(apiTotal)); exCount != want {
		t.Fatalf("the exceptions page says %q, the API %d", exCount, apiTotal)
	}
	t.Logf("exceptions: %s", exCount)
	shot(t, ctx, "console-exceptions")
	if apiTotal <= 10 {
		t.Fatalf("%d open exceptions: too few to page through", apiTotal)
	}
	do(t, ctx, "ten per page", chromedp.SetValue(`#exception-filters select[name=limit]`, "10", chromedp.ByQuery),
		chromedp.Click(`#exception-filters button[type=submit]`, chromedp.ByQuery))
	waitJS(t, ctx, "the first page of ten", `document.querySelector("#exceptions-pages .page-info").textContent.startsWith("exceptions 1–10 of ") && document.querySelectorAll("#exceptions-list tbody tr").length === 10`, 30*time.Second)
	var firstRow string
	do(t, ctx, "the first row", chromedp.Text(`#exceptions-list tbody tr`, &firstRow, chromedp.ByQuery))
	do(t, ctx, "the next page", chromedp.Click(`#exceptions-pages button.next`, chromedp.ByQuery))
	waitJS(t, ctx, "the second page", `document.querySelector("#exceptions-pages .page-info").textContent.startsWith("exceptions 11–")`, 30*time.Second)
	var secondRow string
	do(t, ctx, "the second page's first row", chromedp.Text(`#exceptions-list tbody tr`, &secondRow, chromedp.ByQuery))
	if secondRow == firstRow {
		t.Fatalf("the second page starts with the first page's row %q", firstRow)
	}
	shot(t, ctx, "console-exceptions-page-2")
	do(t, ctx, "back to the first page", chromedp.Click(`#exceptions-pages button.prev`, chromedp.ByQuery))
	waitJS(t, ctx, "the first page again", `document.querySelector("#exceptions-pages .page-info").textContent.startsWith("exceptions 1–10 of ")`, 30*time.Second)
	noPageErrors(t, "the exceptions")

	var meter string
	do(t, ctx, "a meter", chromedp.Evaluate(`fetch("/api/v1/meters?limit=1").then(r => r.json()).then(p => p.items[0].mRID)`, &meter,
		awaitPromise))
	do(t, ctx, "the meter page", chromedp.Navigate(d.url+"/#/meter/"+meter), chromedp.WaitVisible(`#profile canvas`, chromedp.ByQuery))
	waitJS(t, ctx, "what the head-end learned of the meter",
		`[...document.querySelectorAll("#om-channels th")].some(th => th.textContent === "A+15m") && document.querySelector("#om-quirks") !== null`, 30*time.Second)
	shot(t, ctx, "console-meter")

	do(t, ctx, "disconnect", chromedp.Click(`#btn-disconnect`, chromedp.ByQuery))
	waitJS(t, ctx, "the disconnect to be confirmed",
		`[...document.querySelectorAll("#commands tr")].some(r => r.textContent.includes("disconnect") && r.querySelector("td.status")?.textContent === "confirmed")`, 90*time.Second)
	waitJS(t, ctx, "the relay to show disconnected", `document.querySelector("#c-relay .card-value").textContent === "disconnected"`, 30*time.Second)
	shot(t, ctx, "console-disconnected")
	noPageErrors(t, "the meter page")

	do(t, ctx, "sign out", chromedp.Click(`header .who button`, chromedp.ByQuery), chromedp.WaitVisible(`#login`, chromedp.ByQuery))
	do(t, ctx, "open the portal", chromedp.Navigate(d.url+"/portal/"))
	signIn(t, ctx, "household", d.homePW)
	do(t, ctx, "the portal", chromedp.WaitVisible(`#today-chart canvas`, chromedp.ByQuery), chromedp.WaitVisible(`#price`, chromedp.ByQuery))
	shot(t, ctx, "portal")
	noPageErrors(t, "the portal")

	// Only its own usage point: the page offers no other, and the API
	// refuses another household's data.
	var own bool
	do(t, ctx, "own data", chromedp.Evaluate(fmt.Sprintf(`fetch("/api/v1/me").then(r => r.json()).then(m => m.usagePoints.length === 1 && m.usagePoints[0] === %q)`, d.up), &own,
		awaitPromise))
	if !own {
		t.Fatal("the household's account lists other usage points")
	}
	var status int
	do(t, ctx, "another household", chromedp.Evaluate(`fetch("/api/v1/meters?limit=2").then(r => r.status)`, &status,
		awaitPromise))
	if status != 403 {
		t.Fatalf("a household listing the fleet: HTTP %d", status)
	}
	var csv, xml string
	do(t, ctx, "download CSV", chromedp.Evaluate(`fetch(document.querySelector("#download-csv").href).then(r => r.text())`, &csv,
		awaitPromise))
	do(t, ctx, "download Green Button", chromedp.Evaluate(`fetch(document.querySelector("#download-espi").href).then(r => r.text())`, &xml,
		awaitPromise))
	if !strings.HasPrefix(csv, "usage_point,meter,reading_type") || !strings.Contains(csv, d.up+",") || strings.Count(csv, "\n") < 96 {
		t.Fatalf("CSV download: %.300s", csv)
	}
	if !strings.Contains(xml, "IntervalBlock") || !strings.Contains(xml, "http://naesb.org/espi") || !strings.Contains(xml, d.up) {
		t.Fatalf("Green Button download: %.300s", xml)
	}
}

// commas writes n as the pages do (en-GB grouping).
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
