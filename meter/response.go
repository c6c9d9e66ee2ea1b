package meter

import (
	"slices"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// Demand response at the household: how a household behind a meter
// answers a load limit, a price shown to it and a load-control relay
// switching its deferrable load. The answer is a pure function of the
// fleet seed, the meter and the signals, like the load itself, so the
// load with an event and the same load without it are both known exactly
// and the reduction an event implies can be checked against what a
// baseline measures.
//
// The response is evaluated per 15-minute step of the load model: a step's
// average import power P decides how many watts the household sheds while
// a signal is in force, and those watts are taken off for exactly the
// seconds of the step the signal covers. The power at an instant and the
// energy of a step therefore agree to the watt-second, and a household's
// response starts at its own second, not at the quarter-hour.

// DefaultNormalPrice is the price a household is used to (millionths of
// the currency unit per kWh) when the fleet does not say otherwise.
const DefaultNormalPrice = 250_000

// Salts of the household's response, apart from the fault and button
// salts.
const (
	saltElasticity = 2101 + iota
	saltFlex
	saltDeferrable
	saltPayback
)

// Deferrable loads a load-control relay may feed.
const (
	DeferrableWaterHeater = "water-heater"
	DeferrableHeatPump    = "heat-pump"
	DeferrableEVCharger   = "ev-charger"
)

// Household is how one household answers demand response.
type Household struct {
	// ElasticityPM is the price elasticity of its load, per mille
	// (-400 … -50): at a price p shown against the normal price n it
	// sheds |e|·2(p−n)/(p+n) of its load (the arc elasticity), at most
	// half of it.
	ElasticityPM int64
	// FlexPM is the share of its load, per mille, it can shed to stay
	// under a load limit. A household that cannot get below the limit
	// sheds what it can and the limiter acts as it always does.
	FlexPM int64
	// Deferrable is the load behind the load-control relay ("" when the
	// household has none); DeferrablePM its share of the load, per mille.
	Deferrable   string
	DeferrablePM int64
	// PaybackPM is the share of the deferred energy drawn again once the
	// relay closes, per mille, spread over a span as long as the opening.
	PaybackPM int64
}

// HouseholdOf returns the response of a meter's household, drawn from the
// fleet seed: the same meter answers the same way on every run.
func HouseholdOf(seed, id uint64, a loadshape.Archetype) Household {
	r := func(salt uint64, lo, hi int64) int64 {
		return lo + int64(loadshape.Rand(seed, id, 0, salt)%uint64(hi-lo+1))
	}
	h := Household{ElasticityPM: -r(saltElasticity, 50, 400), FlexPM: r(saltFlex, 100, 400)}
	if a == loadshape.Commercial {
		// A shop or office keeps its hours: it answers a price little.
		h.ElasticityPM = -r(saltElasticity, 20, 100)
	}
	switch d := r(saltDeferrable, 0, 3); {
	case a == loadshape.EVOwner:
		h.Deferrable, h.DeferrablePM = DeferrableEVCharger, r(saltDeferrable+10, 250, 450)
	case d == 1:
		h.Deferrable, h.DeferrablePM = DeferrableWaterHeater, r(saltDeferrable+10, 150, 300)
	case d == 2:
		h.Deferrable, h.DeferrablePM = DeferrableHeatPump, r(saltDeferrable+10, 200, 400)
	}
	if h.Deferrable != "" {
		h.PaybackPM = r(saltPayback, 700, 1000)
	}
	return h
}

// LoadLimit is a limiter's emergency threshold in force over [From, To).
type LoadLimit struct {
	ThresholdW int64
	From, To   time.Time
	// ProfileID is the emergency profile's id on the meter.
	ProfileID uint16
}

// PriceSignal is a price shown to the household over [From, To), in
// millionths of Currency per kWh; Normal is the price it is used to
// (0: DefaultNormalPrice).
type PriceSignal struct {
	Price, Normal int64
	Currency      string
	From, To      time.Time
}

// RelayOpen is the load-control relay open over [From, To); a zero To
// leaves it open until told.
type RelayOpen struct {
	From, To time.Time
}

// Signals are the demand-response signals in force at a meter. A zero
// field is no signal.
type Signals struct {
	Limit LoadLimit
	Price PriceSignal
	Relay RelayOpen
	// Message is the text the meter shows the household (its display,
	// the in-home display, the P1 port); it carries the price signal.
	Message string
}

// span is a signal's [from, to) in unix seconds; zero when unset.
func span(from, to time.Time) (int64, int64) {
	if from.IsZero() {
		return 0, 0
	}
	if to.IsZero() {
		return from.Unix(), forever
	}
	return from.Unix(), to.Unix()
}

func overlap(a0, a1, b0, b1 int64) int64 {
	lo, hi := max(a0, b0), min(a1, b1)
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// Response is a household's load under a set of signals: the model's load
// with the event and without it.
type Response struct {
	Seed, ID  uint64
	Arch      loadshape.Archetype
	Location  *time.Location // the household's: its day follows local time
	Household Household
	Signals   Signals
}

// ResponseOf returns the response of a meter of a fleet in loc under sig.
func ResponseOf(seed, id uint64, a loadshape.Archetype, loc *time.Location, sig Signals) Response {
	return Response{Seed: seed, ID: id, Arch: a, Location: loc, Household: HouseholdOf(seed, id, a), Signals: sig}
}

// wattsAt returns the watts the household sheds at instant t (negative
// while it pays back deferred energy) in a step of average import power p
// (W). pb caches the payback power (-1: not computed yet).
func (r Response) wattsAt(p, t int64, pb *int64) int64 {
	h, sig := r.Household, r.Signals
	in := func(from, to time.Time) bool {
		f, u := span(from, to)
		return f != 0 && t >= f && t < u
	}
	var relayW, priceW, limitW int64
	if p > 0 {
		if h.Deferrable != "" && in(sig.Relay.From, sig.Relay.To) {
			relayW = p * h.DeferrablePM / 1000
		}
		rest := p - relayW
		if s := sig.Price; in(s.From, s.To) {
			n := s.Normal
			if n <= 0 {
				n = DefaultNormalPrice
			}
			if s.Price > n {
				pm := min(-h.ElasticityPM*2*(s.Price-n)/(s.Price+n), 500)
				priceW = rest * pm / 1000
			}
		}
		if s := sig.Limit; s.ThresholdW > 0 && rest > s.ThresholdW && in(s.From, s.To) {
			limitW = min(rest*h.FlexPM/1000, rest-s.ThresholdW)
		}
	}
	// Under a limit and a price at once the household does the larger.
	shed := relayW + max(priceW, limitW)
	if o := sig.Relay; !o.From.IsZero() && o.To.After(o.From) && t >= o.To.Unix() && t < 2*o.To.Unix()-o.From.Unix() {
		if *pb < 0 {
			*pb = r.paybackW()
		}
		shed -= *pb
	}
	return shed
}

// stepShed returns the energy (Wh, truncated) the signals take off the
// step of import energy e over [lo, hi), and the watts shed at instant t
// (t < 0: not asked).
func (r Response) stepShed(e loadshape.Energy, lo, hi, t int64) (wh, w int64) {
	p := e.ImportWh * 3600 / stepSec
	cuts := r.cuts(lo, hi)
	pb := int64(-1)
	var ws int64 // watt-seconds
	for i := 0; i+1 < len(cuts); i++ {
		if a, b := cuts[i], cuts[i+1]; b > a {
			ws += r.wattsAt(p, a, &pb) * (b - a)
		}
	}
	if t >= 0 {
		w = r.wattsAt(p, t, &pb)
	}
	return ws / 3600, w
}

// cuts returns lo, hi and every signal boundary between them, in order.
func (r Response) cuts(lo, hi int64) []int64 {
	sig := r.Signals
	cuts := []int64{lo, hi}
	cut := func(from, to time.Time) {
		f, u := span(from, to)
		for _, c := range []int64{f, u} {
			if c > lo && c < hi {
				cuts = append(cuts, c)
			}
		}
	}
	cut(sig.Limit.From, sig.Limit.To)
	cut(sig.Price.From, sig.Price.To)
	cut(sig.Relay.From, sig.Relay.To)
	if o := sig.Relay; !o.From.IsZero() && o.To.After(o.From) {
		cut(o.To, o.To.Add(o.To.Sub(o.From)))
	}
	slices.Sort(cuts)
	return cuts
}

// Segment is a span over which a household's import power is constant,
// with the event and without it (W).
type Segment struct {
	From, To      time.Time
	With, Without int64
}

// Segments returns the household's import power over [from, to) as
// constant pieces, in order: what an aggregate at any resolution sums
// without asking every instant.
func (r Response) Segments(from, to time.Time) []Segment {
	var out []Segment
	lo, hi := from.Unix(), to.Unix()
	pb := int64(-1)
	for s := floorStep(lo); s < hi; s += stepSec {
		p := r.base(s).ImportWh * 3600 / stepSec
		cuts := r.cuts(max(s, lo), min(s+stepSec, hi))
		for i := 0; i+1 < len(cuts); i++ {
			a, b := cuts[i], cuts[i+1]
			if b <= a {
				continue
			}
			w := p
			if r.active(a, b) {
				w = p - r.wattsAt(p, a, &pb)
			}
			if n := len(out); n > 0 && out[n-1].With == w && out[n-1].Without == p {
				out[n-1].To = time.Unix(b, 0)
				continue
			}
			out = append(out, Segment{From: time.Unix(a, 0), To: time.Unix(b, 0), With: w, Without: p})
		}
	}
	return out
}

// paybackW is the extra power drawn after the relay closes: the deferred
// energy's payback share spread over a span as long as the opening.
func (r Response) paybackW() int64 {
	o := r.Signals.Relay
	if o.From.IsZero() || o.To.IsZero() || !o.To.After(o.From) || r.Household.Deferrable == "" {
		return 0
	}
	f, u := o.From.Unix(), o.To.Unix()
	var ws int64
	for s := floorStep(f); s < u; s += stepSec {
		if p := r.base(s).ImportWh * 3600 / stepSec; p > 0 {
			ws += p * r.Household.DeferrablePM / 1000 * overlap(s, s+stepSec, f, u)
		}
	}
	return ws * r.Household.PaybackPM / 1000 / (u - f)
}

func (r Response) base(s int64) loadshape.Energy {
	return loadshape.Interval(r.Seed, r.ID, r.Arch, time.Unix(s, 0).In(r.Location), loadshape.Step)
}

// active reports whether any signal (or a payback) reaches into [lo, hi).
func (r Response) active(lo, hi int64) bool {
	sig := r.Signals
	for _, p := range [][2]time.Time{{sig.Limit.From, sig.Limit.To}, {sig.Price.From, sig.Price.To}} {
		if f, u := span(p[0], p[1]); f != 0 && overlap(lo, hi, f, u) > 0 {
			return true
		}
	}
	if f, u := span(sig.Relay.From, sig.Relay.To); f != 0 {
		if u != forever {
			u += u - f
		}
		return overlap(lo, hi, f, u) > 0
	}
	return false
}

// apply returns the step energy e of the step at s with the signals'
// response over the whole step.
func (r Response) apply(s int64, e loadshape.Energy) loadshape.Energy {
	if !r.active(s, s+stepSec) {
		return e
	}
	wh, _ := r.stepShed(e, s, s+stepSec, -1)
	if wh != 0 {
		// Reactive energy follows the active energy it went with.
		if e.ImportWh > 0 {
			e.ImportVarh -= e.ImportVarh * wh / e.ImportWh
		}
		e.ImportWh -= wh
	}
	return e
}

// Step returns the import energy (Wh) of the 15-minute step starting at
// start (aligned to the step) with the event and without it.
func (r Response) Step(start time.Time) (with, without int64) {
	s := floorStep(start.Unix())
	e := r.base(s)
	return r.apply(s, e).ImportWh, e.ImportWh
}

// Power returns the import power (W) at t with the event and without it.
func (r Response) Power(t time.Time) (with, without int64) {
	s := floorStep(t.Unix())
	e := r.base(s)
	without = e.ImportWh * 3600 / stepSec
	if !r.active(s, s+stepSec) {
		return without, without
	}
	_, w := r.stepShed(e, s, s+stepSec, t.Unix())
	return without - w, without
}

// Signals returns the demand-response signals in force at the meter.
func (m *Meter) Signals() Signals {
	if m.st == nil || m.st.dr == nil {
		return Signals{}
	}
	return *m.st.dr
}

// Response returns the meter's household response under its signals.
func (m *Meter) Response() Response {
	return ResponseOf(m.f.Seed, m.id, m.arch, m.f.Location, m.Signals())
}

// setSignals replaces the signals, invalidating the registers from the
// earliest instant the old or the new ones touch (before the change, so
// the checkpoint is rewound with the totals it was built from).
func (m *Meter) setSignals(now time.Time, next Signals) {
	s := m.s()
	old := m.Signals()
	from := now.Unix()
	for _, t := range []time.Time{old.Limit.From, old.Price.From, old.Relay.From, next.Limit.From, next.Price.From, next.Relay.From} {
		if !t.IsZero() && t.Unix() < from {
			from = t.Unix()
		}
	}
	m.invalidateFrom(from)
	if next == (Signals{}) {
		s.dr = nil
		return
	}
	s.dr = &next
}

// SetLoadLimit holds the limiter at an emergency threshold over the
// limit's span (a zero LoadLimit ends it). The limiter trips on the
// emergency threshold as it does on the normal one.
func (m *Meter) SetLoadLimit(now time.Time, l LoadLimit) {
	sig := m.Signals()
	if sig.Limit == l {
		return
	}
	sig.Limit = l
	m.setSignals(now, sig)
	m.logEvent(LogDisconnect, now, EventLimiterThresholdChanged)
}

// SetPriceSignal shows the household a price over the signal's span (a
// zero PriceSignal ends it).
func (m *Meter) SetPriceSignal(now time.Time, p PriceSignal) {
	sig := m.Signals()
	sig.Price = p
	m.setSignals(now, sig)
}

// SetMessage sets the text the meter shows the household.
func (m *Meter) SetMessage(now time.Time, text string) {
	sig := m.Signals()
	sig.Message = text
	m.setSignals(now, sig)
}

// SetLoadRelay opens the load-control relay over the span (a zero
// RelayOpen keeps it closed).
func (m *Meter) SetLoadRelay(now time.Time, o RelayOpen) {
	sig := m.Signals()
	sig.Relay = o
	m.setSignals(now, sig)
}

// LoadRelayAt returns the load-control relay's state at t.
func (m *Meter) LoadRelayAt(t time.Time) ControlState {
	f, u := span(m.Signals().Relay.From, m.Signals().Relay.To)
	if f != 0 && t.Unix() >= f && t.Unix() < u {
		return Disconnected
	}
	return Connected
}

// ThresholdAt returns the limiter threshold in force at t (W, 0:
// disabled) and whether it is the emergency one.
func (m *Meter) ThresholdAt(t time.Time) (int64, bool) {
	l := m.Signals().Limit
	if f, u := span(l.From, l.To); f != 0 && l.ThresholdW > 0 && t.Unix() >= f && t.Unix() < u {
		return l.ThresholdW, true
	}
	if m.st == nil {
		return 0, false
	}
	return m.st.relay.threshold, false
}

// respondStep applies the meter's signals to a step of the model.
func (m *Meter) respondStep(s int64, e loadshape.Energy) loadshape.Energy {
	if m.st == nil || m.st.dr == nil || !m.kind.Electric() {
		return e
	}
	// Signals long over stay until replaced: skip the household's draw
	// for the steps they no longer reach.
	if (Response{Signals: *m.st.dr}).active(s, s+stepSec) {
		return m.Response().apply(s, e)
	}
	return e
}

// respondPower applies the meter's signals to the import power at t.
func (m *Meter) respondPower(t time.Time, importW int64) int64 {
	if m.st == nil || m.st.dr == nil || !m.kind.Electric() {
		return importW
	}
	with, without := m.Response().Power(t)
	return importW - (without - with)
}
