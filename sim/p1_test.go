package sim_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/amigo-ami/amigo/dsmr"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// p1Fleet serves a fleet of DSMR and IDIS meters, every DSMR meter with gas
// behind it and half of their P1 ports encrypted, on a frozen clock.
func p1Fleet(t *testing.T) (*sim.Fleet, func(i int) string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, start)
	model.Faults = meter.Faults{}
	clk := &sim.Clock{Start: start}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	f, err := sim.NewFleet(sim.Config{Meters: 16, Seed: 11, Now: clk.Now, Model: model, Gas: 1, P1Port: port, P1Encrypted: 0.5,
		Models: []sim.ModelShare{{Model: sim.ModelDSMR5, Weight: 3}, {Model: sim.ModelIDIS, Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.ServeP1(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f, func(i int) string { return "tcp://" + f.P1Addr(i).String() }
}

// TestP1PortsCarryTheModel reads a plain and an encrypted P1 port over
// TCP: the telegrams parse with a good CRC and their registers equal the
// meter model's, gas included; the encrypted port's key is the manifest's
// p1_key.
func TestP1PortsCarryTheModel(t *testing.T) {
	f, url := p1Fleet(t)
	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 {
		t.Fatalf("manifest: %v %v", bad, err)
	}
	keys := map[uint64]string{}
	for _, r := range rows {
		keys[r.MeterID] = r.Fields["p1_key"]
	}
	plain, enc, idis, v42 := -1, -1, -1, -1
	for i := range f.Len() {
		_, e := f.P1Key(i)
		switch {
		case f.P1Version(i) == dsmr.V42:
			v42 = i
		case !f.HasP1(i):
			idis = i
			if keys[f.Identity(i).ID] != "" {
				t.Errorf("meter %d has no P1 port but a p1_key", i)
			}
		case e && enc < 0:
			enc = i
		case !e && plain < 0:
			plain = i
		}
	}
	if plain < 0 || enc < 0 || idis < 0 || v42 < 0 {
		t.Fatalf("fleet lacks a kind of meter: plain %d encrypted %d idis %d DSMR 4.2 %d", plain, enc, idis, v42)
	}
	// A DSMR 4.2 meter's telegram, without waiting its ten seconds.
	b, err := f.P1Frame(v42)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := f.P1Key(v42); ok {
		if _, b, err = dsmr.Decrypt(b, k[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	tg, err := dsmr.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, f, v42, tg)
	for _, i := range []int{plain, enc} {
		t.Run(fmt.Sprint("meter", i), func(t *testing.T) {
			ctx := context.Background()
			var opt dsmr.ReaderOptions
			if i == enc {
				k, err := hex.DecodeString(keys[f.Identity(i).ID])
				if err != nil || len(k) != 16 {
					t.Fatalf("p1_key %q", keys[f.Identity(i).ID])
				}
				opt.Key = k
			}
			src, err := dsmr.Open(ctx, url(i), dsmr.SourceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			r := dsmr.NewReader(src, opt)
			for n := range 2 {
				tg, err := r.Next()
				if err != nil {
					t.Fatalf("telegram %d: %v", n, err)
				}
				if i == enc && r.Frame.Counter != uint32(n+1) {
					t.Errorf("frame counter %d, want %d", r.Frame.Counter, n+1)
				}
				checkModel(t, f, i, tg)
			}
		})
	}
	// A meter without a P1 port closes the connection.
	src, err := dsmr.Open(context.Background(), url(idis), dsmr.SourceOptions{})
	if err == nil {
		_, err = dsmr.NewReader(src, dsmr.ReaderOptions{}).Next()
		src.Close()
	}
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("IDIS meter's P1 port: %v, want the connection refused or closed", err)
	}
}

// checkModel compares a telegram with meter i's model at the frozen time.
func checkModel(t *testing.T, f *sim.Fleet, i int, tg *dsmr.Telegram) {
	t.Helper()
	if tg.Version != f.P1Version(i) || !tg.HasCRC || len(tg.Unparsed) != 0 {
		t.Fatalf("version %v crc %v unparsed %v", tg.Version, tg.HasCRC, tg.Unparsed)
	}
	m, err := f.Meter(i)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Now()
	regs := m.RegistersAt(now)
	inst := m.Instant(now)
	want := map[string]int64{
		"1-0:1.8.1": regs.ImportRate[0] + regs.ImportRate[2], "1-0:1.8.2": regs.ImportRate[1] + regs.ImportRate[3],
		"1-0:2.8.1": regs.ExportRate[0] + regs.ExportRate[2], "1-0:2.8.2": regs.ExportRate[1] + regs.ExportRate[3],
		"1-0:1.7.0": inst.ImportW, "1-0:2.7.0": inst.ExportW,
	}
	for c, w := range want {
		d, ok := tg.Number(dsmr.MustCode(c))
		if !ok || d.Scaled(-3) != w {
			t.Errorf("%s = %v, model %d (×10^-3)", c, d, w)
		}
	}
	if regs.Import == 0 {
		t.Error("the model has no energy yet; nothing is compared")
	}
	if d, ok := tg.Number(dsmr.MustCode("1-0:32.7.0")); ok != (tg.Version == dsmr.V50) || ok && d.Scaled(-1) != int64(inst.VoltageDV[0]) {
		t.Errorf("voltage L1 %v, model %d dV", d, inst.VoltageDV[0])
	}
	subs, err := f.SubMeters(i)
	if err != nil || len(subs) != 1 {
		t.Fatalf("sub-meters %v %v", subs, err)
	}
	mb := tg.MBus()
	if len(mb) != 1 || mb[0].Type != 3 || mb[0].ID != subs[0].Serial() || mb[0].Value.Scaled(-3) != subs[0].RegistersAt(now).Import {
		t.Errorf("gas %+v, model %d litres of %s", mb, subs[0].RegistersAt(now).Import, subs[0].Serial())
	}
	if id, _ := tg.Text(dsmr.MustCode("0-0:96.1.1")); id == "" {
		t.Error("no equipment identifier")
	}
}
