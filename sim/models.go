package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/amigo-ami/amigo/loadshape"
)

// Model is the object model a simulated electricity meter serves: the same
// consumption, registers and events behind the objects of another make.
type Model uint8

// The object models.
const (
	// ModelIDIS is the IDIS-like meter: 1.0.1.8.0 and its rates, a
	// 15-minute load profile of A+ and A-, a daily billing profile, five
	// event logs, limiter, calendar, push setup and disconnector.
	ModelIDIS Model = iota
	// ModelDSMR5 follows the Dutch DSMR 5 objects: tariff registers
	// 1-0:1.8.1/1.8.2 and 2.8.1/2.8.2 without a total, tariff indicator
	// 0-0:96.14.0, per-phase voltage and current, power failure counters
	// and log, and load profiles 1-0:99.1.0 (15 minutes) and 1-0:99.2.0
	// (daily) of the tariff registers (see dsmr5.go).
	ModelDSMR5
	// ModelThirdParty is a meter of another maker with the habits of
	// independent implementations: no A+ in its profile, its clock at
	// 0-1:1.0.0, scaler -2, no lists, no block transfer, a small PDU and
	// read-write-denied for objects it lacks (see thirdparty.go).
	ModelThirdParty
	numModels
)

var modelNames = [numModels]string{"idis", "dsmr5", "thirdparty"}

// String names the model as --models does.
func (m Model) String() string {
	if m < numModels {
		return modelNames[m]
	}
	return "model(" + strconv.Itoa(int(m)) + ")"
}

// ParseModel reads a model name: idis, dsmr5 or thirdparty.
func ParseModel(s string) (Model, error) {
	for i, n := range modelNames {
		if s == n {
			return Model(i), nil
		}
	}
	return 0, fmt.Errorf("unknown meter model %q: want idis, dsmr5 or thirdparty", s)
}

// ModelShare weighs a model in a fleet's mix.
type ModelShare struct {
	Model  Model
	Weight uint32
}

// ParseModels reads a mix such as "idis=60,dsmr5=20,thirdparty=20"; a
// bare name weighs 1. A model named twice is refused.
func ParseModels(s string) ([]ModelShare, error) {
	var out []ModelShare
	seen := map[Model]bool{}
	var total uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		m, err := ParseModel(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		if seen[m] {
			return nil, fmt.Errorf("meter model %s named twice", m)
		}
		seen[m] = true
		weight := uint64(1)
		if hasW {
			if weight, err = strconv.ParseUint(strings.TrimSpace(w), 10, 32); err != nil {
				return nil, fmt.Errorf("meter model %s: weight %q: want a whole number", m, w)
			}
		}
		total += weight
		out = append(out, ModelShare{Model: m, Weight: uint32(weight)})
	}
	if total == 0 {
		return nil, fmt.Errorf("meter models %q: no model with a weight above 0", s)
	}
	if total > 1<<32-1 {
		return nil, fmt.Errorf("meter models %q: weights add up past 2^32", s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out, nil
}

const saltModel = 0x30DE1

// modelOf draws meter i's model from the mix: nil or IDIS alone is the
// IDIS model without a draw, so a fleet without a mix stays as it was.
func modelOf(seed uint64, i int, mix []ModelShare) Model {
	var total uint64
	for _, s := range mix {
		total += uint64(s.Weight)
	}
	if total == 0 {
		return ModelIDIS
	}
	h := loadshape.Rand(seed, uint64(i)+1, 0, saltModel) % total
	for _, s := range mix {
		if h < uint64(s.Weight) {
			return s.Model
		}
		h -= uint64(s.Weight)
	}
	return ModelIDIS
}

// Make is what a meter of a model says about itself: the manufacturer
// flag (the first three octets of its system title and of its serial),
// the model name of each kind and the firmware.
type Make struct {
	Flag     string
	Model1P  string // single-phase model
	Model3P  string // three-phase model
	Firmware string
}

// Makes of the simulated models. The IDIS-like meter is amigo's own; the
// others carry made-up names of their own, so that a head-end keeps one
// template per make, model and firmware.
var makes = [numModels]Make{
	ModelIDIS:       {Flag: Manufacturer, Model1P: "AMG-E1", Model3P: "AMG-E3", Firmware: "AMG-IDIS-2.4.1"},
	ModelDSMR5:      {Flag: Manufacturer, Model1P: "AMG-D5-1", Model3P: "AMG-D5-3", Firmware: "AMG-DSMR-5.0.2"},
	ModelThirdParty: {Flag: "XTP", Model1P: "XTP-100", Model3P: "XTP-300", Firmware: "XTP-1.07"},
}

// MakeOf returns the make of a model.
func MakeOf(m Model) Make {
	if m < numModels {
		return makes[m]
	}
	return makes[ModelIDIS]
}
