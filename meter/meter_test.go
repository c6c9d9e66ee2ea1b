package meter

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

// window is a short history around one DST change, so every test crosses
// a 92- or 100-step day.
type window struct {
	zone  string
	start time.Time // fleet "now" at creation; history reaches back 10 days
}

func dstWindows(t testing.TB) []window {
	var ws []window
	for _, z := range []struct {
		zone           string
		spring, autumn [3]int
	}{
		{"Europe/Amsterdam", [3]int{2025, 3, 30}, [3]int{2025, 10, 26}},
		{"America/New_York", [3]int{2025, 3, 9}, [3]int{2025, 11, 2}},
	} {
		loc := mustLoc(t, z.zone)
		for _, d := range [][3]int{z.spring, z.autumn} {
			ws = append(ws, window{z.zone, time.Date(d[0], time.Month(d[1]), d[2]+4, 0, 0, 0, 0, loc)})
		}
	}
	return ws
}

func testFleet(t testing.TB, seed uint64, w window, faults Faults) *Fleet {
	t.Helper()
	loc := mustLoc(t, w.zone)
	f := NewFleet(seed, loc, w.start)
	f.HistoryDays = 10
	f.Install = time.Date(w.start.Year(), w.start.Month(), w.start.Day()-10, 0, 0, 0, 0, loc)
	f.Faults = faults
	f.Tariff = NewTariff(FourRateCalendar())
	if loc.String() == "America/New_York" {
		f.Grid = loadshape.GridNA
	}
	if err := f.Prepare(); err != nil {
		t.Fatal(err)
	}
	return f
}

// idFor finds a meter id with the wanted archetype.
func idFor(f *Fleet, a loadshape.Archetype, skip int) uint64 {
	for id := uint64(1); ; id++ {
		if f.Mix.ArchetypeFor(f.Seed, id) == a {
			if skip == 0 {
				return id
			}
			skip--
		}
	}
}

func newMeter(t testing.TB, f *Fleet, id uint64, k Kind) *Meter {
	t.Helper()
	m, err := f.NewMeter(id, k)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rateSum(a [4]int64) int64 { return a[0] + a[1] + a[2] + a[3] }

// stormy has frequent outages, clocks drifting and theft for everyone, so
// the invariants are checked with every effect in play.
func stormy() Faults {
	f := DefaultFaults()
	f.OutagesPerYear = 60
	f.OutageGroup = 1
	f.Drifting, f.MaxDriftPPM = 1, 80
	f.Theft, f.MaxTheftPM = 0.5, 600
	f.Tampering, f.TamperPerYear = 1, 50
	return f
}

type meterCase struct {
	name string
	m    *Meter
}

func allMeters(t testing.TB, f *Fleet) []meterCase {
	var out []meterCase
	for a := loadshape.Archetype(0); a < loadshape.NumArchetypes; a++ {
		id := idFor(f, a, 0)
		k := Electricity1P
		if a == loadshape.Commercial {
			k = Electricity3P
		}
		out = append(out, meterCase{a.String(), newMeter(t, f, id, k)})
	}
	out = append(out, meterCase{"gas", newMeter(t, f, 900_001, Gas)}, meterCase{"water", newMeter(t, f, 900_002, Water)})
	return out
}

// TestRegistersAreStepSums: registers equal the initial value plus the sum
// of steps exactly, rates sum to the total, and DST days have 92/100 steps.
func TestRegistersAreStepSums(t *testing.T) {
	for _, w := range dstWindows(t) {
		for _, seed := range []uint64{1, 77, 0xdeadbeef} {
			for _, faults := range []Faults{{}, stormy()} {
				f := testFleet(t, seed, w, faults)
				for _, mc := range allMeters(t, f) {
					m := mc.m
					name := fmt.Sprintf("%s %s seed %d outages %v", w.zone, mc.name, seed, faults.OutagesPerYear)
					reg := m.initial()
					if rateSum(reg.ImportRate) != reg.Import || rateSum(reg.ExportRate) != reg.Export {
						t.Fatalf("%s: initial rates do not sum", name)
					}
					loc := f.Location
					sawShort, sawLong := false, false
					for d := m.Installed(); d.Before(w.start); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc) {
						next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
						n := 0
						for s := d; s.Before(next); s = s.Add(loadshape.Step) {
							rate, e := m.Step(s)
							reg.add(rate, e)
							n++
						}
						sawShort = sawShort || n == 92
						sawLong = sawLong || n == 100
						// Query out of order on purpose: backwards, forwards, mid-step.
						got := m.RegistersAt(next)
						if got != reg {
							t.Fatalf("%s: registers at %v = %+v, steps sum %+v", name, next, got, reg)
						}
						if rateSum(got.ImportRate) != got.Import || rateSum(got.ExportRate) != got.Export {
							t.Fatalf("%s: rates do not sum at %v: %+v", name, next, got)
						}
					}
					if !sawShort && !sawLong {
						t.Fatalf("%s: no DST day in window", name)
					}
					// Mid-step values lie between the step ends, rates still sum.
					mid := w.start.Add(-37*time.Hour - 7*time.Minute - 3*time.Second)
					r := m.RegistersAt(mid)
					lo, hi := m.RegistersAt(mid.Truncate(loadshape.Step)), m.RegistersAt(mid.Truncate(loadshape.Step).Add(loadshape.Step))
					if r.Import < lo.Import || r.Import > hi.Import || rateSum(r.ImportRate) != r.Import {
						t.Fatalf("%s: mid-step %d outside [%d, %d]", name, r.Import, lo.Import, hi.Import)
					}
					m.Trim()
					if again := m.RegistersAt(mid); again != r {
						t.Fatalf("%s: after Trim %+v != %+v", name, again, r)
					}
				}
			}
		}
	}
}

