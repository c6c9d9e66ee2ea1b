package axdr

import (
	"errors"
	"math"
	"strconv"
)

// Unit is the COSEM physical unit enumeration used in scaler_unit
// attributes (Blue Book, Register interface class, unit table).
type Unit uint8

// Units. The comments give the quantity where the symbol alone is
// ambiguous.
const (
	UnitYear                Unit = 1  // a, time
	UnitMonth               Unit = 2  // mo
	UnitWeek                Unit = 3  // wk
	UnitDay                 Unit = 4  // d
	UnitHour                Unit = 5  // h
	UnitMinute              Unit = 6  // min
	UnitSecond              Unit = 7  // s
	UnitDegree              Unit = 8  // °, phase angle
	UnitDegreeCelsius       Unit = 9  // °C
	UnitCurrency            Unit = 10 // local currency
	UnitMetre               Unit = 11 // m
	UnitMetrePerSecond      Unit = 12 // m/s
	UnitCubicMetre          Unit = 13 // m³, volume
	UnitCubicMetreCorrected Unit = 14 // m³, corrected volume
	UnitCubicMetrePerHour   Unit = 15 // m³/h, volume flux
	UnitCubicMetrePerHourC  Unit = 16 // m³/h, corrected volume flux
	UnitCubicMetrePerDay    Unit = 17 // m³/d
	UnitCubicMetrePerDayC   Unit = 18 // m³/d, corrected
	UnitLitre               Unit = 19 // l
	UnitKilogram            Unit = 20 // kg
	UnitNewton              Unit = 21 // N
	UnitNewtonMetre         Unit = 22 // Nm
	UnitPascal              Unit = 23 // Pa
	UnitBar                 Unit = 24 // bar
	UnitJoule               Unit = 25 // J
	UnitJoulePerHour        Unit = 26 // J/h, thermal power
	UnitWatt                Unit = 27 // W, active power
	UnitVoltAmpere          Unit = 28 // VA, apparent power
	UnitVar                 Unit = 29 // var, reactive power
	UnitWattHour            Unit = 30 // Wh, active energy
	UnitVoltAmpereHour      Unit = 31 // VAh, apparent energy
	UnitVarHour             Unit = 32 // varh, reactive energy
	UnitAmpere              Unit = 33 // A
	UnitCoulomb             Unit = 34 // C
	UnitVolt                Unit = 35 // V
	UnitVoltPerMetre        Unit = 36 // V/m
	UnitFarad               Unit = 37 // F
	UnitOhm                 Unit = 38 // Ω
	UnitOhmMetre            Unit = 39 // Ωm²/m, resistivity
	UnitWeber               Unit = 40 // Wb
	UnitTesla               Unit = 41 // T
	UnitAmperePerMetre      Unit = 42 // A/m
	UnitHenry               Unit = 43 // H
	UnitHertz               Unit = 44 // Hz
	UnitActiveMeterConst    Unit = 45 // 1/(Wh), R_W
	UnitReactiveMeterConst  Unit = 46 // 1/(varh), R_B
	UnitApparentMeterConst  Unit = 47 // 1/(VAh), R_S
	UnitVoltSquaredHour     Unit = 48 // V²h
	UnitAmpereSquaredHour   Unit = 49 // A²h
	UnitKilogramPerSecond   Unit = 50 // kg/s, mass flux
	UnitSiemens             Unit = 51 // S, conductance
	UnitKelvin              Unit = 52 // K
	UnitVoltSquaredHourC    Unit = 53 // 1/(V²h), R_U²h
	UnitAmpereSquaredHourC  Unit = 54 // 1/(A²h), R_I²h
	UnitCubicMetreConst     Unit = 55 // 1/m³, R_V
	UnitPercent             Unit = 56 // %
	UnitAmpereHour          Unit = 57 // Ah
	UnitWattHourPerCubicM   Unit = 60 // Wh/m³, calorific value
	UnitJoulePerCubicMetre  Unit = 61 // J/m³
	UnitMolePercent         Unit = 62 // Mol %, molar fraction
	UnitGramPerCubicMetre   Unit = 63 // g/m³, mass density
	UnitPascalSecond        Unit = 64 // Pa s, dynamic viscosity
	UnitJoulePerKilogram    Unit = 65 // J/kg, specific energy
	UnitDBm                 Unit = 70 // dBm, signal strength
	UnitDBMicroVolt         Unit = 71 // dBµV
	UnitDB                  Unit = 72 // dB
	UnitOther               Unit = 254
	UnitCount               Unit = 255 // no unit, unitless count
)

