package sim

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/amigo-ami/amigo/dsmr"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/meter"
)

// DefaultP1Port is the TCP port of the DSMR meters' P1 ports on their
// loopback addresses, as a ser2net bridge conventionally offers one.
const DefaultP1Port = 2001

// DefaultP1Interval is how often a DSMR 5 meter pushes a telegram.
const DefaultP1Interval = time.Second

const saltP1, saltP1Version = 0x9135, 0x9142

// P1Version returns the version of meter i's P1 telegrams: a quarter of
// the DSMR meters run DSMR 4.2 firmware (a telegram every ten intervals,
// no voltages, hourly gas), the others DSMR 5.0.
func (f *Fleet) P1Version(i int) dsmr.Version {
	if !f.HasP1(i) {
		return dsmr.VersionUnknown
	}
	if loadshape.Rand(f.seed, uint64(i)+1, 0, saltP1Version)%4 == 0 {
		return dsmr.V42
	}
	return dsmr.V50
}

// p1Config is the fleet's P1 settings (Config.P1Port and the rest).
type p1Config struct {
	port      uint16
	encrypted float64
	interval  time.Duration
	counters  map[int]uint32 // frame counters of encrypted ports
}

// HasP1 reports whether meter i has a P1 port: the DSMR-model meters
// (not those that speak another protocol instead of DLMS).
func (f *Fleet) HasP1(i int) bool { return f.ModelOf(i) == ModelDSMR5 && f.isDLMS(i) }

// P1Key returns the AES-128 key of meter i's encrypted P1 port, or ok
// false when its port sends plain telegrams (or it has none).
func (f *Fleet) P1Key(i int) (key [16]byte, ok bool) {
	if !f.HasP1(i) || f.p1.encrypted <= 0 {
		return key, false
	}
	id := uint64(i) + 1
	if float64(loadshape.Rand(f.seed, id, 0, saltP1)%1_000_000) >= f.p1.encrypted*1_000_000 {
		return key, false
	}
	k := derive(f.seed, "p1", id)
	copy(key[:], k[:16])
	return key, true
}

// P1Addr returns the address of meter i's P1 port.
func (f *Fleet) P1Addr(i int) netip.AddrPort { return addrOf(i, f.p1Port()) }

func (f *Fleet) p1Port() uint16 {
	if f.p1.port == 0 {
		return DefaultP1Port
	}
	return f.p1.port
}

// ListenP1 opens the one listener of every meter's P1 port (see
// ListenLoopback).
func (f *Fleet) ListenP1(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.p1Port())
}

// ServeP1 serves the P1 ports of the DSMR meters on ln until ctx ends: a
// connection to meter i's address receives a telegram every P1 interval
// (ten for DSMR 4.2),
// built from the meter model at that moment, encrypted for the meters
// P1Key gives a key. A connection to a meter without a P1 port is closed
// at once. Unlike the DLMS port, a P1 port takes any number of readers, as
// a bridge shares one serial line.
func (f *Fleet) ServeP1(ctx context.Context, ln net.Listener) error {
	return linkio.Serve(ctx, ln, "sim p1", func(ctx context.Context, c net.Conn) error {
		f.pushP1(ctx, c)
		return nil
	}, nil)
}

