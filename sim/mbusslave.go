package sim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/meter"
)

// Standalone M-Bus meters: some fleet addresses also have an M-Bus
// converter (TCP to a wired bus) at a port of its own, with a gas meter at
// primary address 1 and, at some, a water meter at 2. They are read by the
// head-end directly over M-Bus, not through an electricity meter, and
// their volumes come from the same load model as the sub-meters'.
//
// Their model ids are MBusGasIDBase or MBusWaterIDBase plus the index plus
// one. Their M-Bus identification numbers (8 digits) are consecutive, as
// in a building fitted in one go: 10000000 plus twice the index plus one
// for gas, the next number for water. Every meter has its own, and the two
// of a converter differ in the last digit only, so a wildcard search must
// narrow their collision down to it.
const (
	MBusGasIDBase   = 3 << 40
	MBusWaterIDBase = 4 << 40

	// DefaultMBusPort is the converters' TCP port.
	DefaultMBusPort = 10001
	// DefaultMBusHistory is how far back the meters keep their volume
	// profile, by storage number.
	DefaultMBusHistory = 72 * time.Hour

	mbusIdentBase = 10_000_000
	saltMBus      = 0x4D42
	saltMBusWater = 0x4D57
)

// MBusMeter is one standalone M-Bus meter of a converter.
type MBusMeter struct {
	Index   int // the converter's fleet index
	Kind    meter.Kind
	ID      uint64 // model id
	Primary byte
	Address mbus.Secondary
}

// IsMBus reports whether fleet index i has an M-Bus converter.
func (f *Fleet) IsMBus(i int) bool {
	return f.mbus > 0 && float64(loadshape.Rand(f.seed, uint64(i)+1, 0, saltMBus)%1_000_000) < f.mbus*1_000_000
}

// MBusMeters returns the meters behind converter i (none when i has no
// converter): gas at primary address 1, water at 2 for half of them.
func (f *Fleet) MBusMeters(i int) []MBusMeter {
	if !f.IsMBus(i) {
		return nil
	}
	out := []MBusMeter{f.mbusMeter(i, meter.Gas)}
	if loadshape.Rand(f.seed, uint64(i)+1, 0, saltMBusWater)%2 == 0 {
		out = append(out, f.mbusMeter(i, meter.Water))
	}
	return out
}

func (f *Fleet) mbusMeter(i int, k meter.Kind) MBusMeter {
	m := MBusMeter{Index: i, Kind: k, ID: MBusGasIDBase + uint64(i) + 1, Primary: 1,
		Address: mbus.Secondary{ID: uint32(mbusIdentBase + 2*(i+1)), Manufacturer: Manufacturer, Version: 1, Medium: mbus.MediumGas}}
	if k == meter.Water {
		m.ID, m.Primary = MBusWaterIDBase+uint64(i)+1, 2
		m.Address.ID, m.Address.Medium = uint32(mbusIdentBase+2*(i+1)+1), mbus.MediumWater
	}
	return m
}

// MBusModel returns the load model of a standalone M-Bus meter, creating
// it on first use. Hold Lock(mm.Index) while using it.
func (f *Fleet) MBusModel(mm MBusMeter) (*meter.Meter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[uint64]*meter.Meter{}
	}
	if m, ok := f.subs[mm.ID]; ok {
		return m, nil
	}
	m, err := f.model.NewMeter(mm.ID, mm.Kind)
	if err != nil {
		return nil, fmt.Errorf("sim: M-Bus meter %d: %w", mm.ID, err)
	}
	f.subs[mm.ID] = m
	return m, nil
}

// MBusAddr is the converter address of fleet index i.
func (f *Fleet) MBusAddr(i int) netip.AddrPort { return addrOf(i, f.mbusPort) }

