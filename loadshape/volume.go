package loadshape

import "time"

// Medium is the commodity of a volume meter.
type Medium uint8

// The volume media.
const (
	Gas Medium = iota + 1
	Water
)

// String returns "gas" or "water".
func (m Medium) String() string {
	switch m {
	case Gas:
		return "gas"
	case Water:
		return "water"
	}
	return "medium?"
}

// Volume returns the litres (dm³) a gas or water meter measures in
// [start, start+length), with the same step additivity as Interval.
//
// Gas follows a heating household: a thermostat with night setback and a
// morning boost scaled by how wintry the day is, plus hot water peaks.
// Water follows the people in the house: a morning shower peak (later at
// weekends), an evening peak and a small background of taps and flushes.
func Volume(seed, meter uint64, m Medium, start time.Time, length time.Duration) int64 {
	if length <= 0 {
		return 0
	}
	if length%Step == 0 && start.Unix()%stepSec == 0 && start.Nanosecond() == 0 {
		var v int64
		for t, end := start, start.Add(length); t.Before(end); t = t.Add(Step) {
			v += volumeStep(seed, meter, m, t, Step)
		}
		return v
	}
	return volumeStep(seed, meter, m, start, length)
}

func volumeStep(seed, meter uint64, m Medium, start time.Time, length time.Duration) int64 {
	mid := start.Add(length / 2)
	minute, wd, yday, _ := localClock(mid)
	weekend := wd >= 5
	idx := uint64(mid.Unix() / stepSec)
	var rate int64 // mL/h
	switch m {
	case Gas:
		win := winter(yday)
		heat := int64(120_000)
		if minute >= 6*60+30 && minute < 22*60+30 {
			heat = 420_000
		}
		heat += 600_000 * kernel(minute, 7*60, 60) / 1000
		rate = heat * win / 1000
		rate += 400_000*kernel(minute, 7*60, 60)/1000 + 250_000*kernel(minute, 19*60, 120)/1000
		rate = rate * uniform(Rand(seed, meter, 0, saltGasScale), 500, 1500) / 1000
	case Water:
		persons := uniform(Rand(seed, meter, 0, saltWaterScale), 1, 5)
		morning := int64(7*60 + 15)
		if weekend {
			morning += 90
		}
		rate = 40_000*kernel(minute, morning, 75)/1000 + 15_000*kernel(minute, 19*60+30, 180)/1000
		if minute >= 6*60 && minute < 23*60 {
			rate += 1_500
		}
		rate *= persons
	default:
		return 0
	}
	rate = rate * uniform(Rand(seed, meter, idx, saltNoise), 700, 1300) / 1000
	const litreMs = 3600 * 1000 * 1000 // mL/h × ms -> L
	return (rate*int64(length/time.Millisecond) + litreMs/2) / litreMs
}
