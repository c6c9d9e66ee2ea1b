package han

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dsmr"
)

// TestP1Mapping maps a DSMR 5 telegram: every entity passes Home
// Assistant's rules, and the states are the telegram's values in the
// entities' units.
func TestP1Mapping(t *testing.T) {
	at := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	r := dsmr.Reading{Version: dsmr.V50, Header: `KFM5\2KAIFA-METER`, Time: at, EquipmentID: "E0044007123456789",
		ImportWh: [2]int64{1234567, 89}, ExportWh: [2]int64{10, 4321}, Tariff: 2, ImportW: 1193, Phases: 3,
		VoltageDV: [3]int32{2301, 2299, 2340}, CurrentA: [3]int64{5, 0, 12}, Failures: 4, LongFailures: 1,
		FailureLog: []dsmr.PowerFailure{{End: at.Add(-time.Hour), Duration: 301 * time.Second}},
		MBus:       []dsmr.MBusReading{{Type: 3, ID: "G1", At: at.Add(-5 * time.Minute), Litres: 12785123}, {Type: 7, ID: "W1", At: at, Litres: 55}}}
	tg, err := dsmr.Parse(dsmr.Build(r).Encode())
	if err != nil {
		t.Fatal(err)
	}
	d, es, ss := P1(tg, time.Now())
	if d.ID != "E0044007123456789" || d.Manufacturer != "Kaifa" || d.Model != "KAIFA-METER" {
		t.Errorf("device %+v", d)
	}
	p := &Publisher{o: Options{DiscoveryPrefix: "homeassistant", TopicPrefix: "amigo", ClientID: "p1"}}
	var cfgs []DiscoveryConfig
	for _, e := range es {
		cfgs = append(cfgs, p.Config(d, e))
	}
	if err := ValidateAll(cfgs); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"power_import": int64(1193), "power_export": int64(0), "energy_import_t1": 1234.567, "energy_import_t2": 0.089,
		"energy_export_t1": 0.01, "energy_export_t2": 4.321, "tariff": "2", "voltage_l1": 230.1, "voltage_l3": 234.0,
		"current_l3": 12.0, "power_failures": int64(4), "long_power_failures": int64(1), "last_long_failure": int64(301),
		"gas": 12785.123, "water": 0.055,
	}
	got := map[string]State{}
	for _, s := range ss {
		got[s.Key] = s
	}
	if len(es) != len(ss) {
		t.Fatalf("%d entities, %d states", len(es), len(ss))
	}
	for k, v := range want {
		if got[k].Value != v {
			t.Errorf("%s = %#v, want %#v", k, got[k].Value, v)
		}
	}
	if !got["gas"].At.Equal(at.Add(-5*time.Minute)) || !got["power_import"].At.Equal(at) {
		t.Errorf("state times: gas %v power %v", got["gas"].At, got["power_import"].At)
	}
}

// TestP1MappingEMUCS maps e-MUCS' capacity tariff values and its gas and
// water meters.
func TestP1MappingEMUCS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "dsmr", "testdata", "emucs-spec.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := dsmr.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	d, es, ss := P1(tg, time.Now())
	p := &Publisher{o: Options{DiscoveryPrefix: "homeassistant", TopicPrefix: "amigo", ClientID: "p1"}}
	var cfgs []DiscoveryConfig
	for _, e := range es {
		cfgs = append(cfgs, p.Config(d, e))
	}
	if err := ValidateAll(cfgs); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, s := range ss {
		got[s.Key] = s.Value
	}
	want := map[string]any{"demand_average": int64(2351), "demand_peak_month": int64(2589), "gas": 112.384, "water": 872.234,
		"energy_import_t2": 15.758, "voltage_l2": 234.7}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if d.ID != "1SAG3101021605" || d.SWVersion != "e-MUCS" {
		t.Errorf("device %+v", d)
	}
}
