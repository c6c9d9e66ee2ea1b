package sim_test

import (
	"context"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/sim"
)

// startFleetWith serves n meters with the clock frozen at start, no model
// faults, and cfg adjusted by set.
func startFleetWith(tb testing.TB, n int, set func(*sim.Config)) *sim.Fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	cfg := sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model}
	if set != nil {
		set(&cfg)
	}
	f, err := sim.NewFleet(cfg)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func only(m sim.Model) func(*sim.Config) {
	return func(c *sim.Config) { c.Models = []sim.ModelShare{{Model: m, Weight: 1}} }
}

// readout is what a full read of a meter found.
type readout struct {
	objects  []cosem.ObjectListEntry
	scalers  map[obis.Code]axdr.ScalerUnit
	values   map[obis.Code]axdr.Data
	columns  map[obis.Code][]cosem.CaptureObject
	rows     map[obis.Code][]axdr.Data
	denied   map[obis.Code]apdu.DataAccessResult
	negoConf apdu.Conformance
	negoPDU  uint16
}

// readAll reads a meter in full with the DLMS client: the object list,
// every register's value, scaler and unit, every Data value, the clock,
// and every profile's capture objects, period and the last day of its
// buffer (by range where the answer fits, else by entry, a few at a time).
func readAll(t *testing.T, r manifest.Row) readout {
	t.Helper()
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	defer func() { c.Release(ctx); c.Close() }()
	out := readout{scalers: map[obis.Code]axdr.ScalerUnit{}, values: map[obis.Code]axdr.Data{},
		columns: map[obis.Code][]cosem.CaptureObject{}, rows: map[obis.Code][]axdr.Data{}, denied: map[obis.Code]apdu.DataAccessResult{}}
	n := c.Negotiated()
	out.negoConf, out.negoPDU = n.Conformance, n.MaxPDU
	list, err := c.ObjectList(ctx)
	if err != nil {
		t.Fatalf("meter %d: object list: %v", r.MeterID, err)
	}
	out.objects = list
	for _, e := range list {
		get := func(a int8) (axdr.Data, error) {
			v, err := c.Get(ctx, attr(e.ClassID, e.LogicalName, a), nil)
			var de *dlms.DataAccessError
			if errors.As(err, &de) {
				out.denied[e.LogicalName] = de.Result
				return v, nil
			}
			if err != nil {
				t.Fatalf("meter %d: %s attribute %d: %v", r.MeterID, e.LogicalName, a, err)
			}
			return v, nil
		}
		switch e.ClassID {
		case cosem.ClassData, cosem.ClassClock:
			v, _ := get(2)
			out.values[e.LogicalName] = v
		case cosem.ClassRegister, cosem.ClassExtendedRegister:
			v, _ := get(2)
			out.values[e.LogicalName] = v
			sd, _ := get(3)
			su, err := axdr.ParseScalerUnit(sd)
			if err != nil {
				t.Fatalf("meter %d: %s scaler_unit %v: %v", r.MeterID, e.LogicalName, sd, err)
			}
			out.scalers[e.LogicalName] = su
		case cosem.ClassProfileGeneric:
			cd, _ := get(3)
			cols, err := cosem.ParseCaptureObjects(cd)
			if err != nil || len(cols) == 0 {
				t.Fatalf("meter %d: %s capture objects %v: %v", r.MeterID, e.LogicalName, cd, err)
			}
			out.columns[e.LogicalName] = cols
			if _, err := get(4); err != nil {
				t.Fatal(err)
			}
			rows, _, err := c.ReadProfile(ctx, e.LogicalName, start.Add(-24*time.Hour), start)
			var ex *dlms.ExceptionError
			if errors.As(err, &ex) {
				// Too long for the PDU without block transfer: by entry,
				// a few at a time, the last day's worth.
				used, gerr := get(7)
				total, _ := used.Uint()
				if gerr != nil || total == 0 {
					t.Fatalf("meter %d: %s entries in use %v", r.MeterID, e.LogicalName, used)
				}
				rows = nil
				from := uint32(max(int64(total)-96+1, 1))
				for k := from; k <= uint32(total); k += 3 {
					part, _, err := c.ReadProfileEntries(ctx, e.LogicalName, k, min(k+2, uint32(total)))
					if err != nil {
						t.Fatalf("meter %d: %s entries %d..: %v", r.MeterID, e.LogicalName, k, err)
					}
					rows = append(rows, part...)
				}
			} else if err != nil {
				t.Fatalf("meter %d: profile %s: %v", r.MeterID, e.LogicalName, err)
			}
			for _, row := range rows {
				if len(row.Items) != len(cols) {
					t.Fatalf("meter %d: %s row of %d items for %d columns", r.MeterID, e.LogicalName, len(row.Items), len(cols))
				}
			}
			out.rows[e.LogicalName] = rows
		}
	}
	return out
}

