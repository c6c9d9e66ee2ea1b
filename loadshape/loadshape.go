// Package loadshape owns the synthetic consumption model of the fleet
// simulator: how much energy, gas or water a virtual meter measures in any
// interval, as a pure function of (fleet seed, meter id, interval start).
//
// Nothing here keeps state. Randomness comes from a counter-based hash (a
// splitmix64 finaliser over seed, meter and a time index), so any interval
// of any meter is computed in O(1) without replaying a stream, and the same
// inputs give the same integers on every run and every architecture: the
// model uses integer arithmetic only (no floating point, no transcendental
// functions whose last bit may differ between platforms).
//
// Local time matters (people wake up at 07:00 local, the sun peaks around
// 12:30 standard time), so every function reads wall-clock fields from the
// Location carried by the time.Time it is given: pass times in the meter's
// zone.
//
// Integer rounding happens once per 15-minute step ([Step]); longer
// intervals are exact sums of their steps, so registers built from step
// values reconcile with any coarser profile exactly.
package loadshape

import (
	"fmt"
	"time"
)

// Step is the granularity at which the model rounds energy to integers.
// Every aligned interval that is a multiple of Step is the exact sum of its
// steps.
const Step = 15 * time.Minute

const stepSec = int64(Step / time.Second)

// Archetype is a kind of customer with its own consumption pattern.
type Archetype uint8

// The archetypes. Households differ in size and occupancy; Prosumer is a
// family with rooftop PV; EVOwner is a working couple charging a car at
// home; Commercial is a small office or shop.
const (
	SinglePerson Archetype = iota
	WorkingCouple
	Family
	Retired
	Prosumer
	EVOwner
	Commercial
	// NumArchetypes is the number of archetypes, for arrays indexed by them.
	NumArchetypes
)

var archetypeNames = [NumArchetypes]string{"single", "couple", "family", "retired", "prosumer", "ev", "commercial"}

// String returns a short lower-case name.
func (a Archetype) String() string {
	if a < NumArchetypes {
		return archetypeNames[a]
	}
	return fmt.Sprintf("archetype(%d)", uint8(a))
}

// ParseArchetype is the inverse of Archetype.String.
func ParseArchetype(s string) (Archetype, error) {
	for i, n := range archetypeNames {
		if n == s {
			return Archetype(i), nil
		}
	}
	return 0, fmt.Errorf("loadshape: unknown archetype %q", s)
}

// HasPV reports whether the archetype exports solar energy.
func (a Archetype) HasPV() bool { return a == Prosumer }

// Energy is what one interval measured, in integer units. Import and export
// are net of each other within the interval (a prosumer either imports or
// exports in a given step, as a net-metering register would see it).
type Energy struct {
	ImportWh   int64 // active energy A+ (OBIS 1.8.0)
	ExportWh   int64 // active energy A- (OBIS 2.8.0)
	ImportVarh int64 // reactive energy R+ (OBIS 3.8.0)
	ExportVarh int64 // reactive energy R- (OBIS 4.8.0)
}

// Add returns e+o.
func (e Energy) Add(o Energy) Energy {
	return Energy{e.ImportWh + o.ImportWh, e.ExportWh + o.ExportWh, e.ImportVarh + o.ImportVarh, e.ExportVarh + o.ExportVarh}
}

// Sub returns e-o.
func (e Energy) Sub(o Energy) Energy {
	return Energy{e.ImportWh - o.ImportWh, e.ExportWh - o.ExportWh, e.ImportVarh - o.ImportVarh, e.ExportVarh - o.ExportVarh}
}

// Scale returns e*num/den per field, truncated toward zero. The meter uses it
// for partial steps (power cut mid-step, theft bypass).
func (e Energy) Scale(num, den int64) Energy {
	if den == 0 {
		return Energy{}
	}
	return Energy{e.ImportWh * num / den, e.ExportWh * num / den, e.ImportVarh * num / den, e.ExportVarh * num / den}
}

