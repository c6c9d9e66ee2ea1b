package sim_test

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/testenv"
)

// libmbusData is node-mbus's JSON: libmbus's XML reading of our frames.
type libmbusData struct {
	SlaveInformation struct {
		ID           json.Number `json:"Id"`
		Manufacturer string
		Version      json.Number
		Medium       string
	}
	DataRecord []struct {
		ID            json.Number `json:"id"`
		Function      string
		StorageNumber json.Number
		Tariff        json.Number
		Device        json.Number
		Unit          string
		Value         any
	}
}

// libmbusUnit reads libmbus's unit text ("Volume (m m^3)") as quantity
// name, the exponent its SI prefix or power of ten gives, and unit.
var libmbusUnit = regexp.MustCompile(`^(.*?) \((?:(1e-?\d+|m|k|M|G|my) )?([^ ]+)\)$`)

func libmbusExp(p string) int {
	switch p {
	case "":
		return 0
	case "m":
		return -3
	case "my":
		return -6
	case "k":
		return 3
	case "M":
		return 6
	case "G":
		return 9
	}
	f, _ := strconv.ParseFloat(p, 64)
	return int(math.Round(math.Log10(f)))
}

// TestNodeMBusReadsStandaloneMeters: libmbus, through node-mbus, reads our
// converter's meters by primary and by secondary address; the volumes it
// decodes (value and unit), the stored hours and the midnight value equal
// the model's registers.
func TestNodeMBusReadsStandaloneMeters(t *testing.T) {
	dir, node := testenv.Peer(t, "node-mbus")
	script, err := filepath.Abs("testdata/mbus_read.js")
	if err != nil {
		t.Fatal(err)
	}
	f := mbusFleet(t, 2)
	for i := range f.Len() {
		for k, mm := range f.MBusMeters(i) {
			addr := strconv.Itoa(int(mm.Primary))
			if k > 0 {
				addr = mm.Address.String()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, node, script, dir, f.MBusAddr(i).Addr().String(), strconv.Itoa(int(f.MBusAddr(i).Port())), addr).Output()
			cancel()
			if err != nil {
				var stderr string
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("node-mbus reading %s at %s: %v %s", addr, f.MBusAddr(i), err, stderr)
			}
			var d libmbusData
			if err := json.Unmarshal(out, &d); err != nil {
				t.Fatalf("node-mbus output %s: %v", out, err)
			}
			checkLibmbus(t, f, mm, d, string(out))
		}
	}
}

