package dsmr

import (
	"encoding/hex"
	"strconv"
	"time"
)

// Reading is what a meter knows at one moment, in the model's integer
// units; Build writes it as a telegram of a version.
type Reading struct {
	Version Version
	// Header is the identification after '/' (default "AMG5\\2AMIGO-P1").
	Header      string
	Time        time.Time
	EquipmentID string // plain text; written as hex
	// Energy per tariff, Wh: import (delivered to the client) T1 and T2,
	// export T1 and T2.
	ImportWh, ExportWh [2]int64
	Tariff             int // 1 or 2
	ImportW, ExportW   int64
	Phases             int      // 1 or 3
	VoltageDV          [3]int32 // tenths of a volt
	CurrentA           [3]int64
	// Per-phase active power, W, import and export.
	PhaseImportW, PhaseExportW [3]int64
	Failures, LongFailures     int
	FailureLog                 []PowerFailure
	Sags, Swells               [3]int
	Message                    string
	// Breaker is the switch position (e-MUCS, DSMR 2.2–4.0): 0 off, 1 on.
	Breaker int
	MBus    []MBusReading
}

// MBusReading is one M-Bus device's line group.
type MBusReading struct {
	Type int    // 3 gas, 7 water
	ID   string // plain text; written as hex
	At   time.Time
	// Litres, written as m³ with three decimals.
	Litres int64
}

func code(s string) Code { return MustCode(s) }

func num(v int64, decimals, width int, unit string) Value {
	return Value{Text: fixed(v, decimals, width), Unit: unit}
}

func count(n, width int) Value {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return Value{Text: s}
}

