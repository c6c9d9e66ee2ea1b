package distribution

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Config describes the network to build. Every choice derives from Seed:
// the same Config gives the same tree, the same faults and the same
// voltages.
type Config struct {
	Seed   uint64
	Meters int // services, one per meter index 0..Meters-1
	// Start and Days bound the faults: none happen outside
	// [Start, Start+Days).
	Start time.Time
	Days  int
	// Rural is the fraction of feeders that are rural: fewer services per
	// transformer, longer lines, more faults.
	Rural float64
	// Mix holds the fault rates; the zero Mix has no faults at all, so
	// start from DefaultMix (or DefaultConfig).
	Mix OutageMix
	// LastGaspLoss is the chance a meter's last gasp never reaches the
	// head-end (0.2 is typical of RF and cellular meters).
	LastGaspLoss float64
	// FalseGaspsPerYear is how many false last gasps a meter sends a year
	// without any cut behind it.
	FalseGaspsPerYear float64
	// OutOfBounds is the fraction of transformers whose tap puts their
	// services clearly outside EN 50160's ±10 %.
	OutOfBounds float64
	// SagsPerFeederYear is the rate of voltage dips and swells seen on a
	// feeder (one phase each).
	SagsPerFeederYear float64
	// Location is the local time of planned work and of the daily load
	// (nil: UTC).
	Location *time.Location
}

// OutageMix holds the fault rates, per device and year unless noted.
type OutageMix struct {
	MomentaryPerFeeder       float64 // recloser operations (seconds to < 5 min)
	SubstationPerYear        float64 // sustained substation outages
	FeederPerYear            float64 // sustained faults on an urban feeder (rural: twice)
	TransformerPerYear       float64 // sustained transformer faults (blown fuses, failures)
	ServicePerYear           float64 // a single service's fault (cut-out fuse, cable)
	PlannedPerTransformer    float64 // announced daytime works, 1-4 h
	StormsPerYear            float64 // major event days
	StormFeederShare         float64 // fraction of feeders a storm trips
	StormTransformerShare    float64 // fraction of transformers a storm damages
	ColdLoadPickupPerRestore float64 // chance a feeder's restoration blows a transformer fuse under it
}

// DefaultMix is a plausible mix for a mostly overhead European or North
// American network, with a stormy year so that every month holds a major
// event day (see docs/distribution.md).
func DefaultMix() OutageMix {
	return OutageMix{
		MomentaryPerFeeder: 6, SubstationPerYear: 0.05, FeederPerYear: 1.2,
		TransformerPerYear: 0.15, ServicePerYear: 0.03, PlannedPerTransformer: 0.1,
		StormsPerYear: 12, StormFeederShare: 0.25, StormTransformerShare: 0.03,
		ColdLoadPickupPerRestore: 0.1,
	}
}

// DefaultConfig returns the defaults for n meters from start: 30 days,
// 20 % rural feeders, the default mix, 20 % of last gasps lost, false
// gasps about 1 % of the last gasps received, 1 % of transformers out of
// bounds, 12 sags and swells per feeder-year.
func DefaultConfig(seed uint64, n int, start time.Time) Config {
	return Config{
		Seed: seed, Meters: n, Start: start, Days: 30, Rural: 0.2, Mix: DefaultMix(),
		LastGaspLoss: 0.2, FalseGaspsPerYear: 0.06, OutOfBounds: 0.01, SagsPerFeederYear: 12,
		Location: time.UTC,
	}
}

// ErrConfig reports an invalid configuration.
var ErrConfig = errors.New("distribution: invalid configuration")

// Network is a built network: its tree, its faults over the configured
// window and its voltages. It is immutable and safe for concurrent use.
type Network struct {
	cfg  Config
	grid *topology.Grid
	from int64 // fault window, unix seconds
	to   int64

	subs   []device
	feeds  []feeder
	trans  []transformer
	servs  []service
	outs   []TrueOutage
	byNode [4][][]span // level depth -> device index -> outages in start order
	dist   [][]Disturbance
}

type device struct {
	id       string
	lat, lon float64
}

type feeder struct {
	device
	sub    int
	rural  bool
	length int // metres, substation to the far end
	dropPM int // voltage drop at the far end at full load, permille
	first  int // first transformer
	n      int
}

type transformer struct {
	device
	feeder int
	distM  int // from the substation along the feeder
	tapPM  int // tap offset, permille
	oob    bool
	first  int // first service
	n      int
}

