package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amanifest "github.com/amigo-ami/amigo/manifest"
)

// TestSimModelsReadByTheTool: a fleet of the DSMR 5-like and third-party
// models, read by amigo dlms objects, get and profile as a field engineer
// would, each scaled with its own scaler.
func TestSimModelsReadByTheTool(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "fleet.csv")
	port := strconv.Itoa(freePort(t))
	startModelSim(t, "--meters", "6", "--manifest", manifest, "--port", port, "--models", "dsmr5=1,thirdparty=1",
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--speed", "0", "--log-format", "json")
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := amanifest.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range all {
		if r.Parent != 0 || seen[r.Manufacturer] {
			continue
		}
		seen[r.Manufacturer] = true
		auth := []string{"--client", r.Fields["client_sap"], "--auth", r.Fields["authentication"],
			"--ek", r.Fields["ek"], "--ak", r.Fields["ak"]}
		out, errs, code := amigo(t, append(append([]string{"dlms", "objects"}, auth...), r.Address.String())...)
		if code != 0 || !strings.Contains(out, "1.0.99.1.0.255") {
			t.Fatalf("%s objects: exit %d %s %s", r.Model, code, out, errs)
		}
		energy, clock := "1.0.1.8.1.255", "0.0.1.0.0.255"
		if r.Manufacturer == "XTP" {
			energy, clock = "1.0.1.8.0.255", "0.1.1.0.0.255"
		}
		out, errs, code = amigo(t, append(append([]string{"dlms", "get", "--json"}, auth...), r.Address.String(), energy, "1.0.31.7.0.255", clock)...)
		var res []getOut
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 3 {
			t.Fatalf("%s get: exit %d %s %s", r.Model, code, out, errs)
		}
		if res[0].Unit != "Wh" || res[0].Scaled <= 0 || res[1].Unit != "A" || res[2].Error != "" {
			t.Fatalf("%s read %+v", r.Model, res)
		}
		if raw, ok := res[0].Value.(float64); r.Manufacturer == "XTP" && (!ok || res[0].Scaled*100 != raw) {
			t.Fatalf("%s: A+ raw %v scaled %v, want scaler -2", r.Model, res[0].Value, res[0].Scaled)
		}
		out, errs, code = amigo(t, append(append([]string{"dlms", "profile"}, auth...), r.Address.String(), "1.0.99.1.0.255", "--from", "-1h")...)
		if code != 0 || !strings.Contains(out, clock+":2") || !strings.Contains(out, "entries") {
			t.Fatalf("%s profile: exit %d %s %s", r.Model, code, out, errs)
		}
	}
	if !seen["AMG"] || !seen["XTP"] {
		t.Fatalf("makes in the fleet: %v", seen)
	}
	for _, bad := range [][]string{{"--models", "gurux=1"}, {"--models", "idis=0"}, {"--faults", "off-grid=3"}, {"--faults", "nope"}} {
		if _, errs, code := amigo(t, append([]string{"sim", "--manifest-only", "--manifest", manifest}, bad...)...); code != 2 || !strings.Contains(errs, bad[0]) {
			t.Errorf("sim %v: exit %d %s", bad, code, errs)
		}
	}
}

// startModelSim runs amigo sim until the test ends and waits for it to serve.
func startModelSim(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(amigoBin, append([]string{"sim"}, args...)...)
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
			var rec struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "fleet serving" {
				close(ready)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("amigo sim did not start serving")
	}
}
