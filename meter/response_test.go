package meter

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

func TestHouseholdIsDeterministicAndRealistic(t *testing.T) {
	var elastic, deferrable int
	for id := uint64(1); id <= 2000; id++ {
		a := loadshape.ArchetypeFor(7, id)
		h := HouseholdOf(7, id, a)
		if h != HouseholdOf(7, id, a) {
			t.Fatalf("meter %d: household differs between draws", id)
		}
		if h.ElasticityPM > -20 || h.ElasticityPM < -400 {
			t.Fatalf("meter %d: elasticity %d‰ out of -400…-20", id, h.ElasticityPM)
		}
		if h.FlexPM < 100 || h.FlexPM > 400 {
			t.Fatalf("meter %d: flexible share %d‰", id, h.FlexPM)
		}
		if h.ElasticityPM <= -200 {
			elastic++
		}
		if h.Deferrable != "" {
			deferrable++
			if h.DeferrablePM <= 0 || h.PaybackPM < 700 {
				t.Fatalf("meter %d: deferrable %+v", id, h)
			}
		}
		if a == loadshape.EVOwner && h.Deferrable != DeferrableEVCharger {
			t.Fatalf("meter %d: an EV owner without a charger behind the relay", id)
		}
	}
	if elastic < 400 || deferrable < 600 {
		t.Fatalf("%d strongly elastic and %d deferrable households of 2000: the draws are not spread", elastic, deferrable)
	}
}

// The power at every second and the energy of the steps tell the same
// reduction: Σ(without − with) over seconds / 3600 is each step's
// reduction to within the truncation of one Wh.
func TestResponsePowerMatchesSteps(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, loc)
	from := day.Add(17*time.Hour + 7*time.Minute + 13*time.Second)
	to := day.Add(19*time.Hour + 4*time.Minute + 51*time.Second)
	sigs := map[string]Signals{
		"price": {Price: PriceSignal{Price: 750_000, Currency: "EUR", From: from, To: to}},
		"limit": {Limit: LoadLimit{ThresholdW: 400, From: from, To: to}},
		"relay": {Relay: RelayOpen{From: from, To: to}},
		"all":   {Price: PriceSignal{Price: 600_000, From: from, To: to}, Limit: LoadLimit{ThresholdW: 300, From: from.Add(time.Hour), To: to}, Relay: RelayOpen{From: from, To: from.Add(time.Hour)}},
	}
	for name, sig := range sigs {
		t.Run(name, func(t *testing.T) {
			var reduction, payback int64
			for id := uint64(1); id <= 40; id++ {
				a := loadshape.ArchetypeFor(3, id)
				r := ResponseOf(3, id, a, loc, sig)
				for s := day.Add(16 * time.Hour); s.Before(day.Add(23 * time.Hour)); s = s.Add(loadshape.Step) {
					with, without := r.Step(s)
					if with < 0 {
						t.Fatalf("meter %d step %s: negative import %d", id, s.Format("15:04"), with)
					}
					var ws int64
					for x := s; x.Before(s.Add(loadshape.Step)); x = x.Add(time.Second) {
						pw, pwo := r.Power(x)
						ws += pwo - pw
					}
					if d := (without - with) - ws/3600; d < -1 || d > 1 {
						t.Fatalf("meter %d step %s: steps say %d Wh, seconds say %d Wh", id, s.Format("15:04"), without-with, ws/3600)
					}
					if without > with {
						reduction += without - with
					} else {
						payback += with - without
					}
				}
			}
			if reduction <= 0 {
				t.Fatalf("no reduction under %s", name)
			}
			if name == "relay" && payback <= 0 {
				t.Fatal("no payback after the relay closed")
			}
			t.Logf("%s: 40 households shed %d Wh, paid back %d Wh", name, reduction, payback)
		})
	}
}

