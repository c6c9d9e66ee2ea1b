package sim

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/loadshape"
)

// Fault is a set of DLMS firmware faults of one meter, the misbehaviours
// of real meters a head-end must survive. Each is a property of the
// meter, drawn from the fleet seed (Config.DLMSFaults) or given
// (Config.FaultsOf, DeviceConfig.Faults).
type Fault uint16

// The faults.
const (
	// FaultListDrop: the meter closes the link on any GET-with-list, as
	// firmware that crashes on it.
	FaultListDrop Fault = 1 << iota
	// FaultCounterAhead: the meter's record of its management client's
	// invocation counter starts CounterAhead above what a head-end that
	// never spoke to it uses; the head-end must resynchronise.
	FaultCounterAhead
	// FaultListAbsent: as the Gurux meter, after the first item of a
	// GET-with-list that fails, every later item answers object-undefined,
	// objects the meter has included.
	FaultListAbsent
	// FaultRangeRefused: a profile read by range answers other-reason;
	// by entry works.
	FaultRangeRefused
	// FaultOffGrid: each day the load profile holds one entry stamped
	// 07:07:30, off the capture grid, with the clock-adjusted status bit,
	// as after a clock adjustment.
	FaultOffGrid
	// FaultListClock: inside a GET-with-list, a clock's time comes back
	// wrapped twice (an octet-string holding the date-time octet-string),
	// as the Gurux meter answers.
	FaultListClock
	// FaultReadAheadCrash: a GET-with-list holding a profile's capture
	// objects and its buffer with a range crashes the meter: the link
	// drops and the meter refuses connections while it reboots
	// (Config.RebootTime).
	FaultReadAheadCrash
	// FaultImageCorrupt: one block of every image transferred to the
	// meter is stored corrupt, so the image fails verification.
	FaultImageCorrupt
	// FaultImageDrop: the meter drops the session half-way through the
	// first transfer of an image; the head-end resumes it.
	FaultImageDrop
	// FaultImageUntrusted: the meter trusts another firmware key than the
	// fleet's, so it refuses every image's signature, with an event.
	FaultImageUntrusted
	// FaultNoSpecialDays: the meter has an activity calendar but no
	// special days table (class 11), as older firmware: holidays count as
	// their weekday.
	FaultNoSpecialDays
	numFaults = iota
)

// CounterAhead is how far above a fresh head-end's counter a meter with
// FaultCounterAhead starts.
const CounterAhead = 1000

// DefaultRebootTime is how long a crashed meter refuses connections.
const DefaultRebootTime = 5 * time.Second

var faultNames = [numFaults]string{"list-drop", "counter-ahead", "list-absent", "range-refused", "off-grid", "list-clock", "read-ahead-crash",
	"image-corrupt", "image-drop", "image-untrusted", "no-special-days"}

// Faults lists every fault, in bit order.
func Faults() []Fault {
	out := make([]Fault, numFaults)
	for i := range out {
		out[i] = 1 << i
	}
	return out
}

// String names the faults as --faults does, joined by "+"; "none" for
// none.
func (f Fault) String() string {
	if f == 0 {
		return "none"
	}
	var names []string
	for i := range numFaults {
		if f&(1<<i) != 0 {
			names = append(names, faultNames[i])
		}
	}
	if rest := f &^ (1<<numFaults - 1); rest != 0 {
		names = append(names, "fault(0x"+strconv.FormatUint(uint64(rest), 16)+")")
	}
	return strings.Join(names, "+")
}

// Has reports whether f holds every fault of g.
func (f Fault) Has(g Fault) bool { return f&g == g }

