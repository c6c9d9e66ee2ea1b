package objects

import (
	"context"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// ValueDefinition names a monitored attribute: class, logical name and
// attribute index.
type ValueDefinition struct {
	ClassID     uint16
	LogicalName obis.Code
	Attribute   int8
}

// Data returns structure{long-unsigned, octet-string, integer}.
func (v ValueDefinition) Data() axdr.Data {
	return axdr.Structure(axdr.Uint16(v.ClassID), cosem.LogicalNameData(v.LogicalName), axdr.Int8(v.Attribute))
}

func parseValueDefinition(d axdr.Data) ValueDefinition {
	c, _ := d.Items[0].Uint()
	ln, _ := cosem.LogicalNameOf(d.Items[1])
	a, _ := d.Items[2].Int()
	return ValueDefinition{ClassID: uint16(c), LogicalName: ln, Attribute: int8(a)}
}

// ScriptRef is an action_item: a script table and the script to run.
type ScriptRef struct {
	LogicalName obis.Code
	Selector    uint16
}

// Data returns structure{octet-string, long-unsigned}.
func (s ScriptRef) Data() axdr.Data {
	return axdr.Structure(cosem.LogicalNameData(s.LogicalName), axdr.Uint16(s.Selector))
}

func parseScriptRef(d axdr.Data) ScriptRef {
	ln, _ := cosem.LogicalNameOf(d.Items[0])
	n, _ := d.Items[1].Uint()
	return ScriptRef{LogicalName: ln, Selector: uint16(n)}
}

func valueDefField(p *ValueDefinition) field {
	return field{get: func() axdr.Data { return p.Data() }, check: valueDefShape, want: "structure{long-unsigned, octet-string(6), integer}",
		store: func(v axdr.Data) { *p = parseValueDefinition(v) }}
}

// ActionFunc runs a script a monitor triggers.
type ActionFunc func(ctx context.Context, s ScriptRef)

// MonitorActions is one actions element of a Register monitor.
type MonitorActions struct {
	Up, Down ScriptRef
}

// RegisterMonitor is a Register monitor (class 21). The meter feeds it
// the monitored value with Observe; crossing a threshold upwards runs
// its Up script, downwards its Down script.
type RegisterMonitor struct {
	sync.Mutex
	Header
	Thresholds []axdr.Data
	Monitored  ValueDefinition
	Actions    []MonitorActions
	Act        ActionFunc
	OnSet      SetHook

	last    axdr.Data
	hasLast bool
}

// NewRegisterMonitor returns a monitor of value with thresholds and one
// actions element per threshold.
func NewRegisterMonitor(ln obis.Code, value ValueDefinition, thresholds []axdr.Data, actions []MonitorActions, act ActionFunc) *RegisterMonitor {
	return &RegisterMonitor{Header: Header{Class: cosem.ClassRegisterMonitor, LN: ln}, Thresholds: thresholds, Monitored: value, Actions: actions, Act: act}
}

var monitorActionsShape = arrayOf(structOf(scriptShape, scriptShape))

func (o *RegisterMonitor) fields() []field {
	return []field{
		{get: func() axdr.Data { return axdr.Array(o.Thresholds...) }, check: arrayOf(simpleShape), want: "array of simple values",
			store: func(v axdr.Data) { o.Thresholds = v.Clone().Items }},
		valueDefField(&o.Monitored),
		{get: func() axdr.Data {
			items := make([]axdr.Data, len(o.Actions))
			for i, a := range o.Actions {
				items[i] = axdr.Structure(a.Up.Data(), a.Down.Data())
			}
			return axdr.Array(items...)
		}, check: monitorActionsShape, want: "array of structure{action_up, action_down}",
			store: func(v axdr.Data) {
				o.Actions = make([]MonitorActions, len(v.Items))
				for i, it := range v.Items {
					o.Actions[i] = MonitorActions{Up: parseScriptRef(it.Items[0]), Down: parseScriptRef(it.Items[1])}
				}
			}},
	}
}

// Get implements Object.
func (o *RegisterMonitor) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *RegisterMonitor) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Action implements Object: the class has no methods.
func (o *RegisterMonitor) Action(ctx context.Context, req *cosem.MethodRequest, _ axdr.Data) (axdr.Data, error) {
	return o.noMethod(req)
}

// Observe feeds the current monitored value and runs the scripts of the
// thresholds it crossed since the previous value. The first value only
// sets the baseline.
func (o *RegisterMonitor) Observe(ctx context.Context, v axdr.Data) {
	o.Lock()
	prev, had := o.last, o.hasLast
	o.last, o.hasLast = v.Clone(), true
	var fire []ScriptRef
	if had {
		for i, th := range o.Thresholds {
			if i >= len(o.Actions) {
				break
			}
			a, ok1 := cosem.CompareValues(prev, th)
			b, ok2 := cosem.CompareValues(v, th)
			switch {
			case !ok1 || !ok2:
			case a <= 0 && b > 0:
				fire = append(fire, o.Actions[i].Up)
			case a > 0 && b <= 0:
				fire = append(fire, o.Actions[i].Down)
			}
		}
	}
	act := o.Act
	o.Unlock()
	if act != nil {
		for _, s := range fire {
			act(ctx, s)
		}
	}
}

// EmergencyProfile is a Limiter's emergency_profile.
type EmergencyProfile struct {
	ID             uint16
	ActivationTime axdr.DateTime
	Duration       uint32 // s
}

