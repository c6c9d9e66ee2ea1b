package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// readoutFleet serves readout meters only, with the clock frozen.
func readoutFleet(t *testing.T, at time.Time) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(9, at.Location(), at)
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: 20, Seed: 9, Now: func() time.Time { return at }, Model: model, Readout: 1,
		ReadoutPort: uint16(ln.Addr().(*net.TCPAddr).Port), ReadoutReaction: -1})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.ServeReadout(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func TestIEC62056Tool(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f := readoutFleet(t, at)
	i := 0
	for f.ReadoutMode(i) != iec62056.ModeC {
		i++
	}
	r, _ := f.Row(i)
	addr := r.Address.String()
	call := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"iec62056"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}

	out, errs, code := call("read", addr, "--device-address", r.Serial)
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	imp := m.RegistersAt(at).Import
	f.Lock(i).Unlock()
	want := fmt.Sprintf("1.8.0(%06d.%03d*kWh)", imp/1000, imp%1000)
	if code != 0 || !strings.Contains(out, "\n"+want+"\n") || !strings.Contains(out, "mode C") || !strings.Contains(out, "0.0.0("+r.Serial+")") {
		t.Fatalf("read: %d %q %q; want a line %s", code, out, errs, want)
	}

	out, errs, code = call("program", addr, "--password", r.Fields["iec_password"], "--write", "0.9.1=08:30:00", "--read", "0.9.1", "--read", "1.8.0")
	if code != 0 || !strings.Contains(out, "0.9.1(08:30:00)\n") || !strings.Contains(out, want+"\n") || !strings.Contains(out, "P0("+r.Serial+")") {
		t.Fatalf("program: %d %q %q", code, out, errs)
	}
	f.Lock(i).Lock()
	clk := m.Clock(at)
	f.Lock(i).Unlock()
	if clk.Format("15:04:05") != "08:30:00" {
		t.Errorf("model clock %v after the write", clk)
	}

	_, errs, code = call("program", addr, "--password", "00000000", "--write", "0.9.1=08:30:00")
	if code != 1 || !strings.Contains(errs, "password refused") {
		t.Errorf("wrong password: %d %q", code, errs)
	}
	for _, bad := range [][]string{{"read"}, {"program", addr}, {"program", addr, "--write", "x"}, {"frob"}} {
		if _, _, code := call(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