// MBusRows returns the manifest rows of the M-Bus meters of converter i.
func (f *Fleet) MBusRows(i int) ([]manifest.Row, error) {
	mms := f.MBusMeters(i)
	if len(mms) == 0 {
		return nil, nil
	}
	parent, err := f.Row(i)
	if err != nil {
		return nil, err
	}
	var out []manifest.Row
	for _, mm := range mms {
		m, err := f.model.NewMeter(mm.ID, mm.Kind)
		if err != nil {
			return nil, err
		}
		k := mm.Kind.String()
		out = append(out, manifest.Row{
			MeterID: mm.ID, Serial: m.Serial(), Manufacturer: Manufacturer, Model: "AMG-MBUS-" + k, Kind: k,
			Protocol: "mbus", Address: f.MBusAddr(i), UsagePointID: parent.UsagePointID + "-mbus-" + k,
			TimeZone: parent.TimeZone, Segment: parent.Segment, Region: parent.Region,
			Fields: map[string]string{"mbus_primary": strconv.Itoa(int(mm.Primary)), "mbus_secondary": mm.Address.String()},
		})
	}
	return out, nil
}

// ListenMBus opens the one listener of every converter address.
func (f *Fleet) ListenMBus(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.mbusPort)
}

// ServeMBus serves the converters on ln until ctx ends: a connection to a
// fleet address with a converter reaches its bus.
func (f *Fleet) ServeMBus(ctx context.Context, ln net.Listener) error {
	return linkio.Serve(ctx, ln, "sim mbus", func(ctx context.Context, c net.Conn) error {
		local, _ := netip.ParseAddrPort(c.LocalAddr().String())
		i, ok := f.Index(local.Addr())
		if !ok || !f.IsMBus(i) {
			refuse(c)
			return nil
		}
		// A converter takes one client at a time: its bus carries one
		// exchange at a time.
		release, ok := f.acquireMBus(ctx, i)
		if !ok {
			refuse(c)
			return nil
		}
		defer release()
		if !f.converterUp(i) {
			refuse(c)
			return nil
		}
		return f.MBusSlave(i).Serve(ctx, c)
	}, nil)
}

// converterUp reports whether converter i answers now: the fleet's
// offline, intermittent and power-cut faults apply to it as to a meter,
// drawn for its gas meter.
func (f *Fleet) converterUp(i int) bool {
	m, err := f.MBusModel(f.mbusMeter(i, meter.Gas))
	if err != nil {
		return false
	}
	lk := f.Lock(i)
	lk.Lock()
	defer lk.Unlock()
	return m.Reachable(f.now())
}

func (f *Fleet) acquireMBus(ctx context.Context, i int) (func(), bool) {
	timer := time.NewTimer(sessionWait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.mbusBusy == nil {
			f.mbusBusy = map[int]chan struct{}{}
		}
		ch, busy := f.mbusBusy[i]
		if !busy {
			ch = make(chan struct{})
			f.mbusBusy[i] = ch
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				delete(f.mbusBusy, i)
				f.mu.Unlock()
				close(ch)
			}, true
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		case <-timer.C:
			return nil, false
		}
	}
}

// MBusSlave returns the slave side of converter i's bus.
func (f *Fleet) MBusSlave(i int) *mbus.Slave {
	s := &mbus.Slave{Idle: f.idle}
	if s.Idle < 0 {
		s.Idle = 0
	}
	for _, mm := range f.MBusMeters(i) {
		s.Meters = append(s.Meters, &mbusSlaveMeter{f: f, mm: mm})
	}
	return s
}

// mbusSlaveMeter serves one standalone meter's records from its model.
type mbusSlaveMeter struct {
	f  *Fleet
	mm MBusMeter
}

func (s *mbusSlaveMeter) Primary() byte           { return s.mm.Primary }
func (s *mbusSlaveMeter) Address() mbus.Secondary { return s.mm.Address }

// Records implements mbus.Meter.
func (s *mbusSlaveMeter) Records(context.Context) (byte, []mbus.Record, error) {
	m, err := s.f.MBusModel(s.mm)
	if err != nil {
		return 0, nil, err
	}
	lk := s.f.Lock(s.mm.Index)
	lk.Lock()
	defer lk.Unlock()
	now := s.f.now()
	m.Settle(now)
	return MBusRecords(m, now, s.f.mbusHistory)
}

