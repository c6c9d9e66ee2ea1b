package mbus

import (
	"errors"
	"fmt"
)

const maxVIFE = 10

// durationUnits are the nn units of on time, operating time and the
// duration VIFs.
var durationUnits = [4]string{"s", "min", "h", "d"}

// decodeVIB fills r's Quantity, Unit, Exponent and Extensions from the VIB
// at the start of b and returns the VIB's length.
func decodeVIB(r *Record, b []byte) (int, error) {
	vif := b[0]
	i := 1
	v := vif & 0x7F
	switch {
	case v == 0x7C: // plain text unit: length, then ASCII sent last first
		if i >= len(b) {
			return 0, errors.New("plain text VIF without its length")
		}
		n := int(b[i])
		i++
		if len(b)-i < n {
			return 0, fmt.Errorf("plain text VIF of %d characters, %d bytes left", n, len(b)-i)
		}
		t := make([]byte, n)
		for k := 0; k < n; k++ {
			t[n-1-k] = b[i+k]
		}
		// The text follows the VIFEs, not the VIF, when the VIF extends.
		if vif&0x80 == 0 {
			r.Quantity, r.Unit = PlainTextUnit, string(t)
			return i + n, nil
		}
		r.Quantity, r.Unit = PlainTextUnit, string(t)
		i += n
	case vif == 0xFB || vif == 0xFD:
		if i >= len(b) {
			return 0, fmt.Errorf("VIF %#02x without its extension", vif)
		}
		e := b[i]
		i++
		if vif == 0xFB {
			tableFB(r, e&0x7F)
		} else {
			tableFD(r, e&0x7F)
		}
		if e&0x80 == 0 {
			return i, nil
		}
	default:
		primary(r, v)
		if vif&0x80 == 0 {
			return i, nil
		}
	}
	// Combinable VIFEs.
	for n := 0; ; n++ {
		if n == maxVIFE {
			return 0, fmt.Errorf("more than %d VIFEs", maxVIFE)
		}
		if i >= len(b) {
			return 0, errors.New("VIFE missing")
		}
		e := b[i]
		i++
		if e&0x7F == 0x7F || r.Quantity == Manufacturer {
			// Manufacturer specific VIFEs follow: keep them raw.
			r.Extensions = append(r.Extensions, "manufacturer specific")
			for e&0x80 != 0 {
				if i >= len(b) {
					return 0, errors.New("manufacturer VIFE missing")
				}
				e = b[i]
				i++
			}
			return i, nil
		}
		combinable(r, e&0x7F)
		if e&0x80 == 0 {
			return i, nil
		}
	}
}

func primary(r *Record, v byte) {
	n := int(v & 7)
	n2 := int(v & 3)
	switch {
	case v <= 0x07:
		r.Quantity, r.Unit, r.Exponent = Energy, "Wh", n-3
	case v <= 0x0F:
		r.Quantity, r.Unit, r.Exponent = Energy, "J", n
	case v <= 0x17:
		r.Quantity, r.Unit, r.Exponent = Volume, "m³", n-6
	case v <= 0x1F:
		r.Quantity, r.Unit, r.Exponent = Mass, "kg", n-3
	case v <= 0x23:
		r.Quantity, r.Unit = OnTime, durationUnits[n2]
	case v <= 0x27:
		r.Quantity, r.Unit = OperatingTime, durationUnits[n2]
	case v <= 0x2F:
		r.Quantity, r.Unit, r.Exponent = Power, "W", n-3
	case v <= 0x37:
		r.Quantity, r.Unit, r.Exponent = Power, "J/h", n
	case v <= 0x3F:
		r.Quantity, r.Unit, r.Exponent = VolumeFlow, "m³/h", n-6
	case v <= 0x47:
		r.Quantity, r.Unit, r.Exponent = VolumeFlow, "m³/min", n-7
	case v <= 0x4F:
		r.Quantity, r.Unit, r.Exponent = VolumeFlow, "m³/s", n-9
	case v <= 0x57:
		r.Quantity, r.Unit, r.Exponent = MassFlow, "kg/h", n-3
	case v <= 0x5B:
		r.Quantity, r.Unit, r.Exponent = FlowTemperature, "°C", n2-3
	case v <= 0x5F:
		r.Quantity, r.Unit, r.Exponent = ReturnTemperature, "°C", n2-3
	case v <= 0x63:
		r.Quantity, r.Unit, r.Exponent = TemperatureDifference, "K", n2-3
	case v <= 0x67:
		r.Quantity, r.Unit, r.Exponent = ExternalTemperature, "°C", n2-3
	case v <= 0x6B:
		r.Quantity, r.Unit, r.Exponent = Pressure, "bar", n2-3
	case v == 0x6C:
		r.Quantity = Date
	case v == 0x6D:
		r.Quantity = DateTime
	case v == 0x6E:
		r.Quantity = HCAUnits
	case v >= 0x70 && v <= 0x73:
		r.Quantity, r.Unit = AveragingDuration, durationUnits[n2]
	case v >= 0x74 && v <= 0x77:
		r.Quantity, r.Unit = ActualityDuration, durationUnits[n2]
	case v == 0x78:
		r.Quantity = FabricationNumber
	case v == 0x79:
		r.Quantity = Identification
	case v == 0x7A:
		r.Quantity = BusAddress
	case v == 0x7E:
		r.Quantity = AnyVIF
	case v == 0x7F:
		r.Quantity = Manufacturer
	default:
		r.Quantity = QuantityUnknown
	}
}

