package meter

import (
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// LinkClass describes a communication path to a meter, for the simulator's
// transport layer.
type LinkClass struct {
	Name           string
	Latency        time.Duration // one-way
	BytesPerSecond int
}

// The usual link classes.
var (
	LinkEthernet = LinkClass{Name: "ethernet", Latency: 5 * time.Millisecond, BytesPerSecond: 1_000_000}
	LinkLTEM     = LinkClass{Name: "lte-m", Latency: 150 * time.Millisecond, BytesPerSecond: 40_000}
	LinkGPRS     = LinkClass{Name: "gprs", Latency: 700 * time.Millisecond, BytesPerSecond: 5_000}
	LinkPLC      = LinkClass{Name: "plc-g3", Latency: 1500 * time.Millisecond, BytesPerSecond: 600}
)

// LinkShare weighs a link class in the fleet.
type LinkShare struct {
	Class  LinkClass
	Weight uint32
}

// Faults configures which fraction of the fleet misbehaves and how. Every
// choice is drawn from the seed per meter, so the same meters misbehave in
// every run. Fractions and probabilities are in [0, 1].
type Faults struct {
	Offline      float64 // never reachable
	Intermittent float64 // reachable only in some hour windows
	ReachableP   float64 // chance an intermittent meter is reachable in an hour window
	Links        []LinkShare

	OutagesPerYear float64 // mean power cuts per meter-year
	// OutageGroup makes meters id/OutageGroup share one outage schedule, as
	// a feeder cut takes a street down at once (a last-gasp storm).
	OutageGroup uint64

	Drifting    float64 // meters whose clock drifts
	MaxDriftPPM int32   // |drift| bound for them

	Tampering     float64 // meters that see tamper attempts
	TamperPerYear float64

	Theft      float64 // meters with a bypass
	MaxTheftPM int32   // bypass fraction bound, permille of load

	Garbage  float64 // meters whose firmware emits broken frames
	GarbageP float64 // chance per response

	PowerQualityPerYear float64 // sags and swells per meter-year
}

// DefaultFaults is a plausible mix: 1% offline, 4% intermittent, 1.5
// outages a year by streets of 50, 5% drifting clocks up to 40 ppm, 0.5%
// tamperers, 0.3% thieves, 0.2% broken firmware.
func DefaultFaults() Faults {
	return Faults{
		Offline: 0.01, Intermittent: 0.04, ReachableP: 0.6,
		Links:          []LinkShare{{LinkLTEM, 50}, {LinkGPRS, 30}, {LinkPLC, 15}, {LinkEthernet, 5}},
		OutagesPerYear: 1.5, OutageGroup: 50,
		Drifting: 0.05, MaxDriftPPM: 40,
		Tampering: 0.005, TamperPerYear: 4,
		Theft: 0.003, MaxTheftPM: 700,
		Garbage: 0.002, GarbageP: 0.2,
		PowerQualityPerYear: 6,
	}
}

// MeterFaults is the fault profile one meter drew from Faults.
type MeterFaults struct {
	Offline      bool
	Intermittent bool
	ReachablePPM uint32 // per hour window, parts per million (1e6 when not intermittent)
	Link         LinkClass
	DriftPPM     int32
	Tamper       bool
	TheftPM      int32     // bypassed share of load, permille
	TheftFrom    time.Time // when the bypass was installed
	Garbage      bool
}

const (
	saltPhases = 1000 + iota
	saltOffline
	saltIntermittent
	saltReach
	saltLink
	saltDrift
	saltDriftVal
	saltTamper
	saltTamperDay
	saltTamperKind
	saltTheft
	saltTheftVal
	saltGarbage
	saltGarbageFrame
	saltOutageDay
	saltOutageLen
	saltPQDay
	saltPQKind
	saltInitial
	saltInitialSplit
)

// ppm converts a probability to parts per million for integer comparison.
func ppm(p float64) uint64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1_000_000
	}
	return uint64(p * 1_000_000)
}

func (m *Meter) r(a, salt uint64) uint64 { return loadshape.Rand(m.f.Seed, m.id, a, salt) }

func chance(h uint64, p float64) bool { return h%1_000_000 < ppm(p) }

