package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Objects of the DSMR 5-like model beyond those it shares with the IDIS
// one (clock, invocation counter, logical device name, the event code
// 0-0:96.11.0, the duration 0-0:96.7.19, the logs 0-0:99.98.0/1/2 and
// 1-0:99.97.0, disconnector 0-0:96.3.10 and the M-Bus channels).
//
// DSMR 5 meters register energy per tariff only: T1 (1-0:1.8.1, low) and
// T2 (1-0:1.8.2, normal), import and export, with no total register. The
// model's four TOU rates fold onto the two tariffs (rates 1 and 3 on T1,
// 2 and 4 on T2), so T1+T2 is the model's A+. Energy is double-long-
// unsigned in Wh with scaler 0, the P1 port's kWh with three decimals;
// power in W with scaler 0; voltage in V with scaler -1 and current in A
// with scaler 0 (the P1 port's resolutions).
var (
	DSMREquipmentIDLN     = obis.MustParse("0.0.96.1.1.255")
	FirmwareLN            = obis.MustParse("1.0.0.2.0.255") // active firmware identifier
	TariffIndicatorLN     = obis.MustParse("0.0.96.14.0.255")
	PowerFailuresLN       = obis.MustParse("0.0.96.7.21.255") // power failures in any phase
	LongPowerFailuresLN   = obis.MustParse("0.0.96.7.9.255")  // long power failures in any phase
	LongFailureLimitLN    = obis.MustParse("0.0.96.7.20.255") // threshold of a long power failure, s
	FraudEventCodeLN      = obis.MustParse("0.0.96.11.1.255")
	DisconnectEventCodeLN = obis.MustParse("0.0.96.11.2.255")
	DSMRStatus1LN         = obis.MustParse("0.0.96.10.1.255") // AMR profile status of load profile 1
	DSMRStatus2LN         = obis.MustParse("0.0.96.10.2.255") // ... of load profile 2
	DSMRDailyProfileLN    = obis.MustParse("1.0.99.2.0.255")  // load profile 2: daily
)

// longFailure is DSMR's default threshold of a long power failure.
const longFailure = 180 * time.Second

// DSMR 5 profile columns.
var (
	// DSMRLoadProfileColumns are load profile 1's (1-0:99.1.0, 15 min).
	DSMRLoadProfileColumns = dsmrProfileColumns(DSMRStatus1LN)
	// DSMRDailyProfileColumns are load profile 2's (1-0:99.2.0, daily).
	DSMRDailyProfileColumns = dsmrProfileColumns(DSMRStatus2LN)
	DSMRFraudLogColumns     = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: FraudEventCodeLN, Attribute: 2},
	}
	DSMRDisconnectLogColumns = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: DisconnectEventCodeLN, Attribute: 2},
	}
)

func dsmrProfileColumns(status obis.Code) []cosem.CaptureObject {
	return []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: status, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ImportRateLN[0], Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ImportRateLN[1], Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ExportRateLN[0], Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ExportRateLN[1], Attribute: 2},
	}
}

// dsmrTariffs folds the model's four rates onto DSMR's two tariffs:
// import T1, T2, export T1, T2.
func dsmrTariffs(r *meter.Registers) [4]int64 {
	return [4]int64{r.ImportRate[0] + r.ImportRate[2], r.ImportRate[1] + r.ImportRate[3],
		r.ExportRate[0] + r.ExportRate[2], r.ExportRate[1] + r.ExportRate[3]}
}

// newClock builds the meter's clock object at ln over the model's clock.
func (d *Device) newClock(ln obis.Code) *objects.Clock {
	m, now := d.m, d.cfg.Now
	_, off := d.zone(with(d, func(m *meter.Meter, now time.Time) time.Time { return m.Clock(now) })).Zone()
	clock := objects.NewClock(ln, int16(-off/60))
	clock.Now = func() time.Time {
		return with(d, func(m *meter.Meter, now time.Time) time.Time { return m.Clock(now) })
	}
	clock.SetTime = func(_ context.Context, t time.Time) error {
		d.cfg.Lock.Lock()
		m.SetClock(now(), t)
		d.cfg.Lock.Unlock()
		return nil
	}
	clock.MeasuringPeriod = m.Fleet().ProfileInterval
	return clock
}