// Build writes r as a telegram of r.Version, with the objects and number
// formats that version's specification gives.
func Build(r Reading) *Telegram {
	v := r.Version
	if v == VersionUnknown {
		v = V50
	}
	t := &Telegram{Header: r.Header, Version: v}
	if t.Header == "" {
		t.Header = `AMG5\2AMIGO-P1`
	}
	add := func(c string, vs ...Value) { t.Lines = append(t.Lines, Line{Code: code(c), Values: vs}) }
	switch v {
	case EMUCS:
		add("0-0:96.1.4", Value{Text: "50217"})
	case V40:
		add("1-3:0.2.8", Value{Text: "40"})
	case V42:
		add("1-3:0.2.8", Value{Text: "42"})
	case V50:
		add("1-3:0.2.8", Value{Text: "50"})
	}
	if v == EMUCS {
		add("0-0:96.1.1", Value{Text: hexText(r.EquipmentID)})
	}
	if v != V3 {
		add("0-0:1.0.0", Value{Text: FormatTime(r.Time)})
	}
	if v != EMUCS {
		add("0-0:96.1.1", Value{Text: hexText(r.EquipmentID)})
	}
	width := 6
	if v == V3 {
		width = 5
	}
	add("1-0:1.8.1", num(r.ImportWh[0], 3, width, "kWh"))
	add("1-0:1.8.2", num(r.ImportWh[1], 3, width, "kWh"))
	add("1-0:2.8.1", num(r.ExportWh[0], 3, width, "kWh"))
	add("1-0:2.8.2", num(r.ExportWh[1], 3, width, "kWh"))
	tariff := max(r.Tariff, 1)
	if v == EMUCS {
		add("1-0:1.4.0", num(r.ImportW, 3, 2, "kW"))
	}
	add("0-0:96.14.0", count(tariff, 4))
	if v == V3 {
		add("1-0:1.7.0", num(r.ImportW/10, 2, 4, "kW"))
		add("1-0:2.7.0", num(r.ExportW/10, 2, 4, "kW"))
		add("0-0:17.0.0", Value{Text: "0999.00", Unit: "kW"})
		add("0-0:96.3.10", Value{Text: strconv.Itoa(r.Breaker)})
		add("0-0:96.13.1", Value{})
		add("0-0:96.13.0", Value{Text: hexText(r.Message)})
	} else {
		add("1-0:1.7.0", num(r.ImportW, 3, 2, "kW"))
		add("1-0:2.7.0", num(r.ExportW, 3, 2, "kW"))
	}
	phases := 1
	if r.Phases == 3 {
		phases = 3
	}
	if v == V40 || v == V42 || v == V50 {
		if v == V40 {
			add("0-0:17.0.0", Value{Text: "999.9", Unit: "kW"})
			add("0-0:96.3.10", Value{Text: strconv.Itoa(r.Breaker)})
		}
		add("0-0:96.7.21", count(r.Failures, 5))
		add("0-0:96.7.9", count(r.LongFailures, 5))
		log := []Value{{Text: strconv.Itoa(len(r.FailureLog))}, {Text: "0-0:96.7.19"}}
		for _, f := range r.FailureLog {
			log = append(log, Value{Text: FormatTime(f.End)}, num(int64(f.Duration/time.Second), 0, 10, "s"))
		}
		add("1-0:99.97.0", log...)
		for p := range phases {
			add([3]string{"1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0"}[p], count(r.Sags[p], 5))
		}
		for p := range phases {
			add([3]string{"1-0:32.36.0", "1-0:52.36.0", "1-0:72.36.0"}[p], count(r.Swells[p], 5))
		}
		if v != V50 {
			add("0-0:96.13.1", Value{})
		}
		add("0-0:96.13.0", Value{Text: hexText(r.Message)})
	}
	if v == V50 || v == EMUCS {
		for p := range phases {
			add([3]string{"1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"}[p], num(int64(r.VoltageDV[p]), 1, 3, "V"))
		}
	}
	if v != V3 {
		for p := range phases {
			c := [3]string{"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"}[p]
			if v == EMUCS {
				add(c, num(r.CurrentA[p]*100, 2, 3, "A"))
			} else {
				add(c, count(int(r.CurrentA[p]), 3))
				t.Lines[len(t.Lines)-1].Values[0].Unit = "A"
			}
		}
		for p := range phases {
			add([3]string{"1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0"}[p], num(r.PhaseImportW[p], 3, 2, "kW"))
		}
		for p := range phases {
			add([3]string{"1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0"}[p], num(r.PhaseExportW[p], 3, 2, "kW"))
		}
	}
	if v == EMUCS {
		add("0-0:96.3.10", Value{Text: strconv.Itoa(r.Breaker)})
		add("0-0:17.0.0", Value{Text: "999.9", Unit: "kW"})
		add("1-0:31.4.0", Value{Text: "999", Unit: "A"})
		add("0-0:96.13.0", Value{Text: hexText(r.Message)})
	}
	for i, m := range r.MBus {
		ch := strconv.Itoa(i + 1)
		c := func(s string) string { return "0-" + ch + ":" + s }
		switch v {
		case V3:
			add(c("24.1.0"), Value{Text: strconv.Itoa(m.Type)})
			add(c("96.1.0"), Value{Text: hexText(m.ID)})
			add(c("24.3.0"), Value{Text: FormatTime(m.At)[:12]}, Value{Text: "00"}, Value{Text: "60"}, Value{Text: "1"},
				Value{Text: c("24.2.1")}, Value{Text: "m3"}, Value{Text: fixed(m.Litres, 3, 5)})
			add(c("24.4.0"), Value{Text: "1"})
		case EMUCS:
			add(c("24.1.0"), count(m.Type, 3))
			add(c("96.1.1"), Value{Text: hexText(m.ID)})
			add(c("24.4.0"), Value{Text: "1"})
			add(c("24.2.3"), Value{Text: FormatTime(m.At)}, num(m.Litres, 3, 5, "m3"))
		default:
			add(c("24.1.0"), count(m.Type, 3))
			add(c("96.1.0"), Value{Text: hexText(m.ID)})
			add(c("24.2.1"), Value{Text: FormatTime(m.At)}, num(m.Litres, 3, 5, "m3"))
			if v != V50 {
				add(c("24.4.0"), Value{Text: "1"})
			}
		}
	}
	return t
}

func hexText(s string) string { return hexUpper(hex.EncodeToString([]byte(s))) }

func hexUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