var unitSymbols = map[Unit]string{
	UnitYear: "a", UnitMonth: "mo", UnitWeek: "wk", UnitDay: "d", UnitHour: "h", UnitMinute: "min",
	UnitSecond: "s", UnitDegree: "°", UnitDegreeCelsius: "°C", UnitCurrency: "currency", UnitMetre: "m",
	UnitMetrePerSecond: "m/s", UnitCubicMetre: "m³", UnitCubicMetreCorrected: "m³",
	UnitCubicMetrePerHour: "m³/h", UnitCubicMetrePerHourC: "m³/h", UnitCubicMetrePerDay: "m³/d",
	UnitCubicMetrePerDayC: "m³/d", UnitLitre: "l", UnitKilogram: "kg", UnitNewton: "N",
	UnitNewtonMetre: "Nm", UnitPascal: "Pa", UnitBar: "bar", UnitJoule: "J", UnitJoulePerHour: "J/h",
	UnitWatt: "W", UnitVoltAmpere: "VA", UnitVar: "var", UnitWattHour: "Wh", UnitVoltAmpereHour: "VAh",
	UnitVarHour: "varh", UnitAmpere: "A", UnitCoulomb: "C", UnitVolt: "V", UnitVoltPerMetre: "V/m",
	UnitFarad: "F", UnitOhm: "Ω", UnitOhmMetre: "Ωm²/m", UnitWeber: "Wb", UnitTesla: "T",
	UnitAmperePerMetre: "A/m", UnitHenry: "H", UnitHertz: "Hz", UnitActiveMeterConst: "1/(Wh)",
	UnitReactiveMeterConst: "1/(varh)", UnitApparentMeterConst: "1/(VAh)", UnitVoltSquaredHour: "V²h",
	UnitAmpereSquaredHour: "A²h", UnitKilogramPerSecond: "kg/s", UnitSiemens: "S", UnitKelvin: "K",
	UnitVoltSquaredHourC: "1/(V²h)", UnitAmpereSquaredHourC: "1/(A²h)", UnitCubicMetreConst: "1/m³",
	UnitPercent: "%", UnitAmpereHour: "Ah", UnitWattHourPerCubicM: "Wh/m³", UnitJoulePerCubicMetre: "J/m³",
	UnitMolePercent: "Mol %", UnitGramPerCubicMetre: "g/m³", UnitPascalSecond: "Pa s",
	UnitJoulePerKilogram: "J/kg", UnitDBm: "dBm", UnitDBMicroVolt: "dBµV", UnitDB: "dB",
	UnitOther: "other", UnitCount: "",
}

// String returns the unit symbol, e.g. "Wh"; the empty string for
// UnitCount (no unit) and "unit(N)" for values outside the table.
func (u Unit) String() string {
	if s, ok := unitSymbols[u]; ok {
		return s
	}
	return "unit(" + strconv.Itoa(int(u)) + ")"
}

// Known reports whether u is in the unit table.
func (u Unit) Known() bool {
	_, ok := unitSymbols[u]
	return ok
}

// ScalerUnit is the scaler_unit attribute of registers: the value is
// raw * 10^Scaler in Unit.
type ScalerUnit struct {
	Scaler int8
	Unit   Unit
}

// ErrScalerUnit: a Data that is not structure{integer, enum}.
var ErrScalerUnit = errors.New("axdr: scaler_unit is not structure{integer, enum}")

// ParseScalerUnit reads structure{int8 scaler, enum unit}.
func ParseScalerUnit(d Data) (ScalerUnit, error) {
	if d.Tag != TagStructure || len(d.Items) != 2 || d.Items[0].Tag != TagInt8 || d.Items[1].Tag != TagEnum {
		return ScalerUnit{}, ErrScalerUnit
	}
	return ScalerUnit{Scaler: int8(d.Items[0].bits), Unit: Unit(d.Items[1].bits)}, nil
}

// Data returns su as structure{int8, enum}.
func (su ScalerUnit) Data() Data {
	return Structure(Int8(su.Scaler), Enum(uint8(su.Unit)))
}

// Apply returns raw scaled: raw * 10^Scaler. Negative scalers divide, so
// that 9 with scaler -2 gives exactly the float64 nearest 0.09.
func (su ScalerUnit) Apply(raw int64) float64 {
	if su.Scaler < 0 {
		return float64(raw) / math.Pow10(-int(su.Scaler))
	}
	return float64(raw) * math.Pow10(int(su.Scaler))
}

// Value scales any integer or float Data; false for other types.
func (su ScalerUnit) Value(d Data) (float64, bool) {
	if f, ok := d.Float(); ok {
		return su.Apply(1) * f, true
	}
	if d.Tag == TagUint64 && d.bits > math.MaxInt64 {
		v := float64(d.bits)
		if su.Scaler < 0 {
			return v / math.Pow10(-int(su.Scaler)), true
		}
		return v * math.Pow10(int(su.Scaler)), true
	}
	if d.Tag == TagBCD {
		return 0, false
	}
	v, ok := d.Int()
	if !ok {
		return 0, false
	}
	return su.Apply(v), true
}

// String renders su as "10^-2 Wh".
func (su ScalerUnit) String() string {
	s := "10^" + strconv.Itoa(int(su.Scaler))
	if u := su.Unit.String(); u != "" {
		s += " " + u
	}
	return s
}
