package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
// prints. The ports it is given were free a moment before; another test's
// process may take one first, and then the demo is started again on others.
func startDemo(t *testing.T, meters int) demoRun {
	t.Helper()
	for attempt := 1; ; attempt++ {
		d, logs := tryDemo(t, meters)
		switch {
		case d.url != "":
			return d
		case attempt < 3 && strings.Contains(logs, "address already in use"):
			t.Logf("the demo found a port taken; starting it again:\n%s", logs)
		default:
			t.Fatalf("the demo printed no sign-in lines:\n%s", logs)
		}
	}
}

// tryDemo starts the demo once: its sign-in lines, or (no url) the log of
// a demo that exited or printed none in time.
func tryDemo(t *testing.T, meters int) (demoRun, string) {
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
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	// The log is read only once the process is gone: until Wait returns,
	// exec's copier still writes it.
	var lines chan string
	failed := func() (demoRun, string) {
		cmd.Process.Kill()
		<-done
		go func() {
			for range lines {
			}
		}()
		return demoRun{}, logs.String()
	}
	console := regexp.MustCompile(`operator console (http://\S+)/ \(user admin, password (\S+)\)`)
	portal := regexp.MustCompile(`consumer portal \S+ \(user household, password (\S+), usage point (\S+)\)`)
	var d demoRun
	lines = make(chan string)
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
				return failed()
			}
			if m := console.FindStringSubmatch(l); m != nil {
				d.url, d.adminPW = m[1], m[2]
			}
			if m := portal.FindStringSubmatch(l); m != nil {
				d.homePW, d.up = m[1], m[2]
			}
		case <-deadline:
			return failed()
		}
	}
	go func() {
		for range lines {
		}
	}()
	return d, ""
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// browser starts headless Chromium, as Debian packages it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		testenv.Service(t, "Chromium at "+path, err)
	}
	// Not t.TempDir: Chromium's helper processes may still be writing its
	// profile for a moment after the browser is gone, and the test's own
	// cleanup would fail on a directory that is not empty yet.
	profile, err := os.MkdirTemp("", "amigo-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for deadline := time.Now().Add(10 * time.Second); os.RemoveAll(profile) != nil && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond) // polling the profile's last writers away
		}
	})
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

	approveInBrowser(t, ctx, d, meter)
	do(t, ctx, "the meter page again", chromedp.Navigate(d.url+"/#/meter/"+meter), chromedp.WaitVisible(`#btn-disconnect`, chromedp.ByQuery))
	waitJS(t, ctx, "the disconnect to be confirmed",
		`[...document.querySelectorAll("#commands tr")].some(r => r.textContent.includes("disconnect") && r.querySelector("td.status")?.textContent === "confirmed")`, 90*time.Second)
	waitJS(t, ctx, "the relay to show disconnected", `document.querySelector("#c-relay .card-value").textContent === "disconnected"`, 30*time.Second)
	shot(t, ctx, "console-disconnected")
	noPageErrors(t, "the meter page")

	do(t, ctx, "sign out", chromedp.Click(`header .who button`, chromedp.ByQuery), chromedp.WaitVisible(`#login`, chromedp.ByQuery))
	do(t, ctx, "open the portal", chromedp.Navigate(d.url+"/portal/"))
	signIn(t, ctx, "household", d.homePW)
	do(t, ctx, "the portal", chromedp.WaitVisible(`#today-chart canvas`, chromedp.ByQuery), chromedp.WaitVisible(`#price`, chromedp.ByQuery))
	// The household's gas and water behind its meter: each meter its
	// summary lists, with its days and its latest index.
	volumesShown := fmt.Sprintf(`(async () => {
		const s = await fetch("/api/v1/usage-points/" + encodeURIComponent(%q) + "/summary").then(r => r.json());
		const shown = [...document.querySelectorAll("#volumes .volume")].map(v => v.dataset.meter).join(",");
		const rows = document.querySelectorAll("#volumes .volume tbody tr").length;
		const read = [...document.querySelectorAll("#volumes .last")].every(p => p.textContent.startsWith("Meter reading"));
		return new Set(s.volumes.map(v => v.kind)).size === 2 && shown === s.volumes.map(v => v.meter).join(",") &&
			rows === s.volumes.reduce((n, v) => n + v.days.length, 0) && rows > 0 && read;
	})()`, d.up)
	for deadline := time.Now().Add(90 * time.Second); ; {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(volumesShown, &ok, awaitPromise)); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the portal does not show the household's gas and water as its summary has them")
		}
		time.Sleep(500 * time.Millisecond)
	}
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

	// The household switches publishing to its home network on, and off.
	consents := fmt.Sprintf(`fetch("/api/v1/usage-points/%s/consents").then(r => r.json()).then(m => m.items.filter(c => c.purpose === "home-network").length)`, d.up)
	for _, want := range []struct {
		state string
		n     int
	}{{"on", 1}, {"off", 0}} {
		var n int
		do(t, ctx, "home network "+want.state, chromedp.Click(`#home-network`, chromedp.ByQuery),
			chromedp.Poll(fmt.Sprintf(`document.querySelector("#home-network-state").textContent === %q`, want.state), nil),
			chromedp.Evaluate(consents, &n, awaitPromise))
		if n != want.n {
			t.Fatalf("home network %s: %d consents in force, want %d", want.state, n, want.n)
		}
	}
	noPageErrors(t, "the portal's home network switch")
}

