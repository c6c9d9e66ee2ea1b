package sim

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Gas and water meters hang behind electricity meters on the wired M-Bus,
// as in DSMR homes: the electricity meter is their DLMS server and shows
// each through the M-Bus client class on channel b (gas on 1, water on 2):
//
//	0.b.24.1.0.255  M-Bus client (class 72): identification, manufacturer, device type
//	0.b.24.2.1.255  volume (class 4): m³ with scaler -3 (litres), capture time
//	0.b.24.3.0.255  hourly profile {clock, status, volume}
//	0.b.24.3.1.255  daily profile {clock, status, volume}, local midnights
//	0.b.24.4.0.255  valve (class 70): closing it stops the flow
//
// A sub-meter's id is the electricity meter's id plus GasIDBase or
// WaterIDBase, so it never collides with an electricity meter.
const (
	GasIDBase   = 1 << 40
	WaterIDBase = 2 << 40
)

// M-Bus device types (EN 13757-3).
const (
	mbusGas   = 0x03
	mbusWater = 0x07
)

const saltGas, saltWater = 0x6A5, 0x3A7E

func mbusLN(b, c, d, e byte) obis.Code { return obis.Code{0, b, c, d, e, 255} }

// subKinds says which sub-meters electricity meter i has.
func (f *Fleet) subKinds(i int) []meter.Kind {
	if f.ModelOf(i) == ModelThirdParty || !f.isDLMS(i) {
		// Its object model has no M-Bus client.
		return nil
	}
	id := uint64(i) + 1
	var out []meter.Kind
	if f.gas > 0 && float64(loadshape.Rand(f.seed, id, 0, saltGas)%1_000_000) < f.gas*1_000_000 {
		out = append(out, meter.Gas)
	}
	if f.water > 0 && float64(loadshape.Rand(f.seed, id, 0, saltWater)%1_000_000) < f.water*1_000_000 {
		out = append(out, meter.Water)
	}
	return out
}

func subID(i int, k meter.Kind) uint64 {
	base := uint64(GasIDBase)
	if k == meter.Water {
		base = WaterIDBase
	}
	return base + uint64(i) + 1
}

