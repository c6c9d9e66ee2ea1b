package dsmr

import (
	"fmt"
	"strconv"
	"strings"
)

// Code is an OBIS code as P1 lines write it: A-B:C.D.E ("1-0:1.8.1").
type Code struct{ A, B, C, D, E uint8 }

// String writes the code as a P1 line does.
func (c Code) String() string {
	return fmt.Sprintf("%d-%d:%d.%d.%d", c.A, c.B, c.C, c.D, c.E)
}

// ParseCode reads A-B:C.D.E. DSMR writes every code in full, so a
// shortened form (no A-B:, or no E) is refused rather than guessed.
func ParseCode(s string) (Code, error) {
	ab, cde, ok := strings.Cut(s, ":")
	if !ok {
		return Code{}, fmt.Errorf("dsmr: OBIS code %q: no ':'", s)
	}
	a, b, ok := strings.Cut(ab, "-")
	if !ok {
		return Code{}, fmt.Errorf("dsmr: OBIS code %q: no '-'", s)
	}
	parts := strings.Split(cde, ".")
	if len(parts) != 3 {
		return Code{}, fmt.Errorf("dsmr: OBIS code %q: want C.D.E", s)
	}
	var v [5]uint8
	for i, p := range []string{a, b, parts[0], parts[1], parts[2]} {
		if p == "" || len(p) > 3 {
			return Code{}, fmt.Errorf("dsmr: OBIS code %q: bad group %q", s, p)
		}
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Code{}, fmt.Errorf("dsmr: OBIS code %q: bad group %q", s, p)
		}
		v[i] = uint8(n)
	}
	return Code{v[0], v[1], v[2], v[3], v[4]}, nil
}

