package main

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amanifest "github.com/amigo-ami/amigo/manifest"
)

// freePort returns a port no one listens on, on any address, for a
// process the test starts to listen on. It is drawn below the ephemeral
// range (32768 up on Linux): the kernel gives ports from that range to
// every outgoing connection, so a port taken from it can be in use on
// another loopback address by the time the process binds it, while the
// fleet tests beside it open thousands of connections.
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
}

func TestSimServesManifestMeters(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "fleet.csv")
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(amigoBin, "sim", "--meters", "50", "--manifest", manifest, "--port", port,
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--speed", "0",
		"--log-format", "json")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			var rec struct {
				Msg   string `json:"msg"`
				First string `json:"first"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "fleet serving" {
				ready <- rec.First
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case first := <-ready:
		if first != "127.0.0.2:"+port {
			t.Errorf("first meter at %s", first)
		}
	case err := <-done:
		t.Fatalf("amigo sim exited: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("no \"fleet serving\" log line")
	}

	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := amanifest.Read(f)
	f.Close()
	var rows, subs []amanifest.Row
	for _, r := range all {
		if r.Parent == 0 {
			rows = append(rows, r)
		} else {
			subs = append(subs, r)
		}
	}
	// By default some electricity meters have gas and water meters behind
	// them: those rows name their parent.
	if err != nil || len(rows) != 50 || len(subs) == 0 {
		t.Fatalf("manifest: %d electricity and %d M-Bus rows, %v", len(rows), len(subs), err)
	}
	r := rows[17]
	ek, ak := strings.ToUpper(r.Fields["ek"]), r.Fields["ak"]
	out, errs, code := amigo(t, "dlms", "get", "--client", r.Fields["client_sap"], "--auth", r.Fields["authentication"],
		"--ek", ek, "--ak", ak, r.Address.String(), "0.0.96.1.0.255", "1.0.1.8.0.255", "--json")
	if code != 0 {
		t.Fatalf("amigo dlms get: exit %d: %s", code, errs)
	}
	var res []getOut
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
		t.Fatalf("output %q: %v", out, err)
	}
	if res[0].Value != r.Serial || res[1].Unit != "Wh" || res[1].Scaled <= 0 {
		t.Errorf("meter %d read %+v, want serial %s", r.MeterID, res, r.Serial)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("amigo sim did not stop on SIGTERM")
	}
}
