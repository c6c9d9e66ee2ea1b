package vee

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// A Rule is one check of a day. It reads the day and what is known around
// it from the Subject and returns its findings: usually one failure with
// every interval it covers, none when the day passes.
type Rule interface {
	// Name is what failures record, and exceptions store: once a rule has
	// run in production its name is persisted and must not change.
	Name() string
	Check(s *Subject) []Failure
}

// Rules holds the parameters of a rule set: each registered rule takes its
// own from it. A zero value field turns its rule off.
type Rules struct {
	// SpikeRatio flags the highest interval when it exceeds the third
	// highest that many times (and SpikeMin units).
	SpikeRatio float64 `json:"spikeRatio"`
	SpikeMin   int64   `json:"spikeMin"`
	// ZeroRun flags that many consecutive zero intervals while the meter
	// was energised (no power-down, relay closed).
	ZeroRun int `json:"zeroRun"`
	// HighFactor and LowFactor flag a day whose total is above
	// HighFactor × or below LowFactor × the average of the like days
	// (same weekday) in the history.
	HighFactor float64 `json:"highFactor"`
	LowFactor  float64 `json:"lowFactor"`
	// SumTolerance is how far, in units, the intervals may differ from
	// the register's move over the day.
	SumTolerance int64 `json:"sumTolerance"`
	// DemandLimit is the highest value one interval may hold (units per
	// interval): a contracted capacity turned into energy.
	DemandLimit int64 `json:"demandLimit"`
	// DropFactor flags a day whose total fell below DropFactor × the
	// history's average while the meter stayed energised and connected:
	// the signature of a bypass.
	DropFactor float64 `json:"dropFactor"`
}

// DefaultRules is a plausible rule set for household meters in Wh.
func DefaultRules() Rules {
	return Rules{SpikeRatio: 8, SpikeMin: 1000, ZeroRun: 16, HighFactor: 3, LowFactor: 0.2, SumTolerance: 1,
		DemandLimit: 17_250 / 4, DropFactor: 0.5}
}

// A Definition is a rule as the registry knows it: by its name, with the
// configuration parameters it reads and how a rule set's parameters make
// it.
type Definition struct {
	// Name is the rule's name, the one its Rule reports.
	Name string
	// Params maps the configuration names of the rule's parameters (the
	// keys of a validation group's rules) to where they go in Rules.
	Params map[string]func(*Rules, float64)
	// New makes the rule from a rule set's parameters; nil when they turn
	// it off.
	New func(Rules) Rule
}

// builtin are the rules validation has always had. Their order is the
// order of findings that start at the same interval, as operators have
// always seen them; rules registered later follow.
func builtin() []Definition {
	return []Definition{defMissing, defNegative, defRollover, defClock, defDataNotValid, defDuplicate, defOutage,
		defDemandLimit, defWhileOff, defZeroRun, defSpike, defHighLow, defDrop, defSumCheck}
}

// registry holds the registered rules, copied on write so Validate reads
// it without a lock. The built-in rules are in it before any init runs:
// a rule registered from any file's init follows them.
var registry = func() *atomic.Pointer[[]Definition] {
	var defs []Definition
	for _, d := range builtin() {
		var err error
		if defs, err = with(defs, d); err != nil {
			panic(err)
		}
	}
	p := new(atomic.Pointer[[]Definition])
	p.Store(&defs)
	return p
}()

var registerMu sync.Mutex

// Register adds a rule to every rule set whose parameters turn it on: a
// new rule is one file that calls Register from its init. It panics on a
// name or a parameter name already taken, as a duplicate would silently
// shadow a rule whose exceptions are already stored.
func Register(d Definition) {
	registerMu.Lock()
	defer registerMu.Unlock()
	defs, err := with(*registry.Load(), d)
	if err != nil {
		panic(err)
	}
	registry.Store(&defs)
}

// with is defs and d after them, in a new slice.
func with(defs []Definition, d Definition) ([]Definition, error) {
	if d.Name == "" || d.New == nil {
		return nil, fmt.Errorf("vee: rule %q registered without a name or a constructor", d.Name)
	}
	for _, o := range defs {
		if o.Name == d.Name {
			return nil, fmt.Errorf("vee: rule %q registered twice", d.Name)
		}
		for k := range d.Params {
			if _, ok := o.Params[k]; ok {
				return nil, fmt.Errorf("vee: rule %q takes parameter %q of rule %q", d.Name, k, o.Name)
			}
		}
	}
	return append(slices.Clip(defs), d), nil
}

// definitions are the registered rules, in order.
func definitions() []Definition { return *registry.Load() }

// Registered lists the names of the registered rules, in the order their
// findings are reported.
func Registered() []string {
	defs := definitions()
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out
}

// Lookup finds a registered rule by name.
func Lookup(name string) (Definition, bool) {
	for _, d := range definitions() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

// Set is the rules r turns on, by name, in the order their findings are
// reported.
func (r Rules) Set() []Rule {
	defs := definitions()
	out := make([]Rule, 0, len(defs))
	for _, d := range defs {
		if rule := d.New(r); rule != nil {
			out = append(out, rule)
		}
	}
	return out
}
