package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCollectorView: a fleet behind four radio collectors, one of
// them down, is collected by the server; the console's collector page
// lists the down collector first, in red, and the others after it, not.
func TestBrowserCollectorView(t *testing.T) {
	const meters = 40
	manifest := startSim(t, meters, "--collectors", "4", "--collectors-down", "col-0002", "--mesh-rural", "0")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	cfg := "headend:\n  window: 1s\n  clock_threshold: 87600h\n  daily_at: -1s\n  attempts: 1\n  segment_capacity:\n    col-0000: 2\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	imp := exec.Command(amigoBin, "import", manifest, "--server", base)
	imp.Env = append(os.Environ(), "AMIGO_TOKEN="+authorize(t, dir, base))
	if out, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(out), strconv.Itoa(meters)+" created") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	const day = "2026-06-09"
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if code, _ := postJSON(t, base+"/api/v1/collection/runs", `{"day":"`+day+`"}`); code == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not start")
		}
		time.Sleep(100 * time.Millisecond) // a scheduled run is going: poll until it ends
	}
	for pr := progress(t, base); pr.Running || pr.Done < meters; pr = progress(t, base) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end: %+v", pr)
		}
		time.Sleep(100 * time.Millisecond) // polling the server's progress
	}

	ctx := browser(t)
	do(t, ctx, "open the console", chromedp.Navigate(base+"/"))
	signIn(t, ctx, "admin", "an administrator's password")
	do(t, ctx, "fleet overview", chromedp.WaitVisible(`#progress-text`, chromedp.ByQuery))
	var rows []struct {
		Collector, Color, Success, Capacity string
	}
	do(t, ctx, "the collector view", chromedp.Navigate(base+"/#/collectors/"+day),
		chromedp.WaitVisible(`#collectors-table tbody tr`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("#collectors-table tbody tr")].map((r) => ({
			collector: r.dataset.collector, color: getComputedStyle(r.cells[0]).color,
			success: r.cells[3].textContent, capacity: r.cells[6].textContent}))`, &rows))
	shot(t, ctx, "console-collectors")
	if len(rows) != 4 {
		t.Fatalf("%d collectors shown: %+v", len(rows), rows)
	}
	const red = "rgb(220, 38, 38)"
	if rows[0].Collector != "col-0002" || rows[0].Success != "0.0 %" || rows[0].Color != red {
		t.Errorf("the first row is %+v, want the down collector col-0002 at 0.0 %% in red", rows[0])
	}
	for _, r := range rows[1:] {
		if r.Success != "100.0 %" || r.Color == red {
			t.Errorf("collector %+v: want 100.0 %%, not red", r)
		}
		if r.Collector == "col-0000" && r.Capacity != "2" {
			t.Errorf("collector col-0000 shows capacity %q, want its own 2", r.Capacity)
		}
	}
	noPageErrors(t, "the collector view")
}