// Mix is a fleet composition: relative weights per archetype.
type Mix [NumArchetypes]uint32

// DefaultMix is 70% households (split over the four household kinds), 15%
// prosumers, 8% EV owners and 7% commercial.
func DefaultMix() Mix {
	return Mix{SinglePerson: 20, WorkingCouple: 20, Family: 18, Retired: 12, Prosumer: 15, EVOwner: 8, Commercial: 7}
}

// ArchetypeFor picks the archetype of a meter from the mix. A zero mix
// falls back to DefaultMix.
func (m Mix) ArchetypeFor(seed, meter uint64) Archetype {
	var total uint64
	for _, w := range m {
		total += uint64(w)
	}
	if total == 0 {
		return DefaultMix().ArchetypeFor(seed, meter)
	}
	r := Rand(seed, meter, 0, saltArchetype) % total
	for i, w := range m {
		if r < uint64(w) {
			return Archetype(i)
		}
		r -= uint64(w)
	}
	return NumArchetypes - 1
}

// ArchetypeFor picks a meter's archetype with the DefaultMix.
func ArchetypeFor(seed, meter uint64) Archetype { return DefaultMix().ArchetypeFor(seed, meter) }

// Salts separate the random streams so that, say, the noise of an interval
// and the EV session of the same day are independent.
const (
	saltArchetype = iota + 1
	saltScale
	saltNoise
	saltSpike
	saltEVDay
	saltEVStart
	saltEVLen
	saltEVPower
	saltPVSize
	saltCloudDay
	saltCloudHour
	saltPVNoise
	saltGasScale
	saltWaterScale
	saltVoltage
	saltFreq
	saltPhase
	saltCurrent
	saltInitial
)

