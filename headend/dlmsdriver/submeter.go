package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Gas and water meters on an electricity meter's wired M-Bus (EN 13757-2/-3)
// are shown by it on channel B (1..4) as COSEM objects of the DSMR and IDIS
// convention: 0-B:24.1.0 the M-Bus client (class 72) with the device's
// identification, 0-B:24.2.1 its last volume index with the capture time,
// 0-B:24.3.x its profiles. A session reads them for the sub-meter the
// head-end registered on that channel, under the sub-meter's own id, once
// the device on the channel is the registered one.

// EventMBusDevice is raised, under the sub-meter, when the device on its
// M-Bus channel is not the one registered (swapped, or installed on
// another channel): its volumes are not read as the registered meter's.
// amigo's code in the security domain (IEC 61968-9 domain 12).
const EventMBusDevice cim.EndDeviceEventType = "3.12.1.258"

// errWrongDevice: the M-Bus channel holds another device than the
// registered sub-meter.
var errWrongDevice = errors.New("another device than the registered one")

// M-Bus device types (EN 13757-3 table 3) a sub-meter of each kind may
// report: gas; warm, plain, hot and cold water.
var mbusDeviceTypes = map[string][]uint64{
	"gas":   {0x03},
	"water": {0x06, 0x07, 0x15, 0x16},
}

// subRead is a sub-meter the session reads, with its channel.
type subRead struct {
	sm headend.SubMeter
	ch byte
	q  quantity
	// scale is the volume's scaler and unit as the meter gives them.
	scale  Scale
	scaled bool
}

func mbusLN(ch, c, d, e byte) obis.Code { return obis.Code{0, ch, c, d, e, 255} }

// onChannel reports whether ln is an object of M-Bus channel ch
// (0-ch:24.x.x).
func onChannel(ln obis.Code, ch byte) bool { return ln[0] == 0 && ln[1] == ch && ln[2] == 24 }

// subVolume is the quantity a sub-meter's volume is read as: the gas or
// water index in m³ of its own usage point, not the parent's "MB<b>".
func subVolume(kind string) quantity {
	switch kind {
	case "gas":
		return quantity{id: "G", commodity: cim.CommodityGas, measured: cim.QuantityVolume, unit: cim.UnitM3, cumulative: true, register: true}
	case "water":
		return quantity{id: "W", commodity: cim.CommodityWater, measured: cim.QuantityVolume, unit: cim.UnitM3, cumulative: true, register: true}
	}
	return quantity{id: "V", measured: cim.QuantityVolume, unit: cim.UnitM3, cumulative: true, register: true}
}

// subReads are the target's sub-meters with their channels; one whose
// credentials name no channel is returned as a failed SubCollection.
func (s *session) subReads() ([]subRead, []headend.SubCollection) {
	var out []subRead
	var bad []headend.SubCollection
	for _, sm := range s.t.SubMeters {
		c, err := ParseCredentials(sm.Credentials)
		if err == nil && (c.MBusChannel < 1 || c.MBusChannel > 4) {
			err = errors.New("no M-Bus channel")
		}
		if err != nil {
			bad = append(bad, headend.SubCollection{MeterID: sm.Meter.MRID,
				Err: fmt.Errorf("meter %s: credentials: %w", sm.Meter.MRID, err)})
			continue
		}
		out = append(out, subRead{sm: sm, ch: c.MBusChannel, q: subVolume(sm.Meter.Kind)})
	}
	return out, bad
}

// ownedChannel reports whether ln belongs to a channel a sub-meter of the
// session is read on: the parent's own reads leave it out.
func (s *session) ownedChannel(ln obis.Code) bool {
	for _, r := range s.subs {
		if onChannel(ln, r.ch) {
			return true
		}
	}
	return false
}

// wantIdentification is the M-Bus identification number the registry
// gives a sub-meter: the last eight digits of its serial number, as the
// device prints them.
func wantIdentification(serial string) (uint64, bool) {
	if len(serial) < 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(serial[len(serial)-8:], 10, 32)
	return n, err == nil
}

// bcd packs a decimal number's digits four bits each: some meters give
// identification_number as the BCD the M-Bus telegram carries, not its
// value.
func bcd(n uint64) uint64 {
	var out uint64
	for shift := 0; n > 0; shift += 4 {
		out |= (n % 10) << shift
		n /= 10
	}
	return out
}