// TestProfileReconciles: entries' interval values are the differences of
// their cumulative registers, cumulative values are the registers at the
// capture, and daily billing deltas equal the day's profile sums.
func TestProfileReconciles(t *testing.T) {
	for _, w := range dstWindows(t) {
		for _, seed := range []uint64{3, 99} {
			for _, faults := range []Faults{{}, stormy()} {
				f := testFleet(t, seed, w, faults)
				for _, mc := range allMeters(t, f) {
					m := mc.m
					name := fmt.Sprintf("%s %s seed %d outages %v", w.zone, mc.name, seed, faults.OutagesPerYear)
					now := w.start
					from := m.Installed()
					prof := m.ProfileRange(now, from, now)
					if len(prof) == 0 {
						t.Fatalf("%s: empty profile", name)
					}
					prev := m.initial()
					var perDay = map[string]int{}
					for i, e := range prof {
						tt, ok := m.trueTime(e.Stamp.UnixNano())
						if !ok {
							t.Fatalf("%s: entry %d stamp never shown by the clock", name, i)
						}
						r := m.RegistersAt(time.Unix(0, tt))
						if e.CumImport != r.Import || e.CumExport != r.Export || e.CumImportVarh != r.ImportVarh {
							t.Fatalf("%s: entry %v cum %d/%d, registers %d/%d", name, e.Stamp, e.CumImport, e.CumExport, r.Import, r.Export)
						}
						if i == 0 {
							// The entry before it fell out of the buffer.
							prev = r.Sub(Registers{Import: e.Import, Export: e.Export})
						}
						if e.Import != e.CumImport-prev.Import || e.Export != e.CumExport-prev.Export {
							t.Fatalf("%s: entry %v interval %d, cum delta %d", name, e.Stamp, e.Import, e.CumImport-prev.Import)
						}
						if e.Import < 0 || e.Export < 0 {
							t.Fatalf("%s: negative interval at %v", name, e.Stamp)
						}
						if faults.OutagesPerYear == 0 && i > 0 {
							// Clock exact, no cuts: an entry is exactly its steps.
							iv := f.ProfileInterval
							if !m.kind.Electric() {
								iv = f.VolumeInterval
							}
							var sum loadshape.Energy
							for s := e.Stamp.Add(-iv); s.Before(e.Stamp); s = s.Add(loadshape.Step) {
								_, se := m.Step(s)
								sum = sum.Add(se)
							}
							if sum.ImportWh != e.Import || sum.ExportWh != e.Export {
								t.Fatalf("%s: entry %v %d/%d, steps %d/%d", name, e.Stamp, e.Import, e.Export, sum.ImportWh, sum.ExportWh)
							}
						}
						wantDST := e.Stamp.IsDST()
						if (e.Status&StatusDST != 0) != wantDST {
							t.Fatalf("%s: DST bit wrong at %v", name, e.Stamp)
						}
						prev = r
						perDay[e.Stamp.Add(-time.Nanosecond).Format(time.DateOnly)]++
					}
					if faults.OutagesPerYear == 0 && m.kind.Electric() {
						counts := map[int]bool{}
						for _, n := range perDay {
							counts[n] = true
						}
						if !counts[92] && !counts[100] {
							t.Fatalf("%s: no DST day with 92/100 entries: %v", name, perDay)
						}
					}
					bill := m.DailyBilling(now, from, now)
					if len(bill) < 9 {
						t.Fatalf("%s: %d billing snapshots", name, len(bill))
					}
					for i := 1; i < len(bill); i++ {
						var sum, sumExp int64
						for _, e := range prof {
							if e.Stamp.After(bill[i-1].Stamp) && !e.Stamp.After(bill[i].Stamp) {
								sum += e.Import
								sumExp += e.Export
							}
						}
						d := bill[i].Registers.Sub(bill[i-1].Registers)
						if missingAtMidnight(prof, bill[i].Stamp) || missingAtMidnight(prof, bill[i-1].Stamp) {
							continue // the entry spanning midnight belongs to no single day
						}
						if d.Import != sum || d.Export != sumExp {
							t.Fatalf("%s: billing %v delta %d/%d, profile sum %d/%d", name, bill[i].Stamp, d.Import, d.Export, sum, sumExp)
						}
						if rateSum(d.ImportRate) != d.Import {
							t.Fatalf("%s: billing rates", name)
						}
					}
				}
			}
		}
	}
}

