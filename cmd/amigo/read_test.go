package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadPrintsAProfileAsATable reads a simulated meter's load profile
// through a running server: a table by default, one line per entry, its
// columns named by object and unit; --json the server's answer.
func TestReadPrintsAProfileAsATable(t *testing.T) {
	manifest := startSim(t, 1)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	// The simulated clock is frozen months away: no clock sync, no runs.
	if err := os.WriteFile(cfgFile, []byte("headend:\n  clock_threshold: 87600h\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	env := append(os.Environ(), "AMIGO_TOKEN="+authorize(t, dir, base))
	imp := exec.Command(amigoBin, "import", manifest, "--server", base)
	imp.Env = env
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	_, body := httpGet(t, base+"/api/v1/meters?limit=1")
	var ms struct{ Items []struct{ MRID string } }
	if err := json.Unmarshal([]byte(body), &ms); err != nil || len(ms.Items) != 1 {
		t.Fatalf("meters: %v %s", err, body)
	}
	meter := ms.Items[0].MRID

	read := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(amigoBin, append([]string{"read", "--server", base, meter}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("amigo read %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := read("1.0.99.1.0.255", "1.0.1.8.0.255")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var header string
	rows := 0
	for i, l := range lines {
		if len(l) > 200 {
			t.Fatalf("line %d is %d bytes long: %.200s", i+1, len(l), l)
		}
		if strings.HasPrefix(l, "1.0.99.1.0.255: ") && i+1 < len(lines) {
			header = lines[i+1]
		}
		if strings.HasPrefix(strings.TrimSpace(l), "2026-") {
			rows++
		}
	}
	t.Logf("%d lines; header %q; first row %q", len(lines), header, lines[min(len(lines)-1, 4)])
	if !strings.HasPrefix(strings.TrimSpace(header), "time") || !strings.Contains(header, "1.0.1.8.0.255 [Wh]") {
		t.Fatalf("the profile's header %q names no time and energy column in Wh:\n%s", header, out)
	}
	if rows < 96 {
		t.Fatalf("%d rows of the profile, want a day's quarter hours at least:\n%.2000s", rows, out)
	}
	if !strings.Contains(out, "\n1.0.1.8.0.255 ") || !strings.Contains(out, " Wh") {
		t.Fatalf("the register is not listed with its unit:\n%.2000s", out)
	}

	js := read("--json", "1.0.99.1.0.255")
	var ans struct{ Values []struct{ Value [][]any } }
	if strings.Count(strings.TrimSpace(js), "\n") != 0 || json.Unmarshal([]byte(js), &ans) != nil || len(ans.Values) != 1 || len(ans.Values[0].Value) != rows {
		t.Fatalf("--json is not the server's answer of %d entries: %.300s", rows, js)
	}
}
