package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/sqlite"
)

// startSim runs `amigo sim` with a frozen clock and returns its manifest.
func startSim(t *testing.T, meters int, extra ...string) (manifest string) {
	t.Helper()
	manifest = filepath.Join(t.TempDir(), "fleet.csv")
	port := strconv.Itoa(freePort(t))
	args := append([]string{"sim", "--meters", strconv.Itoa(meters), "--manifest", manifest, "--port", port,
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--speed", "0",
		"--gas", "0", "--water", "0", "--history", "3", "--start", "2026-06-10T09:00:00+02:00", "--log-format", "json"}, extra...)
	cmd := exec.Command(amigoBin, args...)
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"fleet serving"`) {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("amigo sim did not come up")
	}
	return manifest
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	withToken(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

type runProgress struct {
	Running         bool
	Total, Done, OK int
}

func progress(t *testing.T, base string) (p runProgress) {
	t.Helper()
	_, body := httpGet(t, base+"/api/v1/collection")
	json.Unmarshal([]byte(body), &p)
	return p
}

// TestKillDuringCollectionLosesNothing kills the server with SIGKILL in the
// middle of a collection run, restarts it on the same data directory and
// runs the collection again. Every reading the bus acknowledged is in the
// store afterwards, and no day was stored twice.
func TestKillDuringCollectionLosesNothing(t *testing.T) {
	const meters = 200
	manifest := startSim(t, meters)
	dir := t.TempDir()
	// The head-end's own clock must agree with the simulated meters'
	// frozen one for the run day to make sense: use the day before the
	// simulated start, which the meters hold whole.
	day := "2026-06-09"
	// The simulated meters' clocks are frozen months from the server's:
	// no clock sync, and no spreading of the run over an hour.
	cfgFile := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(cfgFile, []byte("headend:\n  window: 1s\n  clock_threshold: 87600h\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	imp := exec.Command(amigoBin, "import", manifest, "--server", base)
	imp.Env = append(os.Environ(), "AMIGO_TOKEN="+authorize(t, dir, base))
	out, err := imp.CombinedOutput()
	if err != nil || !strings.Contains(string(out), strconv.Itoa(meters)+" created") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if code, body := postJSON(t, base+"/api/v1/collection/runs", `{"day":"`+day+`"}`); code != http.StatusAccepted {
		// The schedule may have started a run of its own; wait for it and
		// start ours.
		t.Logf("first start: %d %s", code, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for pr := progress(t, base); pr.Done < meters/4; pr = progress(t, base) {
		if time.Now().After(deadline) {
			t.Fatalf("collection does not progress: %+v", pr)
		}
		if !pr.Running {
			postJSON(t, base+"/api/v1/collection/runs", `{"day":"`+day+`"}`)
		}
	}
	p.cmd.Process.Signal(os.Kill)
	<-p.done

	p = serve(t, "--data", dir, "--config", cfgFile)
	base = "http://" + p.addr
	authorize(t, dir, base)
	deadline = time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("second run did not start")
		}
		if code, _ := postJSON(t, base+"/api/v1/collection/runs", `{"day":"`+day+`"}`); code == http.StatusAccepted {
			break
		}
	}
	for pr := progress(t, base); pr.Running || pr.Done < meters; pr = progress(t, base) {
		if time.Now().After(deadline) {
			t.Fatalf("second run did not end: %+v", pr)
		}
	}
	p.stop(t)

	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	drain(t, st, b)
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	checked, blocks := 0, 0
	err = b.Stored(ctx, bus.Readings, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		iv, ok := m.(bus.Intervals)
		if !ok {
			return true
		}
		blk := cim.IntervalBlock(iv)
		blocks++
		for _, r := range blk.Readings {
			start := r.End.Add(-blk.ReadingType.Interval)
			d, err := st.Day(ctx, blk.MeterID, blk.ReadingType.ID, cim.DateOf(start, ams))
			if err != nil {
				t.Fatalf("acknowledged reading of %s at %s is not stored: %v", blk.MeterID, r.End, err)
			}
			i := int(start.Sub(d.Start) / d.Interval)
			if d.Values[i] != r.Value || d.Quality[i]&cim.QualityMissing != 0 {
				t.Fatalf("meter %s %s: stored %d (%s), acknowledged %d", blk.MeterID, r.End, d.Values[i], d.Quality[i], r.Value)
			}
			checked++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no readings on the bus")
	}
	// A whole past day collected twice (before and after the kill) is one
	// version: the second pass stored nothing new.
	date, _ := cim.ParseDate(day)
	ms, err := st.Meters(ctx, store.MeterQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		vs, err := st.DayVersions(ctx, m.MRID, "A+15m", date)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("meter %s day %s has %d versions", m.MRID, day, len(vs))
		}
	}
	t.Logf("%d readings in %d acknowledged blocks all stored; %d meters' day stored once", checked, blocks, len(ms))
}

// drain runs the MDM ingest in this process until its durable consumers
// have nothing pending or unacknowledged, as the server's next start would.
func drain(t *testing.T, st store.Store, b *bus.Bus) {
	t.Helper()
	in, err := mdm.New(mdm.Options{Store: st, Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		idle := true
		for _, kind := range []string{bus.Readings, bus.Events} {
			s, err := b.ConsumerStatus(ctx, kind, "mdm-ingest")
			if err != nil || s.Pending > 0 || s.AckPending > 0 {
				idle = false
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest did not drain")
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case err := <-done:
			t.Fatalf("ingest stopped: %v", err)
		}
	}
}