// Rand is the counter-based generator every random choice in the simulator
// derives from: a splitmix64 finaliser chained over its inputs. It is
// exported so the meter model draws faults and schedules from the same
// family of streams; use distinct salts for distinct purposes.
func Rand(seed, a, b, salt uint64) uint64 {
	h := mix64(seed ^ (salt+1)*0x9e3779b97f4a7c15)
	h = mix64(h ^ a)
	return mix64(h ^ b*0xd1b54a32d192ed03)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// uniform maps a hash onto [lo, hi].
func uniform(h uint64, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + int64(h%uint64(hi-lo+1))
}

// Interval returns the energy a meter of the given archetype measures in
// [start, start+length). The local time of day is taken from start's
// Location. Aligned multiples of Step are the exact sum of their steps;
// other lengths are evaluated at the midpoint power and rounded once.
func Interval(seed, meter uint64, a Archetype, start time.Time, length time.Duration) Energy {
	if length <= 0 {
		return Energy{}
	}
	if length%Step == 0 && start.Unix()%stepSec == 0 && start.Nanosecond() == 0 {
		var e Energy
		for t, end := start, start.Add(length); t.Before(end); t = t.Add(Step) {
			e = e.Add(step(seed, meter, a, t))
		}
		return e
	}
	imp, exp := power(seed, meter, a, start.Add(length/2))
	ms := int64(length / time.Millisecond)
	impWms := imp * ms
	if a == EVOwner {
		impWms += evEnergyMWs(seed, meter, start, length)
	}
	return toEnergy(a, impWms, exp*ms)
}

// step is one rounded 15-minute value, the atom every register is built of.
func step(seed, meter uint64, a Archetype, start time.Time) Energy {
	imp, exp := power(seed, meter, a, start.Add(Step/2))
	ms := int64(Step / time.Millisecond)
	impWms := imp * ms
	if a == EVOwner {
		impWms += evEnergyMWs(seed, meter, start, Step)
	}
	return toEnergy(a, impWms, exp*ms)
}

// toEnergy converts W·ms to Wh (rounded half up) and derives reactive energy
// from the archetype's power factor.
func toEnergy(a Archetype, impWms, expWms int64) Energy {
	const whInWms = 3600 * 1000
	e := Energy{ImportWh: (impWms + whInWms/2) / whInWms, ExportWh: (expWms + whInWms/2) / whInWms}
	p := params[a]
	e.ImportVarh = (e.ImportWh*p.tanImp + 500) / 1000
	e.ExportVarh = (e.ExportWh*p.tanExp + 500) / 1000
	return e
}

// PowerAt returns the net import and export power in W around t (the
// step-average power of the step containing t), the basis of
// instantaneous values.
func PowerAt(seed, meter uint64, a Archetype, t time.Time) (importW, exportW int64) {
	s := t.Truncate(Step)
	e := step(seed, meter, a, s)
	return e.ImportWh * 4, e.ExportWh * 4
}

// bump is a smooth daily peak: a biweight kernel centred on a minute of the
// day.
type bump struct {
	center, width, amp int64 // minutes, minutes, W
}

type archParams struct {
	baseW     int64 // always-on load (fridge, standby)
	weekday   []bump
	weekend   []bump
	lightW    int64 // extra evening lighting at midwinter
	heatW     int64 // extra daytime heating/pumps at midwinter
	coolW     int64 // summer afternoon cooling
	spikeW    int64 // size of random appliance spikes (kettle, oven, washer)
	spikePM   uint64
	scaleLo   int64 // per-meter size factor range, permille
	scaleHi   int64
	tanImp    int64 // tan(phi) of the load, permille (pf 0.95 -> 329)
	tanExp    int64 // tan(phi) while exporting
	office    bool
	pvWattsLo int64
	pvWattsHi int64
}

var params = [NumArchetypes]archParams{
	SinglePerson: {baseW: 70, weekday: []bump{{7*60 + 15, 60, 450}, {19 * 60, 150, 650}},
		weekend: []bump{{9*60 + 30, 120, 400}, {13 * 60, 120, 250}, {19 * 60, 180, 600}},
		lightW:  120, heatW: 60, coolW: 30, spikeW: 1800, spikePM: 40, scaleLo: 650, scaleHi: 1300, tanImp: 329},
	WorkingCouple: {baseW: 110, weekday: []bump{{6*60 + 45, 75, 800}, {19 * 60, 180, 1100}},
		weekend: []bump{{9 * 60, 150, 700}, {13 * 60, 150, 500}, {18*60 + 30, 180, 1000}},
		lightW:  180, heatW: 100, coolW: 60, spikeW: 2000, spikePM: 60, scaleLo: 700, scaleHi: 1350, tanImp: 329},
	Family: {baseW: 160, weekday: []bump{{7 * 60, 90, 1100}, {12*60 + 30, 180, 300}, {18*60 + 30, 210, 1500}},
		weekend: []bump{{9 * 60, 180, 1000}, {13 * 60, 180, 800}, {18*60 + 30, 210, 1500}},
		lightW:  250, heatW: 150, coolW: 80, spikeW: 2200, spikePM: 90, scaleLo: 750, scaleHi: 1400, tanImp: 329},
	Retired: {baseW: 100, weekday: []bump{{8 * 60, 150, 500}, {12*60 + 30, 150, 600}, {18 * 60, 180, 700}},
		weekend: []bump{{8*60 + 30, 150, 500}, {12*60 + 30, 150, 650}, {18 * 60, 180, 700}},
		lightW:  200, heatW: 200, coolW: 60, spikeW: 1800, spikePM: 50, scaleLo: 700, scaleHi: 1250, tanImp: 329},
	Prosumer: {baseW: 160, weekday: []bump{{7 * 60, 90, 1000}, {18*60 + 30, 210, 1400}},
		weekend: []bump{{9 * 60, 180, 900}, {13 * 60, 180, 700}, {18*60 + 30, 210, 1400}},
		lightW:  250, heatW: 250, coolW: 80, spikeW: 2200, spikePM: 80, scaleLo: 750, scaleHi: 1400, tanImp: 329, tanExp: 100,
		pvWattsLo: 2500, pvWattsHi: 7000},
	EVOwner: {baseW: 120, weekday: []bump{{6*60 + 45, 75, 850}, {19 * 60, 180, 1200}},
		weekend: []bump{{9 * 60, 150, 750}, {13 * 60, 150, 550}, {18*60 + 30, 180, 1100}},
		lightW:  180, heatW: 120, coolW: 60, spikeW: 2000, spikePM: 60, scaleLo: 750, scaleHi: 1300, tanImp: 250},
	Commercial: {baseW: 2500, lightW: 1500, heatW: 2500, coolW: 3500, spikeW: 4000, spikePM: 30,
		scaleLo: 600, scaleHi: 4000, tanImp: 540, office: true},
}

// localClock returns minute of day, ISO weekday (0 = Monday), day of year
// (0-based) and whether DST is in force at t in t's Location.
func localClock(t time.Time) (minute, weekday, yday int64, dst bool) {
	h, m, _ := t.Clock()
	wd := (int64(t.Weekday()) + 6) % 7
	return int64(h*60 + m), wd, int64(t.YearDay() - 1), t.IsDST()
}

// kernel is the biweight (1-(d/w)^2)^2 in permille for a circular minute
// distance, 0 outside the width.
func kernel(minute, center, width int64) int64 {
	d := minute - center
	if d < 0 {
		d = -d
	}
	if d > 720 {
		d = 1440 - d
	}
	if d >= width {
		return 0
	}
	u := (width*width - d*d) * 1000 / (width * width) // permille
	return u * u / 1000
}

// winter returns how wintry a day of the year is, 0 (mid-July) to 1000
// (mid-January), a smoothstep approximation of a cosine for the northern
// hemisphere.
func winter(yday int64) int64 {
	d := yday - 15
	if d < 0 {
		d = -d
	}
	if d > 182 {
		d = 365 - d
	}
	if d > 182 {
		d = 182
	}
	x := d * 1000 / 182 // 0..1000
	s := x * x / 1000 * (3000 - 2*x) / 1000
	return 1000 - s
}

// power returns the step-average import and export power in W for the
// interval around mid (a midpoint). EV charging is added by the caller,
// since a session's edges need exact overlap, not a midpoint sample.
func power(seed, meter uint64, a Archetype, mid time.Time) (imp, exp int64) {
	p := &params[a]
	minute, wd, yday, _ := localClock(mid)
	weekend := wd >= 5
	win := winter(yday)
	idx := uint64(mid.Unix() / stepSec)

	var w int64
	if p.office {
		w = officeLoad(p, minute, weekend, win)
	} else {
		w = p.baseW
		bumps := p.weekday
		if weekend {
			bumps = p.weekend
		}
		for _, b := range bumps {
			w += b.amp * kernel(minute, b.center, b.width) / 1000
		}
		// Winter evenings are dark earlier and the heating runs longer.
		w += p.lightW * win / 1000 * kernel(minute, 19*60, 270) / 1000
		w += p.heatW * win / 1000 * kernel(minute, 14*60, 600) / 1000
		w += p.coolW * (1000 - win) / 1000 * kernel(minute, 15*60, 240) / 1000
		// Appliances switch on more often while people are awake.
		if minute >= 6*60 && minute < 23*60 {
			if h := Rand(seed, meter, idx, saltSpike); h%1000 < p.spikePM {
				w += uniform(h>>20, p.spikeW/2, p.spikeW)
			}
		}
	}
	scale := uniform(Rand(seed, meter, 0, saltScale), p.scaleLo, p.scaleHi)
	noise := uniform(Rand(seed, meter, idx, saltNoise), 850, 1150)
	w = w * scale / 1000 * noise / 1000

	if a.HasPV() {
		pv := solar(seed, meter, mid, minute, yday)
		w -= pv
	}
	if w >= 0 {
		return w, 0
	}
	return 0, -w
}

func officeLoad(p *archParams, minute int64, weekend bool, win int64) int64 {
	w := p.baseW
	if !weekend {
		// Ramps 07:00-09:00 up and 17:00-19:00 down around a plateau.
		var occ int64
		switch {
		case minute < 7*60 || minute >= 19*60:
			occ = 0
		case minute < 9*60:
			occ = (minute - 7*60) * 1000 / 120
		case minute < 17*60:
			occ = 1000
		default:
			occ = (19*60 - minute) * 1000 / 120
		}
		occ = occ * occ / 1000 * (3000 - 2*occ) / 1000 // smoothstep
		w += (5000 + p.lightW*win/1000 + p.heatW*win/1000) * occ / 1000
		w += p.coolW * (1000 - win) / 1000 * kernel(minute, 15*60, 300) / 1000 * occ / 1000
	} else {
		w += p.heatW * win / 4000
	}
	return w
}

// solar returns the PV output in W. Cloudiness is regional (keyed on the
// seed and time only) so neighbouring prosumers see the same weather, with
// a little per-panel noise on top.
func solar(seed, meter uint64, mid time.Time, minute, yday int64) int64 {
	p := &params[Prosumer]
	kwp := uniform(Rand(seed, meter, 0, saltPVSize), p.pvWattsLo, p.pvWattsHi)
	if mid.IsDST() {
		minute -= 60 // the sun keeps standard time
	}
	summer := 1000 - winter(yday)
	half := 255 + 240*summer/1000 // half the day length in minutes
	d := minute - (12*60 + 30)
	if d < 0 {
		d = -d
	}
	if d >= half {
		return 0
	}
	u := (half*half - d*d) * 1000 / (half * half)
	shape := u * (u + 1000) / 2000
	peak := 250 + 650*summer/1000
	day := uint64(mid.Unix() / 86400)
	hour := uint64(mid.Unix() / 3600)
	clear := uniform(Rand(seed, 0, day, saltCloudDay), 150, 1000)
	hourly := uniform(Rand(seed, 0, hour, saltCloudHour), 650, 1000)
	noise := uniform(Rand(seed, meter, uint64(mid.Unix()/stepSec), saltPVNoise), 950, 1050)
	w := kwp * peak / 1000 * shape / 1000
	w = w * clear / 1000 * hourly / 1000 * noise / 1000
	return w
}

// EVSession returns the charging session that starts on the local day
// containing t, if any: its start, end and charging power in W.
func EVSession(seed, meter uint64, t time.Time) (start, end time.Time, watts int64, ok bool) {
	y, m, d := t.Date()
	day := uint64(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Unix() / 86400)
	h := Rand(seed, meter, day, saltEVDay)
	wd := (int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
	prob := uint64(450)
	if wd >= 5 {
		prob = 300
	}
	if h%1000 >= prob {
		return time.Time{}, time.Time{}, 0, false
	}
	startMin := uniform(Rand(seed, meter, day, saltEVStart), 17*60+30, 21*60)
	length := uniform(Rand(seed, meter, day, saltEVLen), 90, 300)
	powers := [...]int64{3700, 7400, 7400, 11000}
	watts = powers[Rand(seed, meter, 0, saltEVPower)%uint64(len(powers))]
	start = time.Date(y, m, d, int(startMin/60), int(startMin%60), 0, 0, t.Location())
	return start, start.Add(time.Duration(length) * time.Minute), watts, true
}

// evEnergyMWs returns the charging energy in W·ms within [from, from+length):
// sessions of this day and the previous one (sessions cross midnight).
func evEnergyMWs(seed, meter uint64, from time.Time, length time.Duration) int64 {
	to := from.Add(length)
	var total int64
	for _, day := range [2]time.Time{from, from.AddDate(0, 0, -1)} {
		s, e, w, ok := EVSession(seed, meter, day)
		if !ok || !e.After(from) || !s.Before(to) {
			continue
		}
		lo, hi := s, e
		if from.After(lo) {
			lo = from
		}
		if to.Before(hi) {
			hi = to
		}
		total += w * int64(hi.Sub(lo)/time.Millisecond)
	}
	return total
}
