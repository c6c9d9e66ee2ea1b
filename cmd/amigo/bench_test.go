package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/bench"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestBenchTiny runs every suite at its smallest, as an operator would,
// so the harness cannot rot. It asserts that each suite ran and that its
// numbers are sane, never how fast anything was.
func TestBenchTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(amigoBin, "bench", "--tiny", "--json", out, "--postgres", storetest.PostgresURL(), "--log-format", "json")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("amigo bench: %v\n%s", err, b)
	}
	table := string(b)
	for _, want := range []string{"SUITE", "RATIO", "fleet-day", "took "} {
		if !strings.Contains(table, want) {
			t.Fatalf("table lacks %q:\n%s", want, table)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) > 0 || !rep.Tiny || rep.Machine.CPUs < 1 {
		t.Fatalf("report: failed %v, tiny %v, machine %+v", rep.Failed, rep.Tiny, rep.Machine)
	}
	bySuite := map[string][]bench.Result{}
	for _, r := range rep.Results {
		bySuite[r.Suite] = append(bySuite[r.Suite], r)
		sane := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
		if !sane(r.Value) || !sane(r.BaselineValue) || !sane(r.Ratio) || r.Unit == "" {
			t.Errorf("insane figure %+v", r)
		}
		if r.Baseline != "" && (r.BaselineValue <= 0 || r.Ratio <= 0) {
			t.Errorf("baseline not measured: %+v", r)
		}
	}
	for _, s := range bench.Suites() {
		if len(bySuite[s.Name]) == 0 {
			t.Errorf("suite %s reported nothing", s.Name)
		}
	}
	get := func(suite, prefix string) bench.Result {
		for _, r := range bySuite[suite] {
			if strings.HasPrefix(r.Metric, prefix) {
				return r
			}
		}
		t.Fatalf("no %s metric %q in %+v", suite, prefix, bySuite[suite])
		return bench.Result{}
	}
	if r := get("fleet-day", "read success"); r.Value != 100 {
		t.Errorf("fault-free fleet read %.1f%%", r.Value)
	}
	if r := get("fleet-day", "readings per second"); r.Value <= 0 {
		t.Errorf("fleet-day stored no readings: %+v", r)
	}
	if r := get("fleet-day", "validation exceptions"); r.Value != 0 {
		t.Errorf("a clean fleet's day raised exceptions: %+v", r)
	}
	for _, prefix := range []string{"sqlite: bus → merge, VEE", "postgres: bus → merge, VEE"} {
		if r := get("ingest", prefix); r.Value <= 0 {
			t.Errorf("%s: %+v", prefix, r)
		}
	}
	if r := get("session", "sessions/s"); r.Value <= 0 || r.BaselineValue <= 0 {
		t.Errorf("sessions: %+v", r)
	}
	if r := get("query", "one month of one meter over HTTP, p99"); r.Value <= 0 {
		t.Errorf("query: %+v", r)
	}
}

func TestBenchUnknownSuite(t *testing.T) {
	b, err := exec.Command(amigoBin, "bench", "--tiny", "nope").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(b), `unknown suite "nope"`) {
		t.Fatalf("exit %v: %s", err, b)
	}
}