func missingAtMidnight(prof []Entry, stamp time.Time) bool {
	for _, e := range prof {
		if e.Stamp.Equal(stamp) {
			return false
		}
	}
	return true
}

func TestOutageFlagsAndZeroConsumption(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 0), Electricity1P)
	loc := f.Location
	cutFrom := time.Date(2025, 3, 31, 17, 5, 0, 0, loc)
	cutTo := time.Date(2025, 3, 31, 18, 20, 0, 0, loc)
	before := m.RegistersAt(cutTo.Add(time.Hour))
	m.PowerCut(cutFrom, cutTo)
	now := cutTo.Add(2 * time.Hour)
	if r0, r1 := m.RegistersAt(cutFrom), m.RegistersAt(cutTo); r0 != r1 {
		t.Fatalf("registers moved during the cut: %d -> %d", r0.Import, r1.Import)
	}
	if after := m.RegistersAt(cutTo.Add(time.Hour)); after.Import >= before.Import {
		t.Fatalf("cut did not reduce consumption: %d vs %d", after.Import, before.Import)
	}
	for s := cutFrom.Truncate(loadshape.Step).Add(loadshape.Step); s.Add(loadshape.Step).Before(cutTo); s = s.Add(loadshape.Step) {
		if _, e := m.Step(s); e != (loadshape.Energy{}) {
			t.Fatalf("step %v during cut: %+v", s, e)
		}
	}
	prof := m.ProfileRange(now, cutFrom.Add(-time.Hour), now)
	var pdn []time.Time
	for _, e := range prof {
		if e.Stamp.After(cutFrom) && e.Stamp.Before(cutTo) {
			t.Fatalf("entry %v captured while powered down", e.Stamp)
		}
		if e.Status&StatusPowerDown != 0 {
			pdn = append(pdn, e.Stamp)
		}
	}
	if want := time.Date(2025, 3, 31, 18, 30, 0, 0, loc); len(pdn) != 1 || !pdn[0].Equal(want) {
		t.Fatalf("power-down entries %v, want only %v", pdn, want)
	}
	evs := m.Events(now, LogStandard)
	var down, up bool
	for _, e := range evs {
		down = down || (e.Code == EventPowerDown && e.Time.Equal(cutFrom))
		up = up || (e.Code == EventPowerUp && e.Time.Equal(cutTo))
	}
	if !down || !up {
		t.Fatalf("standard log %v lacks power down/up", evs)
	}
	pf := m.Events(now, LogPowerFailure)
	if len(pf) != 1 || pf[0].Duration != cutTo.Sub(cutFrom) {
		t.Fatalf("power failure log %v", pf)
	}
	at, ev := m.NextEvent(cutFrom.Add(-time.Minute))
	if ev.Kind != EventLastGasp || !at.Equal(cutFrom) {
		t.Fatalf("next event %v %v, want last gasp at %v", at, ev, cutFrom)
	}
	at, ev = m.NextEvent(cutFrom)
	if ev.Kind != EventPowerRestored || !at.Equal(cutTo) {
		t.Fatalf("next event %v %v, want power restored at %v", at, ev, cutTo)
	}
	if m.Reachable(cutFrom.Add(time.Minute)) || m.Instant(cutFrom.Add(time.Minute)).VoltageDV[0] != 0 {
		t.Fatal("meter answers during a cut")
	}
}

