package objects

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Script action services (script table action_specification service_id).
const (
	ServiceWriteAttribute uint8 = 1
	ServiceExecuteMethod  uint8 = 2
)

var scriptsShape = arrayOf(structOf(u16Shape, arrayOf(structOf(enumShape, u16Shape, lnShape, i8Shape, anyShape))))

// ScriptTable is a Script table object (class 9). Scripts is an array of
// structure{script_identifier long-unsigned, actions array of
// structure{service_id enum, class_id, logical_name, index integer,
// parameter}}.
type ScriptTable struct {
	sync.Mutex
	Header
	Scripts axdr.Data
	// Execute, if set, runs a script instead of the built-in runner.
	Execute func(ctx context.Context, id uint16) error
	// Target is where the built-in runner writes attributes and invokes
	// methods.
	Target *Tree
}

// NewScriptTable returns an empty script table running against target.
func NewScriptTable(ln obis.Code, target *Tree) *ScriptTable {
	return &ScriptTable{Header: Header{Class: cosem.ClassScriptTable, LN: ln}, Scripts: axdr.Array(), Target: target}
}

func (o *ScriptTable) fields() []field {
	return []field{dataField(&o.Scripts, scriptsShape, "array of script", true)}
}

// Get implements Object.
func (o *ScriptTable) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *ScriptTable) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, nil)
}

// Run executes script id: through Execute if set, otherwise by applying
// its actions to Target in order and stopping at the first failure.
func (o *ScriptTable) Run(ctx context.Context, id uint16) error {
	o.Lock()
	exec, scripts, target := o.Execute, o.Scripts, o.Target
	o.Unlock()
	if exec != nil {
		return exec(ctx, id)
	}
	if !scriptsShape(scripts) {
		return cosem.Errorf(cosem.ResultOtherReason, o.attrName(2)+": malformed scripts")
	}
	for _, s := range scripts.Items {
		if n, _ := s.Items[0].Uint(); n != uint64(id) {
			continue
		}
		if target == nil {
			return cosem.Errorf(cosem.ResultObjectUnavailable, o.methodName(1)+": no target")
		}
		for _, a := range s.Items[1].Items {
			svc, _ := a.Items[0].Uint()
			cid, _ := a.Items[1].Uint()
			ln, _ := cosem.LogicalNameOf(a.Items[2])
			idx, _ := a.Items[3].Int()
			obj, err := target.Lookup(uint16(cid), ln)
			if err != nil {
				return err
			}
			switch uint8(svc) {
			case ServiceWriteAttribute:
				err = obj.Set(ctx, &cosem.AttributeRequest{Attribute: int8(idx)}, a.Items[4])
			case ServiceExecuteMethod:
				_, err = obj.Action(ctx, &cosem.MethodRequest{Method: int8(idx)}, a.Items[4])
			default:
				err = cosem.Errorf(cosem.ResultOtherReason, "script "+strconv.Itoa(int(id))+": unknown service "+strconv.FormatUint(svc, 10))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return cosem.Errorf(cosem.ResultOtherReason, o.methodName(1)+": no script "+strconv.Itoa(int(id)))
}

// Action implements Object: method 1 execute (long-unsigned script id).
func (o *ScriptTable) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	id, ok := cosem.UintOf(p, axdr.TagUint16)
	if !ok {
		return axdr.Data{}, o.paramErr(1, "long-unsigned", p)
	}
	return axdr.Null(), o.Run(ctx, uint16(id))
}

var specialDayShape = structOf(u16Shape, octetsShape(5), u8Shape)

// SpecialDaysTable is a Special days table (class 11). Entries is an
// array of structure{index long-unsigned, specialday_date octet-string(5),
// day_id unsigned}.
type SpecialDaysTable struct {
	sync.Mutex
	Header
	Entries axdr.Data
}

// NewSpecialDaysTable returns an empty table.
func NewSpecialDaysTable(ln obis.Code) *SpecialDaysTable {
	return &SpecialDaysTable{Header: Header{Class: cosem.ClassSpecialDaysTable, LN: ln}, Entries: axdr.Array()}
}

func (o *SpecialDaysTable) fields() []field {
	return []field{dataField(&o.Entries, arrayOf(specialDayShape), "array of structure{long-unsigned, octet-string(5), unsigned}", true)}
}

// Get implements Object.
func (o *SpecialDaysTable) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *SpecialDaysTable) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, nil)
}

// Action implements Object: 1 insert (an entry; one with the same index
// is replaced), 2 delete (long-unsigned index).
func (o *SpecialDaysTable) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	var idx uint64
	switch req.Method {
	case 1:
		if !specialDayShape(p) {
			return axdr.Data{}, o.paramErr(1, "structure{long-unsigned, octet-string(5), unsigned}", p)
		}
		idx, _ = p.Items[0].Uint()
	case 2:
		var ok bool
		if idx, ok = cosem.UintOf(p, axdr.TagUint16); !ok {
			return axdr.Data{}, o.paramErr(2, "long-unsigned", p)
		}
	default:
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	o.Lock()
	defer o.Unlock()
	items := make([]axdr.Data, 0, len(o.Entries.Items)+1)
	for _, e := range o.Entries.Items {
		if n, _ := e.Items[0].Uint(); n != idx {
			items = append(items, e)
		}
	}
	if req.Method == 1 {
		items = append(items, p.Clone())
	}
	o.Entries = axdr.Array(items...)
	return axdr.Null(), nil
}