func has(l []cosem.ObjectListEntry, ln obis.Code) bool {
	for _, e := range l {
		if e.LogicalName == ln {
			return true
		}
	}
	return false
}

// scaled is v × 10^scaler, exactly.
func scaled(t *testing.T, v axdr.Data, su axdr.ScalerUnit) *big.Rat {
	t.Helper()
	n, ok := v.Uint()
	if !ok {
		t.Fatalf("value %v is not unsigned", v)
	}
	r := new(big.Rat).SetInt(new(big.Int).SetUint64(n))
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(su.Scaler))), nil))
	if su.Scaler < 0 {
		return r.Quo(r, p)
	}
	return r.Mul(r, p)
}

func abs(x int8) int8 {
	if x < 0 {
		return -x
	}
	return x
}

// TestModelIDISReadInFull: the default model is read in full and its
// profile captures A+ under the standard clock.
func TestModelIDISReadInFull(t *testing.T) {
	f := startFleetWith(t, 2, nil)
	r := fleetManifest(t, f)[0]
	if r.Manufacturer != "AMG" || r.Model != "AMG-E1" && r.Model != "AMG-E3" || r.Firmware == "" {
		t.Fatalf("manifest make %q model %q firmware %q", r.Manufacturer, r.Model, r.Firmware)
	}
	got := readAll(t, r)
	if !got.negoConf.Has(apdu.ConformanceMultipleReferences) || !got.negoConf.Has(apdu.ConformanceBlockTransferWithGetOrRead) {
		t.Fatalf("conformance %v", got.negoConf)
	}
	if cols := got.columns[sim.LoadProfileLN]; len(cols) != 4 || cols[0].LogicalName != sim.ClockLN || cols[2].LogicalName != sim.ImportLN {
		t.Fatalf("load profile columns %v", cols)
	}
	if n := len(got.rows[sim.LoadProfileLN]); n != 97 {
		t.Fatalf("a day by range holds %d rows, want 97 (both ends)", n)
	}
	if su := got.scalers[sim.ImportLN]; su.Scaler != 0 || su.Unit != 30 {
		t.Fatalf("A+ scaler-unit %+v", su)
	}
}