// Faults returns the meter's fault profile. It is derived, not stored.
func (m *Meter) Faults() MeterFaults {
	fc := &m.f.Faults
	mf := MeterFaults{ReachablePPM: 1_000_000}
	mf.Offline = chance(m.r(0, saltOffline), fc.Offline)
	if !mf.Offline && chance(m.r(0, saltIntermittent), fc.Intermittent) {
		mf.Intermittent = true
		mf.ReachablePPM = uint32(ppm(fc.ReachableP))
	}
	mf.Link = LinkLTEM
	var total uint64
	for _, l := range fc.Links {
		total += uint64(l.Weight)
	}
	if total > 0 {
		h := m.r(0, saltLink) % total
		for _, l := range fc.Links {
			if h < uint64(l.Weight) {
				mf.Link = l.Class
				break
			}
			h -= uint64(l.Weight)
		}
	}
	if fc.MaxDriftPPM > 0 && chance(m.r(0, saltDrift), fc.Drifting) {
		span := uint64(2*fc.MaxDriftPPM + 1)
		mf.DriftPPM = int32(m.r(0, saltDriftVal)%span) - fc.MaxDriftPPM
	}
	mf.Tamper = m.kind.Electric() && chance(m.r(0, saltTamper), fc.Tampering)
	if m.kind.Electric() && fc.MaxTheftPM > 0 && chance(m.r(0, saltTheft), fc.Theft) {
		h := m.r(0, saltTheftVal)
		mf.TheftPM = 100 + int32(h%uint64(max(fc.MaxTheftPM-99, 1)))
		days := int64(h>>32) % int64(m.f.HistoryDays)
		mf.TheftFrom = time.Unix(m.f.install+days*86400+int64(h>>12)%86400, 0).In(m.f.Location)
	}
	mf.Garbage = chance(m.r(0, saltGarbage), fc.Garbage)
	return mf
}

// Reachable reports whether the meter answers at now: not offline, not in a
// power cut, and for intermittent meters only in lucky hour windows.
func (m *Meter) Reachable(now time.Time) bool {
	mf := m.Faults()
	if mf.Offline || m.PoweredDown(now) {
		return false
	}
	if mf.Intermittent {
		return m.r(uint64(now.Unix()/3600), saltReach)%1_000_000 < uint64(mf.ReachablePPM)
	}
	return true
}

// FrameFault is how a faulty firmware spoils a response.
type FrameFault uint8

// The frame faults.
const (
	FrameOK FrameFault = iota
	FrameGarbage
	FrameTruncated
)

// FrameFaultFor tells the adapter whether response number n of the meter is
// spoiled; n is any per-meter counter (e.g. the send invocation counter).
func (m *Meter) FrameFaultFor(n uint64) FrameFault {
	if !m.Faults().Garbage {
		return FrameOK
	}
	h := m.r(n, saltGarbageFrame)
	if !chance(h, m.f.Faults.GarbageP) {
		return FrameOK
	}
	if h>>40&1 == 0 {
		return FrameGarbage
	}
	return FrameTruncated
}

// theftOverride sets the bypass from a moment on, overriding the seed.
type theftOverride struct {
	from int64
	pm   int32
}

// theftAt returns the bypassed permille of load at true time t.
func (m *Meter) theftAt(t int64, mf *MeterFaults) int64 {
	if m.st != nil && m.st.theft != nil && t >= m.st.theft.from {
		return int64(m.st.theft.pm)
	}
	if mf.TheftPM > 0 && t >= mf.TheftFrom.Unix() {
		return int64(mf.TheftPM)
	}
	return 0
}

// SetTheft installs (pm > 0) or removes (pm = 0) a bypass from now on; pm
// is the permille of load that goes around the meter.
func (m *Meter) SetTheft(now time.Time, pm int32) {
	pm = min(max(pm, 0), 1000)
	m.invalidateFrom(now.Unix())
	m.s().theft = &theftOverride{from: now.Unix(), pm: pm}
}

// Outage episodes: at most one a day per outage group, starting anywhere in
// the UTC day. Durations: 60% short interruptions (30 s - 3 min), 35% up to
// two hours, 5% long (2 - 8 h).
const maxOutage = 8 * 3600

func (m *Meter) outageGroup() uint64 {
	g := m.f.Faults.OutageGroup
	if g == 0 {
		g = 1
	}
	return m.id / g
}