// TestScheduledOutagesFlagged checks the seed schedule the same way across
// many meters: every scheduled cut leaves a PDN entry after it and no entry
// inside.
func TestScheduledOutagesFlagged(t *testing.T) {
	w := dstWindows(t)[1]
	f := testFleet(t, 8, w, stormy())
	cuts := 0
	for id := uint64(1); id <= 20; id++ {
		m := newMeter(t, f, id, Electricity3P)
		now := w.start
		prof := m.ProfileRange(now, m.Installed(), now)
		for _, o := range m.Outages(m.Installed(), now.Add(-time.Hour)) {
			cuts++
			for i, e := range prof {
				tt, _ := m.trueTime(e.Stamp.UnixNano())
				if tt >= o.Start.UnixNano() && tt < o.End.UnixNano() {
					t.Fatalf("meter %d: entry %v inside cut %v-%v", id, e.Stamp, o.Start, o.End)
				}
				if tt >= o.End.UnixNano() && (i == 0 || mustTrue(m, prof[i-1].Stamp) < o.Start.UnixNano()) && e.Status&StatusPowerDown == 0 {
					t.Fatalf("meter %d: first entry %v after cut %v-%v lacks PDN", id, e.Stamp, o.Start, o.End)
				}
			}
		}
	}
	if cuts == 0 {
		t.Fatal("no scheduled cuts to check")
	}
}

func mustTrue(m *Meter, stamp time.Time) int64 {
	tt, _ := m.trueTime(stamp.UnixNano())
	return tt
}

func TestTheftReducesRegisteredEnergy(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	honest := newMeter(t, f, idFor(f, loadshape.Family, 1), Electricity1P)
	thief := newMeter(t, f, honest.id, Electricity1P)
	now := w.start.Add(-5 * 24 * time.Hour)
	thief.SetTheft(now, 400)
	later := now.Add(48 * time.Hour)
	h := honest.RegistersAt(later).Sub(honest.RegistersAt(now))
	th := thief.RegistersAt(later).Sub(thief.RegistersAt(now))
	if th.Import >= h.Import || th.Import < h.Import*55/100 || th.Import > h.Import*65/100 {
		t.Fatalf("theft 40%%: honest %d Wh, thief %d Wh", h.Import, th.Import)
	}
	if honest.RegistersAt(now) != thief.RegistersAt(now) {
		t.Fatal("theft changed the past")
	}
	for s := now; s.Before(later); s = s.Add(loadshape.Step) {
		_, eh := honest.Step(s)
		_, et := thief.Step(s)
		if et.ImportWh != eh.ImportWh-eh.ImportWh*400/1000 {
			t.Fatalf("step %v: %d vs %d", s, et.ImportWh, eh.ImportWh)
		}
	}
	if in := thief.Instant(later); in.ImportW >= honest.Instant(later).ImportW && in.ImportW > 0 {
		t.Fatalf("bypass does not show in current: %d vs %d W", in.ImportW, honest.Instant(later).ImportW)
	}
}