// counterObject is 0.0.43.1.0.255: the last invocation counter the meter
// accepted from its management client, for a client to resume above.
func (d *Device) counterObject(dev *server.Device) *objects.Data {
	ic := objects.NewData(InvocationCounterLN, axdr.Uint32(0))
	ic.Read = func(context.Context) (axdr.Data, error) {
		v, _ := dev.LastClientIC(ManagementClient)
		return axdr.Uint32(v), nil
	}
	return ic
}

// serial is the meter's equipment identifier: the model's serial under
// the make's flag.
func (d *Device) serial() string { return serialOf(d.m, d.cfg.Model) }

func serialOf(m *meter.Meter, model Model) string {
	s := m.Serial()
	if flag := MakeOf(model).Flag; len(s) >= len(flag) && flag != s[:len(flag)] {
		return flag + s[len(m.Fleet().SerialPrefix):]
	}
	return s
}

func (d *Device) treeDSMR5(dev *server.Device) (*objects.Tree, error) {
	m := d.m
	regs := func(m *meter.Meter, now time.Time) meter.Registers { return m.RegistersAt(now) }
	tariff := func(k int) func(m *meter.Meter, now time.Time) axdr.Data {
		return func(m *meter.Meter, now time.Time) axdr.Data { r := regs(m, now); return wh(dsmrTariffs(&r)[k]) }
	}
	inst := func(m *meter.Meter, now time.Time) loadshape.Instant { return m.Instant(now) }
	indicator := objects.NewData(TariffIndicatorLN, axdr.Uint16(1))
	indicator.Read = func(context.Context) (axdr.Data, error) {
		rate := with(d, func(m *meter.Meter, now time.Time) int {
			if t := m.Tariff(); t != nil {
				return t.Rate(m.Clock(now).In(m.Fleet().Location))
			}
			return 1
		})
		return axdr.Uint16(uint16(2 - rate%2)), nil
	}
	failures := func(ln obis.Code, long bool) *objects.Data {
		o := objects.NewData(ln, axdr.Uint16(0))
		o.Read = func(context.Context) (axdr.Data, error) {
			n := with(d, func(m *meter.Meter, now time.Time) int {
				k := 0
				for _, c := range m.Outages(m.Installed(), now) {
					if c.End.After(now) {
						continue
					}
					if !long || c.End.Sub(c.Start) >= longFailure {
						k++
					}
				}
				return k
			})
			return axdr.Uint16(uint16(min(n, 0xFFFF))), nil
		}
		return o
	}
	objs := []cosem.Object{d.newClock(ClockLN), d.counterObject(dev),
		objects.NewData(LogicalDeviceNameLN, axdr.OctetString([]byte(d.serial()))),
		objects.NewData(DSMREquipmentIDLN, axdr.OctetString([]byte(d.serial()))),
		objects.NewData(FirmwareLN, axdr.VisibleString(MakeOf(ModelDSMR5).Firmware)),
		d.register(ImportRateLN[0], unitWh, 0, tariff(0)),
		d.register(ImportRateLN[1], unitWh, 0, tariff(1)),
		d.register(ExportRateLN[0], unitWh, 0, tariff(2)),
		d.register(ExportRateLN[1], unitWh, 0, tariff(3)),
		indicator,
		d.register(ImportPowerLN, unitW, 0, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint32(uint32(inst(m, now).ImportW)) }),
		d.register(ExportPowerLN, unitW, 0, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint32(uint32(inst(m, now).ExportW)) }),
	}
	for p := range m.Phases() {
		objs = append(objs,
			d.register(VoltageLN[p], unitV, -1, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(inst(m, now).VoltageDV[p])) }),
			d.register(CurrentLN[p], unitA, 0, func(m *meter.Meter, now time.Time) axdr.Data {
				return axdr.Uint16(uint16((inst(m, now).CurrentMA[p] + 500) / 1000))
			}))
	}
	limit := objects.NewData(LongFailureLimitLN, axdr.Uint32(uint32(longFailure/time.Second)))
	objs = append(objs,
		failures(PowerFailuresLN, false), failures(LongPowerFailuresLN, true), limit,
		objects.NewData(DurationLN, axdr.Uint32(0)),
		objects.NewData(EventCodeLN, axdr.Uint16(0)),
		objects.NewData(FraudEventCodeLN, axdr.Uint16(0)),
		objects.NewData(DisconnectEventCodeLN, axdr.Uint16(0)),
		objects.NewData(DSMRStatus1LN, axdr.Uint8(0)),
		objects.NewData(DSMRStatus2LN, axdr.Uint8(0)),
		d.dsmrLoadProfile(), d.dsmrDailyProfile(),
		d.logProfile(StandardEventLogLN, meter.LogStandard, EventLogColumns),
		d.logProfile(FraudLogLN, meter.LogFraud, DSMRFraudLogColumns),
		d.logProfile(DisconnectLogLN, meter.LogDisconnect, DSMRDisconnectLogColumns),
		d.logProfile(PowerFailureLogLN, meter.LogPowerFailure, PowerFailureLogColumns),
		&relay{Header: objects.Header{Class: cosem.ClassDisconnectControl, LN: DisconnectLN}, d: d},
	)
	objs = append(objs, d.mbusObjects()...)
	tree, err := objects.NewTree(objs...)
	if err != nil {
		return nil, fmt.Errorf("sim: meter %d: %w", m.ID(), err)
	}
	return tree, nil
}