type service struct {
	trans int
	phase int // 1..3
	distM int // cable from the transformer
	lat   float64
	lon   float64
}

type span struct {
	from, to int64
	outage   int // index in outs
}

// Town centre of the made-up network the console maps.
const (
	townLat = 52.37
	townLon = 4.89
)

// New builds the network.
func New(cfg Config) (*Network, error) {
	switch {
	case cfg.Meters <= 0:
		return nil, fmt.Errorf("%w: %d meters", ErrConfig, cfg.Meters)
	case cfg.Days < 0:
		return nil, fmt.Errorf("%w: %d days", ErrConfig, cfg.Days)
	case cfg.Rural < 0 || cfg.Rural > 1:
		return nil, fmt.Errorf("%w: rural fraction %v not in [0, 1]", ErrConfig, cfg.Rural)
	case cfg.LastGaspLoss < 0 || cfg.LastGaspLoss > 1:
		return nil, fmt.Errorf("%w: last gasp loss %v not in [0, 1]", ErrConfig, cfg.LastGaspLoss)
	case cfg.OutOfBounds < 0 || cfg.OutOfBounds > 1:
		return nil, fmt.Errorf("%w: out-of-bounds fraction %v not in [0, 1]", ErrConfig, cfg.OutOfBounds)
	case cfg.FalseGaspsPerYear < 0 || cfg.SagsPerFeederYear < 0:
		return nil, fmt.Errorf("%w: negative rate", ErrConfig)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	n := &Network{cfg: cfg, from: cfg.Start.Unix(), to: cfg.Start.AddDate(0, 0, cfg.Days).Unix()}
	n.build()
	g, err := topology.New(n.nodes())
	if err != nil {
		return nil, fmt.Errorf("distribution: %w", err)
	}
	n.grid = g
	n.fault()
	n.disturb()
	return n, nil
}

// Config returns the configuration the network was built from.
func (n *Network) Config() Config { return n.cfg }

// Topology returns the tree. A service's id is the usage point of its
// meter (UsagePoint).
func (n *Network) Topology() *topology.Grid { return n.grid }

// UsagePoint is the usage point id of the meter with id (the simulator's
// meter ids start at 1: meter index i has id i+1).
func UsagePoint(id uint64) string { return fmt.Sprintf("UP%010d", id) }

// service returns the service of meter id, if the network has it.
func (n *Network) service(id uint64) (*service, bool) {
	if id < 1 || id > uint64(len(n.servs)) {
		return nil, false
	}
	return &n.servs[id-1], true
}

// Devices of meter id: its service index, transformer, feeder, substation.
func (n *Network) path(id uint64) (s, t, f, b int, ok bool) {
	sv, ok := n.service(id)
	if !ok {
		return 0, 0, 0, 0, false
	}
	t = sv.trans
	f = n.trans[t].feeder
	return int(id - 1), t, f, n.feeds[f].sub, true
}

func (n *Network) rng(salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(n.cfg.Seed, salt))
}

const (
	saltTree = 0x7472656500 + iota
	saltFault
	saltDisturb
	saltGasp
	saltFalse
)

// metres to degrees near the town.
func offset(lat, lon, north, east float64) (float64, float64) {
	return lat + north/111_320, lon + east/(111_320*math.Cos(lat*math.Pi/180))
}