func TestRelayControlModes(t *testing.T) {
	D, C, R := Disconnected, Connected, ReadyForReconnection
	type want map[Trigger]ControlState // missing: refused
	// For each mode and start state, the allowed transitions.
	table := map[ControlMode]map[ControlState]want{
		0: {C: {}, D: {}, R: {}},
		1: {C: {RemoteDisconnect: D, ManualDisconnect: R, LocalDisconnect: R}, D: {RemoteReconnect: R}, R: {RemoteDisconnect: D, ManualReconnect: C}},
		2: {C: {RemoteDisconnect: D, ManualDisconnect: R, LocalDisconnect: R}, D: {RemoteReconnect: C}, R: {RemoteDisconnect: D, ManualReconnect: C}},
		3: {C: {RemoteDisconnect: D, LocalDisconnect: R}, D: {RemoteReconnect: R}, R: {RemoteDisconnect: D, ManualReconnect: C}},
		4: {C: {RemoteDisconnect: D, LocalDisconnect: R}, D: {RemoteReconnect: C}, R: {RemoteDisconnect: D, ManualReconnect: C}},
		5: {C: {RemoteDisconnect: D, ManualDisconnect: R, LocalDisconnect: R}, D: {RemoteReconnect: R}, R: {RemoteDisconnect: D, ManualReconnect: C, LocalReconnect: C}},
		6: {C: {RemoteDisconnect: D, LocalDisconnect: R}, D: {RemoteReconnect: R}, R: {RemoteDisconnect: D, ManualReconnect: C, LocalReconnect: C}},
	}
	triggers := []Trigger{RemoteDisconnect, RemoteReconnect, ManualDisconnect, ManualReconnect, LocalDisconnect, LocalReconnect}
	for mode, states := range table {
		for from, allowed := range states {
			for _, tr := range triggers {
				got, ok := mode.Next(from, tr)
				w, exp := allowed[tr]
				if ok != exp || (ok && got != w) {
					t.Errorf("mode %d %v %v: got %v %v, want %v %v", mode, from, tr, got, ok, w, exp)
				}
			}
		}
	}

	// On a meter: disconnecting stops registration and logs events.
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 2), Electricity1P)
	now := w.start.Add(-3 * 24 * time.Hour)
	if err := m.SetControlMode(now, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Control(now, LocalReconnect); !errors.As(err, new(*TransitionError)) {
		t.Fatalf("local reconnect in mode 1: %v", err)
	}
	if s, err := m.Control(now, RemoteDisconnect); err != nil || s != Disconnected {
		t.Fatalf("remote disconnect: %v %v", s, err)
	}
	off := m.RegistersAt(now)
	if later := m.RegistersAt(now.Add(6 * time.Hour)); later != off {
		t.Fatalf("registers moved while disconnected: %d -> %d", off.Import, later.Import)
	}
	if in := m.Instant(now.Add(time.Hour)); in.CurrentMA[0] != 0 || in.VoltageDV[0] == 0 {
		t.Fatalf("instant while disconnected: %+v", in)
	}
	t2 := now.Add(6 * time.Hour)
	if s, _ := m.Control(t2, RemoteReconnect); s != ReadyForReconnection {
		t.Fatalf("mode 1 remote reconnect -> %v", s)
	}
	if s, _ := m.Control(t2.Add(time.Minute), ManualReconnect); s != Connected {
		t.Fatalf("manual reconnect -> %v", s)
	}
	if m.RegistersAt(t2.Add(3*time.Hour)).Import <= off.Import {
		t.Fatal("no consumption after reconnection")
	}
	var codes []EventCode
	for _, e := range m.Events(t2.Add(time.Hour), LogDisconnect) {
		codes = append(codes, e.Code)
	}
	if fmt.Sprint(codes) != fmt.Sprint([]EventCode{EventRemoteDisconnection, EventReadyForManualReconnection, EventManualConnection}) {
		t.Fatalf("disconnect log %v", codes)
	}
}

func TestLimiterTrip(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 3), Electricity1P)
	now := w.start.Add(-4 * 24 * time.Hour)
	m.SetLimiter(now, 600, 30*time.Second)
	at, ev := m.NextEvent(now)
	if ev.Kind != EventLimiterTrip {
		t.Fatalf("next event %v at %v, want a limiter trip", ev.Kind, at)
	}
	if err := m.Apply(at, ev); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Relay(); s != ReadyForReconnection {
		t.Fatalf("after trip %v", s)
	}
	if r0, r1 := m.RegistersAt(at), m.RegistersAt(at.Add(2*time.Hour)); r0 != r1 {
		t.Fatal("consumption after limiter trip")
	}
}