// dsmrRow is one row of a DSMR load profile: clock, status, the four
// tariff registers.
func (d *Device) dsmrRow(items []axdr.Data, stamp time.Time, st meter.Status, r *meter.Registers) axdr.Data {
	t := dsmrTariffs(r)
	items[0], items[1] = d.dateTime(stamp), axdr.Uint8(uint8(st))
	for k := range t {
		items[2+k] = wh(t[k])
	}
	return axdr.Structure(items...)
}

func (d *Device) dsmrLoadProfile() *objects.ProfileGeneric {
	f := d.m.Fleet()
	capacity := uint32(f.HistoryDays) * uint32(24*time.Hour/f.ProfileInterval)
	n := len(DSMRLoadProfileColumns)
	return d.profile(LoadProfileLN, DSMRLoadProfileColumns, f.ProfileInterval, capacity, func(from, to time.Time) []axdr.Data {
		cs := d.captures(from, to)
		rows := make([]axdr.Data, len(cs))
		items := make([]axdr.Data, n*len(cs))
		for i := range cs {
			rows[i] = d.dsmrRow(items[n*i:n*i+n:n*i+n], cs[i].Stamp, cs[i].Status, &cs[i].Registers)
		}
		return rows
	})
}

func (d *Device) dsmrDailyProfile() *objects.ProfileGeneric {
	f := d.m.Fleet()
	n := len(DSMRDailyProfileColumns)
	return d.profile(DSMRDailyProfileLN, DSMRDailyProfileColumns, 24*time.Hour, uint32(f.HistoryDays), func(from, to time.Time) []axdr.Data {
		bs := with(d, func(m *meter.Meter, now time.Time) []meter.Billing { return m.DailyBilling(now, from, to) })
		rows := make([]axdr.Data, len(bs))
		items := make([]axdr.Data, n*len(bs))
		for i := range bs {
			rows[i] = d.dsmrRow(items[n*i:n*i+n:n*i+n], bs[i].Stamp, bs[i].Status, &bs[i].Registers)
		}
		return rows
	})
}