// A household that cannot get under an emergency limit sheds what it can
// and the limiter trips it, as on the normal threshold.
func TestEmergencyLimitTripsWhenSheddingIsNotEnough(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 3), Electricity1P)
	now := w.start.Add(-4 * 24 * time.Hour)
	from := now.Add(time.Hour)
	m.SetLoadLimit(now, LoadLimit{ThresholdW: 50, From: from, To: from.Add(48 * time.Hour)})
	if th, em := m.ThresholdAt(from.Add(time.Minute)); th != 50 || !em {
		t.Fatalf("threshold at activation %d (emergency %v)", th, em)
	}
	if th, em := m.ThresholdAt(now); th != 0 || em {
		t.Fatalf("threshold before activation %d (emergency %v)", th, em)
	}
	at, ev := m.NextEvent(now)
	if ev.Kind != EventLimiterTrip || at.Before(from) {
		t.Fatalf("next event %v at %v, want a limiter trip after %v", ev.Kind, at, from)
	}
}

// The signals reach the registers: the import register falls short of the
// model by exactly the reduction the response implies.
func TestSignalsReachTheRegisters(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 2), Electricity1P)
	now := w.start.Add(-3 * 24 * time.Hour)
	from, to := now.Add(17*time.Hour+3*time.Minute), now.Add(19*time.Hour+8*time.Minute)
	end := now.Add(22 * time.Hour)
	before := m.RegistersAt(end).Import - m.RegistersAt(now).Import
	m.SetPriceSignal(now, PriceSignal{Price: 900_000, Currency: "EUR", From: from, To: to})
	after := m.RegistersAt(end).Import - m.RegistersAt(now).Import
	r := m.Response()
	var implied int64
	for s := now; s.Before(end); s = s.Add(loadshape.Step) {
		with, without := r.Step(s)
		implied += without - with
	}
	if implied <= 0 || before-after != implied {
		t.Fatalf("register fell %d Wh under the price, the response implies %d Wh", before-after, implied)
	}
	pw, pwo := r.Power(from.Add(time.Minute))
	if in := m.Instant(from.Add(time.Minute)); in.ImportW != pw || pw >= pwo {
		t.Fatalf("instant import %d W, response %d W of %d W", in.ImportW, pw, pwo)
	}
	m.SetPriceSignal(now, PriceSignal{})
	if again := m.RegistersAt(end).Import - m.RegistersAt(now).Import; again != before {
		t.Fatalf("register after the price ended %d, want %d", again, before)
	}
	m.SetLoadRelay(now, RelayOpen{From: from, To: to})
	if m.LoadRelayAt(from.Add(-time.Second)) != Connected || m.LoadRelayAt(from) != Disconnected || m.LoadRelayAt(to) != Connected {
		t.Fatal("load relay does not follow its span")
	}
}

func TestSegmentsAgreeWithPower(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, loc)
	from := day.Add(17*time.Hour + 7*time.Minute + 13*time.Second)
	sig := Signals{Relay: RelayOpen{From: from, To: from.Add(time.Hour)}, Price: PriceSignal{Price: 800_000, From: from, To: from.Add(90 * time.Minute)}}
	for id := uint64(1); id <= 20; id++ {
		r := ResponseOf(9, id, loadshape.ArchetypeFor(9, id), loc, sig)
		lo, hi := day.Add(16*time.Hour+59*time.Minute), day.Add(20*time.Hour+3*time.Second)
		segs := r.Segments(lo, hi)
		if !segs[0].From.Equal(lo) || !segs[len(segs)-1].To.Equal(hi) {
			t.Fatalf("meter %d: segments span %v–%v", id, segs[0].From, segs[len(segs)-1].To)
		}
		for i, sg := range segs {
			if i > 0 && !sg.From.Equal(segs[i-1].To) {
				t.Fatalf("meter %d: gap before segment %d", id, i)
			}
			for _, x := range []time.Time{sg.From, sg.To.Add(-time.Second)} {
				if w, wo := r.Power(x); w != sg.With || wo != sg.Without {
					t.Fatalf("meter %d at %s: power %d/%d, segment %d/%d", id, x.Format("15:04:05"), w, wo, sg.With, sg.Without)
				}
			}
		}
	}
}
