package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Demand response on the meter (docs/dlms.md, "Demand response"):
//
//   - the limiter (class 71) takes an emergency threshold and an emergency
//     profile (id, activation time, duration); the profile applies when its
//     id is one of the meter's emergency groups, and the meter holds the
//     emergency threshold itself from the activation time for the duration;
//   - a price reaches the home as the consumer message (class 1,
//     0-0:96.13.0.255), the text the display, an in-home display and the P1
//     port show, in the key=value form ParsePriceMessage reads;
//   - the load-control relay is a second disconnect control (class 70,
//     0-1:96.3.10.255) in front of a deferrable load, with two single action
//     schedules (class 22) running its disconnect script table
//     0-1:10.0.106.255: 0-1:15.0.1.255 opens it (script 1), 0-1:15.0.2.255
//     closes it again (script 2), so the meter holds the opening and its
//     duration itself.
var (
	ConsumerMessageLN = obis.MustParse("0.0.96.13.0.255")
	LoadRelayLN       = obis.MustParse("0.1.96.3.10.255")
	LoadRelayOpenLN   = obis.MustParse("0.1.15.0.1.255")
	LoadRelayCloseLN  = obis.MustParse("0.1.15.0.2.255")
	LoadRelayScriptLN = obis.MustParse("0.1.10.0.106.255")
)

// EmergencyGroup is the emergency group every simulated meter belongs to.
const EmergencyGroup = 1

// maxMessage is the longest consumer message a meter shows.
const maxMessage = 1024

// PriceMessage is a price signal as the consumer message carries it:
//
//	price=750000;currency=EUR;start=2026-12-07T17:00:00Z;duration=7200
//
// price in millionths of the currency per kWh, start RFC 3339, duration
// in seconds.
type PriceMessage struct {
	Price    int64
	Currency string
	Start    time.Time
	Duration time.Duration
}

// ErrNotPrice reports a consumer message that is plain text, not a price.
var ErrNotPrice = errors.New("consumer message: not a price signal")

// ParsePriceMessage reads a price signal from a consumer message. Text
// that does not start with "price=" is ErrNotPrice; a price message with
// a bad field is an error naming it.
func ParsePriceMessage(s string) (PriceMessage, error) {
	if !strings.HasPrefix(s, "price=") {
		return PriceMessage{}, ErrNotPrice
	}
	var p PriceMessage
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return PriceMessage{}, fmt.Errorf("consumer message: field %q: want one key=value", kv)
		}
		seen[k] = true
		var err error
		switch k {
		case "price":
			p.Price, err = strconv.ParseInt(v, 10, 64)
			if err == nil && p.Price < 0 {
				err = errors.New("negative")
			}
		case "currency":
			if len(v) != 3 || strings.ToUpper(v) != v {
				err = errors.New("want an ISO 4217 code")
			}
			p.Currency = v
		case "start":
			p.Start, err = time.Parse(time.RFC3339, v)
			// The message carries the start in UTC: a year its offset
			// takes out of 0001-9999 cannot be written back.
			if y := p.Start.UTC().Year(); err == nil && (y < 1 || y > 9999) {
				err = fmt.Errorf("year %d in UTC: want 0001 to 9999", y)
			}
		case "duration":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			if err == nil && (n <= 0 || n > 7*86400) {
				err = errors.New("want 1 s to 7 days")
			}
			p.Duration = time.Duration(n) * time.Second
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return PriceMessage{}, fmt.Errorf("consumer message: %s %q: %v", k, v, err)
		}
	}
	for _, k := range []string{"price", "currency", "start", "duration"} {
		if !seen[k] {
			return PriceMessage{}, fmt.Errorf("consumer message: %s missing", k)
		}
	}
	return p, nil
}

// String is the consumer message text of p.
func (p PriceMessage) String() string {
	return fmt.Sprintf("price=%d;currency=%s;start=%s;duration=%d", p.Price, p.Currency, p.Start.UTC().Format(time.RFC3339Nano), int64(p.Duration/time.Second))
}

// drObjects are the demand-response objects beside the limiter.
func (d *Device) drObjects() []cosem.Object {
	msg := objects.NewData(ConsumerMessageLN, axdr.OctetString(nil))
	msg.Read = func(context.Context) (axdr.Data, error) {
		return with(d, func(m *meter.Meter, _ time.Time) axdr.Data { return axdr.OctetString([]byte(m.Signals().Message)) }), nil
	}
	msg.Writable = true
	msg.Write = func(_ context.Context, v axdr.Data) error { return d.setMessage(v) }
	return []cosem.Object{msg,
		&loadRelay{Header: objects.Header{Class: cosem.ClassDisconnectControl, LN: LoadRelayLN}, d: d},
		&relaySchedule{Header: objects.Header{Class: cosem.ClassSingleAction, LN: LoadRelayOpenLN}, d: d, script: 1},
		&relaySchedule{Header: objects.Header{Class: cosem.ClassSingleAction, LN: LoadRelayCloseLN}, d: d, script: 2},
	}
}

