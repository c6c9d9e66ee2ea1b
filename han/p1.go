package han

import (
	"strings"
	"time"

	"github.com/amigo-ami/amigo/dsmr"
)

// P1 maps a P1 telegram to Home Assistant: the meter as a device, one
// entity per value the telegram carries, and their states. A telegram
// without a value leaves its entity out, so that an older meter (no
// voltages before DSMR 5, no counters before 4) announces no entity that
// would never get a state.
//
// Power is published in W and energy in kWh with the meter's three
// decimals; gas and water in m³. Tariff 1 is the low (night) tariff of
// Dutch meters and the day tariff of Belgian ones; the names say "tariff
// 1" and "tariff 2" for that reason.
func P1(t *dsmr.Telegram, now time.Time) (Device, []Entity, []State) {
	d := p1DeviceOf(t)
	at := now
	if ts, ok := t.Time(); ok {
		at = ts
	}
	var es []Entity
	var ss []State
	add := func(e Entity, v any) {
		// A P1 port pushes every 1 to 10 s; a minute of silence means
		// the reader or the port is gone.
		e.ExpireAfter = time.Minute
		es = append(es, e)
		ss = append(ss, State{Key: e.Key, Value: v, At: at})
	}
	num := func(c string) (dsmr.Decimal, bool) { return t.Number(dsmr.MustCode(c)) }

	if v, ok := num("1-0:1.7.0"); ok {
		add(Entity{Key: "power_import", Name: "Power import", DeviceClass: "power", StateClass: Measurement, Unit: "W"}, v.Scaled(-3))
	}
	if v, ok := num("1-0:2.7.0"); ok {
		add(Entity{Key: "power_export", Name: "Power export", DeviceClass: "power", StateClass: Measurement, Unit: "W"}, v.Scaled(-3))
	}
	// Belgium's capacity tariff: the running quarter-hour's average and
	// the month's peak, which the bill charges.
	if v, ok := num("1-0:1.4.0"); ok {
		add(Entity{Key: "demand_average", Name: "Quarter-hour average demand", DeviceClass: "power", StateClass: Measurement, Unit: "W"}, v.Scaled(-3))
	}
	if l, ok := t.Line(dsmr.MustCode("1-0:1.6.0")); ok {
		if _, v, _, err := l.Timed(); err == nil {
			add(Entity{Key: "demand_peak_month", Name: "Peak demand this month", DeviceClass: "power", StateClass: Measurement, Unit: "W"}, v.Scaled(-3))
		}
	}
	for _, e := range []struct{ code, key, name string }{
		{"1-0:1.8.1", "energy_import_t1", "Energy import tariff 1"},
		{"1-0:1.8.2", "energy_import_t2", "Energy import tariff 2"},
		{"1-0:2.8.1", "energy_export_t1", "Energy export tariff 1"},
		{"1-0:2.8.2", "energy_export_t2", "Energy export tariff 2"},
	} {
		if v, ok := num(e.code); ok {
			add(Entity{Key: e.key, Name: e.name, DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"}, v.Float64())
		}
	}
	if s, ok := t.Text(dsmr.MustCode("0-0:96.14.0")); ok {
		tariff := strings.TrimLeft(s, "0")
		if tariff == "" {
			tariff = "0"
		}
		add(Entity{Key: "tariff", Name: "Tariff", Icon: "mdi:clock-outline"}, tariff)
	}
	phases := [3]string{"l1", "l2", "l3"}
	for p, c := range []string{"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"} {
		if v, ok := num(c); ok {
			add(Entity{Key: "voltage_" + phases[p], Name: "Voltage " + strings.ToUpper(phases[p]), DeviceClass: "voltage", StateClass: Measurement, Unit: "V"}, v.Float64())
		}
	}
	for p, c := range []string{"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"} {
		if v, ok := num(c); ok {
			add(Entity{Key: "current_" + phases[p], Name: "Current " + strings.ToUpper(phases[p]), DeviceClass: "current", StateClass: Measurement, Unit: "A"}, v.Float64())
		}
	}
	// Failure counts have no device class; Home Assistant keeps
	// total_increasing for energy, gas and water, so they are totals.
	if v, ok := num("0-0:96.7.21"); ok {
		add(Entity{Key: "power_failures", Name: "Power failures", StateClass: Total, Icon: "mdi:flash-off"}, v.Scaled(0))
	}
	if v, ok := num("0-0:96.7.9"); ok {
		add(Entity{Key: "long_power_failures", Name: "Long power failures", StateClass: Total, Icon: "mdi:flash-off"}, v.Scaled(0))
	}
	if _, ok := t.Line(dsmr.MustCode("1-0:99.97.0")); ok {
		var last any = ""
		var newest dsmr.PowerFailure
		for _, f := range t.PowerFailures() {
			// The log's newest real entry: how long power was gone.
			if !f.Unset() && f.End.After(newest.End) {
				newest = f
				last = int64(f.Duration / time.Second)
			}
		}
		if last != "" {
			add(Entity{Key: "last_long_failure", Name: "Last long power failure", DeviceClass: "duration", StateClass: Measurement, Unit: "s", Icon: "mdi:flash-off"}, last)
		}
	}
	gas, water := 0, 0
	for _, m := range t.MBus() {
		if !m.HasRead {
			continue
		}
		var key, name, class string
		switch m.Type {
		case 3:
			gas++
			key, name, class = "gas", "Gas", "gas"
			if gas > 1 {
				key, name = key+"_"+itoa(gas), name+" "+itoa(gas)
			}
		case 7:
			water++
			key, name, class = "water", "Water", "water"
			if water > 1 {
				key, name = key+"_"+itoa(water), name+" "+itoa(water)
			}
		default:
			continue
		}
		add(Entity{Key: key, Name: name, DeviceClass: class, StateClass: TotalIncreasing, Unit: "m³"}, m.Value.Float64())
		ss[len(ss)-1].At = m.At
	}
	return d, es, ss
}

func itoa(n int) string { return string(rune('0' + n%10)) }

// manufacturers are the flags of the P1 header that name a make.
var manufacturers = map[string]string{
	"ISk": "Iskra", "KFM": "Kaifa", "KMP": "Kamstrup", "XMX": "Landis+Gyr (Xemex)", "Ene": "Landis+Gyr",
	"LGF": "Landis+Gyr", "SAG": "Sagemcom", "FLU": "Fluvius (Sagemcom/Siconia)", "EIS": "Iskra", "AMG": "amigo",
	"ZIV": "ZIV", "ESL": "Elster",
}

func p1DeviceOf(t *dsmr.Telegram) Device {
	id, _ := t.Text(dsmr.MustCode("0-0:96.1.1"))
	id = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, id)
	flag, model, _ := strings.Cut(t.Header, `\`)
	if len(model) > 1 && model[0] >= '0' && model[0] <= '9' {
		model = model[1:] // after the baud rate digit
	}
	mk := ""
	if len(flag) >= 3 {
		mk = manufacturers[flag[:3]]
		if mk == "" {
			mk = flag[:3]
		}
	}
	if id == "" {
		id = "p1_" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, t.Header)
	}
	sw := "DSMR " + t.Version.String()
	if t.Version == dsmr.EMUCS {
		sw = "e-MUCS"
	}
	return Device{ID: id, Name: "P1 meter " + id, Manufacturer: mk, Model: model, SWVersion: sw}
}