func checkLibmbus(t *testing.T, f *sim.Fleet, mm sim.MBusMeter, d libmbusData, raw string) {
	t.Helper()
	if d.SlaveInformation.ID.String() != strconv.Itoa(int(mm.Address.ID)) || d.SlaveInformation.Manufacturer != mm.Address.Manufacturer {
		t.Fatalf("slave information %+v, want %v", d.SlaveInformation, mm.Address)
	}
	wantMedium := "Gas"
	if mm.Kind == meter.Water {
		wantMedium = "Water"
	}
	if d.SlaveInformation.Medium != wantMedium {
		t.Errorf("medium %q, want %q", d.SlaveInformation.Medium, wantMedium)
	}
	model, err := f.MBusModel(mm)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Now()
	_, rs, err := sim.MBusRecords(model, now, sim.DefaultMBusHistory)
	if err != nil {
		t.Fatal(err)
	}
	// The records libmbus decoded, in order, against the ones the model
	// gives (the manufacturer record of each telegram but the last aside).
	var recs = d.DataRecord[:0]
	for _, r := range d.DataRecord {
		if r.Function != "More records follow" && r.Function != "Manufacturer specific" {
			recs = append(recs, r)
		}
	}
	if len(recs) != len(rs) {
		t.Fatalf("libmbus decoded %d records, the model gives %d: %s", len(recs), len(rs), raw)
	}
	volumes := 0
	for k, r := range rs {
		got := recs[k]
		if st, _ := got.StorageNumber.Int64(); uint64(st) != r.Storage {
			t.Errorf("record %d: storage %s, want %d", k, got.StorageNumber, r.Storage)
		}
		if dev, _ := got.Device.Int64(); got.Device != "" && uint32(dev) != r.Subunit {
			t.Errorf("record %d: device %s, want %d", k, got.Device, r.Subunit)
		}
		m := libmbusUnit.FindStringSubmatch(got.Unit)
		switch r.Quantity {
		case mbus.Volume:
			volumes++
			if m == nil || m[1] != "Volume" || m[3] != "m^3" {
				t.Errorf("record %d: unit %q, want a volume in m^3", k, got.Unit)
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(toString(got.Value)), 64)
			gotL := v * math.Pow10(libmbusExp(m[2])+3)
			if err != nil || math.Abs(gotL-float64(r.Value.Int)) > 1e-6 {
				t.Errorf("record %d (storage %d, subunit %d): %v %s is %g l, model %d l", k, r.Storage, r.Subunit, got.Value, got.Unit, gotL, r.Value.Int)
			}
		case mbus.DateTime, mbus.Date:
			if !strings.HasPrefix(got.Unit, "Time Point") {
				t.Errorf("record %d: unit %q, want a time point", k, got.Unit)
			}
			want := r.Value.Time.Format("2006-01-02T15:04:05")
			if r.Quantity == mbus.Date {
				want = r.Value.Time.Format("2006-01-02")
			}
			if s := toString(got.Value); !strings.HasPrefix(s, want) {
				t.Errorf("record %d: %q, want %q", k, s, want)
			}
		case mbus.VolumeFlow:
			if m == nil || m[1] != "Volume flow" {
				t.Errorf("record %d: unit %q, want a volume flow", k, got.Unit)
			} else if v, _ := strconv.ParseFloat(toString(got.Value), 64); math.Abs(v*math.Pow10(libmbusExp(m[2]))-float64(r.Value.Int)/1000) > 1e-9 {
				t.Errorf("record %d: flow %v %s, model %d l/h", k, got.Value, got.Unit, r.Value.Int)
			}
		}
	}
	if volumes < int(sim.DefaultMBusHistory/time.Hour) {
		t.Errorf("only %d volumes", volumes)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNodeMBusScansConverter: libmbus's wildcard search of secondary
// addresses, through node-mbus, finds both meters behind a converter, as
// our addresses write them: their consecutive ids collide down to the
// last digit, so it narrows through every level of the search. (Silence
// answers most probes; on loopback it need not be long.)
func TestNodeMBusScansConverter(t *testing.T) {
	dir, node := testenv.Peer(t, "node-mbus")
	script, err := filepath.Abs("testdata/mbus_read.js")
	if err != nil {
		t.Fatal(err)
	}
	f := mbusFleet(t, 3)
	i := -1
	for k := range f.Len() {
		if len(f.MBusMeters(k)) > 1 {
			i = k
		}
	}
	if i < 0 {
		t.Fatal("no converter with two meters")
	}
	want := map[string]bool{}
	for _, mm := range f.MBusMeters(i) {
		want[mm.Address.String()] = true
	}
	// libmbus waits a fixed time for an answer to each probe and takes
	// silence for "nobody there": on a machine loaded enough to answer
	// later than that, it finds nobody. A scan that misses is run again
	// with a longer wait before it counts as a failure.
	var found []string
	for _, wait := range []string{"100", "800"} {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		out, err := exec.CommandContext(ctx, node, script, dir, f.MBusAddr(i).Addr().String(), strconv.Itoa(int(f.MBusAddr(i).Port())), "scan", wait).Output()
		cancel()
		if err != nil {
			t.Fatalf("node-mbus scan: %v", err)
		}
		found = nil
		if err := json.Unmarshal(out, &found); err != nil {
			t.Fatalf("scan output %s: %v", out, err)
		}
		if len(found) == len(want) {
			break
		}
		t.Logf("libmbus waiting %s ms an answer found %v", wait, found)
	}
	if len(found) != len(want) {
		t.Fatalf("libmbus found %v, want %v", found, want)
	}
	for _, a := range found {
		if !want[a] {
			t.Errorf("libmbus found %s, want one of %v", a, want)
		}
	}
}