// seedOutage returns the scheduled outage starting on UTC day d, if any.
func (m *Meter) seedOutage(d int64) (period, bool) {
	p := m.f.Faults.OutagesPerYear / 365
	if p <= 0 {
		return period{}, false
	}
	g := m.outageGroup()
	h := loadshape.Rand(m.f.Seed, g, uint64(d), saltOutageDay)
	if !chance(h, p) {
		return period{}, false
	}
	start := d*86400 + int64(h>>24)%86400
	l := loadshape.Rand(m.f.Seed, g, uint64(d), saltOutageLen)
	var dur int64
	switch c := l % 100; {
	case c < 60:
		dur = 30 + int64(l>>16)%150
	case c < 95:
		dur = 180 + int64(l>>16)%(7200-180)
	default:
		dur = 7200 + int64(l>>16)%(maxOutage-7200)
	}
	return period{start, start + dur}, true
}

// Outages returns the power cuts overlapping [from, to), scheduled and
// injected, in order. Cuts before installation are not reported.
func (m *Meter) Outages(from, to time.Time) []Outage {
	var out []Outage
	m.eachOutage(from.Unix(), to.Unix(), func(p period) {
		out = append(out, Outage{Start: time.Unix(p.from, 0).In(m.f.Location), End: time.Unix(p.to, 0).In(m.f.Location)})
	})
	return out
}

// Outage is a power cut in true time.
type Outage struct{ Start, End time.Time }

// eachOutage calls fn for outages overlapping [from, to), in start order.
// Scheduled outages of electricity meters only: gas and water meters run
// on batteries. With a Supply, its cuts replace the outage groups' draws;
// injected cuts apply either way.
func (m *Meter) eachOutage(from, to int64, fn func(period)) {
	var inj []period
	if m.st != nil {
		inj = m.st.outages
	}
	i := 0
	emit := func(p period) {
		for i < len(inj) && inj[i].from <= p.from {
			if inj[i].to > from && inj[i].from < to {
				fn(inj[i])
			}
			i++
		}
		fn(p)
	}
	if m.kind.Electric() && m.f.Supply != nil {
		lo := max(from, m.f.install)
		if lo < to {
			m.f.Supply.Cuts(m.id, lo, to, func(a, b int64) {
				if b > lo && a < to {
					emit(period{a, b})
				}
			})
		}
	} else if m.kind.Electric() {
		lo := max(from, m.f.install)
		for d := floorDiv(lo-maxOutage, 86400); d*86400 < to; d++ {
			if p, ok := m.seedOutage(d); ok && p.to > lo && p.from < to {
				emit(p)
			}
		}
	}
	for ; i < len(inj); i++ {
		if inj[i].to > from && inj[i].from < to {
			fn(inj[i])
		}
	}
}

// PowerCut injects an outage [from, to) (a simulator scenario, on top of
// the scheduled ones). from must not be before the latest state change.
func (m *Meter) PowerCut(from, to time.Time) {
	if !to.After(from) {
		return
	}
	m.invalidateFrom(from.Unix())
	s := m.s()
	p := period{from.Unix(), to.Unix()}
	i := len(s.outages)
	for i > 0 && s.outages[i-1].from > p.from {
		i--
	}
	s.outages = append(s.outages, period{})
	copy(s.outages[i+1:], s.outages[i:])
	s.outages[i] = p
}

// PoweredDown reports whether the meter is in a power cut at t.
func (m *Meter) PoweredDown(t time.Time) bool {
	u := t.Unix()
	down := false
	m.eachOutage(u, u+1, func(p period) {
		if p.from <= u && u < p.to {
			down = true
		}
	})
	return down
}

// Tamper kinds and their fraud log codes (detected, cleared).
type tamperKind uint8

const (
	tamperMagnetic tamperKind = iota
	tamperTerminalCover
	tamperMeterCover
)

var tamperCodes = [3][2]EventCode{
	tamperMagnetic:      {EventMagneticField, EventMagneticFieldGone},
	tamperTerminalCover: {EventTerminalCoverOpened, EventTerminalCoverClosed},
	tamperMeterCover:    {EventMeterCoverOpened, EventMeterCoverClosed},
}

const maxTamper = 48 * 3600

type tamperEp struct {
	period
	kind tamperKind
}

