package dlmsdriver

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

func TestVoltageStatisticsAreLevels(t *testing.T) {
	for ln, want := range map[string]string{"1.0.32.24.0.255": "V1avg", "1.0.52.23.0.255": "V2min", "1.0.72.26.0.255": "V3max"} {
		q, ok := quantityOf(obis.MustParse(ln))
		if !ok || q.id != want || q.cumulative || q.register || q.measured != cim.QuantityVoltage || q.unit != cim.UnitV {
			t.Errorf("%s: %+v %v, want a voltage level %s", ln, q, ok, want)
		}
		if id := readingTypeOf(q, 10*time.Minute, -1, nil).ID; id != want+"10me-1" {
			t.Errorf("%s: reading type %s", ln, id)
		}
	}
	for _, ln := range []string{"1.0.32.25.0.255", "1.0.32.24.1.255", "1.0.31.24.0.255"} {
		if q, ok := quantityOf(obis.MustParse(ln)); ok && q.measured == cim.QuantityVoltage {
			t.Errorf("%s taken for a voltage statistic: %+v", ln, q)
		}
	}
}

var pqLogColumns = []cosem.CaptureObject{
	{ClassID: cosem.ClassClock, LogicalName: obis.MustParse("0.0.1.0.0.255"), Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: obis.MustParse("0.0.96.11.0.255"), Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: obis.MustParse("0.0.96.7.19.255"), Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: obis.MustParse("1.0.12.128.0.255"), Attribute: 2},
}

func TestPowerQualityDetails(t *testing.T) {
	ev := cim.EndDeviceEvent{Details: map[string]string{}}
	pqDetails(&ev, []axdr.Data{{}, axdr.Uint16(77), axdr.Uint32(90), axdr.Uint16(45)}, pqLogColumns, 1)
	if ev.Details["duration"] != "1m30s" || ev.Details["depth"] != "45" {
		t.Errorf("details %v", ev.Details)
	}
	ms := append([]cosem.CaptureObject(nil), pqLogColumns...)
	ms[2].LogicalName = obis.MustParse("1.0.12.129.0.255")
	ev = cim.EndDeviceEvent{Details: map[string]string{}}
	pqDetails(&ev, []axdr.Data{{}, axdr.Uint16(77), axdr.Uint32(40), axdr.Uint16(45)}, ms, 1)
	if ev.Details["duration"] != "40ms" {
		t.Errorf("duration in ms: %v", ev.Details)
	}
	ev = cim.EndDeviceEvent{Details: map[string]string{}}
	pqDetails(&ev, []axdr.Data{{}, axdr.Uint16(77), axdr.VisibleString("x")}, pqLogColumns, 1)
	if len(ev.Details) != 0 {
		t.Errorf("details of a short or odd entry: %v", ev.Details)
	}
}

// FuzzPQDetails reads a power quality log entry as a meter may send it:
// any values under the columns give details or none, never a panic.
func FuzzPQDetails(f *testing.F) {
	f.Add(uint16(77), uint64(90), uint16(45), byte(12), byte(128))
	f.Add(uint16(80), uint64(1<<63), uint16(0xffff), byte(96), byte(7))
	f.Fuzz(func(t *testing.T, code uint16, dur uint64, res uint16, c, d byte) {
		cols := append([]cosem.CaptureObject(nil), pqLogColumns...)
		cols[3].LogicalName[2], cols[3].LogicalName[3] = c, d
		ev := cim.EndDeviceEvent{Details: map[string]string{}}
		pqDetails(&ev, []axdr.Data{{}, axdr.Uint16(code), axdr.Uint64(dur), axdr.Uint16(res)}, cols, 1)
		if s, ok := ev.Details["duration"]; ok {
			if d, err := time.ParseDuration(s); err != nil || d < 0 {
				t.Fatalf("duration %q", s)
			}
		}
	})
}
