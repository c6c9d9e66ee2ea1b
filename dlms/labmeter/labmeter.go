// Package labmeter owns a small, fixed COSEM logical device: the objects a
// head-end or a DLMS tool reads first (clock, energy registers, load
// profile, disconnect control, invocation counter), with values that are
// deterministic from a serial number and the time. It is what `amigo dlms
// serve` puts on the wire, for interoperability checks and for trying a
// client against something that behaves like a meter without starting a
// whole simulated fleet.
package labmeter

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/obis"
)

// Well-known logical names of the device.
var (
	ClockLN             = obis.MustParse("0.0.1.0.0.255")
	LogicalDeviceNameLN = obis.MustParse("0.0.42.0.0.255")
	SerialLN            = obis.MustParse("0.0.96.1.0.255")
	InvocationCounterLN = obis.MustParse("0.0.43.1.0.255")
	ImportLN            = obis.MustParse("1.0.1.8.0.255")
	ExportLN            = obis.MustParse("1.0.2.8.0.255")
	PowerLN             = obis.MustParse("1.0.1.7.0.255")
	VoltageL1LN         = obis.MustParse("1.0.32.7.0.255")
	CurrentL1LN         = obis.MustParse("1.0.31.7.0.255")
	StatusLN            = obis.MustParse("0.0.96.10.1.255")
	LoadProfileLN       = obis.MustParse("1.0.99.1.0.255")
	DisconnectLN        = obis.MustParse("0.0.96.3.10.255")
)

// Unit codes from the COSEM unit table.
const (
	unitW  = 27
	unitWh = 30
	unitA  = 33
	unitV  = 35
)

// Config describes the device.
type Config struct {
	Serial string
	// Now is the meter's time source; default time.Now.
	Now func() time.Time
	// Interval is the load-profile capture period; default 15 minutes.
	Interval time.Duration
	// Days of load profile the buffer holds; default 10.
	Days int
	// TimeZone is the clock's deviation, UTC minus local in minutes.
	TimeZone int16
	// InvocationCounter reports the device's current send counter for
	// 0.0.43.1.0.255; nil serves 0.
	InvocationCounter func() uint32
}

// Meter is the device: its object tree and the arithmetic behind it.
type Meter struct {
	cfg  Config
	seed uint64
	Tree *objects.Tree
	// Disconnect is the relay, for tests and for wiring to events.
	Disconnect *objects.DisconnectControl
}

// New builds the device's object tree.
func New(cfg Config) (*Meter, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Minute
	}
	if cfg.Days <= 0 {
		cfg.Days = 10
	}
	if cfg.Serial == "" {
		cfg.Serial = "AMI00000001"
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Serial))
	m := &Meter{cfg: cfg, seed: h.Sum64()}

	clock := objects.NewClock(ClockLN, cfg.TimeZone)
	clock.Now = cfg.Now
	ic := objects.NewData(InvocationCounterLN, axdr.Uint32(0))
	ic.Read = func(context.Context) (axdr.Data, error) {
		if cfg.InvocationCounter == nil {
			return axdr.Uint32(0), nil
		}
		return axdr.Uint32(cfg.InvocationCounter()), nil
	}
	imp := objects.NewRegister(ImportLN, axdr.Uint32(0), axdr.ScalerUnit{Scaler: 0, Unit: unitWh})
	imp.Read = func(context.Context) (axdr.Data, error) {
		a, _ := m.registersAt(m.lastBoundary(cfg.Now()))
		return axdr.Uint32(uint32(a)), nil
	}
	exp := objects.NewRegister(ExportLN, axdr.Uint32(0), axdr.ScalerUnit{Scaler: 0, Unit: unitWh})
	exp.Read = func(context.Context) (axdr.Data, error) {
		_, e := m.registersAt(m.lastBoundary(cfg.Now()))
		return axdr.Uint32(uint32(e)), nil
	}
	power := objects.NewRegister(PowerLN, axdr.Uint32(0), axdr.ScalerUnit{Scaler: 0, Unit: unitW})
	power.Read = func(context.Context) (axdr.Data, error) {
		i := m.intervalIndex(cfg.Now())
		return axdr.Uint32(uint32(m.importWh(i) * int64(time.Hour/cfg.Interval))), nil
	}
	volt := objects.NewRegister(VoltageL1LN, axdr.Uint16(2300), axdr.ScalerUnit{Scaler: -1, Unit: unitV})
	volt.Read = func(context.Context) (axdr.Data, error) {
		return axdr.Uint16(uint16(2300 + int(m.noise(m.intervalIndex(cfg.Now()), 7)%60) - 30)), nil
	}
	curr := objects.NewRegister(CurrentL1LN, axdr.Uint16(0), axdr.ScalerUnit{Scaler: -2, Unit: unitA})
	curr.Read = func(context.Context) (axdr.Data, error) {
		w := m.importWh(m.intervalIndex(cfg.Now())) * int64(time.Hour/cfg.Interval)
		return axdr.Uint16(uint16(w * 100 / 230)), nil
	}
	status := objects.NewData(StatusLN, axdr.Uint8(0))
	m.Disconnect = objects.NewDisconnectControl(DisconnectLN, 1)
	m.Disconnect.State = 1 // connected

	cols := []cosem.CaptureObject{
		{ClassID: 8, LogicalName: ClockLN, Attribute: 2},
		{ClassID: 1, LogicalName: StatusLN, Attribute: 2},
		{ClassID: 3, LogicalName: ImportLN, Attribute: 2},
		{ClassID: 3, LogicalName: ExportLN, Attribute: 2},
	}
	entries := uint32(cfg.Days) * uint32(24*time.Hour/cfg.Interval)
	lp := objects.NewProfileGeneric(LoadProfileLN, cols, uint32(cfg.Interval/time.Second), entries, nil)
	lp.Buffer = func(ctx context.Context, sel cosem.Selection) ([]axdr.Data, error) {
		return sel.Apply(m.profileRows(), cols)
	}
	lp.EntriesInUse = func(context.Context) (uint32, error) { return entries, nil }
	lp.Reset = func(context.Context) error { return cosem.Errorf(3, "the lab meter's profile is computed, not stored") }
	lp.Capture = func(context.Context) error { return nil }

	tree, err := objects.NewTree(clock, ic,
		objects.NewData(LogicalDeviceNameLN, axdr.OctetString([]byte("AMI"+cfg.Serial))),
		objects.NewData(SerialLN, axdr.VisibleString(cfg.Serial)),
		imp, exp, power, volt, curr, status, m.Disconnect, lp)
	if err != nil {
		return nil, fmt.Errorf("labmeter: %w", err)
	}
	m.Tree = tree
	return m, nil
}