func (f *Fleet) pushP1(ctx context.Context, c net.Conn) {
	defer c.Close()
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	i, ok := f.Index(local.Addr())
	if !ok || !f.HasP1(i) {
		refuse(c)
		return
	}
	interval := f.p1.interval
	if interval <= 0 {
		interval = DefaultP1Interval
	}
	if f.P1Version(i) < dsmr.V50 {
		interval *= 10
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		b, err := f.P1Frame(i)
		if err != nil {
			f.log.Error("building a P1 telegram", "meter", i, "err", err)
			return
		}
		if b != nil {
			c.SetWriteDeadline(time.Now().Add(interval + 5*time.Second))
			if _, err := c.Write(b); err != nil {
				f.log.Debug("P1 reader gone", "meter", i, "err", err)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// P1Frame returns what meter i's P1 port sends now: a telegram, encrypted
// when the port is, or nil while the meter has no power.
func (f *Fleet) P1Frame(i int) ([]byte, error) {
	r, powered, err := f.P1Reading(i)
	if err != nil || !powered {
		return nil, err
	}
	b := dsmr.Build(r).Encode()
	key, enc := f.P1Key(i)
	if !enc {
		return b, nil
	}
	f.mu.Lock()
	if f.p1.counters == nil {
		f.p1.counters = map[int]uint32{}
	}
	f.p1.counters[i]++
	n := f.p1.counters[i]
	f.mu.Unlock()
	id := f.Identity(i)
	return dsmr.Encrypt(dsmr.Frame{SystemTitle: id.SystemTitle, Counter: n}, b, key[:], nil)
}

// P1Reading returns what meter i's P1 port says now, from the meter model:
// the tariff registers folded as the DSMR 5 COSEM model folds them, the
// instantaneous values, the power failures and the M-Bus meters behind it.
// powered is false during a power cut.
func (f *Fleet) P1Reading(i int) (r dsmr.Reading, powered bool, err error) {
	if !f.HasP1(i) {
		return r, false, fmt.Errorf("sim: meter %d (%s) has no P1 port", i, f.ModelOf(i))
	}
	m, err := f.Meter(i)
	if err != nil {
		return r, false, err
	}
	subs, err := f.SubMeters(i)
	if err != nil {
		return r, false, err
	}
	lk := f.Lock(i)
	lk.Lock()
	defer lk.Unlock()
	now := f.now()
	m.Settle(now)
	for _, o := range m.Outages(now.Add(-time.Second), now.Add(time.Second)) {
		if !o.Start.After(now) && o.End.After(now) {
			return r, false, nil
		}
	}
	regs := m.RegistersAt(now)
	t := dsmrTariffs(&regs)
	inst := m.Instant(now)
	clock := m.Clock(now)
	rate := 1
	if tf := m.Tariff(); tf != nil {
		rate = tf.Rate(clock.In(m.Fleet().Location))
	}
	r = dsmr.Reading{Version: f.P1Version(i), Header: `AMG5\2` + MakeOf(ModelDSMR5).Model3P, Time: clock,
		EquipmentID: serialOf(m, ModelDSMR5), ImportWh: [2]int64{t[0], t[1]}, ExportWh: [2]int64{t[2], t[3]},
		Tariff: 2 - rate%2, ImportW: inst.ImportW, ExportW: inst.ExportW, Phases: m.Phases(), Breaker: 1}
	if m.Phases() != 3 {
		r.Header = `AMG5\2` + MakeOf(ModelDSMR5).Model1P
	}
	var sumI int64
	for p := range m.Phases() {
		r.VoltageDV[p] = inst.VoltageDV[p]
		r.CurrentA[p] = int64((inst.CurrentMA[p] + 500) / 1000)
		sumI += int64(inst.CurrentMA[p])
	}
	r.PhaseImportW, r.PhaseExportW = splitPhases(inst.ImportW, inst.CurrentMA, m.Phases(), sumI), splitPhases(inst.ExportW, inst.CurrentMA, m.Phases(), sumI)
	r.Failures, r.LongFailures, r.FailureLog = powerFailures(m, now)
	for _, sub := range subs {
		sub.Settle(now)
		typ := mbusGas
		if sub.Kind() == meter.Water {
			typ = mbusWater
		}
		r.MBus = append(r.MBus, dsmr.MBusReading{Type: typ, ID: sub.Serial(),
			At: sub.Clock(now).Truncate(sub.Fleet().VolumeInterval), Litres: sub.RegistersAt(now).Import})
	}
	return r, true, nil
}

// splitPhases shares a total power over the phases by their currents, the
// last phase taking the rounding, so that the phases add up to the total.
func splitPhases(total int64, currentMA [3]int32, phases int, sumI int64) [3]int64 {
	var out [3]int64
	if phases != 3 || sumI == 0 {
		out[0] = total
		return out
	}
	out[0] = total * int64(currentMA[0]) / sumI
	out[1] = total * int64(currentMA[1]) / sumI
	out[2] = total - out[0] - out[1]
	return out
}

// p1LogSize is how many long power failures the P1 log shows, as DSMR's
// buffer of 1-0:99.97.0 holds.
const p1LogSize = 10

// powerFailures counts the power cuts that ended before now, all and long
// ones as the DSMR 5 COSEM objects do, and lists the latest long ones,
// newest first.
func powerFailures(m *meter.Meter, now time.Time) (all, long int, log []dsmr.PowerFailure) {
	for _, c := range m.Outages(m.Installed(), now) {
		if c.End.After(now) {
			continue
		}
		all++
		if c.End.Sub(c.Start) >= longFailure {
			long++
			log = append(log, dsmr.PowerFailure{End: c.End, Duration: c.End.Sub(c.Start).Truncate(time.Second)})
		}
	}
	for a, b := 0, len(log)-1; a < b; a, b = a+1, b-1 {
		log[a], log[b] = log[b], log[a]
	}
	if len(log) > p1LogSize {
		log = log[:p1LogSize]
	}
	return min(all, 0xFFFF), min(long, 0xFFFF), log
}

// p1KeyField is meter i's manifest p1_key: hex, or empty for a plain port.
func (f *Fleet) p1KeyField(i int) string {
	k, ok := f.P1Key(i)
	if !ok {
		return ""
	}
	return hex.EncodeToString(k[:])
}