// setMessage shows a consumer message; a price message also sets the
// household's price signal, any other text ends it.
func (d *Device) setMessage(v axdr.Data) error {
	if v.Tag != axdr.TagOctetString {
		return cosem.ErrTypeUnmatched
	}
	if len(v.Bytes) > maxMessage {
		return cosem.Errorf(cosem.ResultOtherReason, fmt.Sprintf("consumer message of %d octets, at most %d", len(v.Bytes), maxMessage))
	}
	text := string(v.Bytes)
	p, err := ParsePriceMessage(text)
	if err != nil && !errors.Is(err, ErrNotPrice) {
		return cosem.Errorf(cosem.ResultOtherReason, err.Error())
	}
	d.withSub(d.m, func(m *meter.Meter, now time.Time) {
		var sig meter.PriceSignal
		if err == nil {
			sig = meter.PriceSignal{Price: p.Price, Currency: p.Currency, From: p.Start, To: p.Start.Add(p.Duration)}
		}
		m.SetPriceSignal(now, sig)
		m.SetMessage(now, text)
	})
	return nil
}

// emergencyChanged hands the limiter's emergency threshold and profile to
// the model: in force when the profile's id is one of the meter's groups.
func (o *limiterObject) emergencyChanged() {
	o.Lock()
	th, _ := o.ThresholdEmergency.Int()
	p := o.Emergency
	member := slices.Contains(o.EmergencyGroups, p.ID)
	o.Unlock()
	loc := o.d.m.Fleet().Location
	var l meter.LoadLimit
	if at, err := p.ActivationTime.TimeIn(loc); err == nil && member && p.Duration > 0 && th > 0 {
		l = meter.LoadLimit{ThresholdW: th, From: at, To: at.Add(time.Duration(p.Duration) * time.Second), ProfileID: p.ID}
	}
	o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) { m.SetLoadLimit(now, l) })
}

// loadEmergency fills a fresh limiter with the model's emergency state.
func (d *Device) loadEmergency(l *objects.Limiter) {
	l.EmergencyGroup = EmergencyGroup
	l.EmergencyGroups = []uint16{EmergencyGroup}
	var lim meter.LoadLimit
	d.withSub(d.m, func(m *meter.Meter, _ time.Time) { lim = m.Signals().Limit })
	if lim.From.IsZero() {
		return
	}
	l.ThresholdEmergency = axdr.Uint32(uint32(lim.ThresholdW))
	l.Emergency = objects.EmergencyProfile{ID: lim.ProfileID, ActivationTime: axdr.FromTime(d.zone(lim.From), dstStatus(d.zone(lim.From))),
		Duration: uint32(lim.To.Sub(lim.From) / time.Second)}
	if !slices.Contains(l.EmergencyGroups, lim.ProfileID) {
		l.EmergencyGroups = append(l.EmergencyGroups, lim.ProfileID)
	}
}

func dstStatus(t time.Time) axdr.ClockStatus {
	if t.IsDST() {
		return axdr.StatusDaylightSaving
	}
	return 0
}

// Get implements cosem.Object: threshold_active (3) and
// emergency_profile_active (10) are the model's at the moment asked.
func (o *limiterObject) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Access == nil && (req.Attribute == 3 || req.Attribute == 10) {
		var th int64
		var em bool
		o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) { th, em = m.ThresholdAt(now) })
		if req.Attribute == 10 {
			return axdr.Bool(em), nil
		}
		if em {
			return axdr.Uint32(uint32(th)), nil
		}
	}
	return o.Limiter.Get(ctx, req)
}

// loadRelay is the load-control relay (class 70): remote_disconnect opens
// it until told (or until the close schedule), remote_reconnect closes it.
// It never cuts the house's supply, only the deferrable load behind it.
type loadRelay struct {
	objects.Header
	d *Device
}

func (o *loadRelay) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Access != nil {
		return axdr.Data{}, cosem.ErrScopeOfAccessViolated
	}
	var st meter.ControlState
	o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) { st = m.LoadRelayAt(now) })
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return axdr.Bool(st == meter.Connected), nil
	case 3:
		return axdr.Enum(uint8(st)), nil
	case 4:
		return axdr.Enum(4), nil // remote disconnect and reconnect only
	}
	return axdr.Data{}, cosem.ErrObjectUndefined
}

