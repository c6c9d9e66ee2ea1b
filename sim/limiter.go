package sim

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Logical names of the limiter and the alarm push setup.
var (
	LimiterLN = obis.MustParse("0.0.17.0.0.255")
)

// limiterObject is the limiter (class 71) over the model's: it watches
// the active import power, and writing threshold_normal (attribute 4) or
// min_over_threshold_duration (attribute 6) changes the model, which then
// trips the relay as the control mode allows.
type limiterObject struct {
	*objects.Limiter
	d *Device
}

func (d *Device) limiter() cosem.Object {
	var w int64
	var over time.Duration
	d.withSub(d.m, func(m *meter.Meter, _ time.Time) { w, over = m.Limiter() })
	l := objects.NewLimiter(LimiterLN, objects.ValueDefinition{ClassID: cosem.ClassRegister, LogicalName: ImportPowerLN, Attribute: 2},
		axdr.Uint32(uint32(w)), nil)
	l.MinOverDuration = uint32(over / time.Second)
	d.loadEmergency(l)
	return &limiterObject{Limiter: l, d: d}
}

// Set implements cosem.Object.
func (o *limiterObject) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.Limiter.Set(ctx, req, v); err != nil {
		return err
	}
	switch req.Attribute {
	case 5, 8, 9:
		o.emergencyChanged()
		return nil
	case 4, 6:
	default:
		return nil
	}
	o.Lock()
	w, _ := o.ThresholdNormal.Int()
	over := time.Duration(o.MinOverDuration) * time.Second
	o.Unlock()
	o.d.withSub(o.d.m, func(m *meter.Meter, now time.Time) { m.SetLimiter(now, w, over) })
	return nil
}

// pushSetup is the alarm push setup (class 40): what a push carries and
// where it goes. The simulator's push engine sends what it names.
func (d *Device) pushSetup() cosem.Object {
	objs := []cosem.CaptureObject{
		{ClassID: cosem.ClassPushSetup, LogicalName: PushSetupLN, Attribute: 1},
		{ClassID: cosem.ClassData, LogicalName: SerialLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: EventCodeLN, Attribute: 2},
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
	}
	dest := objects.SendDestination{Transport: 0, Destination: []byte(d.cfg.PushDestination), Message: objects.MessageAXDR}
	return objects.NewPushSetup(PushSetupLN, objs, dest, nil, nil)
}
