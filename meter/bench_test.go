package meter

import (
	"runtime"
	"testing"
	"time"
)

func benchFleet(b *testing.B) (*Fleet, time.Time) {
	loc := mustLoc(b, "Europe/Amsterdam")
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, loc)
	f := NewFleet(1, loc, now)
	if err := f.Prepare(); err != nil {
		b.Fatal(err)
	}
	return f, now
}

// BenchmarkIdleMeterMemory creates 100,000 meters in a map, as the
// simulator holds them, touches each the way an idle poll does (faults,
// next event) and reports the heap growth per meter.
func BenchmarkIdleMeterMemory(b *testing.B) {
	f, now := benchFleet(b)
	const n = 100_000
	var perMeter float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fleet := make(map[uint64]*Meter)
		for id := uint64(0); id < n; id++ {
			m, err := f.NewMeter(id, f.DefaultKind(id))
			if err != nil {
				b.Fatal(err)
			}
			fleet[id] = m
		}
		for _, m := range fleet {
			m.NextEvent(now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perMeter = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(fleet)
	}
	b.ReportMetric(perMeter, "bytes/meter")
}

// BenchmarkActiveMeterMemory is the footprint after a full read: 60 days
// of profile, billing and registers, caches kept.
func BenchmarkActiveMeterMemory(b *testing.B) {
	f, now := benchFleet(b)
	const n = 2000
	var perMeter float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fleet := make(map[uint64]*Meter)
		for id := uint64(0); id < n; id++ {
			m, _ := f.NewMeter(id, f.DefaultKind(id))
			m.DailyBilling(now, now.AddDate(0, 0, -60), now)
			m.SyncClock(now)
			fleet[id] = m
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perMeter = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(fleet)
	}
	b.ReportMetric(perMeter, "bytes/meter")
}

// BenchmarkProfileDay reads one day (96 entries) of a meter whose
// registers are warm, as repeated daily reads are.
func BenchmarkProfileDay(b *testing.B) {
	f, now := benchFleet(b)
	m, _ := f.NewMeter(12, Electricity1P)
	from := time.Date(2025, 11, 18, 0, 0, 0, 0, f.Location)
	to := from.Add(24 * time.Hour)
	buf := m.AppendProfile(nil, now, from, to, f.ProfileInterval)
	if len(buf) != 97 {
		b.Fatalf("%d entries", len(buf))
	}
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendProfile(buf[:0], now, from, to, f.ProfileInterval)
	}
}

// BenchmarkProfileDayCold is the same read on a meter never read before
// (registers rebuilt from installation, 60 days back).
func BenchmarkProfileDayCold(b *testing.B) {
	f, now := benchFleet(b)
	from := time.Date(2025, 11, 18, 0, 0, 0, 0, f.Location)
	to := from.Add(24 * time.Hour)
	var buf []Entry
	b.ReportAllocs()
	id := uint64(0)
	for b.Loop() {
		id++
		m, _ := f.NewMeter(id, Electricity1P)
		buf = m.AppendProfile(buf[:0], now, from, to, f.ProfileInterval)
	}
}

// BenchmarkRegistersAt reads the registers at a moving "now", the
// simulator's common case.
func BenchmarkRegistersAt(b *testing.B) {
	f, now := benchFleet(b)
	m, _ := f.NewMeter(12, Electricity3P)
	m.RegistersAt(now)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m.RegistersAt(now.Add(time.Duration(i) * 7 * time.Second))
	}
}