func (o *loadRelay) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if req.Attribute < 1 || req.Attribute > 4 {
		return cosem.ErrObjectUndefined
	}
	return cosem.ErrReadWriteDenied
}

func (o *loadRelay) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 && req.Method != 2 {
		return axdr.Data{}, cosem.ErrObjectUndefined
	}
	o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) {
		r := m.Signals().Relay
		open := m.LoadRelayAt(now) == meter.Disconnected
		switch {
		case req.Method == 1 && !open:
			r = meter.RelayOpen{From: now}
		case req.Method == 2 && open:
			r.To = now
		case req.Method == 2 && r.From.After(now):
			r = meter.RelayOpen{}
		}
		m.SetLoadRelay(now, r)
	})
	return axdr.Data{}, nil
}

// relaySchedule is a single action schedule (class 22) of the load relay:
// script 1 opens it at the execution time, script 2 closes it. Writing
// the open time starts a new opening (its close time unset); an empty
// execution_time cancels.
type relaySchedule struct {
	objects.Header
	d      *Device
	script uint16
}

func (o *relaySchedule) at(m *meter.Meter) time.Time {
	r := m.Signals().Relay
	if o.script == 1 {
		return r.From
	}
	return r.To
}

func (o *relaySchedule) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Access != nil {
		return axdr.Data{}, cosem.ErrScopeOfAccessViolated
	}
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return objects.ScriptRef{LogicalName: LoadRelayScriptLN, Selector: o.script}.Data(), nil
	case 3:
		return axdr.Enum(1), nil // one execution time, date and time given
	case 4:
		var t time.Time
		o.d.withSub(o.d.m, func(m *meter.Meter, _ time.Time) { t = o.at(m) })
		if t.IsZero() {
			return axdr.Array(), nil
		}
		dt := axdr.FromTime(o.d.zone(t), 0)
		return axdr.Array(axdr.Structure(axdr.OctetString(dt.Clock().Bytes()), axdr.OctetString(dt.Date().Bytes()))), nil
	}
	return axdr.Data{}, cosem.ErrObjectUndefined
}

func (o *relaySchedule) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	switch req.Attribute {
	case 1, 2, 3:
		return cosem.ErrReadWriteDenied
	case 4:
	default:
		return cosem.ErrObjectUndefined
	}
	t, err := o.executionTime(v)
	if err != nil {
		return err
	}
	o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) {
		r := m.Signals().Relay
		if o.script == 1 {
			r = meter.RelayOpen{From: t}
		} else {
			r.To = t
		}
		if r.From.IsZero() || (!r.To.IsZero() && !r.To.After(r.From)) {
			r = meter.RelayOpen{}
		}
		m.SetLoadRelay(now, r)
	})
	return nil
}

// executionTime reads execution_time: an array of at most one
// structure{time octet-string(4), date octet-string(5)} in the meter's
// local time, without wildcards (type 1).
func (o *relaySchedule) executionTime(v axdr.Data) (time.Time, error) {
	if v.Tag != axdr.TagArray {
		return time.Time{}, cosem.ErrTypeUnmatched
	}
	switch len(v.Items) {
	case 0:
		return time.Time{}, nil
	case 1:
	default:
		return time.Time{}, cosem.Errorf(cosem.ResultOtherReason, "type 1 schedule: one execution time")
	}
	it := v.Items[0]
	if it.Tag != axdr.TagStructure || len(it.Items) != 2 || it.Items[0].Tag != axdr.TagOctetString || it.Items[1].Tag != axdr.TagOctetString {
		return time.Time{}, cosem.ErrTypeUnmatched
	}
	tm, err1 := axdr.ParseTime(it.Items[0].Bytes)
	dt, err2 := axdr.ParseDate(it.Items[1].Bytes)
	if err1 != nil || err2 != nil {
		return time.Time{}, cosem.ErrTypeUnmatched
	}
	full := axdr.DateTime{Year: dt.Year, Month: dt.Month, Day: dt.Day, DayOfWeek: dt.DayOfWeek, Hour: tm.Hour, Minute: tm.Minute,
		Second: tm.Second, Hundredths: tm.Hundredths, Deviation: axdr.DeviationUnspecified}
	t, err := full.TimeIn(o.d.m.Fleet().Location)
	if err != nil {
		return time.Time{}, cosem.Errorf(cosem.ResultOtherReason, "execution time "+full.String()+": "+err.Error())
	}
	return t, nil
}

func (o *relaySchedule) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	return axdr.Data{}, cosem.ErrObjectUndefined
}