// ParseFault reads one fault name.
func ParseFault(s string) (Fault, error) {
	for i, n := range faultNames {
		if s == n {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown fault %q: want one of %s", s, strings.Join(faultNames[:], ", "))
}

// FaultMix gives the fraction of meters, in [0, 1], that have each fault;
// each is drawn on its own per meter from the seed.
type FaultMix map[Fault]float64

// ParseFaultMix reads "list-drop=0.01,off-grid=0.05"; a bare name is a
// fraction of 1, "all=F" gives every fault the fraction F.
func ParseFaultMix(s string) (FaultMix, error) {
	mix := FaultMix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, v, hasV := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		p := 1.0
		if hasV {
			var err error
			if p, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || !(p >= 0 && p <= 1) {
				return nil, fmt.Errorf("fault %s: %q: want a fraction in [0, 1]", name, v)
			}
		}
		if name == "all" {
			for _, f := range Faults() {
				mix[f] = p
			}
			continue
		}
		f, err := ParseFault(name)
		if err != nil {
			return nil, err
		}
		mix[f] = p
	}
	return mix, nil
}

// String writes the mix back in ParseFaultMix's form, in bit order.
func (m FaultMix) String() string {
	var parts []string
	fs := make([]Fault, 0, len(m))
	for f := range m {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
	for _, f := range fs {
		parts = append(parts, f.String()+"="+strconv.FormatFloat(m[f], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

const saltDLMSFault = 0xFA017

// faultsOf draws meter i's faults from the mix.
func faultsOf(seed uint64, i int, mix FaultMix) Fault {
	var out Fault
	for f, p := range mix {
		if p <= 0 || bits.OnesCount16(uint16(f)) != 1 {
			continue
		}
		h := loadshape.Rand(seed, uint64(i)+1, uint64(bits.TrailingZeros16(uint16(f))), saltDLMSFault)
		if p >= 1 || h%1_000_000 < uint64(p*1_000_000) {
			out |= f
		}
	}
	return out
}

// Errors a faulty meter ends a connection with.
var (
	// ErrListDropped: a meter with FaultListDrop got a GET-with-list.
	ErrListDropped = errors.New("sim: the meter's firmware dropped the link on a GET-with-list")
	// ErrCrashed: a meter with FaultReadAheadCrash got the request that
	// crashes it; it reboots.
	ErrCrashed = errors.New("sim: the meter's firmware crashed on a profile read-ahead and reboots")
)

// quirks returns the server's departures for a meter's faults and model.
func (d *Device) quirks() server.Quirks {
	var q server.Quirks
	f := d.cfg.Faults
	if d.cfg.Model == ModelThirdParty {
		q.Absent = apdu.ReadWriteDenied
	}
	if f.Has(FaultListDrop) || f.Has(FaultReadAheadCrash) {
		q.Request = func(r apdu.APDU) error {
			l, ok := r.(*apdu.GetRequestWithList)
			if !ok {
				return nil
			}
			if f.Has(FaultListDrop) {
				return ErrListDropped
			}
			if f.Has(FaultReadAheadCrash) && readAhead(l.Attributes) {
				return ErrCrashed
			}
			return nil
		}
	}
	if f.Has(FaultListAbsent) || f.Has(FaultListClock) {
		q.ListResults = func(reqs []apdu.AttributeRequest, res []apdu.GetDataResult) {
			failed := false
			for i := range res {
				if failed && f.Has(FaultListAbsent) {
					res[i] = apdu.ResultError(apdu.ObjectUndefined)
					continue
				}
				if res[i].IsAccessResult {
					failed = true
					continue
				}
				a := reqs[i].Attribute
				if f.Has(FaultListClock) && a.ClassID == cosem.ClassClock && a.AttributeID == 2 && res[i].Data.Tag == axdr.TagOctetString {
					res[i] = apdu.ResultData(axdr.OctetString(res[i].Data.Append(nil)))
				}
			}
		}
	}
	return q
}

// readAhead reports a list holding a profile's capture objects and its
// buffer with a range: the request that crashes the Gurux meter.
func readAhead(at []apdu.AttributeRequest) bool {
	for _, a := range at {
		if a.Attribute.ClassID != cosem.ClassProfileGeneric || a.Attribute.AttributeID != 3 {
			continue
		}
		for _, b := range at {
			if b.Attribute.ClassID == cosem.ClassProfileGeneric && b.Attribute.InstanceID == a.Attribute.InstanceID &&
				b.Attribute.AttributeID == 2 && b.Access != nil && b.Access.Selector == cosem.SelectorRange {
				return true
			}
		}
	}
	return false
}