// build lays the tree out: meter indices in order fill transformers,
// transformers fill feeders, feeders fill substations, so neighbouring
// meter ids share their devices like a street does.
func (n *Network) build() {
	r := n.rng(saltTree)
	total := n.cfg.Meters
	nsubs := max(1, int(math.Round(float64(total)/20_000)))
	perSub := (total + nsubs - 1) / nsubs
	left := total
	for si := 0; si < nsubs && left > 0; si++ {
		ang := 2 * math.Pi * float64(si) / float64(nsubs)
		ring := 0.0
		if nsubs > 1 {
			ring = 3000 + 1500*r.Float64()
		}
		slat, slon := offset(townLat, townLon, ring*math.Sin(ang), ring*math.Cos(ang))
		n.subs = append(n.subs, device{id: fmt.Sprintf("SS-%d", si+1), lat: slat, lon: slon})
		subLeft := min(perSub, left)
		left -= subLeft
		for fi := 0; subLeft > 0; fi++ {
			rural := r.Float64() < n.cfg.Rural
			size := 1000 + r.IntN(1001)
			if rural {
				size = 400 + r.IntN(601)
			}
			if subLeft-size < size/3 { // no stub feeder at the end
				size = subLeft
			}
			subLeft -= size
			fd := feeder{sub: si, rural: rural, first: len(n.trans)}
			fd.id = fmt.Sprintf("FD-%d", len(n.feeds)+1)
			dir := r.Float64() * 2 * math.Pi
			// Urban cable feeders run 2-6 km, rural overhead lines 8-25
			// km; transformers spread along the trunk and its branches.
			reachM := 2000 + r.Float64()*4000
			perTrans := 25.0
			fd.dropPM = 20 + r.IntN(11)
			if rural {
				reachM = 8000 + r.Float64()*17000
				perTrans = 3.5
				fd.dropPM = 35 + r.IntN(11)
			}
			step := reachM / math.Ceil(float64(size)/perTrans)
			for size > 0 {
				k := 10 + r.IntN(31)
				if rural {
					k = 1 + r.IntN(6)
				}
				k = min(k, size)
				size -= k
				ti := len(n.trans)
				d := min(int(step*float64(ti-fd.first+1)), int(reachM))
				tr := transformer{feeder: len(n.feeds), distM: d, first: len(n.servs), n: k}
				tr.id = fmt.Sprintf("TR-%d", ti+1)
				// A feeder wanders: its direction turns a little per span.
				bend := dir + 0.6*math.Sin(float64(ti-fd.first)/5)
				tr.lat, tr.lon = offset(slat, slon, float64(d)*math.Sin(bend), float64(d)*math.Cos(bend))
				tr.tapPM = -10 + r.IntN(31)
				if r.Float64() < n.cfg.OutOfBounds {
					tr.oob = true
					if r.IntN(2) == 0 {
						tr.tapPM = 140
					} else {
						tr.tapPM = -150
					}
				}
				reach := 30 + r.Float64()*150
				if rural {
					reach = 50 + r.Float64()*600
				}
				for j := 0; j < k; j++ {
					sd := 10 + int(r.Float64()*reach)
					a := r.Float64() * 2 * math.Pi
					lat, lon := offset(tr.lat, tr.lon, float64(sd)*math.Sin(a), float64(sd)*math.Cos(a))
					n.servs = append(n.servs, service{trans: ti, phase: 1 + len(n.servs)%3, distM: sd, lat: lat, lon: lon})
				}
				n.trans = append(n.trans, tr)
				fd.length = d
			}
			fd.n = len(n.trans) - fd.first
			// A feeder sits a little out from its substation on the map.
			fd.lat, fd.lon = offset(slat, slon, 60*math.Sin(dir), 60*math.Cos(dir))
			n.feeds = append(n.feeds, fd)
		}
	}
}

func region(id uint64) string { return fmt.Sprintf("region-%d", id/100_000) }

// nodes lists the tree for topology.New. A device's region is that of its
// first service.
func (n *Network) nodes() []topology.Node {
	out := make([]topology.Node, 0, len(n.subs)+len(n.feeds)+len(n.trans)+len(n.servs))
	firstOfFeeder := func(f int) uint64 { return uint64(n.trans[n.feeds[f].first].first) + 1 }
	for si, s := range n.subs {
		var first uint64
		for f := range n.feeds {
			if n.feeds[f].sub == si {
				first = firstOfFeeder(f)
				break
			}
		}
		out = append(out, topology.Node{ID: s.id, Level: topology.Substation, Region: region(first), Lat: s.lat, Lon: s.lon})
	}
	for f, fd := range n.feeds {
		out = append(out, topology.Node{ID: fd.id, Level: topology.Feeder, Parent: n.subs[fd.sub].id, Region: region(firstOfFeeder(f)), Lat: fd.lat, Lon: fd.lon})
	}
	for _, tr := range n.trans {
		out = append(out, topology.Node{ID: tr.id, Level: topology.Transformer, Parent: n.feeds[tr.feeder].id,
			Region: region(uint64(tr.first) + 1), Lat: tr.lat, Lon: tr.lon, DistanceM: tr.distM})
	}
	for i, s := range n.servs {
		id := uint64(i) + 1
		out = append(out, topology.Node{ID: UsagePoint(id), Level: topology.Service, Parent: n.trans[s.trans].id,
			Region: region(id), Lat: s.lat, Lon: s.lon, Phase: s.phase, DistanceM: s.distM})
	}
	return out
}