func TestLLSLockout(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, 42, Electricity1P)
	now := w.start.Add(-time.Hour)
	for i := 0; i < f.LLSMaxFailures-1; i++ {
		if until := m.AuthFailed(now); !until.IsZero() {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	m.AuthSucceeded(now)
	for i := 0; i < f.LLSMaxFailures-1; i++ {
		m.AuthFailed(now)
	}
	if err := m.AuthAllowed(now); err != nil {
		t.Fatal("success did not reset the failure count")
	}
	until := m.AuthFailed(now)
	if !until.Equal(now.Add(f.LLSLockout)) {
		t.Fatalf("lockout until %v", until)
	}
	if err := m.AuthAllowed(now.Add(f.LLSLockout - time.Second)); !errors.Is(err, ErrLocked) {
		t.Fatalf("during lockout: %v", err)
	}
	if err := m.AuthAllowed(until); err != nil {
		t.Fatalf("after lockout: %v", err)
	}
	evs := m.Events(now, LogFraud)
	if len(evs) == 0 || evs[len(evs)-1].Code != EventAuthFailure {
		t.Fatalf("fraud log %v", evs)
	}
}

type memPersister struct {
	saved map[uint64]Counters
	calls int
	fail  bool
}

func (p *memPersister) PersistCounters(id uint64, c Counters) error {
	if p.fail {
		return errors.New("disk full")
	}
	p.calls++
	c.Clients = append([]ClientCounter(nil), c.Clients...)
	p.saved[id] = c
	return nil
}

func TestInvocationCountersSurviveRestart(t *testing.T) {
	w := dstWindows(t)[0]
	p := &memPersister{saved: map[uint64]Counters{}}
	f := testFleet(t, 5, w, Faults{})
	f.Persister, f.CounterBlock = p, 10
	m := newMeter(t, f, 7, Electricity1P)
	var last uint32
	for i := 0; i < 25; i++ {
		ic, err := m.NextSendCounter()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && ic <= last {
			t.Fatalf("counter %d after %d", ic, last)
		}
		if ic >= p.saved[7].Send {
			t.Fatalf("counter %d handed out beyond persisted %d", ic, p.saved[7].Send)
		}
		last = ic
	}
	if err := m.AcceptClientCounter(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := m.AcceptClientCounter(1, 5); !errors.Is(err, ErrCounterReplay) {
		t.Fatalf("replay: %v", err)
	}
	if p.saved[7].Clients[0].Last != 5 {
		t.Fatalf("client counter not persisted: %+v", p.saved[7])
	}
	// Restart: a new fleet and meter from the persisted state.
	f2 := testFleet(t, 5, w, Faults{})
	f2.Persister, f2.CounterBlock = p, 10
	m2 := newMeter(t, f2, 7, Electricity1P)
	m2.RestoreCounters(p.saved[7])
	for i := 0; i < 15; i++ {
		ic, err := m2.NextSendCounter()
		if err != nil {
			t.Fatal(err)
		}
		if ic <= last {
			t.Fatalf("after restart counter %d not above %d", ic, last)
		}
		last = ic
	}
	if err := m2.AcceptClientCounter(1, 5); !errors.Is(err, ErrCounterReplay) {
		t.Fatalf("replay across restart: %v", err)
	}
	p.fail = true
	for i := 0; i < 20; i++ {
		if _, err := m2.NextSendCounter(); err != nil {
			return // refused once the reserved block ran out
		}
	}
	t.Fatal("counters handed out without persistence")
}

func TestDeterminism(t *testing.T) {
	w := dstWindows(t)[2]
	a := testFleet(t, 11, w, stormy())
	b := testFleet(t, 11, w, stormy())
	for id := uint64(1); id < 6; id++ {
		ma, mb := newMeter(t, a, id, Electricity3P), newMeter(t, b, id, Electricity3P)
		pa := ma.ProfileRange(w.start, ma.Installed(), w.start)
		pb := mb.ProfileRange(w.start, mb.Installed(), w.start)
		if fmt.Sprint(pa) != fmt.Sprint(pb) {
			t.Fatalf("meter %d: profiles differ between identical fleets", id)
		}
		if fmt.Sprint(ma.Events(w.start, LogFraud)) != fmt.Sprint(mb.Events(w.start, LogFraud)) {
			t.Fatal("fraud logs differ")
		}
		other := newMeter(t, a, id+100, Electricity3P)
		if ma.RegistersAt(w.start) == other.RegistersAt(w.start) {
			t.Fatalf("meters %d and %d identical", id, id+100)
		}
	}
	c := testFleet(t, 12, w, stormy())
	if newMeter(t, a, 1, Gas).RegistersAt(w.start) == newMeter(t, c, 1, Gas).RegistersAt(w.start) {
		t.Fatal("seeds 11 and 12 identical")
	}
}

func TestPassiveCalendarActivation(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	f.Tariff = NewTariff(TwoRateCalendar())
	m := newMeter(t, f, idFor(f, loadshape.Family, 0), Electricity1P)
	now := w.start.Add(-6 * 24 * time.Hour)
	before := m.RegistersAt(now.Add(24 * time.Hour))
	act := now.Add(24 * time.Hour)
	if err := m.SetPassiveCalendar(now, FourRateCalendar(), act); err != nil {
		t.Fatal(err)
	}
	if got := m.RegistersAt(act); got != before {
		t.Fatal("passive calendar changed registers before activation")
	}
	after := m.RegistersAt(act.Add(3 * 24 * time.Hour)).Sub(m.RegistersAt(act))
	if after.ImportRate[3] == 0 && after.ImportRate[2] == 0 {
		t.Fatalf("four-rate calendar not in force: %+v", after.ImportRate)
	}
	if rateSum(after.ImportRate) != after.Import {
		t.Fatal("rates do not sum after activation")
	}
	if at, ev := m.NextEvent(now); ev.Kind != EventTariffActivated || !at.Equal(act) {
		t.Fatalf("next event %v at %v", ev.Kind, at)
	}
	var sawSet, sawAct bool
	for _, e := range m.Events(act.Add(time.Hour), LogStandard) {
		sawSet = sawSet || e.Code == EventPassiveTOUSet
		sawAct = sawAct || e.Code == EventTOUActivated
	}
	if !sawSet || !sawAct {
		t.Fatal("calendar events missing")
	}
	if err := m.SetPassiveCalendar(now, &Calendar{Name: "bad"}, act); err == nil {
		t.Fatal("invalid calendar accepted")
	}
}

func TestClockDriftAndSetting(t *testing.T) {
	w := dstWindows(t)[0]
	faults := Faults{Drifting: 1, MaxDriftPPM: 50}
	f := testFleet(t, 5, w, faults)
	var m *Meter
	for id := uint64(1); ; id++ {
		m = newMeter(t, f, id, Electricity1P)
		if d := m.Faults().DriftPPM; d > 20 || d < -20 {
			break
		}
	}
	now := w.start.Add(-2 * 24 * time.Hour)
	off := m.ClockOffset(now)
	wantOff := time.Duration(int64(now.Sub(m.Installed())) / 1e6 * int64(m.Faults().DriftPPM))
	if d := off - wantOff; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("offset %v, want %v", off, wantOff)
	}
	m.SyncClock(now)
	if m.ClockOffset(now) != 0 {
		t.Fatal("sync did not zero the offset")
	}
	prof := m.ProfileRange(now.Add(2*time.Hour), now.Add(-time.Hour), now.Add(time.Hour))
	var cad int
	for _, e := range prof {
		if e.Stamp.Minute()%15 != 0 || e.Stamp.Second() != 0 {
			t.Fatalf("stamp %v not on a boundary", e.Stamp)
		}
		if e.Status&StatusClockAdjusted != 0 {
			cad++
			if e.Status&StatusDataNotValid == 0 && (off > f.ClockShiftLimit || off < -f.ClockShiftLimit) {
				t.Fatalf("shift %v without DNV", off)
			}
		}
	}
	if cad != 1 {
		t.Fatalf("%d clock-adjusted entries, want 1: %+v", cad, prof)
	}
	var codes []EventCode
	for _, e := range m.Events(now, LogStandard) {
		if e.Code == EventClockAdjustedOld || e.Code == EventClockAdjustedNew {
			codes = append(codes, e.Code)
		}
	}
	if len(codes) != 2 || codes[0] != EventClockAdjustedOld {
		t.Fatalf("clock events %v", codes)
	}
}

func TestMaxDemand(t *testing.T) {
	w := dstWindows(t)[1]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Commercial, 0), Electricity3P)
	now := w.start
	var want int64
	for s := m.Installed(); !s.Add(loadshape.Step).After(now); s = s.Add(loadshape.Step) {
		_, e := m.Step(s)
		want = max(want, e.ImportWh*4)
	}
	// Advance in pieces, as a simulator polling would.
	for d := m.Installed(); d.Before(now); d = d.Add(17 * time.Hour) {
		m.MaxDemand(d)
	}
	got := m.MaxDemand(now)
	if got.MaxW != want || got.MaxW == 0 {
		t.Fatalf("max demand %d W, want %d", got.MaxW, want)
	}
	prev := m.ResetMaxDemand(now)
	if prev.MaxW != want || m.MaxDemand(now).MaxW != 0 {
		t.Fatal("reset")
	}
	if m.MaxDemand(now.Add(time.Hour)).MaxW == 0 {
		t.Fatal("no demand after reset")
	}
}

