package dlmsdriver

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/obis"
)

// quantity is what an OBIS code measures, after IEC 62056-6-1's value
// groups: A the medium, C the quantity, D the processing, E the rate.
type quantity struct {
	// id is the reading type id of a register read of it ("A+", "L1V").
	id        string
	commodity cim.Commodity
	measured  cim.MeasuredQuantity
	flow      cim.FlowDirection
	unit      cim.Unit
	// cumulative marks a register that only grows (an energy or volume
	// index): a profile's intervals are its differences.
	cumulative bool
	// register marks what a daily read takes as a register read: the
	// cumulative indexes and maximum demand, not instantaneous values,
	// which only mean something in a profile.
	register bool
}

// Electricity quantities by value group C (IEC 62056-6-1 §7.5.1): id,
// flow and unit of the energy (D = 8) and power (D = 6, 7) of each.
var electricity = map[byte]struct {
	id   string
	flow cim.FlowDirection
	// energy and power units
	eu, pu cim.Unit
}{
	1:  {"A+", cim.FlowForward, cim.UnitWh, cim.UnitW},
	2:  {"A-", cim.FlowReverse, cim.UnitWh, cim.UnitW},
	3:  {"R+", cim.FlowForward, cim.UnitVArh, cim.UnitVAr},
	4:  {"R-", cim.FlowReverse, cim.UnitVArh, cim.UnitVAr},
	5:  {"RQ1", cim.FlowNone, cim.UnitVArh, cim.UnitVAr},
	6:  {"RQ2", cim.FlowNone, cim.UnitVArh, cim.UnitVAr},
	7:  {"RQ3", cim.FlowNone, cim.UnitVArh, cim.UnitVAr},
	8:  {"RQ4", cim.FlowNone, cim.UnitVArh, cim.UnitVAr},
	9:  {"S+", cim.FlowForward, cim.UnitVAh, cim.UnitVA},
	10: {"S-", cim.FlowReverse, cim.UnitVAh, cim.UnitVA},
	21: {"L1A+", cim.FlowForward, cim.UnitWh, cim.UnitW},
	22: {"L1A-", cim.FlowReverse, cim.UnitWh, cim.UnitW},
	41: {"L2A+", cim.FlowForward, cim.UnitWh, cim.UnitW},
	42: {"L2A-", cim.FlowReverse, cim.UnitWh, cim.UnitW},
	61: {"L3A+", cim.FlowForward, cim.UnitWh, cim.UnitW},
	62: {"L3A-", cim.FlowReverse, cim.UnitWh, cim.UnitW},
}

// Instantaneous values (D = 7) of C that are not powers: voltage and
// current per phase, frequency and power factor.
var instantaneous = map[byte]quantity{
	31: {id: "L1I", measured: cim.QuantityCurrent, unit: cim.UnitA},
	51: {id: "L2I", measured: cim.QuantityCurrent, unit: cim.UnitA},
	71: {id: "L3I", measured: cim.QuantityCurrent, unit: cim.UnitA},
	32: {id: "L1V", measured: cim.QuantityVoltage, unit: cim.UnitV},
	52: {id: "L2V", measured: cim.QuantityVoltage, unit: cim.UnitV},
	72: {id: "L3V", measured: cim.QuantityVoltage, unit: cim.UnitV},
	14: {id: "F", measured: cim.QuantityFreq, unit: cim.UnitHz},
	13: {id: "PF", measured: cim.QuantityPF},
}