// SubMeters returns the gas and water meters behind electricity meter i,
// in M-Bus channel order, creating their models on first use.
func (f *Fleet) SubMeters(i int) ([]*meter.Meter, error) {
	kinds := f.subKinds(i)
	if len(kinds) == 0 {
		return nil, nil
	}
	parent, err := f.Meter(i)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[uint64]*meter.Meter{}
	}
	out := make([]*meter.Meter, 0, len(kinds))
	for _, k := range kinds {
		id := subID(i, k)
		m, ok := f.subs[id]
		if !ok {
			if m, err = f.model.NewMeter(id, k); err != nil {
				return nil, err
			}
			f.subs[id] = m
		}
		lk := f.Lock(i)
		lk.Lock()
		_, err := parent.Attach(m)
		lk.Unlock()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// SubRows returns the manifest rows of the sub-meters of meter i: reached
// through the parent's address and association.
func (f *Fleet) SubRows(i int) ([]manifest.Row, error) {
	kinds := f.subKinds(i)
	if len(kinds) == 0 {
		return nil, nil
	}
	parent, err := f.Row(i)
	if err != nil {
		return nil, err
	}
	var out []manifest.Row
	for ch, k := range kinds {
		id := subID(i, k)
		m, err := f.model.NewMeter(id, k)
		if err != nil {
			return nil, err
		}
		r := parent
		r.MeterID, r.Serial, r.Kind, r.Model = id, m.Serial(), k.String(), "AMG-"+k.String()
		r.Parent, r.Fields = parent.MeterID, maps.Clone(parent.Fields)
		r.Fields["mbus_channel"] = strconv.Itoa(ch + 1)
		r.Fields["p1_key"] = ""
		r.Archetype = ""
		r.UsagePointID = parent.UsagePointID + "-" + k.String()
		out = append(out, r)
	}
	return out, nil
}

// mbusObjects are the COSEM objects of the sub-meters on the device's
// M-Bus channels.
func (d *Device) mbusObjects() []cosem.Object {
	var objs []cosem.Object
	for ch, sub := range d.cfg.Subs {
		b := byte(ch + 1)
		objs = append(objs, d.mbusChannel(b, sub)...)
	}
	return objs
}

func (d *Device) withSub(sub *meter.Meter, fn func(m *meter.Meter, now time.Time)) {
	d.cfg.Lock.Lock()
	defer d.cfg.Lock.Unlock()
	now := d.cfg.Now()
	sub.Settle(now)
	fn(sub, now)
}

func (d *Device) mbusChannel(b byte, sub *meter.Meter) []cosem.Object {
	client := objects.NewMBusClient(mbusLN(b, 24, 1, 0), obis.Code{0, 0, 24, 6, 0, 255})
	client.PrimaryAddress = b
	client.IdentificationNumber = uint32(sub.ID() % 100_000_000)
	client.ManufacturerID = mbusManufacturer(Manufacturer)
	client.DeviceType = mbusGas
	if sub.Kind() == meter.Water {
		client.DeviceType = mbusWater
	}
	client.DeviceVersion = 1
	client.CapturePeriod = uint32(sub.Fleet().VolumeInterval / time.Second)

	volLN := mbusLN(b, 24, 2, 1)
	vol := objects.NewExtendedRegister(volLN, axdr.Uint32(0), axdr.ScalerUnit{Scaler: -3, Unit: axdr.UnitCubicMetre}, axdr.Uint8(0), time.Time{})
	vol.Read = func(context.Context) (axdr.Data, axdr.Data, time.Time, error) {
		var v int64
		var at time.Time
		d.withSub(sub, func(m *meter.Meter, now time.Time) {
			// The index as captured at the last period's end, as a DSMR
			// meter keeps it: its value and capture time agree.
			clock := m.Clock(now)
			at = clock.Truncate(sub.Fleet().VolumeInterval)
			v = m.RegistersAt(now.Add(at.Sub(clock))).Import
		})
		return axdr.Uint32(uint32(v)), axdr.Uint8(0), d.zone(at), nil
	}
	vol.Now = func() time.Time { return d.zone(d.cfg.Now()) }
	statusLN := mbusLN(b, 96, 10, 3)
	cols := []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: statusLN, Attribute: 2},
		{ClassID: cosem.ClassExtendedRegister, LogicalName: volLN, Attribute: 2},
	}
	hist := uint32(sub.Fleet().HistoryDays)
	hourly := d.profile(mbusLN(b, 24, 3, 0), cols, sub.Fleet().VolumeInterval, hist*24, func(from, to time.Time) []axdr.Data {
		var es []meter.Entry
		d.withSub(sub, func(m *meter.Meter, now time.Time) { es = m.ProfileRange(now, from, to); m.Trim() })
		rows := make([]axdr.Data, len(es))
		for i, e := range es {
			rows[i] = axdr.Structure(d.dateTime(e.Stamp), axdr.Uint8(uint8(e.Status)), axdr.Uint32(uint32(e.CumImport)))
		}
		return rows
	})
	daily := d.profile(mbusLN(b, 24, 3, 1), cols, 24*time.Hour, hist, func(from, to time.Time) []axdr.Data {
		var bs []meter.Billing
		d.withSub(sub, func(m *meter.Meter, now time.Time) { bs = m.DailyBilling(now, from, to) })
		rows := make([]axdr.Data, len(bs))
		for i, x := range bs {
			rows[i] = axdr.Structure(d.dateTime(x.Stamp), axdr.Uint8(uint8(x.Status)), axdr.Uint32(uint32(x.Registers.Import)))
		}
		return rows
	})
	valve := &relay{Header: objects.Header{Class: cosem.ClassDisconnectControl, LN: mbusLN(b, 24, 4, 0)}, d: d, m: sub}
	return []cosem.Object{client, vol, objects.NewData(statusLN, axdr.Uint8(0)), hourly, daily, valve}
}

// mbusManufacturer packs a three-letter flag as EN 13757-3 does: five bits
// a letter, 'A' = 1.
func mbusManufacturer(s string) uint16 {
	if len(s) != 3 {
		return 0
	}
	return uint16(s[0]-'A'+1)<<10 | uint16(s[1]-'A'+1)<<5 | uint16(s[2]-'A'+1)
}
