package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// mbusConverters serves a small fleet whose every address has an M-Bus
// converter.
func mbusConverters(t *testing.T) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	start := time.Date(2026, 11, 2, 9, 30, 0, 0, loc)
	model := meter.NewFleet(9, loc, start)
	model.Faults = meter.Faults{}
	clk := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: 2, Seed: 9, Now: clk.Now, Model: model, MBus: 1, MBusPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.ServeMBus(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// TestMBusToolReadsAndScans: amigo mbus read prints the volume the model
// keeps, by primary and by secondary address; amigo mbus scan finds every
// meter on the converter.
func TestMBusToolReadsAndScans(t *testing.T) {
	f := mbusConverters(t)
	addr := f.MBusAddr(0).String()
	mms := f.MBusMeters(0)
	for k, mm := range mms {
		sel := []string{"--primary", "1"}
		if k > 0 {
			sel = []string{"--secondary", mm.Address.String()}
		}
		out, errs, code := amigo(t, append([]string{"mbus", "read", addr, "--json", "--timeout", "300ms"}, sel...)...)
		if code != 0 {
			t.Fatalf("read %v: %d %s", sel, code, errs)
		}
		var tgs []struct {
			Secondary string `json:"secondary"`
			Records   []struct {
				Storage  uint64 `json:"storage"`
				Subunit  uint32 `json:"subunit"`
				Quantity string `json:"quantity"`
				Unit     string `json:"unit"`
				Exponent int    `json:"exponent"`
				Raw      *int64 `json:"raw"`
			} `json:"records"`
		}
		if err := json.Unmarshal([]byte(out), &tgs); err != nil || len(tgs) < 2 {
			t.Fatalf("read %v: %d telegrams, %v: %s", sel, len(tgs), err, out)
		}
		if tgs[0].Secondary != mm.Address.String() {
			t.Fatalf("read %v answered by %s", sel, tgs[0].Secondary)
		}
		model, err := f.MBusModel(mm)
		if err != nil {
			t.Fatal(err)
		}
		f.Lock(0).Lock()
		want := model.RegistersAt(f.Now()).Import
		f.Lock(0).Unlock()
		r := tgs[0].Records[0]
		if r.Quantity != "volume" || r.Storage != 0 || r.Unit != "m³" || r.Exponent != -3 || r.Raw == nil || *r.Raw != want {
			t.Errorf("read %v: first record %+v, model %d l", sel, r, want)
		}
	}
	out, errs, code := amigo(t, "mbus", "read", addr, "--timeout", "300ms", "--primary", "1")
	if code != 0 || !strings.Contains(out, "volume") || !strings.Contains(out, "m³") || !strings.Contains(out, mms[0].Address.String()) {
		t.Fatalf("table: %d %s %s", code, out, errs)
	}
	out, errs, code = amigo(t, "mbus", "scan", addr, "--timeout", "100ms")
	if code != 0 {
		t.Fatalf("scan: %d %s", code, errs)
	}
	for _, mm := range mms {
		if !strings.Contains(out, mm.Address.String()) {
			t.Errorf("scan did not find %s: %s", mm.Address, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(mms) {
		t.Errorf("scan found %d meters, the converter has %d: %s", n, len(mms), out)
	}
	for _, bad := range [][]string{
		{"mbus", "read", addr},
		{"mbus", "read", addr, "--primary", "1", "--secondary", "12345678"},
		{"mbus", "read", addr, "--primary", "300"},
		{"mbus", "read", addr, "--secondary", "12X45678"},
		{"mbus", "nothing"},
	} {
		if _, _, code := amigo(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	// A converter that does not answer is a failure naming the cause.
	if _, errs, code := amigo(t, "mbus", "read", f.MBusAddr(0).String(), "--timeout", "100ms", "--retries", "0", "--primary", "77"); code != 1 || !strings.Contains(errs, "no reply") {
		t.Errorf("silent address: %d %s", code, errs)
	}
}

// amigo sim --mbus lists the converters' meters in its manifest.
func TestSimManifestHasMBusMeters(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.csv")
	if _, errs, code := amigo(t, "sim", "--manifest-only", "--manifest", file, "--meters", "20", "--mbus", "0.5"); code != 0 {
		t.Fatalf("sim: %d %s", code, errs)
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, bad, err := manifest.Read(fh)
	if err != nil || len(bad) != 0 {
		t.Fatalf("manifest: %v %v", bad, err)
	}
	n := 0
	for _, r := range rows {
		if r.Protocol == "mbus" {
			n++
			if r.Address.Port() != 10001 || r.Fields["mbus_secondary"] == "" || r.Parent != 0 {
				t.Errorf("row %+v", r)
			}
		}
	}
	if n == 0 {
		t.Fatal("no mbus rows")
	}
	if _, _, code := amigo(t, "sim", "--manifest-only", "--manifest", file, "--mbus", "2"); code != 2 {
		t.Errorf("--mbus 2: exit %d", code)
	}
}

// amigo sim --mbus serves its converters beside the DLMS meters: the tool
// reads each meter the manifest lists at its address and secondary
// address, and an interrupt stops both.
func TestSimServesMBusConverters(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.csv")
	port, mport := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	cmd := exec.Command(amigoBin, "sim", "--meters", "4", "--mbus", "1", "--manifest", file, "--port", port, "--mbus-port", mport,
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--speed", "0", "--log-format", "json")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ready := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"msg":"fleet serving"`) {
				ready <- struct{}{}
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("amigo sim exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no \"fleet serving\" log line")
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := manifest.Read(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.Protocol != "mbus" {
			continue
		}
		n++
		out, errs, code := amigo(t, "mbus", "read", r.Address.String(), "--secondary", r.Fields["mbus_secondary"], "--timeout", "500ms")
		if code != 0 || !strings.Contains(out, "meter "+r.Fields["mbus_secondary"]) || !strings.Contains(out, "m³") {
			t.Errorf("read %s at %s: %d %s %s", r.Fields["mbus_secondary"], r.Address, code, out, errs)
		}
	}
	if n < 4 {
		t.Fatalf("%d mbus rows for 4 converters", n)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("amigo sim ended with %v after an interrupt", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("amigo sim did not stop on an interrupt")
	}
}