// MustCode is ParseCode for codes known to be valid.
func MustCode(s string) Code {
	c, err := ParseCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Kind is the shape of a line's value.
type Kind uint8

// The value kinds of the DSMR and e-MUCS tables.
const (
	KindUnknown Kind = iota
	// KindNumber is a fixed-point number with a unit: (001234.567*kWh).
	KindNumber
	// KindCount is an integer without unit: (00004).
	KindCount
	// KindString is printable text kept as is: (0002), (50).
	KindString
	// KindHex is an octet string written as hex: equipment identifiers
	// and text messages.
	KindHex
	// KindTime is a timestamp YYMMDDhhmmssX, X being S (summer) or W.
	KindTime
	// KindTimedNumber is a timestamp and a number: an M-Bus capture
	// (0-n:24.2.1), e-MUCS' monthly peak (1-0:1.6.0).
	KindTimedNumber
	// KindFailureLog is the power failure event log (1-0:99.97.0).
	KindFailureLog
	// KindPeakLog is e-MUCS' 13-month peak history (0-0:98.1.0).
	KindPeakLog
	// KindOldGas is DSMR 2.2/3.0's gas line, whose value is on the next
	// line: 0-n:24.3.0(ts)(00)(60)(1)(0-n:24.2.1)(m3)\r\n(00123.456).
	KindOldGas
)

var kindNames = [...]string{"unknown", "number", "count", "string", "hex", "time", "timed-number",
	"failure-log", "peak-log", "old-gas"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Object is one row of the specifications' tables.
type Object struct {
	Code Code
	// Channel is true for an M-Bus channel object: Code.B is 1 in the
	// table and stands for any channel 1–4.
	Channel bool
	Name    string
	Unit    string // as written after '*' ("kWh"); empty for none
	Kind    Kind
	// Since names the first specification that lists it.
	Since string
}

// Objects is every object the P1 companion standards DSMR 2.2, 3.0,
// 4.0.7, 4.2.2 and 5.0.2 and the Belgian e-MUCS H (1.7) list, and those
// Luxembourg's Smarty P1 port adds. M-Bus objects are listed on channel 1.
var Objects = []Object{
	{Code: Code{1, 3, 0, 2, 8}, Name: "DSMR version", Kind: KindString, Since: "4.0"},
	{Code: Code{0, 0, 96, 1, 4}, Name: "e-MUCS version", Kind: KindString, Since: "e-MUCS"},
	{Code: Code{0, 0, 1, 0, 0}, Name: "Date-time stamp", Kind: KindTime, Since: "4.0"},
	{Code: Code{0, 0, 96, 1, 1}, Name: "Equipment identifier", Kind: KindHex, Since: "2.2"},
	{Code: Code{1, 0, 1, 8, 1}, Name: "Energy delivered to client, tariff 1", Unit: "kWh", Kind: KindNumber, Since: "2.2"},
	{Code: Code{1, 0, 1, 8, 2}, Name: "Energy delivered to client, tariff 2", Unit: "kWh", Kind: KindNumber, Since: "2.2"},
	{Code: Code{1, 0, 2, 8, 1}, Name: "Energy delivered by client, tariff 1", Unit: "kWh", Kind: KindNumber, Since: "2.2"},
	{Code: Code{1, 0, 2, 8, 2}, Name: "Energy delivered by client, tariff 2", Unit: "kWh", Kind: KindNumber, Since: "2.2"},
	{Code: Code{0, 0, 96, 14, 0}, Name: "Tariff indicator", Kind: KindString, Since: "2.2"},
	{Code: Code{1, 0, 1, 7, 0}, Name: "Actual power delivered (+P)", Unit: "kW", Kind: KindNumber, Since: "2.2"},
	{Code: Code{1, 0, 2, 7, 0}, Name: "Actual power received (-P)", Unit: "kW", Kind: KindNumber, Since: "2.2"},
	{Code: Code{0, 0, 17, 0, 0}, Name: "Actual threshold electricity", Unit: "kW", Kind: KindNumber, Since: "2.2"},
	{Code: Code{0, 0, 96, 3, 10}, Name: "Actual switch position / breaker state", Kind: KindString, Since: "2.2"},
	{Code: Code{0, 0, 96, 7, 21}, Name: "Number of power failures in any phase", Kind: KindCount, Since: "4.0"},
	{Code: Code{0, 0, 96, 7, 9}, Name: "Number of long power failures in any phase", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 99, 97, 0}, Name: "Power failure event log", Kind: KindFailureLog, Since: "4.0"},
	{Code: Code{1, 0, 32, 32, 0}, Name: "Number of voltage sags in phase L1", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 52, 32, 0}, Name: "Number of voltage sags in phase L2", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 72, 32, 0}, Name: "Number of voltage sags in phase L3", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 32, 36, 0}, Name: "Number of voltage swells in phase L1", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 52, 36, 0}, Name: "Number of voltage swells in phase L2", Kind: KindCount, Since: "4.0"},
	{Code: Code{1, 0, 72, 36, 0}, Name: "Number of voltage swells in phase L3", Kind: KindCount, Since: "4.0"},
	{Code: Code{0, 0, 96, 13, 1}, Name: "Text message codes", Kind: KindHex, Since: "2.2"},
	{Code: Code{0, 0, 96, 13, 0}, Name: "Text message", Kind: KindHex, Since: "2.2"},
	{Code: Code{1, 0, 32, 7, 0}, Name: "Instantaneous voltage L1", Unit: "V", Kind: KindNumber, Since: "5.0"},
	{Code: Code{1, 0, 52, 7, 0}, Name: "Instantaneous voltage L2", Unit: "V", Kind: KindNumber, Since: "5.0"},
	{Code: Code{1, 0, 72, 7, 0}, Name: "Instantaneous voltage L3", Unit: "V", Kind: KindNumber, Since: "5.0"},
	{Code: Code{1, 0, 31, 7, 0}, Name: "Instantaneous current L1", Unit: "A", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 51, 7, 0}, Name: "Instantaneous current L2", Unit: "A", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 71, 7, 0}, Name: "Instantaneous current L3", Unit: "A", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 21, 7, 0}, Name: "Instantaneous active power L1 (+P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 41, 7, 0}, Name: "Instantaneous active power L2 (+P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 61, 7, 0}, Name: "Instantaneous active power L3 (+P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 22, 7, 0}, Name: "Instantaneous active power L1 (-P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 42, 7, 0}, Name: "Instantaneous active power L2 (-P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	{Code: Code{1, 0, 62, 7, 0}, Name: "Instantaneous active power L3 (-P)", Unit: "kW", Kind: KindNumber, Since: "4.0"},
	// e-MUCS: capacity tariff and limiter.
	{Code: Code{1, 0, 1, 4, 0}, Name: "Current average demand, active energy import", Unit: "kW", Kind: KindNumber, Since: "e-MUCS"},
	{Code: Code{1, 0, 1, 6, 0}, Name: "Maximum demand, active energy import, running month", Unit: "kW", Kind: KindTimedNumber, Since: "e-MUCS"},
	{Code: Code{0, 0, 98, 1, 0}, Name: "Maximum demand, active energy import, last 13 months", Unit: "kW", Kind: KindPeakLog, Since: "e-MUCS"},
	{Code: Code{1, 0, 31, 4, 0}, Name: "Fuse supervision threshold L1", Unit: "A", Kind: KindNumber, Since: "e-MUCS"},
	// Luxembourg (Smarty) and Austrian P1 ports add totals, reactive
	// energy and power, and the logical device name.
	{Code: Code{0, 0, 42, 0, 0}, Name: "Logical device name", Kind: KindHex, Since: "Smarty"},
	{Code: Code{1, 0, 1, 8, 0}, Name: "Energy delivered to client, total", Unit: "kWh", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 2, 8, 0}, Name: "Energy delivered by client, total", Unit: "kWh", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 3, 8, 0}, Name: "Reactive energy import (+R), total", Unit: "kVArh", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 4, 8, 0}, Name: "Reactive energy export (-R), total", Unit: "kVArh", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 3, 7, 0}, Name: "Actual reactive power import (+Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 4, 7, 0}, Name: "Actual reactive power export (-Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 23, 7, 0}, Name: "Instantaneous reactive power L1 (+Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 43, 7, 0}, Name: "Instantaneous reactive power L2 (+Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 63, 7, 0}, Name: "Instantaneous reactive power L3 (+Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 24, 7, 0}, Name: "Instantaneous reactive power L1 (-Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 44, 7, 0}, Name: "Instantaneous reactive power L2 (-Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	{Code: Code{1, 0, 64, 7, 0}, Name: "Instantaneous reactive power L3 (-Q)", Unit: "kVAr", Kind: KindNumber, Since: "Smarty"},
	// M-Bus channels (B = 1..4).
	{Code: Code{0, 1, 24, 1, 0}, Channel: true, Name: "M-Bus device type", Kind: KindCount, Since: "2.2"},
	{Code: Code{0, 1, 96, 1, 0}, Channel: true, Name: "M-Bus equipment identifier", Kind: KindHex, Since: "2.2"},
	{Code: Code{0, 1, 96, 1, 1}, Channel: true, Name: "M-Bus equipment identifier (e-MUCS)", Kind: KindHex, Since: "e-MUCS"},
	{Code: Code{0, 1, 24, 2, 1}, Channel: true, Name: "M-Bus last 5-minute (gas: hourly) value", Kind: KindTimedNumber, Since: "4.0"},
	{Code: Code{0, 1, 24, 2, 3}, Channel: true, Name: "M-Bus last value, not temperature corrected (e-MUCS)", Kind: KindTimedNumber, Since: "e-MUCS"},
	{Code: Code{0, 1, 24, 3, 0}, Channel: true, Name: "Gas delivered, last hourly value (DSMR 2.2/3.0)", Unit: "m3", Kind: KindOldGas, Since: "2.2"},
	{Code: Code{0, 1, 24, 4, 0}, Channel: true, Name: "M-Bus valve position", Kind: KindString, Since: "2.2"},
}

var objectIndex = func() map[Code]*Object {
	m := make(map[Code]*Object, len(Objects))
	for i := range Objects {
		m[Objects[i].Code] = &Objects[i]
	}
	return m
}()

// Lookup returns the table's object for c; an M-Bus channel object is
// found on any channel 1–4.
func Lookup(c Code) (*Object, bool) {
	if o, ok := objectIndex[c]; ok {
		return o, true
	}
	if c.A == 0 && c.B >= 1 && c.B <= 4 {
		k := c
		k.B = 1
		if o, ok := objectIndex[k]; ok && o.Channel {
			return o, true
		}
	}
	return nil, false
}