func TestGasMeterOnMBus(t *testing.T) {
	w := dstWindows(t)[1]
	f := testFleet(t, 5, w, stormy())
	e := newMeter(t, f, 1, Electricity1P)
	g := newMeter(t, f, 2, Gas)
	if ch, err := e.Attach(g); err != nil || ch != 1 {
		t.Fatalf("attach: %d %v", ch, err)
	}
	if _, err := g.Attach(e); err == nil {
		t.Fatal("electricity meter attached to gas meter")
	}
	if fmt.Sprint(e.SubMeters()) != "[2]" {
		t.Fatalf("sub meters %v", e.SubMeters())
	}
	now := w.start
	day := now.Add(-48 * time.Hour)
	prof := g.ProfileRange(now, day, day.Add(24*time.Hour))
	if len(prof) != 25 || prof[0].Stamp.Minute() != 0 {
		t.Fatalf("hourly gas profile has %d entries", len(prof))
	}
	for _, p := range prof {
		if p.Status&StatusPowerDown != 0 {
			t.Fatal("gas meter saw a power cut")
		}
	}
	if _, err := g.Control(day, RemoteDisconnect); err != nil {
		t.Fatal(err)
	}
	if a, b := g.RegistersAt(day.Add(time.Hour)), g.RegistersAt(day.Add(5*time.Hour)); a != b {
		t.Fatal("gas flows with the valve closed")
	}
	if g.Instant(now).Phases != 0 {
		t.Fatal("gas meter has phases")
	}
}