// Limiter is a Limiter object (class 71). The meter feeds it the
// monitored value with Observe; the active threshold follows the
// emergency profile, and the over/under actions run once the value stayed
// beyond the threshold for the minimum durations.
type Limiter struct {
	sync.Mutex
	Header
	Monitored          ValueDefinition
	ThresholdNormal    axdr.Data
	ThresholdEmergency axdr.Data
	MinOverDuration    uint32 // s
	MinUnderDuration   uint32 // s
	Emergency          EmergencyProfile
	EmergencyGroups    []uint16
	// EmergencyGroup is the group this meter belongs to; the emergency
	// profile applies when it is in EmergencyGroups.
	EmergencyGroup uint16
	OverAction     ScriptRef
	UnderAction    ScriptRef
	Act            ActionFunc
	OnSet          SetHook

	over       bool
	crossSince time.Time
	emergency  bool
}

// NewLimiter returns a limiter of value with a normal threshold.
func NewLimiter(ln obis.Code, value ValueDefinition, normal axdr.Data, act ActionFunc) *Limiter {
	return &Limiter{Header: Header{Class: cosem.ClassLimiter, LN: ln}, Monitored: value, ThresholdNormal: normal,
		ThresholdEmergency: normal, Emergency: EmergencyProfile{ActivationTime: unsetDateTime}, Act: act}
}

func (o *Limiter) activeLocked() axdr.Data {
	if o.emergency {
		return o.ThresholdEmergency
	}
	return o.ThresholdNormal
}

func (o *Limiter) fields() []field {
	return []field{
		valueDefField(&o.Monitored),
		{get: o.activeLocked, want: "simple"},
		dataField(&o.ThresholdNormal, simpleShape, "a simple type", true),
		dataField(&o.ThresholdEmergency, simpleShape, "a simple type", true),
		u32Field(&o.MinOverDuration, true),
		u32Field(&o.MinUnderDuration, true),
		{get: func() axdr.Data {
			return axdr.Structure(axdr.Uint16(o.Emergency.ID), axdr.DateTimeOctets(o.Emergency.ActivationTime), axdr.Uint32(o.Emergency.Duration))
		}, check: structOf(u16Shape, dateTimeShape, u32Shape), want: "structure{long-unsigned, date-time, double-long-unsigned}",
			store: func(v axdr.Data) {
				id, _ := v.Items[0].Uint()
				at, _ := v.Items[1].DateTime()
				d, _ := v.Items[2].Uint()
				o.Emergency = EmergencyProfile{ID: uint16(id), ActivationTime: at, Duration: uint32(d)}
			}},
		{get: func() axdr.Data {
			items := make([]axdr.Data, len(o.EmergencyGroups))
			for i, g := range o.EmergencyGroups {
				items[i] = axdr.Uint16(g)
			}
			return axdr.Array(items...)
		}, check: arrayOf(u16Shape), want: "array of long-unsigned",
			store: func(v axdr.Data) {
				o.EmergencyGroups = make([]uint16, len(v.Items))
				for i, it := range v.Items {
					n, _ := it.Uint()
					o.EmergencyGroups[i] = uint16(n)
				}
			}},
		boolField(&o.emergency, false),
		{get: func() axdr.Data { return axdr.Structure(o.OverAction.Data(), o.UnderAction.Data()) },
			check: structOf(scriptShape, scriptShape), want: "structure{action_over_threshold, action_under_threshold}",
			store: func(v axdr.Data) {
				o.OverAction, o.UnderAction = parseScriptRef(v.Items[0]), parseScriptRef(v.Items[1])
			}},
	}
}

// Get implements Object.
func (o *Limiter) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *Limiter) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Action implements Object: the class has no methods.
func (o *Limiter) Action(ctx context.Context, req *cosem.MethodRequest, _ axdr.Data) (axdr.Data, error) {
	return o.noMethod(req)
}

// Observe feeds the monitored value at now. It updates
// emergency_profile_active and runs the over (under) action when the
// value has been above (at or below) the active threshold for the
// minimum duration.
func (o *Limiter) Observe(ctx context.Context, v axdr.Data, now time.Time) {
	o.Lock()
	o.emergency = false
	if at, err := o.Emergency.ActivationTime.TimeIn(now.Location()); err == nil {
		end := at.Add(time.Duration(o.Emergency.Duration) * time.Second)
		if !now.Before(at) && now.Before(end) {
			for _, g := range o.EmergencyGroups {
				if g == o.EmergencyGroup {
					o.emergency = true
				}
			}
		}
	}
	c, ok := cosem.CompareValues(v, o.activeLocked())
	var fire *ScriptRef
	if ok {
		above := c > 0
		if above != o.over {
			if o.crossSince.IsZero() {
				o.crossSince = now
			}
			need := o.MinUnderDuration
			if above {
				need = o.MinOverDuration
			}
			if now.Sub(o.crossSince) >= time.Duration(need)*time.Second {
				o.over, o.crossSince = above, time.Time{}
				s := o.UnderAction
				if above {
					s = o.OverAction
				}
				fire = &s
			}
		} else {
			o.crossSince = time.Time{}
		}
	}
	act := o.Act
	o.Unlock()
	if fire != nil && act != nil {
		act(ctx, *fire)
	}
}
