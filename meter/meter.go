// Package meter owns the protocol-neutral virtual meter of the fleet
// simulator: what a real electricity, gas or water meter would hold and
// report (registers, load and billing profiles, event logs, relay, clock,
// security counters), for 100,000+ meters in one process.
//
// A Meter stores only compact mutable state; everything a real meter
// accumulates over time (registers, profiles, outages, tamper episodes) is
// derived on demand from the fleet seed through package loadshape and the
// seed-based schedules here. Idle meters cost a few dozen bytes and no
// goroutine: the simulator asks NextEvent when a meter next needs
// attention. Every method that depends on time takes the simulated "now";
// nothing reads the wall clock.
//
// Invariants the model keeps exactly, in integers: each register is its
// initial value plus the sum of 15-minute steps since installation; the
// four TOU registers sum to the total; a profile entry's interval value is
// the difference of its cumulative registers and the previous entry's; a
// daily billing snapshot is the register at the day's capture. Steps are
// local-day aligned, so DST days have 92 or 100 of them.
//
// The package knows nothing about DLMS/COSEM encodings; an adapter maps
// these values onto objects and OBIS codes.
package meter

import (
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// Kind is what a meter measures and how it is wired.
type Kind uint8

// The meter kinds.
const (
	Electricity1P Kind = iota + 1
	Electricity3P
	Gas
	Water
)

// String returns a short name.
func (k Kind) String() string {
	switch k {
	case Electricity1P:
		return "electricity-1p"
	case Electricity3P:
		return "electricity-3p"
	case Gas:
		return "gas"
	case Water:
		return "water"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Electric reports whether the meter measures electricity.
func (k Kind) Electric() bool { return k == Electricity1P || k == Electricity3P }

// Fleet is the configuration shared by every meter of a simulated fleet.
// Meters keep a pointer to it; do not modify a Fleet once meters exist.
type Fleet struct {
	Seed     uint64
	Location *time.Location // meters' time zone
	// Install is when every meter was installed: local midnight at the
	// start of the history window. Registers start from a seed-derived
	// initial value there.
	Install         time.Time
	HistoryDays     int           // how far back profiles and logs reach (>= 60 recommended)
	ProfileInterval time.Duration // electricity load profile period, multiple of 15 min
	VolumeInterval  time.Duration // gas/water profile period, multiple of 15 min
	DemandPeriod    time.Duration // maximum demand integration period, multiple of 15 min
	Tariff          *Tariff
	Mix             loadshape.Mix
	Grid            loadshape.Grid
	Faults          Faults
	ControlMode     ControlMode // initial disconnect control mode of new meters
	SerialPrefix    string      // three-letter manufacturer flag for serials
	// ClockShiftLimit is the clock correction beyond which a profile entry
	// is flagged data-not-valid as well as clock-adjusted.
	ClockShiftLimit time.Duration
	LLSMaxFailures  int           // consecutive LLS failures before lockout
	LLSLockout      time.Duration // lockout duration
	CounterBlock    uint32        // send invocation counters reserved per Persist call
	Persister       Persister     // stores invocation counters; nil: not persisted
	// Horizon bounds how far NextEvent looks ahead before returning a
	// plain wake-up.
	Horizon time.Duration

	// ButtonDelay is the longest a household takes to press the button
	// of a meter armed for reconnection; each press comes at a delay
	// drawn from the seed, at least MinButtonDelay (0: nobody presses,
	// only PressButton does).
	ButtonDelay time.Duration

	// Supply is the distribution network behind the meters (nil: the
	// fleet's own outage groups and regional voltage). When set, it
	// decides the power cuts, which last gasps get out, the false ones,
	// and the supply voltage.
	Supply Supply

	installDay int64
	install    int64
	steps      int64 // profile interval in steps
	volSteps   int64
	demSteps   int64
}

// ErrConfig reports an invalid fleet configuration.
var ErrConfig = errors.New("meter: invalid fleet configuration")

// NewFleet returns a fleet with defaults: Europe-style grid, 15-minute
// profiles and demand, hourly gas/water profiles, a two-rate tariff, the
// default archetype mix and faults, 60 days of history ending at start.
func NewFleet(seed uint64, loc *time.Location, start time.Time) *Fleet {
	f := &Fleet{
		Seed:            seed,
		Location:        loc,
		HistoryDays:     60,
		ProfileInterval: 15 * time.Minute,
		VolumeInterval:  time.Hour,
		DemandPeriod:    15 * time.Minute,
		Tariff:          NewTariff(TwoRateCalendar()),
		Mix:             loadshape.DefaultMix(),
		Grid:            loadshape.GridEU,
		Faults:          DefaultFaults(),
		ControlMode:     1,
		ButtonDelay:     30 * time.Minute,
		SerialPrefix:    "AMG",
		ClockShiftLimit: 9 * time.Second,
		LLSMaxFailures:  3,
		LLSLockout:      15 * time.Minute,
		CounterBlock:    1000,
		Horizon:         7 * 24 * time.Hour,
	}
	y, m, d := start.In(loc).Date()
	f.Install = time.Date(y, m, d-f.HistoryDays, 0, 0, 0, 0, loc)
	return f
}

// Prepare validates the configuration and derives internal constants. It
// is called by NewMeter; call it after editing a fresh Fleet.
func (f *Fleet) Prepare() error {
	if f.Location == nil {
		return fmt.Errorf("%w: nil Location", ErrConfig)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ProfileInterval", f.ProfileInterval}, {"VolumeInterval", f.VolumeInterval}, {"DemandPeriod", f.DemandPeriod}} {
		if d.v <= 0 || d.v%loadshape.Step != 0 || (24*time.Hour)%d.v != 0 {
			return fmt.Errorf("%w: %s %v must be a multiple of %v dividing a day", ErrConfig, d.name, d.v, loadshape.Step)
		}
	}
	if f.HistoryDays < 1 {
		return fmt.Errorf("%w: HistoryDays %d", ErrConfig, f.HistoryDays)
	}
	if f.ControlMode > 6 {
		return fmt.Errorf("%w: ControlMode %d", ErrConfig, f.ControlMode)
	}
	if f.Tariff != nil {
		for t := f.Tariff; t != nil; t = t.Prev {
			if err := t.Calendar.Validate(); err != nil {
				return fmt.Errorf("%w: %v", ErrConfig, err)
			}
		}
	}
	if f.Horizon <= 0 {
		f.Horizon = 7 * 24 * time.Hour
	}
	if f.CounterBlock == 0 {
		f.CounterBlock = 1
	}
	f.installDay = dayOf(f.Install.Unix(), f.Location)
	f.install = midnight(f.installDay, f.Location)
	f.steps = int64(f.ProfileInterval / loadshape.Step)
	f.volSteps = int64(f.VolumeInterval / loadshape.Step)
	f.demSteps = int64(f.DemandPeriod / loadshape.Step)
	return nil
}

// DefaultKind picks a kind for an electricity meter id: commercial
// customers and a quarter of households are three-phase.
func (f *Fleet) DefaultKind(id uint64) Kind {
	a := f.Mix.ArchetypeFor(f.Seed, id)
	if a == loadshape.Commercial || loadshape.Rand(f.Seed, id, 0, saltPhases)%4 == 0 {
		return Electricity3P
	}
	return Electricity1P
}

// Meter is one virtual meter. Its zero-cost identity and configuration
// live in the shared Fleet; the pointer st is allocated on the first state
// change, so an untouched meter is a few words.
type Meter struct {
	f    *Fleet
	id   uint64
	kind Kind
	arch loadshape.Archetype
	st   *state
}

// state is everything a meter accumulates through interaction. Each part
// is created on first use.
type state struct {
	cache   *regCache
	clock   []clockSeg
	relay   relayState
	tariff  *Tariff // per-meter calendar chain; nil: the fleet's
	theft   *theftOverride
	outages []period // injected by the simulator, true unix seconds
	logs    [numLogs][]storedEvent
	logPos  [numLogs]uint16
	md      *maxDemand
	sec     *security
	subs    []uint64
	dr      *Signals // demand-response signals; nil: none
}

// NewMeter creates a meter of the fleet. It allocates nothing beyond the
// Meter itself.
func (f *Fleet) NewMeter(id uint64, kind Kind) (*Meter, error) {
	if f.steps == 0 {
		if err := f.Prepare(); err != nil {
			return nil, err
		}
	}
	if kind < Electricity1P || kind > Water {
		return nil, fmt.Errorf("meter %d: unknown kind %d", id, kind)
	}
	return &Meter{f: f, id: id, kind: kind, arch: f.Mix.ArchetypeFor(f.Seed, id)}, nil
}

// ID returns the meter's numeric id (its key in the fleet).
func (m *Meter) ID() uint64 { return m.id }

// Kind returns what the meter measures.
func (m *Meter) Kind() Kind { return m.kind }

// Fleet returns the shared configuration.
func (m *Meter) Fleet() *Fleet { return m.f }

// Archetype returns the customer archetype behind the meter's consumption.
func (m *Meter) Archetype() loadshape.Archetype { return m.arch }

// Serial returns the equipment identifier, derived from the id: the
// manufacturer flag, a kind digit and ten digits.
func (m *Meter) Serial() string {
	return fmt.Sprintf("%s%d%010d", m.f.SerialPrefix, m.kind, m.id%10_000_000_000)
}

// Phases returns 3 for a three-phase meter, else 1 (0 for gas and water).
func (m *Meter) Phases() int {
	switch m.kind {
	case Electricity3P:
		return 3
	case Electricity1P:
		return 1
	}
	return 0
}

// Installed returns the installation instant (local midnight).
func (m *Meter) Installed() time.Time { return time.Unix(m.f.install, 0).In(m.f.Location) }

func (m *Meter) s() *state {
	if m.st == nil {
		m.st = &state{}
		m.st.relay.state = Connected
		m.st.relay.mode = m.f.ControlMode
	}
	return m.st
}

// Trim releases the register caches of a meter that is no longer being
// read, returning it to its idle footprint (mutable state is kept).
func (m *Meter) Trim() {
	if m.st != nil {
		m.st.cache = nil
	}
}

// Attach records a sub-meter (gas, water) on the next free M-Bus channel of
// an electricity meter. Channels are numbered 1..4 in attach order.
func (m *Meter) Attach(sub *Meter) (channel int, err error) {
	if !m.kind.Electric() || sub.kind.Electric() {
		return 0, fmt.Errorf("meter %d: attach %d: only gas/water meters attach to an electricity meter", m.id, sub.id)
	}
	s := m.s()
	for i, id := range s.subs {
		if id == sub.id {
			return i + 1, nil
		}
	}
	if len(s.subs) >= 4 {
		return 0, fmt.Errorf("meter %d: attach %d: all 4 M-Bus channels in use", m.id, sub.id)
	}
	s.subs = append(s.subs, sub.id)
	return len(s.subs), nil
}

// SubMeters returns the ids of attached sub-meters, index i on channel i+1.
func (m *Meter) SubMeters() []uint64 {
	if m.st == nil {
		return nil
	}
	return append([]uint64(nil), m.st.subs...)
}

// period is a half-open true-time span [from, to) in unix seconds.
type period struct{ from, to int64 }

const forever = int64(1) << 62

const stepSec = int64(loadshape.Step / time.Second)

// civil returns the days since 1970-01-01 of a proleptic Gregorian date.
func civil(y int, m time.Month, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func fromCivil(z int64) (int, time.Month, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func dayOf(t int64, loc *time.Location) int64 {
	y, m, d := time.Unix(t, 0).In(loc).Date()
	return civil(y, m, d)
}

func midnight(day int64, loc *time.Location) int64 {
	y, m, d := fromCivil(day)
	return time.Date(y, m, d, 0, 0, 0, 0, loc).Unix()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorStep(t int64) int64 { return floorDiv(t, stepSec) * stepSec }
