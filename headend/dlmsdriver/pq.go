package dlmsdriver

import (
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
)

// Voltage statistics of a power quality profile (IEC 62056-6-1 value group
// D of the voltages C = 32, 52, 72): the minimum (23), the average (24) and
// the maximum (26) of the capture period. Their reading types are
// "V1avg10m", "V1min10m"... (with the multiplier of the meter's scaler):
// levels, never energies, so a profile's value stands alone.
var voltageStats = map[byte]string{23: "min", 24: "avg", 26: "max"}

var voltagePhase = map[byte]string{32: "1", 52: "2", 72: "3"}

func voltageStat(c, d, e byte) (quantity, bool) {
	ph, ok := voltagePhase[c]
	st, ok2 := voltageStats[d]
	if !ok || !ok2 || e != 0 {
		return quantity{}, false
	}
	return quantity{id: "V" + ph + st, commodity: cim.CommodityElectricity, measured: cim.QuantityVoltage, unit: cim.UnitV}, true
}

// pqDetails adds to a power quality log entry's event what the meter
// captured beside the code: the event's duration (a 0-x:96.7.x column in
// seconds, or 1-0:12.129.0 in milliseconds) and its residual voltage in
// percent of nominal (1-0:12.128.0) as "depth": the 1-0:12.128/129 codes
// are the simulated meters' manufacturer-specific objects.
func pqDetails(ev *cim.EndDeviceEvent, items []axdr.Data, cols []cosem.CaptureObject, vi int) {
	if len(items) != len(cols) {
		return
	}
	for i, c := range cols {
		if i == vi || c.Attribute != 2 {
			continue
		}
		ln := c.LogicalName
		switch {
		case ln[0] == 0 && ln[2] == 96 && ln[3] == 7:
			// A duration past a century is no event's: left out.
			if v, ok := items[i].Uint(); ok && v < 100*365*86400 {
				ev.Details["duration"] = (time.Duration(v) * time.Second).String()
			}
		case ln[0] == 1 && ln[2] == 12 && ln[3] == 129:
			if v, ok := items[i].Uint(); ok && v < 100*365*86400*1000 {
				ev.Details["duration"] = (time.Duration(v) * time.Millisecond).String()
			}
		case ln[0] == 1 && ln[2] == 12 && ln[3] == 128:
			if v, ok := items[i].Uint(); ok {
				ev.Details["depth"] = strconv.FormatUint(v, 10)
			}
		}
	}
}
