package loadshape

import "time"

// Grid is the nominal supply the meters are connected to.
type Grid struct {
	VoltageDV    int32 // nominal phase voltage in 0.1 V
	FrequencyMHz int32 // nominal frequency in mHz
}

// The common supplies.
var (
	GridEU = Grid{VoltageDV: 2300, FrequencyMHz: 50_000}
	GridNA = Grid{VoltageDV: 1200, FrequencyMHz: 60_000}
)

// Instant holds the instantaneous values a meter displays, in the integer
// units and scalers a DLMS register would use: voltage in 0.1 V (scaler -1),
// current in mA (scaler -3), frequency in mHz (scaler -3), power factor in
// thousandths (scaler -3). Unused phases of a single-phase meter are zero.
type Instant struct {
	ImportW       int64 // active power import, 1.7.0
	ExportW       int64 // active power export, 2.7.0
	Phases        int
	VoltageDV     [3]int32 // 32.7.0, 52.7.0, 72.7.0
	CurrentMA     [3]int32 // 31.7.0, 51.7.0, 71.7.0
	FrequencyMHz  int32    // 14.7.0
	PowerFactorPM int32    // 13.7.0
}

// InstantAt derives the instantaneous values at t from the active power
// flowing through the meter. Voltage has a regional part shared by the
// fleet (keyed on the seed and the minute), a per-meter offset (distance to
// the transformer), a rise while exporting and per-second noise; frequency
// is regional only. Phases other than 3 mean single-phase.
func InstantAt(seed, meter uint64, a Archetype, t time.Time, importW, exportW int64, phases int, g Grid) Instant {
	sec := uint64(t.Unix())
	regional := uniform(Rand(seed, 0, sec/60, saltVoltage), -15, 15) // permille
	offset := uniform(Rand(seed, meter, 0, saltVoltage), -30, 10)
	v := int32(regional + offset)
	return instant(seed, meter, a, t, importW, exportW, phases, g, [3]int32{v, v, v})
}

// InstantSupplied is InstantAt on a modelled supply: supplyPM is the
// voltage reaching the meter per phase, in permille from nominal (a
// distribution network's feeder drop, tap and sags), in place of the
// regional voltage and the meter's own offset; the rise while exporting
// and the noise still apply.
func InstantSupplied(seed, meter uint64, a Archetype, t time.Time, importW, exportW int64, phases int, g Grid, supplyPM [3]int32) Instant {
	return instant(seed, meter, a, t, importW, exportW, phases, g, supplyPM)
}

func instant(seed, meter uint64, a Archetype, t time.Time, importW, exportW int64, phases int, g Grid, basePM [3]int32) Instant {
	if phases != 3 {
		phases = 1
	}
	sec := uint64(t.Unix())
	in := Instant{ImportW: importW, ExportW: exportW, Phases: phases}
	nom := int64(g.VoltageDV)
	rise := exportW / 250 // 0.4 V per kW exported on a weak feeder
	p := &params[a]
	tan := p.tanImp
	if exportW > 0 {
		tan = p.tanExp
	}
	pf := int64(1000)
	if importW+exportW > 0 {
		pf = 1_000_000 / isqrt(1_000_000+tan*tan)
	}
	in.PowerFactorPM = int32(pf)
	va := (importW + exportW) * 1000 / pf

	var share [3]int64
	if phases == 1 {
		share[0] = 1000
	} else {
		h := Rand(seed, meter, sec/uint64(stepSec), saltPhase)
		w0, w1, w2 := int64(200+h%400), int64(200+(h>>16)%400), int64(200+(h>>32)%400)
		tot := w0 + w1 + w2
		share = [3]int64{w0 * 1000 / tot, w1 * 1000 / tot, 0}
		share[2] = 1000 - share[0] - share[1]
	}
	for i := 0; i < phases; i++ {
		noise := uniform(Rand(seed, meter, sec*4+uint64(i), saltCurrent), -3, 3)
		v := max(nom+nom*(int64(basePM[i])+noise)/1000+rise, 1)
		in.VoltageDV[i] = int32(v)
		// I[mA] = S[VA] * share / V[V]; V in 0.1 V.
		in.CurrentMA[i] = int32(va * share[i] / 1000 * 10_000 / v)
	}
	in.FrequencyMHz = g.FrequencyMHz + int32(uniform(Rand(seed, 0, sec/10, saltFreq), -40, 40)+uniform(Rand(seed, 1, sec, saltFreq), -5, 5))
	return in
}

// InstantFor is InstantAt with the model's own power at t.
func InstantFor(seed, meter uint64, a Archetype, t time.Time, phases int, g Grid) Instant {
	imp, exp := PowerAt(seed, meter, a, t)
	return InstantAt(seed, meter, a, t, imp, exp, phases, g)
}

func isqrt(n int64) int64 {
	if n <= 0 {
		return 0
	}
	x := n
	y := (x + 1) / 2
	for y < x {
		x = y
		y = (x + n/x) / 2
	}
	return x
}