// quantityOf maps an OBIS code to what it measures; false for a code the
// table does not know, whose values are then kept raw. F must be 255 (the
// current value, not a billing period's).
func quantityOf(c obis.Code) (quantity, bool) {
	a, b, cc, d, e, f := c[0], c[1], c[2], c[3], c[4], c[5]
	if f != 255 {
		return quantity{}, false
	}
	rate := func(id string) (string, bool) {
		switch {
		case e == 0:
			return id, true
		case e <= 9:
			return id + "T" + strconv.Itoa(int(e)), true
		}
		return "", false
	}
	switch a {
	case 1:
		el, ok := electricity[cc]
		if ok {
			switch d {
			case 8: // time integral 1: the energy index
				id, ok := rate(el.id)
				return quantity{id: id, commodity: cim.CommodityElectricity, measured: cim.QuantityEnergy,
					flow: el.flow, unit: el.eu, cumulative: true, register: true}, ok
			case 6: // maximum demand
				id, ok := rate("MD" + el.id[len(el.id)-1:])
				if el.id != "A+" && el.id != "A-" {
					id, ok = rate("MD" + el.id)
				}
				return quantity{id: id, commodity: cim.CommodityElectricity, measured: cim.QuantityDemand,
					flow: el.flow, unit: el.pu, register: true}, ok
			case 7: // instantaneous power
				if e != 0 {
					return quantity{}, false
				}
				return quantity{id: "P" + el.id, commodity: cim.CommodityElectricity, measured: cim.QuantityPower,
					flow: el.flow, unit: el.pu}, true
			}
			return quantity{}, false
		}
		if q, ok := voltageStat(cc, d, e); ok {
			return q, true
		}
		if q, ok := instantaneous[cc]; ok && d == 7 && e == 0 {
			q.commodity = cim.CommodityElectricity
			return q, true
		}
	case 7: // gas: C = 3 is the volume, D = 0 the meter's index
		if cc == 3 && d == 0 && e == 0 {
			return quantity{id: "G", commodity: cim.CommodityGas, measured: cim.QuantityVolume, unit: cim.UnitM3,
				cumulative: true, register: true}, true
		}
	case 8: // water: C = 1 is the volume, D = 0 the index
		if cc == 1 && d == 0 && e == 0 {
			return quantity{id: "W", commodity: cim.CommodityWater, measured: cim.QuantityVolume, unit: cim.UnitM3,
				cumulative: true, register: true}, true
		}
	case 0:
		// The M-Bus device on channel B (DSMR 5 gas and water): its
		// last index, 0-B:24.2.1.
		if cc == 24 && d == 2 && e == 1 && b >= 1 && b <= 4 {
			return quantity{id: "MB" + strconv.Itoa(int(b)), measured: cim.QuantityVolume, unit: cim.UnitM3,
				cumulative: true, register: true}, true
		}
	}
	return quantity{}, false
}

// unitOf is the CIM unit of a COSEM unit; false for one amigo does not
// name (the table's unit then stands).
func unitOf(u axdr.Unit) (cim.Unit, bool) {
	switch u {
	case axdr.UnitWattHour:
		return cim.UnitWh, true
	case axdr.UnitVarHour:
		return cim.UnitVArh, true
	case axdr.UnitVoltAmpereHour:
		return cim.UnitVAh, true
	case axdr.UnitWatt:
		return cim.UnitW, true
	case axdr.UnitVar:
		return cim.UnitVAr, true
	case axdr.UnitVoltAmpere:
		return cim.UnitVA, true
	case axdr.UnitVolt:
		return cim.UnitV, true
	case axdr.UnitAmpere:
		return cim.UnitA, true
	case axdr.UnitCubicMetre, axdr.UnitCubicMetreCorrected:
		return cim.UnitM3, true
	case axdr.UnitJoule:
		return cim.UnitJ, true
	case 44: // Hz
		return cim.UnitHz, true
	}
	return cim.UnitNone, false
}

// errNotInteger is a value that is not an integer in range: a float, a
// string, an unsigned above 2^63, or a positive scaler that overflows.
var errNotInteger = errors.New("value is not an integer amigo can scale exactly")

// scale applies a scaler exactly. A negative scaler keeps the meter's
// integer and becomes the reading type's multiplier (0.74 Wh read as 74
// with scaler -2 is 74 at 10^-2 Wh); a positive one multiplies the value
// into multiplier 0, refusing an overflow.
func scale(raw int64, scaler int8) (int64, int8, error) {
	if scaler <= 0 {
		return raw, scaler, nil
	}
	v := raw
	for range scaler {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, 0, errNotInteger
		}
		v *= 10
	}
	return v, 0, nil
}

// multiplierOf is the multiplier scale gives a scaler.
func multiplierOf(scaler int8) int8 { return min(scaler, 0) }

// channelID names a series: its quantity's id, the capture period for a
// profile channel ("A+15m"; a "/" before the period when the id ends in a
// digit: "A+T1/15m") and, when the values are not in whole units, the
// multiplier ("A+e-2", "A+15me-2").
func channelID(id string, period time.Duration, mult int8) string {
	var sb strings.Builder
	sb.WriteString(id)
	if period > 0 {
		if last := id[len(id)-1]; last >= '0' && last <= '9' {
			sb.WriteByte('/')
		}
		sb.WriteString(periodName(period))
	}
	if mult != 0 {
		sb.WriteString("e" + strconv.Itoa(int(mult)))
	}
	return sb.String()
}