var (
	seasonShape   = arrayOf(structOf(anyOctets, dateTimeShape, anyOctets))
	weekShape     = arrayOf(structOf(anyOctets, u8Shape, u8Shape, u8Shape, u8Shape, u8Shape, u8Shape, u8Shape))
	dayShape      = arrayOf(structOf(u8Shape, arrayOf(structOf(octetsShape(4), lnShape, u16Shape))))
	calWantSeason = "array of structure{octet-string, date-time, octet-string}"
	calWantWeek   = "array of structure{octet-string, unsigned x7}"
	calWantDay    = "array of structure{unsigned, array of structure{time, octet-string(6), long-unsigned}}"
)

// CalendarSet is one calendar of an Activity calendar: its name and its
// season, week and day profile tables as the Blue Book encodes them.
type CalendarSet struct {
	Name    []byte
	Seasons axdr.Data // array of structure{season_profile_name, season_start date-time, week_name}
	Weeks   axdr.Data // array of structure{week_profile_name, monday .. sunday day_id}
	Days    axdr.Data // array of structure{day_id, day_schedule array of structure{start_time, script_logical_name, script_selector}}
}

func emptyCalendar() CalendarSet {
	return CalendarSet{Seasons: axdr.Array(), Weeks: axdr.Array(), Days: axdr.Array()}
}

// ActivityCalendar is an Activity calendar (class 20). The passive
// calendar becomes active through method 1 or, once
// ActivatePassiveTime is reached, through ActivateIfDue.
type ActivityCalendar struct {
	sync.Mutex
	Header
	Active, Passive     CalendarSet
	ActivatePassiveTime axdr.DateTime
	// OnActivate is told when the passive calendar became active.
	OnActivate func(ctx context.Context, active CalendarSet)
}

// NewActivityCalendar returns a calendar with empty tables and no
// activation time.
func NewActivityCalendar(ln obis.Code) *ActivityCalendar {
	return &ActivityCalendar{Header: Header{Class: cosem.ClassActivityCalendar, LN: ln}, Active: emptyCalendar(),
		Passive: emptyCalendar(), ActivatePassiveTime: unsetDateTime}
}

func (o *ActivityCalendar) fields() []field {
	return []field{
		bytesField(&o.Active.Name, -1, false),
		dataField(&o.Active.Seasons, seasonShape, calWantSeason, false),
		dataField(&o.Active.Weeks, weekShape, calWantWeek, false),
		dataField(&o.Active.Days, dayShape, calWantDay, false),
		bytesField(&o.Passive.Name, -1, true),
		dataField(&o.Passive.Seasons, seasonShape, calWantSeason, true),
		dataField(&o.Passive.Weeks, weekShape, calWantWeek, true),
		dataField(&o.Passive.Days, dayShape, calWantDay, true),
		{get: func() axdr.Data { return axdr.DateTimeOctets(o.ActivatePassiveTime) }, check: dateTimeShape, want: "date-time",
			store: func(v axdr.Data) { o.ActivatePassiveTime, _ = v.DateTime() }},
	}
}

// Get implements Object.
func (o *ActivityCalendar) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object: the passive calendar and its activation time
// are writable; the active one is not.
func (o *ActivityCalendar) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, nil)
}

// Activate copies the passive calendar into the active one.
func (o *ActivityCalendar) Activate(ctx context.Context) {
	o.Lock()
	o.Active = CalendarSet{Name: append([]byte(nil), o.Passive.Name...), Seasons: o.Passive.Seasons.Clone(),
		Weeks: o.Passive.Weeks.Clone(), Days: o.Passive.Days.Clone()}
	o.ActivatePassiveTime = unsetDateTime
	active, cb := o.Active, o.OnActivate
	o.Unlock()
	if cb != nil {
		cb(ctx, active)
	}
}

// ActivateIfDue activates the passive calendar if its activation time is
// set and not after now; it reports whether it did.
func (o *ActivityCalendar) ActivateIfDue(ctx context.Context, now time.Time) bool {
	o.Lock()
	at, err := o.ActivatePassiveTime.TimeIn(now.Location())
	o.Unlock()
	if err != nil || at.After(now) {
		return false
	}
	o.Activate(ctx)
	return true
}

// Action implements Object: method 1 activate_passive_calendar.
func (o *ActivityCalendar) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if err := checkResetParam(&o.Header, p); err != nil {
		return axdr.Data{}, err
	}
	o.Activate(ctx)
	return axdr.Null(), nil
}