func TestFaultFractions(t *testing.T) {
	w := dstWindows(t)[0]
	fc := DefaultFaults()
	fc.Offline, fc.Intermittent, fc.Garbage = 0.1, 0.2, 0.3
	f := testFleet(t, 5, w, fc)
	var off, inter, garb, reach, hours int
	links := map[string]int{}
	for id := uint64(0); id < 5000; id++ {
		m := newMeter(t, f, id, Electricity1P)
		mf := m.Faults()
		if mf.Offline {
			off++
		}
		if mf.Intermittent {
			inter++
			for h := 0; h < 10; h++ {
				hours++
				if m.Reachable(w.start.Add(time.Duration(h) * time.Hour)) {
					reach++
				}
			}
		}
		if mf.Garbage {
			garb++
		}
		links[mf.Link.Name]++
		if mf.Offline && m.Reachable(w.start) {
			t.Fatal("offline meter reachable")
		}
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{{"offline", off, 500}, {"intermittent", inter, 900}, {"garbage", garb, 1500}, {"reach", reach * 1000 / hours, 600}} {
		if c.got < c.want*8/10 || c.got > c.want*12/10 {
			t.Errorf("%s: %d, want about %d", c.name, c.got, c.want)
		}
	}
	if len(links) != 4 {
		t.Errorf("links %v", links)
	}
}

func TestIdleMeterIsSmall(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, DefaultFaults())
	m := newMeter(t, f, 1, Electricity1P)
	m.Faults()
	m.NextEvent(w.start)
	m.Events(w.start, LogStandard)
	if m.st != nil {
		t.Fatal("read-only calls allocated meter state")
	}
}
