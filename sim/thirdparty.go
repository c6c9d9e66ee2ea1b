package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// The third-party model is a meter of another maker, with the habits of
// independent implementations a head-end meets in the field:
//
//   - its only clock is 0-1:1.0.0.255, and its load profile 1-0:99.1.0
//     captures that clock, the average L1 import power 1-1:21.25.0 and
//     the L1 voltage: no A+ column (A+ is a register of its own);
//   - registers carry scaler -2: energy in Wh, power in W, voltage in V,
//     current in A, all in hundredths;
//   - the conformance block grants neither multiple-references nor block
//     transfer, so a GET-with-list is refused and an answer longer than
//     ThirdPartyMaxPDU is refused with pdu-too-long: profiles are read a
//     few entries at a time;
//   - an object it lacks answers read-write-denied, not object-undefined,
//     and its operating status 0-0:96.5.0 is listed but answers
//     read-write-denied too, as the Gurux meter does.
var (
	ThirdPartyClockLN    = obis.MustParse("0.1.1.0.0.255")
	AveragePowerL1LN     = obis.MustParse("1.1.21.25.0.255")
	OperatingStatusLN    = obis.MustParse("0.0.96.5.0.255")
	ThirdPartyProfileCol = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ThirdPartyClockLN, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: AveragePowerL1LN, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: VoltageLN[0], Attribute: 2},
	}
)

// ThirdPartyMaxPDU is the third-party meter's server-max-receive-pdu-size:
// small, and without block transfer every answer must fit in it.
const ThirdPartyMaxPDU = 512

// thirdPartyConformance grants GET, SET, ACTION and selective access:
// no multiple-references, no block transfer, no general protection.
const thirdPartyConformance = apdu.ConformanceGet | apdu.ConformanceSet | apdu.ConformanceAction | apdu.ConformanceSelectiveAccess

// hundredths are the third-party meter's raw values: scaler -2.
const thirdPartyScaler = -2

// noMethods lists no methods in the object list and grants none, as
// meters whose object list must fit a small PDU do: the third-party
// meter's methods are none a head-end needs.
func noMethods(base cosem.RightsFunc) cosem.RightsFunc {
	if base == nil {
		base = cosem.FullAccess
	}
	return func(o cosem.Object) (cosem.AccessRights, bool) {
		r, ok := base(o)
		r.Methods = nil
		return r, ok
	}
}

var errNoStatus = cosem.Errorf(cosem.ResultReadWriteDenied, "operating status is not readable in this firmware")

func (d *Device) treeThirdParty(dev *server.Device) (*objects.Tree, error) {
	m := d.m
	iv := m.Fleet().ProfileInterval
	status := objects.NewData(OperatingStatusLN, axdr.Uint32(0))
	status.Read = func(context.Context) (axdr.Data, error) { return axdr.Data{}, errNoStatus }
	objs := []cosem.Object{d.newClock(ThirdPartyClockLN), d.counterObject(dev),
		objects.NewData(SerialLN, axdr.VisibleString(d.serial())),
		objects.NewData(FirmwareLN, axdr.VisibleString(MakeOf(ModelThirdParty).Firmware)),
		d.register(ImportLN, unitWh, thirdPartyScaler, func(m *meter.Meter, now time.Time) axdr.Data {
			return axdr.Uint64(uint64(m.RegistersAt(now).Import) * 100)
		}),
		d.register(AveragePowerL1LN, unitW, thirdPartyScaler, func(m *meter.Meter, now time.Time) axdr.Data {
			end := m.Clock(now).Truncate(iv)
			es := m.ProfileRange(now, end, end)
			if len(es) == 0 {
				return axdr.Uint32(0)
			}
			return averagePower(es[0].Import, iv)
		}),
		d.register(VoltageLN[0], unitV, thirdPartyScaler, func(m *meter.Meter, now time.Time) axdr.Data {
			return axdr.Uint32(uint32(m.Instant(now).VoltageDV[0]) * 10)
		}),
		d.register(CurrentLN[0], unitA, thirdPartyScaler, func(m *meter.Meter, now time.Time) axdr.Data {
			return axdr.Uint32(uint32(m.Instant(now).CurrentMA[0] / 10))
		}),
		status,
		d.thirdPartyProfile(),
	}
	tree, err := objects.NewTree(objs...)
	if err != nil {
		return nil, fmt.Errorf("sim: meter %d: %w", m.ID(), err)
	}
	return tree, nil
}

// averagePower is the mean import power of an interval that registered
// wh, in hundredths of a watt.
func averagePower(wh int64, iv time.Duration) axdr.Data {
	return axdr.Uint32(uint32(wh * 100 * int64(time.Hour) / int64(iv)))
}

func (d *Device) thirdPartyProfile() *objects.ProfileGeneric {
	f := d.m.Fleet()
	iv := f.ProfileInterval
	capacity := uint32(f.HistoryDays) * uint32(24*time.Hour/iv)
	return d.profile(LoadProfileLN, ThirdPartyProfileCol, iv, capacity, func(from, to time.Time) []axdr.Data {
		cs := d.captures(from, to)
		volts := with(d, func(m *meter.Meter, _ time.Time) []uint32 {
			v := make([]uint32, len(cs))
			for i := range cs {
				v[i] = uint32(m.Instant(cs[i].Stamp).VoltageDV[0]) * 10
			}
			return v
		})
		rows := make([]axdr.Data, len(cs))
		items := make([]axdr.Data, 3*len(cs))
		for i := range cs {
			row := items[3*i : 3*i+3 : 3*i+3]
			row[0] = d.dateTime(cs[i].Stamp)
			row[1] = averagePower(cs[i].Delta.Import, iv)
			row[2] = axdr.Uint32(volts[i])
			rows[i] = axdr.Structure(row...)
		}
		return rows
	})
}