func periodName(p time.Duration) string {
	if p%time.Minute == 0 {
		return strconv.Itoa(int(p/time.Minute)) + "m"
	}
	return strconv.Itoa(int(p/time.Second)) + "s"
}

// rawID is the id of a column or register the table does not know: its
// OBIS code, with the attribute when it is not the value.
func rawID(ln obis.Code, attr int8) string {
	if attr == 2 {
		return "obis:" + ln.String()
	}
	return "obis:" + ln.String() + ":" + strconv.Itoa(int(attr))
}

// readingTypeOf builds the reading type of a channel.
func readingTypeOf(q quantity, period time.Duration, mult int8, su *axdr.ScalerUnit) cim.ReadingType {
	rt := cim.ReadingType{ID: channelID(q.id, period, mult), Commodity: q.commodity, MeasuredQuantity: q.measured,
		FlowDirection: q.flow, Interval: period, Unit: q.unit, Multiplier: mult, Accumulation: q.cumulative && period == 0}
	if su != nil {
		if u, ok := unitOf(su.Unit); ok {
			rt.Unit = u
		}
	}
	return rt
}

// Channel is one series the head-end makes of a meter's object: a
// register read daily, a profile's captured column, a billing value.
type Channel struct {
	// Source is "register", or the kind of the profile capturing it.
	Source string `json:"source"`
	// Profile is the capturing profile; zero for a register.
	Profile obis.Code `json:"profile,omitzero"`
	Object  string    `json:"object"` // OBIS:attribute
	Class   uint16    `json:"class"`
	// ReadingType is the id the values carry.
	ReadingType string `json:"readingType"`
	Unit        string `json:"unit,omitempty"`
	Multiplier  int8   `json:"multiplier,omitempty"`
	// Cumulative channels of a profile become interval values (their
	// differences).
	Cumulative bool `json:"cumulative,omitempty"`
	// Raw: the OBIS table does not know the code; values are kept as the
	// meter gives them, under the code.
	Raw bool `json:"raw,omitempty"`
}

// Channels is the channel map the head-end reads a meter of this model
// into: registers first, then each profile's columns in order.
func (m *Model) Channels() []Channel {
	var out []Channel
	mk := func(src string, prof obis.Code, class uint16, ln obis.Code, attr int8, period time.Duration) Channel {
		q, known := quantityOf(ln)
		if !known {
			q = quantity{id: rawID(ln, attr)}
		}
		sc, hasScale := m.Scalers[ln]
		mult := multiplierOf(sc.Scaler)
		var su *axdr.ScalerUnit
		if hasScale {
			su = &axdr.ScalerUnit{Scaler: sc.Scaler, Unit: sc.Unit}
		}
		rt := readingTypeOf(q, period, mult, su)
		c := Channel{Source: src, Profile: prof, Object: ln.String() + ":" + strconv.Itoa(int(attr)), Class: class,
			ReadingType: rt.ID, Multiplier: mult, Cumulative: q.cumulative && src == "load", Raw: !known}
		if rt.Unit != cim.UnitNone {
			c.Unit = rt.Unit.String()
		} else if hasScale {
			c.Unit = sc.Unit.String()
		}
		return c
	}
	for _, o := range m.Objects {
		if q, ok := quantityOf(o.LN); (!ok || q.register) && isRegisterClass(o.Class) {
			out = append(out, mk("register", obis.Code{}, o.Class, o.LN, 2, 0))
		}
	}
	for _, p := range m.Profiles {
		if p.Kind == "events" {
			continue
		}
		ci, si := clockColumn(p.Columns), statusColumn(p.Columns)
		for i, col := range p.Columns {
			if i == ci || i == si || col.Attribute != 2 || col.DataIndex != 0 {
				continue
			}
			period := time.Duration(p.Period) * time.Second
			c := mk(p.Kind, p.LN, col.ClassID, col.LogicalName, col.Attribute, period)
			if readAsBilling(&p) {
				c = mk(p.Kind, p.LN, col.ClassID, col.LogicalName, col.Attribute, 0)
				c.ReadingType += billingSuffix(&p)
			}
			out = append(out, c)
		}
	}
	return out
}