// commas writes n as the pages do (en-GB grouping).
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// apiSession is a signed-in client of the demo's API, as a program other
// than the browser would be.
type apiSession struct {
	t          *testing.T
	base, csrf string
	c          *http.Client
}

func signInAPI(t *testing.T, base, user, pw string) *apiSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &apiSession{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var me struct{ CSRF string }
	if code := s.post("/api/v1/session", fmt.Sprintf(`{"user":%q,"password":%q}`, user, pw), &me); code != http.StatusCreated {
		t.Fatalf("sign in as %s: HTTP %d", user, code)
	}
	s.csrf = me.CSRF
	return s
}

func (s *apiSession) post(path, body string, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("POST %s: %v: %s", path, err, b)
		}
	}
	if resp.StatusCode/100 != 2 {
		s.t.Logf("POST %s: HTTP %d %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// approveInBrowser: an operator disconnects the meter through the API and
// the administrator, signed in to the console, disconnects it too. The
// approvals page lists both, awaiting; the administrator's approval of
// their own is refused on the page, and their approval of the operator's
// sends it to the meter.
func approveInBrowser(t *testing.T, ctx context.Context, d demoRun, meter string) {
	t.Helper()
	admin := signInAPI(t, d.url, "admin", d.adminPW)
	const opPW = "an operator's password for the demo"
	if code := admin.post("/api/v1/users", fmt.Sprintf(`{"name":"olga","password":%q,"role":"operator"}`, opPW), nil); code != http.StatusCreated {
		t.Fatalf("creating an operator: HTTP %d", code)
	}
	olga := signInAPI(t, d.url, "olga", opPW)
	var issued struct{ MRID, Status string }
	if code := olga.post("/api/v1/commands", fmt.Sprintf(`{"meter":%q,"type":"disconnect"}`, meter), &issued); code != http.StatusCreated || issued.Status != "awaiting-approval" {
		t.Fatalf("the operator's disconnect: HTTP %d, %s", code, issued.Status)
	}

	do(t, ctx, "the administrator's own disconnect", chromedp.Click(`#btn-disconnect`, chromedp.ByQuery))
	waitJS(t, ctx, "the meter page to say it awaits approval", `document.querySelector("#command-notice").textContent.includes("awaits a second person's approval")`, 30*time.Second)
	do(t, ctx, "the approvals page", chromedp.Click(`nav a[data-nav="approvals"]`, chromedp.ByQuery), chromedp.WaitVisible(`#approvals`, chromedp.ByQuery))
	row := fmt.Sprintf(`#approvals tr[data-command=%q]`, issued.MRID)
	waitJS(t, ctx, "the operator's disconnect, awaiting", fmt.Sprintf(`(() => { const r = document.querySelector(%q);
		return !!r && r.querySelector(".issuer").textContent === "olga" && r.querySelector(".type").textContent === "disconnect"; })()`, row), 30*time.Second)
	var own string
	waitJS(t, ctx, "the administrator's own disconnect, awaiting",
		`[...document.querySelectorAll("#approvals tbody tr")].some(r => r.querySelector(".issuer").textContent === "admin")`, 30*time.Second)
	do(t, ctx, "the administrator's own command", chromedp.Evaluate(
		`[...document.querySelectorAll("#approvals tbody tr")].find(r => r.querySelector(".issuer").textContent === "admin").dataset.command`, &own))
	shot(t, ctx, "console-approvals")

	do(t, ctx, "approving one's own", chromedp.Click(fmt.Sprintf(`#approvals tr[data-command=%q] .btn-approve`, own), chromedp.ByQuery))
	waitJS(t, ctx, "the self-approval refused", `document.querySelector("#approval-notice").textContent.includes("may not be approved by its issuer")`, 30*time.Second)
	shot(t, ctx, "console-approvals-self-refused")
	do(t, ctx, "approving the operator's", chromedp.Click(row+" .btn-approve", chromedp.ByQuery))
	waitJS(t, ctx, "the approval taken", `document.querySelector("#approval-notice").textContent.includes("approved: now queued")`, 30*time.Second)
	ownRow := fmt.Sprintf(`#approvals tr[data-command=%q]`, own)
	waitJS(t, ctx, "only the administrator's own left", fmt.Sprintf(`!document.querySelector(%q) && !!document.querySelector(%q)`, row, ownRow), 30*time.Second)
	// The security event of the refused attempt is among the meter's events.
	var named bool
	do(t, ctx, "the security event", chromedp.Evaluate(fmt.Sprintf(`fetch("/api/v1/events?meter=%s&type=0.12.1.285").then(r => r.json()).then(p => p.items.some(e => e.details.command === %q && e.details.user === "admin"))`, url.QueryEscape(meter), own), &named, awaitPromise))
	if !named {
		t.Fatal("no security event names the refused self-approval")
	}
	noPageErrors(t, "the approvals page")
}

// TestBrowserExposureBadge opens, in the console, the page of an OSGP
// meter imported on the legacy security and that of one on AES-128: the
// first shows the warning badge with its text and its explanation, the
// second none.
func TestBrowserExposureBadge(t *testing.T) {
	const meters = 24
	manifest := startSim(t, meters, "--osgp", "1", "--osgp-legacy", "0.5", "--osgp-port", strconv.Itoa(freePort(t)))
	dir := t.TempDir()
	p := serve(t, "--data", dir)
	base := "http://" + p.addr
	imp := exec.Command(amigoBin, "import", manifest, "--server", base)
	imp.Env = append(os.Environ(), "AMIGO_TOKEN="+authorize(t, dir, base))
	if out, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(out), strconv.Itoa(meters)+" created") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	var list struct {
		Items []struct{ MRID, Protocol, Exposure string }
	}
	if code, body := httpGet(t, base+"/api/v1/meters?limit=100"); code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("the meters: HTTP %d %.300s", code, body)
	}
	var exposed, clean string
	for _, m := range list.Items {
		if m.Protocol != "osgp" {
			t.Fatalf("meter %s speaks %q in an OSGP fleet", m.MRID, m.Protocol)
		}
		switch m.Exposure {
		case "osgp-legacy":
			exposed = m.MRID
		case "":
			clean = m.MRID
		default:
			t.Fatalf("meter %s: exposure %q", m.MRID, m.Exposure)
		}
	}
	if exposed == "" || clean == "" {
		t.Fatalf("want a meter on each security among %d: legacy %q, AES-128 %q", len(list.Items), exposed, clean)
	}

	ctx := browser(t)
	do(t, ctx, "open the console", chromedp.Navigate(base+"/"))
	signIn(t, ctx, "admin", "an administrator's password")
	do(t, ctx, "fleet overview", chromedp.WaitVisible(`#progress-text`, chromedp.ByQuery))

	var badge struct {
		Text, Title, Background string
		Width, Height           float64
		// Gap is from the meter's name to the badge, Off how far their
		// middles stand apart.
		Gap, Off float64
	}
	do(t, ctx, "the exposed meter's page", chromedp.Navigate(base+"/#/meter/"+exposed),
		chromedp.WaitVisible(`#meter-exposure`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const b = document.querySelector("#meter-exposure"), r = b.getBoundingClientRect();
			const n = document.querySelector("#meter-id").getBoundingClientRect();
			return {text: b.textContent, title: b.title, background: getComputedStyle(b).backgroundColor, width: r.width, height: r.height,
				gap: r.left - n.right, off: Math.abs((r.top + r.bottom) / 2 - (n.top + n.bottom) / 2)}; })()`, &badge))
	shot(t, ctx, "console-meter-exposed")
	if badge.Text != "exposed: osgp-legacy" {
		t.Errorf("the badge reads %q", badge.Text)
	}
	if !strings.Contains(badge.Title, "legacy security") || !strings.Contains(badge.Title, "AES-128") {
		t.Errorf("the badge explains %q", badge.Title)
	}
	// The warning colour of .badge.warn, so the style sheet reaches it.
	if badge.Background != "rgb(254, 243, 199)" || badge.Width < 20 || badge.Height < 10 {
		t.Errorf("the badge is drawn %+v", badge)
	}
	// Beside the name, apart from it and on its line.
	if badge.Gap < 4 || badge.Gap > 40 || badge.Off > 4 {
		t.Errorf("the badge stands %.1f px after the meter's name, its middle %.1f px off the name's", badge.Gap, badge.Off)
	}
	var id string
	do(t, ctx, "the heading", chromedp.Text(`#meter-id`, &id, chromedp.ByQuery))
	if id != exposed {
		t.Errorf("the exposed meter's page is of %q", id)
	}
	noPageErrors(t, "the exposed meter's page")

	var shown bool
	do(t, ctx, "the AES-128 meter's page", chromedp.Navigate(base+"/#/meter/"+clean),
		chromedp.Poll(fmt.Sprintf(`document.querySelector("#meter-id")?.textContent === %q`, clean), nil),
		chromedp.Evaluate(`document.querySelector("#meter-exposure") !== null || [...document.querySelectorAll("#view h1 .badge")].length > 0`, &shown))
	shot(t, ctx, "console-meter-aes")
	if shown {
		t.Error("the AES-128 meter's page shows an exposure badge")
	}
	noPageErrors(t, "the AES-128 meter's page")
}