// collectSub reads one sub-meter through the session. The channel's
// objects are read by the convention's names in the first exchange, not
// taken from the meter's template: meters of one kind share a template
// whatever hangs on their M-Bus, and a device may be fitted any day. That
// exchange reads the M-Bus client's identification, the volume index with
// its capture time and scaler, and the profiles' capture objects and
// periods; then the profiles are read from the sub-meter's own cursors.
// Only an error that ends the session is returned; the rest is the
// sub-meter's (SubCollection.Err, Problems).
func (s *session) collectSub(ctx context.Context, r subRead, p headend.Plan, to, stamp time.Time) (headend.SubCollection, error) {
	id := r.sm.Meter.MRID
	sc := headend.SubCollection{MeterID: id}
	clientLN, volLN := mbusLN(r.ch, 24, 1, 0), mbusLN(r.ch, 24, 2, 1)
	volClass := uint16(cosem.ClassExtendedRegister)
	if o, ok := s.m.has(volLN); ok && isRegisterClass(o.Class) {
		volClass = o.Class
	}
	profiles := []obis.Code{mbusLN(r.ch, 24, 3, 0), mbusLN(r.ch, 24, 3, 1)}
	attrs := []dlms.Attr{
		{Class: cosem.ClassMBusClient, OBIS: clientLN, Attribute: 6}, // identification_number
		{Class: cosem.ClassMBusClient, OBIS: clientLN, Attribute: 7}, // manufacturer_id
		{Class: cosem.ClassMBusClient, OBIS: clientLN, Attribute: 9}, // device_type
		{Class: volClass, OBIS: volLN, Attribute: 2},
		{Class: volClass, OBIS: volLN, Attribute: 3},
	}
	for _, ln := range profiles {
		attrs = append(attrs, dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: ln, Attribute: 3},
			dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: ln, Attribute: 4})
	}
	if volClass == cosem.ClassExtendedRegister {
		attrs = append(attrs, dlms.Attr{Class: volClass, OBIS: volLN, Attribute: 5})
	}
	res, err := s.getMany(ctx, attrs)
	if err != nil {
		return sc, err
	}
	if res[0].Err != nil || res[2].Err != nil {
		cause := res[0].Err
		if cause == nil {
			cause = res[2].Err
		}
		sc.Err = fmt.Errorf("meter %s: the M-Bus client on channel %d of meter %s would not tell which device it holds: %w",
			id, r.ch, s.t.Meter.MRID, cause)
		return sc, nil
	}
	gotID, _ := res[0].Data.Uint()
	gotType, _ := res[2].Data.Uint()
	gotMfr, _ := res[1].Data.Uint()
	if why := s.identityMismatch(r, gotID, gotType); why != "" {
		sc.Events = append(sc.Events, cim.EndDeviceEvent{
			MRID:    fmt.Sprintf("he/%s/mbus-device/%d/%d/%d", id, r.ch, gotID, gotType),
			MeterID: id, Type: EventMBusDevice, CreatedAt: stamp.UTC(), Severity: "major",
			Reason: "another device on the meter's M-Bus channel",
			Details: map[string]string{"source": "head-end", "parent": s.t.Meter.MRID, "channel": strconv.Itoa(int(r.ch)),
				"identification": fmt.Sprintf("%08d", gotID), "deviceType": fmt.Sprintf("0x%02x", gotType),
				"manufacturer": mbusFlag(gotMfr), "registeredSerial": r.sm.Meter.SerialNumber, "why": why}})
		sc.Err = fmt.Errorf("meter %s: channel %d of meter %s holds %s: %w", id, r.ch, s.t.Meter.MRID, why, errWrongDevice)
		return sc, nil
	}
	if res[4].Err == nil {
		if su, err := axdr.ParseScalerUnit(res[4].Data); err == nil {
			r.scale, r.scaled = Scale{Scaler: su.Scaler, Unit: su.Unit}, true
		}
	}
	if sc2, ok := s.m.Scalers[volLN]; ok && !r.scaled {
		r.scale, r.scaled = sc2, true
	}
	if !r.scaled {
		// Without its scaler a value means nothing: litres or m³.
		s.problem(&sc.Collection, attrs[4].String(), fmt.Errorf("scaler and unit of the volume: %v", res[4].Err))
		return sc, nil
	}
	at := res[len(res)-1]
	if volClass != cosem.ClassExtendedRegister {
		at = dlms.Result{Err: errors.New("no capture time")}
	}
	s.subRegister(&sc, r, attrs[3], res[3], at, stamp)

	// The profiles, from the sub-meter's own cursors; their volume
	// column is read as its gas or water, at the channel's scaler.
	sp := headend.Plan{Since: p.SubSince[id], Backfill: p.Backfill, Until: p.Until}
	s.volume = &r
	defer func() { s.volume = nil }()
	complete := false
	for k, ln := range profiles {
		colsRes, periodRes := res[5+2*k], res[6+2*k]
		if colsRes.Err != nil {
			if k == 0 {
				s.problem(&sc.Collection, attrs[5+2*k].String(), colsRes.Err)
			}
			continue // a channel without a daily profile is common
		}
		cols, err := cosem.ParseCaptureObjects(colsRes.Data)
		if err != nil {
			s.problem(&sc.Collection, attrs[5+2*k].String(), err)
			continue
		}
		pr := Profile{LN: ln, Kind: "load", Columns: cols}
		if v, ok := periodRes.Data.Uint(); periodRes.Err == nil && ok {
			pr.Period = int64(v)
		}
		if readAsBilling(&pr) {
			err = s.billing(ctx, &pr, sp, to, &sc.Collection)
		} else {
			var done bool
			done, err = s.profile(ctx, &pr, sp, to, &sc.Collection)
			complete = complete || done
		}
		if err != nil {
			return sc, err
		}
	}
	sc.Complete = complete
	for i := range sc.Blocks {
		sc.Blocks[i].MeterID = id
	}
	for i := range sc.Registers {
		sc.Registers[i].MeterID = id
	}
	return sc, nil
}