// MBusRecords are the data records a standalone meter answers at now, in
// its meter clock and local time:
//
//	storage 0            volume (l, BCD), date and time (type F), volume flow over
//	                     the last capture period (l/h), error flags (the last capture's status)
//	storage 1            the last local midnight (type G) and the volume then (l, BCD)
//	subunit 1, storage n the volume profile: storage 1 the newest capture, with its date
//	                     and time and the storage interval (min); storage n the
//	                     capture n-1 intervals earlier, back over history
//
// A capture the meter did not make (no power) has no storage record.
func MBusRecords(m *meter.Meter, now time.Time, history time.Duration) (byte, []mbus.Record, error) {
	fl := m.Fleet()
	loc := fl.Location
	iv := fl.VolumeInterval
	clock := m.Clock(now).In(loc)
	vol := m.RegistersAt(now).Import
	newest := clock.Truncate(iv)
	n := int(history / iv)
	if n < 1 {
		n = 1
	}
	oldest := newest.Add(-time.Duration(n-1) * iv)
	es := m.ProfileRange(now, oldest, newest)
	var flags, flow int64
	if len(es) > 0 {
		last := es[len(es)-1]
		flags = int64(last.Status &^ meter.StatusDST)
		flow = last.Import * int64(time.Hour) / int64(iv)
	}
	y, mo, d := clock.Date()
	midnight := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	var dayVol int64
	haveDay := false
	if bs := m.DailyBilling(now, midnight, midnight); len(bs) > 0 {
		dayVol, haveDay = bs[0].Registers.Import, true
	}
	rs := []mbus.Record{
		volume(vol, 0, 0, mbus.BCD8),
		{Coding: mbus.Int32, Quantity: mbus.DateTime, Value: wallTime(clock)},
		{Coding: mbus.Int32, Quantity: mbus.VolumeFlow, Exponent: -3, Value: mbus.Value{Kind: mbus.KindInt, Int: flow}},
		{Coding: mbus.Int16, Quantity: mbus.ErrorFlags, Value: mbus.Value{Kind: mbus.KindInt, Int: flags}},
	}
	if haveDay {
		rs = append(rs,
			mbus.Record{Coding: mbus.Int16, Quantity: mbus.Date, Storage: 1, Value: wallTime(midnight)},
			volume(dayVol, 1, 0, mbus.BCD8))
	}
	rs = append(rs,
		mbus.Record{Coding: mbus.Int32, Quantity: mbus.DateTime, Storage: 1, Subunit: 1, Value: wallTime(newest)},
		mbus.Record{Coding: mbus.Int16, VIB: []byte{0xFD, 0x25}, Quantity: mbus.StorageInterval, Subunit: 1,
			Value: mbus.Value{Kind: mbus.KindInt, Int: int64(iv / time.Minute)}})
	for k := len(es) - 1; k >= 0; k-- {
		e := es[k]
		slot := newest.Sub(e.Stamp) / iv
		if slot < 0 || slot >= time.Duration(n) || newest.Add(-slot*iv) != e.Stamp {
			continue
		}
		rs = append(rs, volume(e.CumImport, uint64(slot)+1, 1, mbus.Int32))
	}
	return 0, rs, nil
}

func volume(litres int64, storage uint64, subunit uint32, c mbus.Coding) mbus.Record {
	if c == mbus.BCD8 && litres >= 100_000_000 {
		c = mbus.BCD12
	}
	return mbus.Record{Coding: c, Quantity: mbus.Volume, Exponent: -3, Storage: storage, Subunit: subunit,
		Value: mbus.Value{Kind: mbus.KindInt, Int: litres}}
}

// wallTime codes t as M-Bus does: its local wall clock, with the summer
// time flag.
func wallTime(t time.Time) mbus.Value {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return mbus.Value{Kind: mbus.KindTime, Time: time.Date(y, mo, d, h, mi, s, 0, time.UTC), Summer: t.IsDST()}
}