// tableFB decodes the common entries of the first extension table
// (EN 13757-3 table 14).
func tableFB(r *Record, e byte) {
	n := int(e & 1)
	n2 := int(e & 3)
	switch {
	case e <= 0x01:
		r.Quantity, r.Unit, r.Exponent = Energy, "Wh", n+5
	case e >= 0x08 && e <= 0x09:
		r.Quantity, r.Unit, r.Exponent = Energy, "J", n+8
	case e >= 0x10 && e <= 0x11:
		r.Quantity, r.Unit, r.Exponent = Volume, "m³", n+2
	case e >= 0x18 && e <= 0x19:
		r.Quantity, r.Unit, r.Exponent = Mass, "kg", n+5
	case e >= 0x28 && e <= 0x29:
		r.Quantity, r.Unit, r.Exponent = Power, "W", n+5
	case e >= 0x30 && e <= 0x31:
		r.Quantity, r.Unit, r.Exponent = Power, "J/h", n+8
	case e >= 0x74 && e <= 0x77:
		r.Quantity, r.Unit, r.Exponent = TemperatureLimit, "°C", n2-3
	default:
		r.Quantity = QuantityUnknown
	}
}

// tableFD decodes the common entries of the second extension table
// (EN 13757-3 table 13).
func tableFD(r *Record, e byte) {
	n2 := int(e & 3)
	switch {
	case e <= 0x03:
		r.Quantity, r.Unit, r.Exponent = Credit, "currency", n2-3
	case e <= 0x07:
		r.Quantity, r.Unit, r.Exponent = Debit, "currency", n2-3
	case e == 0x08:
		r.Quantity = AccessNumber
	case e == 0x09:
		r.Quantity = MediumCode
	case e == 0x0A:
		r.Quantity = ManufacturerField
	case e == 0x0B:
		r.Quantity = ParameterSet
	case e == 0x0C:
		r.Quantity = ModelVersion
	case e == 0x0D:
		r.Quantity = HardwareVersion
	case e == 0x0E:
		r.Quantity = FirmwareVersion
	case e == 0x0F:
		r.Quantity = SoftwareVersion
	case e == 0x10:
		r.Quantity = CustomerLocation
	case e == 0x11:
		r.Quantity = Customer
	case e == 0x17:
		r.Quantity = ErrorFlags
	case e == 0x18:
		r.Quantity = ErrorMask
	case e == 0x1A:
		r.Quantity = DigitalOutput
	case e == 0x1B:
		r.Quantity = DigitalInput
	case e == 0x1C:
		r.Quantity, r.Unit = BaudRate, "Bd"
	case e == 0x1D:
		r.Quantity, r.Unit = ResponseDelay, "bit times"
	case e == 0x1E:
		r.Quantity = Retry
	case e >= 0x24 && e <= 0x27:
		r.Quantity, r.Unit = StorageInterval, durationUnits[n2]
	case e == 0x28:
		r.Quantity, r.Unit = StorageInterval, "month"
	case e == 0x29:
		r.Quantity, r.Unit = StorageInterval, "year"
	case e >= 0x2C && e <= 0x2F:
		r.Quantity, r.Unit = DurationSinceReadout, durationUnits[n2]
	case e == 0x3A:
		r.Quantity = Dimensionless
	case e >= 0x40 && e <= 0x4F:
		r.Quantity, r.Unit, r.Exponent = Voltage, "V", int(e&0x0F)-9
	case e >= 0x50 && e <= 0x5F:
		r.Quantity, r.Unit, r.Exponent = Current, "A", int(e&0x0F)-12
	case e == 0x60:
		r.Quantity = ResetCounter
	case e == 0x61:
		r.Quantity = CumulationCounter
	case e >= 0x6C && e <= 0x6F:
		r.Quantity, r.Unit = OperatingTimeBattery, [4]string{"h", "d", "month", "year"}[n2]
	case e == 0x70:
		r.Quantity = BatteryChangeDate
	default:
		r.Quantity = QuantityUnknown
	}
}