// identityMismatch says how the device on r's channel differs from the
// registered sub-meter; "" when it is the one.
func (s *session) identityMismatch(r subRead, gotID, gotType uint64) string {
	if types, ok := mbusDeviceTypes[r.sm.Meter.Kind]; ok {
		fits := false
		for _, t := range types {
			fits = fits || t == gotType
		}
		if !fits {
			return fmt.Sprintf("an M-Bus device of type 0x%02x, not a %s meter", gotType, r.sm.Meter.Kind)
		}
	}
	want, ok := wantIdentification(r.sm.Meter.SerialNumber)
	if ok && gotID != want && gotID != bcd(want) {
		return fmt.Sprintf("device %08d, not %08d of serial %s", gotID, want, r.sm.Meter.SerialNumber)
	}
	return ""
}

// subRegister turns the volume index read in the first exchange into the
// sub-meter's register read, stamped with its capture time when the meter
// gives one.
func (s *session) subRegister(sc *headend.SubCollection, r subRead, attr dlms.Attr, v, at dlms.Result, stamp time.Time) {
	if v.Err != nil {
		s.problem(&sc.Collection, attr.String(), v.Err)
		return
	}
	raw, ok := v.Data.Int()
	if !ok {
		s.problem(&sc.Collection, attr.String(), fmt.Errorf("%w: %s", errNotInteger, v.Data))
		return
	}
	val, mult, err := scale(raw, r.scale.Scaler)
	if err != nil {
		s.problem(&sc.Collection, attr.String(), err)
		return
	}
	ts := stamp
	if at.Err == nil {
		if t, _, ok := s.timeOf(at.Data); ok {
			ts = t
		}
	}
	sc.Registers = append(sc.Registers, cim.Reading{MeterID: r.sm.Meter.MRID, ReadingType: channelID(r.q.id, 0, mult),
		TimeStamp: ts.UTC(), Value: val})
}

// mbusFlag unpacks an EN 13757-3 manufacturer id into its three letters.
func mbusFlag(v uint64) string {
	if v == 0 || v > 0x7FFF {
		return strconv.FormatUint(v, 10)
	}
	b := []byte{byte(v>>10&31) + 'A' - 1, byte(v>>5&31) + 'A' - 1, byte(v&31) + 'A' - 1}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return strconv.FormatUint(v, 10)
		}
	}
	return string(b)
}

// CollectSubs implements headend.SubCollector: the target's sub-meters
// alone, for an on-demand read of one of them. Only the meter's clock is
// read besides, to stamp a volume without a capture time and to bound
// the profiles by the meter's own idea of now. The meter's template is
// used as it is, and not recorded for the meter: that waits for a
// collection, which checks it against the firmware.
func (s *session) CollectSubs(ctx context.Context, p headend.Plan) ([]headend.SubCollection, error) {
	readAt := s.now()
	subs, out := s.subReads()
	s.subs = subs
	if err := s.resolve(ctx, false); err != nil {
		return out, err
	}
	stamp := readAt
	d, err := s.c.Get(ctx, s.clockAttr(), nil)
	switch {
	case errors.Is(err, dlms.ErrTimeout) || errors.Is(err, dlms.ErrPeerClosed):
		return out, fmt.Errorf("meter %s: clock: %w", s.t.Meter.MRID, err)
	case err == nil:
		if t, _, ok := s.timeOf(d); ok {
			stamp = t
		}
	}
	for _, r := range subs {
		sc, err := s.collectSub(ctx, r, p, stamp.Add(time.Minute), stamp)
		if err != nil {
			return out, err
		}
		out = append(out, sc)
	}
	return out, nil
}