// TestModelDSMR5ReadInFull: the DSMR 5 model serves the tariff registers
// in Wh with scaler 0 and no total, a 15-minute profile of them whose
// sum at the last capture is the model's A+, and the power failure
// objects.
func TestModelDSMR5ReadInFull(t *testing.T) {
	f := startFleetWith(t, 3, only(sim.ModelDSMR5))
	rows := fleetManifest(t, f)
	r := rows[0]
	if r.Model != "AMG-D5-1" && r.Model != "AMG-D5-3" || r.Firmware != sim.MakeOf(sim.ModelDSMR5).Firmware {
		t.Fatalf("manifest model %q firmware %q", r.Model, r.Firmware)
	}
	got := readAll(t, r)
	for _, ln := range []obis.Code{sim.ImportRateLN[0], sim.ImportRateLN[1], sim.ExportRateLN[0], sim.ExportRateLN[1],
		sim.TariffIndicatorLN, sim.ImportPowerLN, sim.ExportPowerLN, sim.VoltageLN[0], sim.CurrentLN[0],
		sim.PowerFailuresLN, sim.LongPowerFailuresLN, sim.PowerFailureLogLN, sim.LoadProfileLN, sim.DSMRDailyProfileLN,
		sim.StandardEventLogLN, sim.FraudLogLN, sim.DisconnectLN} {
		if !has(got.objects, ln) {
			t.Errorf("no %s in the object list", ln)
		}
	}
	if has(got.objects, sim.ImportLN) {
		t.Error("a DSMR 5 meter has no 1.8.0 total")
	}
	for _, ln := range []obis.Code{sim.ImportRateLN[0], sim.ImportRateLN[1], sim.ExportRateLN[0], sim.ExportRateLN[1]} {
		if su := got.scalers[ln]; su.Scaler != 0 || su.Unit != 30 {
			t.Errorf("%s scaler-unit %+v, want 0 Wh", ln, su)
		}
	}
	if su := got.scalers[sim.VoltageLN[0]]; su.Scaler != -1 || su.Unit != 35 {
		t.Errorf("voltage scaler-unit %+v", su)
	}
	cols := got.columns[sim.LoadProfileLN]
	if len(cols) != 6 || cols[0].LogicalName != sim.ClockLN || cols[2].LogicalName != sim.ImportRateLN[0] || cols[5].LogicalName != sim.ExportRateLN[1] {
		t.Fatalf("load profile columns %v", cols)
	}
	lp := got.rows[sim.LoadProfileLN]
	if len(lp) != 97 {
		t.Fatalf("a day of the 15-minute profile holds %d rows", len(lp))
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	want := m.RegistersAt(start)
	f.Lock(0).Unlock()
	last := lp[len(lp)-1]
	t1, _ := last.Items[2].Uint()
	t2, _ := last.Items[3].Uint()
	if int64(t1+t2) != want.Import {
		t.Fatalf("T1+T2 at %s = %d, model A+ %d", start, t1+t2, want.Import)
	}
	if ind, _ := got.values[sim.TariffIndicatorLN].Uint(); ind != 1 && ind != 2 {
		t.Fatalf("tariff indicator %d", ind)
	}
	if n := len(got.rows[sim.DSMRDailyProfileLN]); n != 1 {
		t.Fatalf("daily profile over a day by range: %d rows", n)
	}
}

// TestModelThirdPartyReadInFull: the third-party model is read in full
// within its small PDU, one object at a time; its profile has no A+
// column and a clock of its own; its registers carry scaler -2 and read
// exactly; an absent object and its operating status answer
// read-write-denied.
func TestModelThirdPartyReadInFull(t *testing.T) {
	f := startFleetWith(t, 3, only(sim.ModelThirdParty))
	r := fleetManifest(t, f)[0]
	if r.Manufacturer != "XTP" || r.Serial[:3] != "XTP" || r.Fields["system_title"][:6] != "585450" {
		t.Fatalf("manifest make %q serial %q system title %s", r.Manufacturer, r.Serial, r.Fields["system_title"])
	}
	got := readAll(t, r)
	if got.negoConf.Has(apdu.ConformanceMultipleReferences) || got.negoConf.Has(apdu.ConformanceBlockTransferWithGetOrRead) {
		t.Fatalf("conformance %v grants lists or blocks", got.negoConf)
	}
	if got.negoPDU != sim.ThirdPartyMaxPDU {
		t.Fatalf("server max PDU %d", got.negoPDU)
	}
	cols := got.columns[sim.LoadProfileLN]
	if len(cols) != 3 || cols[0].LogicalName != sim.ThirdPartyClockLN || cols[1].LogicalName != sim.AveragePowerL1LN || cols[2].LogicalName != sim.VoltageLN[0] {
		t.Fatalf("load profile columns %v", cols)
	}
	if has(got.objects, sim.ClockLN) {
		t.Fatal("the third-party meter has a clock at 0.0.1.0.0.255")
	}
	if n := len(got.rows[sim.LoadProfileLN]); n != 96 {
		t.Fatalf("read %d entries by entry, want 96", n)
	}
	if got.denied[sim.OperatingStatusLN] != apdu.ReadWriteDenied {
		t.Fatalf("operating status answered %v", got.denied[sim.OperatingStatusLN])
	}
	for ln, su := range got.scalers {
		if su.Scaler != -2 {
			t.Errorf("%s scaler %d, want -2", ln, su.Scaler)
		}
	}
	// A+ is exact: hundredths of the model's watt-hours.
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	want := m.RegistersAt(start).Import
	f.Lock(0).Unlock()
	a := scaled(t, got.values[sim.ImportLN], got.scalers[sim.ImportLN])
	if a.Cmp(big.NewRat(want, 1)) != 0 {
		t.Fatalf("A+ %s Wh, model %d Wh", a.FloatString(2), want)
	}
	i := scaled(t, got.values[sim.CurrentLN[0]], got.scalers[sim.CurrentLN[0]])
	if raw, _ := got.values[sim.CurrentLN[0]].Uint(); i.Cmp(big.NewRat(int64(raw), 100)) != 0 {
		t.Fatalf("current %s A from raw %d", i.FloatString(2), raw)
	}

	ctx := context.Background()
	o := hlsOptions(t, r)
	o.ReadInvocationCounter = true
	c := dial(t, r, o)
	defer c.Release(ctx)
	_, err := c.Get(ctx, attr(3, sim.ImportVarhLN, 2), nil)
	var de *dlms.DataAccessError
	if !errors.As(err, &de) || de.Result != apdu.ReadWriteDenied {
		t.Fatalf("an absent object answered %v, want read-write-denied", err)
	}
	// A day by range does not fit and there is no block transfer.
	_, _, err = c.ReadProfile(ctx, sim.LoadProfileLN, start.Add(-24*time.Hour), start)
	var ex *dlms.ExceptionError
	if !errors.As(err, &ex) {
		t.Fatalf("a day's profile in one answer: %v, want pdu-too-long", err)
	}
	// A few entries by range fit.
	rows, _, err := c.ReadProfile(ctx, sim.LoadProfileLN, start.Add(-30*time.Minute), start)
	if err != nil || len(rows) != 3 {
		t.Fatalf("half an hour by range: %d rows, %v", len(rows), err)
	}
}

// TestModelMix: a mix draws each model, the same way for the same seed,
// and a fleet without a mix is all IDIS.
func TestModelMix(t *testing.T) {
	mix, err := sim.ParseModels("idis=60,dsmr5=20,thirdparty=20")
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	count := map[sim.Model]int{}
	f, err := sim.NewFleet(sim.Config{Meters: 1000, Seed: 7, Now: (&sim.Clock{Start: start}).Now, Model: model, Models: mix})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := sim.NewFleet(sim.Config{Meters: 1000, Seed: 7, Now: (&sim.Clock{Start: start}).Now, Model: model, Models: mix})
	plain, _ := sim.NewFleet(sim.Config{Meters: 1000, Seed: 7, Now: (&sim.Clock{Start: start}).Now, Model: model})
	for i := range 1000 {
		count[f.ModelOf(i)]++
		if f.ModelOf(i) != g.ModelOf(i) {
			t.Fatalf("meter %d: %s then %s from the same seed", i, f.ModelOf(i), g.ModelOf(i))
		}
		if plain.ModelOf(i) != sim.ModelIDIS {
			t.Fatalf("meter %d is %s without a mix", i, plain.ModelOf(i))
		}
	}
	if count[sim.ModelIDIS] < 520 || count[sim.ModelIDIS] > 680 || count[sim.ModelDSMR5] < 140 || count[sim.ModelThirdParty] < 140 {
		t.Fatalf("mix of 1000: %v", count)
	}
	for _, bad := range []string{"", "idis=0", "gurux=1", "idis=1,idis=2", "idis=x"} {
		if _, err := sim.ParseModels(bad); err == nil {
			t.Errorf("ParseModels(%q) accepted", bad)
		}
	}
}

// FuzzParseModels: any --models text is a mix whose weights add up above
// zero, or an error; never a panic.
func FuzzParseModels(f *testing.F) {
	for _, s := range []string{"idis=60,dsmr5=20,thirdparty=20", "idis", "dsmr5=1,", "thirdparty=4294967295,idis=1", "idis=-1", "=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mix, err := sim.ParseModels(s)
		if err != nil {
			return
		}
		var total uint64
		seen := map[sim.Model]bool{}
		for _, m := range mix {
			if seen[m.Model] || m.Model.String() == "" {
				t.Fatalf("%q: %v", s, mix)
			}
			seen[m.Model] = true
			total += uint64(m.Weight)
		}
		if total == 0 || total >= 1<<32 {
			t.Fatalf("%q: weights add up to %d", s, total)
		}
	})
}

// FuzzParseFaultMix: any --faults text is a mix of known faults with
// fractions in [0, 1], or an error.
func FuzzParseFaultMix(f *testing.F) {
	for _, s := range []string{"list-drop=0.01,off-grid=0.05", "all=0.02", "all", "counter-ahead", "off-grid=NaN", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mix, err := sim.ParseFaultMix(s)
		if err != nil {
			return
		}
		for fault, p := range mix {
			if !(p >= 0 && p <= 1) || len(fault.String()) == 0 || fault.String()[:5] == "fault" {
				t.Fatalf("%q: %v", s, mix)
			}
		}
		if again, err := sim.ParseFaultMix(mix.String()); err != nil || len(again) != len(mix) {
			t.Fatalf("%q: round trip %q: %v %v", s, mix.String(), again, err)
		}
	})
}