// combinable decodes the common orthogonal VIFEs (EN 13757-3 table 15);
// correction factors change the exponent.
func combinable(r *Record, e byte) {
	per := [...]string{"per second", "per minute", "per hour", "per day", "per week", "per month", "per year", "per revolution"}
	var s string
	switch {
	case e <= 0x1F:
		s = fmt.Sprintf("error code %d", e)
	case e <= 0x27:
		s = per[e&7]
	case e == 0x3B:
		s = "accumulation of positive contributions only"
	case e == 0x3C:
		s = "accumulation of absolute value of negative contributions only"
	case e == 0x40:
		s = "lower limit value"
	case e == 0x48:
		s = "upper limit value"
	case e == 0x39:
		s = "start date/time of"
	case e >= 0x70 && e <= 0x77:
		r.Exponent += int(e&7) - 6
		s = fmt.Sprintf("multiplicative correction 10^%d", int(e&7)-6)
	case e == 0x7D:
		r.Exponent += 3
		s = "multiplicative correction 10^3"
	case e == 0x7E:
		s = "future value"
	default:
		s = fmt.Sprintf("VIFE %#02x", e)
	}
	r.Extensions = append(r.Extensions, s)
}

// VIBFor returns the primary VIF of a quantity at an exponent of its
// primary table unit (Wh, m³, kg, W, m³/h, kg/h, °C, K, bar), or of Date
// and DateTime (exponent ignored), ErrorFlags and Manufacturer.
func VIBFor(q Quantity, exp int) ([]byte, error) {
	rng := func(base byte, lo, n int) ([]byte, error) {
		k := exp - lo
		if k < 0 || k >= n {
			return nil, fmt.Errorf("%w: no VIF for %s at 10^%d", ErrRecord, q, exp)
		}
		return []byte{base + byte(k)}, nil
	}
	switch q {
	case Energy:
		return rng(0x00, -3, 8)
	case Volume:
		return rng(0x10, -6, 8)
	case Mass:
		return rng(0x18, -3, 8)
	case Power:
		return rng(0x28, -3, 8)
	case VolumeFlow:
		return rng(0x38, -6, 8)
	case MassFlow:
		return rng(0x50, -3, 8)
	case FlowTemperature:
		return rng(0x58, -3, 4)
	case ReturnTemperature:
		return rng(0x5C, -3, 4)
	case TemperatureDifference:
		return rng(0x60, -3, 4)
	case ExternalTemperature:
		return rng(0x64, -3, 4)
	case Pressure:
		return rng(0x68, -3, 4)
	case Date:
		return []byte{0x6C}, nil
	case DateTime:
		return []byte{0x6D}, nil
	case FabricationNumber:
		return []byte{0x78}, nil
	case BusAddress:
		return []byte{0x7A}, nil
	case ErrorFlags:
		return []byte{0xFD, 0x17}, nil
	case AccessNumber:
		return []byte{0xFD, 0x08}, nil
	case Manufacturer:
		return []byte{0x7F}, nil
	}
	return nil, fmt.Errorf("%w: no VIF for %s", ErrRecord, q)
}
