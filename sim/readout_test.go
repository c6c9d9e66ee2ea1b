package sim_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// startReadoutFleet serves n meters, the fraction readout of them readout
// meters answering without a reaction time, on free ports with the clock
// frozen at start.
func startReadoutFleet(tb testing.TB, n int, readout float64) *sim.Fleet {
	return startReadoutFleetReacting(tb, n, readout, -1)
}

// startReadoutFleetReacting is startReadoutFleet with the meters'
// reaction time (0: the standard's 200 ms).
func startReadoutFleetReacting(tb testing.TB, n int, readout float64, reaction time.Duration) *sim.Fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	rln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		ln.Close()
		tb.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model,
		Readout: readout, ReadoutPort: uint16(rln.Addr().(*net.TCPAddr).Port), Gas: 1, ReadoutReaction: reaction})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	go func() { defer wg.Done(); f.ServeReadout(ctx, rln) }()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// wh reads a readout value in kWh with three decimals as Wh, exactly.
func wh(t testing.TB, v iec62056.Value) int64 {
	t.Helper()
	i, frac, ok := strings.Cut(v.Value, ".")
	if !ok || len(frac) != 3 {
		t.Fatalf("value %q: want three decimals", v.Value)
	}
	n, err := strconv.ParseInt(i+frac, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readMeter reads readout meter r's data, in whatever mode it speaks.
func readMeter(t testing.TB, r manifest.Row) (iec62056.Identification, map[string]iec62056.DataSet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := net.Dial("tcp", r.Address.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var id iec62056.Identification
	var sets []iec62056.DataSet
	if r.Fields["iec_mode"] == "D" {
		id, sets, err = iec62056.ReadModeD(ctx, c)
	} else {
		id, sets, err = iec62056.Readout(ctx, c, r.Fields["iec_address"])
	}
	if err != nil {
		t.Fatalf("meter %d (mode %s): %v", r.MeterID, r.Fields["iec_mode"], err)
	}
	out := map[string]iec62056.DataSet{}
	for _, d := range sets {
		out[d.Address] = d
	}
	return id, out
}

// checkRegisters asserts that a readout equals meter i's model registers.
func checkRegisters(t testing.TB, f *sim.Fleet, i int, got map[string]iec62056.DataSet) {
	t.Helper()
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	regs := m.RegistersAt(start)
	md := m.MaxDemand(start)
	f.Lock(i).Unlock()
	want := map[string]int64{"1.8.0": regs.Import, "2.8.0": regs.Export, "3.8.0": regs.ImportVarh, "4.8.0": regs.ExportVarh}
	for k := range 4 {
		want["1.8."+strconv.Itoa(k+1)] = regs.ImportRate[k]
		want["2.8."+strconv.Itoa(k+1)] = regs.ExportRate[k]
	}
	want["1.6.0"] = md.MaxW
	for addr, w := range want {
		d, ok := got[addr]
		if !ok || len(d.Values) == 0 {
			t.Errorf("meter %d: no %s in the readout", i, addr)
			continue
		}
		if v := wh(t, d.Values[0]); v != w {
			t.Errorf("meter %d: %s = %s, model %d", i, addr, d.Values[0].Value, w)
		}
	}
	if c := got["0.9.1"].Values[0].Value + " " + got["0.9.2"].Values[0].Value; c != start.Format("15:04:05 06-01-02") {
		t.Errorf("meter %d: clock %s", i, c)
	}
}

func TestReadoutMetersMatchModel(t *testing.T) {
	const n = 40
	f := startReadoutFleet(t, n, 1)
	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 || len(rows) != n {
		t.Fatalf("manifest: %d rows (readout meters carry no sub-meters), %v %v", len(rows), bad, err)
	}
	modes := map[string]int{}
	for i, r := range rows {
		if r.Protocol != "iec62056-21" || r.Address != f.ReadoutAddr(i) || r.Fields["iec_password"] == "" || r.Fields["iec_address"] != r.Serial {
			t.Fatalf("row %+v", r)
		}
		id, got := readMeter(t, r)
		modes[r.Fields["iec_mode"]]++
		if mode := iec62056.ModeOf(id); r.Fields["iec_mode"] != "D" && mode.String() != r.Fields["iec_mode"] {
			t.Errorf("meter %d announces mode %s, manifest says %s", i, mode, r.Fields["iec_mode"])
		}
		if got["0.0.0"].Values[0].Value != r.Serial {
			t.Errorf("meter %d: 0.0.0 %v", i, got["0.0.0"])
		}
		checkRegisters(t, f, i, got)
	}
	if len(modes) < 4 {
		t.Errorf("modes %v: want a mix", modes)
	}
	// The DLMS port refuses a readout meter.
	c, err := net.Dial("tcp", f.Identity(0).Addr.String())
	if err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Error("the DLMS port served a readout meter")
	}
}

func TestReadoutFractionAndDLMSMeters(t *testing.T) {
	f := startReadoutFleet(t, 200, 0.1)
	n := 0
	for i := range f.Len() {
		if f.IsReadout(i) {
			n++
		}
	}
	if n < 8 || n > 35 {
		t.Fatalf("%d of 200 readout meters at fraction 0.1", n)
	}
	r, _ := f.Row(0)
	if !f.IsReadout(0) && r.Protocol != "dlms" {
		t.Fatalf("row %+v", r)
	}
}

// firstWithMode finds a readout meter speaking mode.
func firstWithMode(t testing.TB, f *sim.Fleet, mode iec62056.Mode) int {
	for i := range f.Len() {
		if f.IsReadout(i) && f.ReadoutMode(i) == mode {
			return i
		}
	}
	t.Fatalf("no mode %s meter", mode)
	return -1
}

// TestReadoutProgrammingSetsClock sets a meter's clock in programming
// mode: the model's clock moves, and only with the P1 password.
func TestReadoutProgrammingSetsClock(t *testing.T) {
	f := startReadoutFleet(t, 12, 1)
	i := firstWithMode(t, f, iec62056.ModeC)
	r, _ := f.Row(i)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := net.Dial("tcp", r.Address.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := iec62056.Program(ctx, c, r.Fields["iec_address"])
	if err != nil {
		t.Fatal(err)
	}
	if p.Operand != r.Serial {
		t.Errorf("P0 operand %q", p.Operand)
	}
	if err := p.Write(ctx, "0.9.1", iec62056.Value{Value: "08:30:00"}); !errors.Is(err, iec62056.ErrMeter) {
		t.Fatalf("write without password: %v", err)
	}
	if err := p.Password(ctx, '1', "12345678"); !errors.Is(err, iec62056.ErrPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := p.Password(ctx, '1', r.Fields["iec_password"]); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, "0.9.2", iec62056.Value{Value: "26-03-09"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, "0.9.1", iec62056.Value{Value: "08:30:00"}); err != nil {
		t.Fatal(err)
	}
	d, err := p.Read(ctx, "1.8.0")
	if err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	clk := m.Clock(start)
	imp := m.RegistersAt(start).Import
	f.Lock(i).Unlock()
	if want := time.Date(2026, 3, 9, 8, 30, 0, 0, ams); !clk.Equal(want) {
		t.Errorf("model clock %v, want %v", clk, want)
	}
	if wh(t, d.Values[0]) != imp {
		t.Errorf("R1 1.8.0 %v, model %d", d, imp)
	}
}

// TestReadoutLoadProfile reads a day of the load profile with R5: its
// quarter-hours add up to the registers' move over the day.
func TestReadoutLoadProfile(t *testing.T) {
	f := startReadoutFleet(t, 12, 1)
	i := firstWithMode(t, f, iec62056.ModeC)
	r, _ := f.Row(i)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := net.Dial("tcp", r.Address.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := iec62056.Program(ctx, c, r.Fields["iec_address"])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	from, to := time.Date(2026, 3, 9, 0, 15, 0, 0, ams), time.Date(2026, 3, 10, 0, 0, 0, 0, ams)
	lines, err := p.ReadLines(ctx, iec62056.ProfileRequest("P.01", from, to, ams))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := iec62056.ParseProfile(lines, ams)
	if err != nil {
		t.Fatal(err)
	}
	var imp, exp int64
	rows := 0
	next := from
	for _, b := range blocks {
		if !b.First.Equal(next) || b.Period != 15*time.Minute || b.Codes[0] != "1.29" || b.Units[0] != "kWh" {
			t.Fatalf("block %+v after %v", b, next)
		}
		for _, row := range b.Rows {
			imp += wh(t, iec62056.Value{Value: row[0]})
			exp += wh(t, iec62056.Value{Value: row[1]})
			rows++
		}
		next = b.First.Add(time.Duration(len(b.Rows)) * b.Period)
	}
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	d := m.RegistersAt(to).Sub(m.RegistersAt(from.Add(-15 * time.Minute)))
	f.Lock(i).Unlock()
	if rows != 96 || imp != d.Import || exp != d.Export {
		t.Fatalf("%d rows, %d Wh in and %d out; model %d and %d", rows, imp, exp, d.Import, d.Export)
	}
}