// intervalIndex numbers intervals from the Unix epoch, so the arithmetic
// is the same whatever the time zone.
func (m *Meter) intervalIndex(t time.Time) int64 {
	return t.Unix() / int64(m.cfg.Interval/time.Second)
}

func (m *Meter) lastBoundary(t time.Time) time.Time {
	return t.Truncate(m.cfg.Interval)
}

func (m *Meter) noise(i int64, salt uint64) uint64 {
	// splitmix64: a stateless hash, so any interval is computed alone.
	z := m.seed ^ uint64(i)*0x9E3779B97F4A7C15 ^ salt<<56
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// importWh is the energy drawn in interval i: a household's daily shape
// (night base, morning and evening peaks) plus noise.
func (m *Meter) importWh(i int64) int64 {
	per := int64(24 * time.Hour / m.cfg.Interval)
	hour := float64((i%per+per)%per) * 24 / float64(per)
	shape := 0.25 + 0.5*math.Exp(-math.Pow(hour-7.5, 2)/2) + 1.0*math.Exp(-math.Pow(hour-19, 2)/4)
	wh := shape * 400 * m.cfg.Interval.Hours()
	return int64(wh) + int64(m.noise(i, 1)%40)
}

// exportWh is a small midday PV feed-in.
func (m *Meter) exportWh(i int64) int64 {
	per := int64(24 * time.Hour / m.cfg.Interval)
	hour := float64((i%per+per)%per) * 24 / float64(per)
	if hour < 8 || hour > 18 {
		return 0
	}
	return int64(600*math.Sin(math.Pi*(hour-8)/10)*m.cfg.Interval.Hours()) + int64(m.noise(i, 2)%10)
}

// registersAt returns the cumulative registers at the interval boundary t:
// an initial reading from the seed plus every interval of the buffer
// window up to t, so the profile and the registers reconcile exactly.
func (m *Meter) registersAt(t time.Time) (imp, exp int64) {
	first := m.intervalIndex(m.windowStart())
	imp = int64(m.noise(0, 3) % 5_000_000)
	exp = int64(m.noise(0, 4) % 500_000)
	for i := first; i < m.intervalIndex(t); i++ {
		imp += m.importWh(i)
		exp += m.exportWh(i)
	}
	return imp, exp
}

func (m *Meter) windowStart() time.Time {
	return m.lastBoundary(m.cfg.Now()).Add(-time.Duration(m.cfg.Days) * 24 * time.Hour)
}

// profileRows are the buffer's entries, oldest first: each stamped with its
// interval's end, the status byte, and the registers at that end.
func (m *Meter) profileRows() []axdr.Data {
	start := m.windowStart()
	end := m.lastBoundary(m.cfg.Now())
	imp, exp := m.registersAt(start)
	n := int(end.Sub(start) / m.cfg.Interval)
	rows := make([]axdr.Data, 0, n)
	items := make([]axdr.Data, 4*n)
	for k := range n {
		i := m.intervalIndex(start) + int64(k)
		imp += m.importWh(i)
		exp += m.exportWh(i)
		stamp := start.Add(time.Duration(k+1) * m.cfg.Interval)
		row := items[4*k : 4*k+4 : 4*k+4]
		row[0] = axdr.DateTimeOctets(axdr.FromTime(stamp.In(m.zone()), 0))
		row[1] = axdr.Uint8(0)
		row[2] = axdr.Uint32(uint32(imp))
		row[3] = axdr.Uint32(uint32(exp))
		rows = append(rows, axdr.Structure(row...))
	}
	return rows
}

func (m *Meter) zone() *time.Location {
	return time.FixedZone("", -int(m.cfg.TimeZone)*60)
}