func (m *Meter) seedTamper(d int64, mf *MeterFaults) (tamperEp, bool) {
	if !mf.Tamper {
		return tamperEp{}, false
	}
	h := m.r(uint64(d), saltTamperDay)
	if !chance(h, m.f.Faults.TamperPerYear/365) {
		return tamperEp{}, false
	}
	k := m.r(uint64(d), saltTamperKind)
	start := d*86400 + int64(h>>24)%86400
	var ep tamperEp
	switch c := k % 10; {
	case c < 6:
		ep.kind = tamperMagnetic
		ep.period = period{start, start + 300 + int64(k>>16)%(12*3600)}
	case c < 9:
		ep.kind = tamperTerminalCover
		ep.period = period{start, start + 600 + int64(k>>16)%(maxTamper-600)}
	default:
		ep.kind = tamperMeterCover
		ep.period = period{start, start + 600 + int64(k>>16)%(maxTamper-600)}
	}
	return ep, true
}

// TamperState is what the tamper detectors report at an instant.
type TamperState struct {
	MagneticField     bool
	TerminalCoverOpen bool
	MeterCoverOpen    bool
}

// Tamper returns the tamper detector states at t.
func (m *Meter) Tamper(t time.Time) TamperState {
	var ts TamperState
	mf := m.Faults()
	u := t.Unix()
	for d := floorDiv(u-maxTamper, 86400); d <= floorDiv(u, 86400); d++ {
		if ep, ok := m.seedTamper(d, &mf); ok && ep.from <= u && u < ep.to && ep.from >= m.f.install {
			switch ep.kind {
			case tamperMagnetic:
				ts.MagneticField = true
			case tamperTerminalCover:
				ts.TerminalCoverOpen = true
			case tamperMeterCover:
				ts.MeterCoverOpen = true
			}
		}
	}
	return ts
}

// Power quality: sags and swells are regional like outages, on one phase,
// lasting 1 s to 3 min.
type pqEp struct {
	at    int64
	dur   int64
	code  EventCode
	phase int
	// exact and depthPM are a Supply's disturbance as it was (zero for
	// the seed's own episodes).
	exact   time.Duration
	depthPM int32
}

// eachPQ calls fn for the sags and swells the meter sees starting in
// [from, to), in order: a Supply's disturbances on the meter's phases
// when the fleet has one (a single-phase meter sees phase 1 only), the
// seed's regional episodes otherwise.
func (m *Meter) eachPQ(from, to int64, fn func(pqEp)) {
	if !m.kind.Electric() || from >= to {
		return
	}
	if sup := m.f.Supply; sup != nil {
		sup.Disturbances(m.id, from, to, func(d Disturbance) {
			if d.Phase < 1 || d.Phase > 3 || (d.Phase > 1 && m.kind != Electricity3P) {
				return
			}
			ep := pqEp{at: d.At, dur: int64((d.Dur + time.Second - 1) / time.Second), phase: d.Phase - 1, exact: d.Dur, depthPM: d.DepthPM}
			ep.code = EventUnderVoltageL1 + EventCode(ep.phase)
			if d.DepthPM > 0 {
				ep.code = EventOverVoltageL1 + EventCode(ep.phase)
			}
			fn(ep)
		})
		return
	}
	if m.f.Faults.PowerQualityPerYear <= 0 {
		return
	}
	for d := floorDiv(from, 86400); d*86400 < to; d++ {
		if ep, ok := m.seedPQ(d); ok && ep.at >= from && ep.at < to {
			fn(ep)
		}
	}
}

func (m *Meter) seedPQ(d int64) (pqEp, bool) {
	if !m.kind.Electric() {
		return pqEp{}, false
	}
	g := m.outageGroup()
	h := loadshape.Rand(m.f.Seed, g, uint64(d), saltPQDay)
	if !chance(h, m.f.Faults.PowerQualityPerYear/365) {
		return pqEp{}, false
	}
	k := loadshape.Rand(m.f.Seed, g, uint64(d), saltPQKind)
	phase := 0
	if m.kind == Electricity3P {
		phase = int(k>>8) % 3
	}
	code := EventCode(EventUnderVoltageL1 + EventCode(phase))
	if k%10 >= 7 {
		code = EventCode(EventOverVoltageL1 + EventCode(phase))
	}
	return pqEp{at: d*86400 + int64(h>>24)%86400, dur: 1 + int64(k>>16)%180, code: code, phase: phase}, true
}
