package objects

import (
	"context"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// ReadFunc supplies a live attribute value.
type ReadFunc func(ctx context.Context) (axdr.Data, error)

// zeroOf returns the zero of v's type, for resets.
func zeroOf(v axdr.Data) axdr.Data {
	switch v.Tag {
	case axdr.TagInt8:
		return axdr.Int8(0)
	case axdr.TagInt16:
		return axdr.Int16(0)
	case axdr.TagInt32:
		return axdr.Int32(0)
	case axdr.TagInt64:
		return axdr.Int64(0)
	case axdr.TagUint8:
		return axdr.Uint8(0)
	case axdr.TagUint16:
		return axdr.Uint16(0)
	case axdr.TagUint32:
		return axdr.Uint32(0)
	case axdr.TagUint64:
		return axdr.Uint64(0)
	case axdr.TagFloat32:
		return axdr.Float32(0)
	case axdr.TagFloat64:
		return axdr.Float64(0)
	case axdr.TagBCD:
		return axdr.BCD(0)
	case axdr.TagEnum:
		return axdr.Enum(0)
	case axdr.TagBoolean:
		return axdr.Bool(false)
	}
	return axdr.Null()
}

func nowOr(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}

// Data is a Data object (class 1): one value of any type.
type Data struct {
	sync.Mutex
	Header
	// Value is served when Read is nil.
	Value axdr.Data
	// Read, if set, supplies the value live.
	Read ReadFunc
	// Writable lets clients set the value (type-checked against the
	// current value); Write, if set, is called first and may refuse.
	Writable bool
	Write    func(ctx context.Context, v axdr.Data) error
}

// NewData returns a Data object holding v.
func NewData(ln obis.Code, v axdr.Data) *Data {
	return &Data{Header: Header{Class: cosem.ClassData, LN: ln}, Value: v}
}

// Get implements Object.
func (o *Data) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		if o.Read != nil {
			return o.Read(ctx)
		}
		o.Lock()
		defer o.Unlock()
		return o.Value, nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object.
func (o *Data) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 1:
		return o.denied(1)
	case 2:
		return setValue(ctx, &o.Mutex, &o.Header, o.Writable, o.Write, &o.Value, req.Attribute, v, true)
	}
	return o.undefinedAttr(req.Attribute)
}

// Action implements Object: Data has no methods.
func (o *Data) Action(ctx context.Context, req *cosem.MethodRequest, _ axdr.Data) (axdr.Data, error) {
	return axdr.Data{}, o.undefinedMethod(req.Method)
}

// setValue is the shared SET of a value attribute: permission, type
// check against the current value, callback outside the lock, store.
func setValue(ctx context.Context, mu *sync.Mutex, h *Header, writable bool, write func(context.Context, axdr.Data) error,
	dst *axdr.Data, attr int8, v axdr.Data, anyShape bool) error {
	if !writable {
		return h.denied(attr)
	}
	if !anyShape && !cosem.IsSimple(v) {
		return h.typeErr(attr, "a simple type", v)
	}
	mu.Lock()
	cur := *dst
	mu.Unlock()
	if !sameType(cur, v) {
		return h.typeErr(attr, cur.Tag.String(), v)
	}
	if write != nil {
		if err := write(ctx, v); err != nil {
			return err
		}
	}
	v = v.Clone()
	mu.Lock()
	*dst = v
	mu.Unlock()
	return nil
}

// Register is a Register object (class 3).
type Register struct {
	sync.Mutex
	Header
	Value      axdr.Data
	ScalerUnit axdr.ScalerUnit
	// Read, if set, supplies the value live.
	Read ReadFunc
	// Writable lets clients set the value; Write, if set, is called
	// first and may refuse.
	Writable bool
	Write    func(ctx context.Context, v axdr.Data) error
	// Reset, if set, performs method 1 instead of zeroing Value.
	Reset func(ctx context.Context) error
}

// NewRegister returns a Register holding v scaled by su.
func NewRegister(ln obis.Code, v axdr.Data, su axdr.ScalerUnit) *Register {
	return &Register{Header: Header{Class: cosem.ClassRegister, LN: ln}, Value: v, ScalerUnit: su}
}

// Get implements Object.
func (o *Register) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		if o.Read != nil {
			return o.Read(ctx)
		}
		o.Lock()
		defer o.Unlock()
		return o.Value, nil
	case 3:
		o.Lock()
		defer o.Unlock()
		return o.ScalerUnit.Data(), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object. scaler_unit is static and refused.
func (o *Register) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 2:
		return setValue(ctx, &o.Mutex, &o.Header, o.Writable, o.Write, &o.Value, 2, v, false)
	case 1, 3:
		return o.denied(req.Attribute)
	}
	return o.undefinedAttr(req.Attribute)
}

// Action implements Object: method 1 reset (parameter integer 0).
func (o *Register) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if err := checkResetParam(&o.Header, p); err != nil {
		return axdr.Data{}, err
	}
	if o.Reset != nil {
		return axdr.Null(), o.Reset(ctx)
	}
	o.Lock()
	o.Value = zeroOf(o.Value)
	o.Unlock()
	return axdr.Null(), nil
}

// checkResetParam accepts the integer 0 the Blue Book prescribes and, as
// many clients send it, null-data.
func checkResetParam(h *Header, p axdr.Data) error {
	if p.Tag == axdr.TagNull {
		return nil
	}
	if _, ok := p.Int(); !ok {
		return h.paramErr(1, "integer", p)
	}
	return nil
}

// ExtendedRegister is an Extended register (class 4): a register with a
// status and the time the value was captured.
type ExtendedRegister struct {
	sync.Mutex
	Header
	Value       axdr.Data
	ScalerUnit  axdr.ScalerUnit
	Status      axdr.Data
	CaptureTime time.Time
	// Read, if set, supplies value, status and capture time together.
	Read func(ctx context.Context) (value, status axdr.Data, captured time.Time, err error)
	// Reset, if set, performs method 1 instead of zeroing the value.
	Reset func(ctx context.Context) error
	// Now is the clock for resets (default time.Now).
	Now func() time.Time
}

// NewExtendedRegister returns an Extended register.
func NewExtendedRegister(ln obis.Code, v axdr.Data, su axdr.ScalerUnit, status axdr.Data, captured time.Time) *ExtendedRegister {
	return &ExtendedRegister{Header: Header{Class: cosem.ClassExtendedRegister, LN: ln}, Value: v, ScalerUnit: su, Status: status, CaptureTime: captured}
}

// Get implements Object.
func (o *ExtendedRegister) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	if req.Attribute == 1 {
		return cosem.LogicalNameData(o.LN), nil
	}
	if req.Attribute < 1 || req.Attribute > 5 {
		return axdr.Data{}, o.undefinedAttr(req.Attribute)
	}
	var v, st axdr.Data
	var ct time.Time
	if o.Read != nil && req.Attribute != 3 {
		var err error
		if v, st, ct, err = o.Read(ctx); err != nil {
			return axdr.Data{}, err
		}
	} else {
		o.Lock()
		v, st, ct = o.Value, o.Status, o.CaptureTime
		o.Unlock()
	}
	switch req.Attribute {
	case 2:
		return v, nil
	case 3:
		o.Lock()
		defer o.Unlock()
		return o.ScalerUnit.Data(), nil
	case 4:
		return st, nil
	}
	return timeOrUnset(ct), nil
}

// timeOrUnset encodes t, or a date-time with every field not specified
// for the zero time.
func timeOrUnset(t time.Time) axdr.Data {
	if t.IsZero() {
		return axdr.DateTimeOctets(unsetDateTime)
	}
	return cosem.DateTimeData(t, 0)
}

var unsetDateTime = axdr.DateTime{Year: axdr.YearUnspecified, Month: 0xFF, Day: 0xFF, DayOfWeek: 0xFF, Hour: 0xFF,
	Minute: 0xFF, Second: 0xFF, Hundredths: 0xFF, Deviation: axdr.DeviationUnspecified, Status: axdr.StatusUnspecified}

// Set implements Object: every attribute of an Extended register is
// read-only to clients.
func (o *ExtendedRegister) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if req.Attribute < 1 || req.Attribute > 5 {
		return o.undefinedAttr(req.Attribute)
	}
	return o.denied(req.Attribute)
}

// Action implements Object: method 1 reset zeroes the value and stamps
// the capture time.
func (o *ExtendedRegister) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if err := checkResetParam(&o.Header, p); err != nil {
		return axdr.Data{}, err
	}
	if o.Reset != nil {
		return axdr.Null(), o.Reset(ctx)
	}
	now := nowOr(o.Now)
	o.Lock()
	o.Value = zeroOf(o.Value)
	o.CaptureTime = now
	o.Unlock()
	return axdr.Null(), nil
}

// DemandRegister is a Demand register (class 5). The meter feeds it with
// Update (the running average of the current period); NextPeriod, method
// 2 or the meter's own period timer closes a period.
type DemandRegister struct {
	sync.Mutex
	Header
	CurrentAverage   axdr.Data
	LastAverage      axdr.Data
	ScalerUnit       axdr.ScalerUnit
	Status           axdr.Data
	CaptureTime      time.Time
	StartTimeCurrent time.Time
	Period           uint32 // seconds
	NumberOfPeriods  uint16
	// OnNextPeriod, if set, is told about every closed period.
	OnNextPeriod func(ctx context.Context, last axdr.Data, at time.Time)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewDemandRegister returns a Demand register whose first period starts
// now; v gives the type of the averages (its value is the current one).
func NewDemandRegister(ln obis.Code, v axdr.Data, su axdr.ScalerUnit, period uint32, periods uint16) *DemandRegister {
	return &DemandRegister{Header: Header{Class: cosem.ClassDemandRegister, LN: ln}, CurrentAverage: v, LastAverage: zeroOf(v),
		ScalerUnit: su, Status: axdr.Null(), Period: period, NumberOfPeriods: periods, StartTimeCurrent: time.Now()}
}

// Get implements Object.
func (o *DemandRegister) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return o.CurrentAverage, nil
	case 3:
		return o.LastAverage, nil
	case 4:
		return o.ScalerUnit.Data(), nil
	case 5:
		return o.Status, nil
	case 6:
		return timeOrUnset(o.CaptureTime), nil
	case 7:
		return timeOrUnset(o.StartTimeCurrent), nil
	case 8:
		return axdr.Uint32(o.Period), nil
	case 9:
		return axdr.Uint16(o.NumberOfPeriods), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object: period and number_of_periods are writable.
func (o *DemandRegister) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 8:
		n, ok := cosem.UintOf(v, axdr.TagUint32)
		if !ok {
			return o.typeErr(8, "double-long-unsigned", v)
		}
		o.Lock()
		o.Period = uint32(n)
		o.Unlock()
		return nil
	case 9:
		n, ok := cosem.UintOf(v, axdr.TagUint16)
		if !ok {
			return o.typeErr(9, "long-unsigned", v)
		}
		o.Lock()
		o.NumberOfPeriods = uint16(n)
		o.Unlock()
		return nil
	case 1, 2, 3, 4, 5, 6, 7:
		return o.denied(req.Attribute)
	}
	return o.undefinedAttr(req.Attribute)
}

// Update sets the running average of the current period.
func (o *DemandRegister) Update(v axdr.Data) {
	o.Lock()
	o.CurrentAverage = v
	o.Unlock()
}

// NextPeriod closes the current period: the current average becomes the
// last average, stamped with the capture time, and a new period starts.
func (o *DemandRegister) NextPeriod(ctx context.Context) {
	now := nowOr(o.Now)
	o.Lock()
	o.LastAverage = o.CurrentAverage
	o.CurrentAverage = zeroOf(o.CurrentAverage)
	o.CaptureTime = now
	o.StartTimeCurrent = now
	last, cb := o.LastAverage, o.OnNextPeriod
	o.Unlock()
	if cb != nil {
		cb(ctx, last, now)
	}
}

// Action implements Object: method 1 reset clears both averages and
// restarts the period; method 2 next_period closes it.
func (o *DemandRegister) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if err := checkResetParam(&o.Header, p); err != nil && (req.Method == 1 || req.Method == 2) {
		return axdr.Data{}, err
	}
	switch req.Method {
	case 1:
		now := nowOr(o.Now)
		o.Lock()
		o.CurrentAverage = zeroOf(o.CurrentAverage)
		o.LastAverage = zeroOf(o.LastAverage)
		o.CaptureTime = now
		o.StartTimeCurrent = now
		o.Unlock()
		return axdr.Null(), nil
	case 2:
		o.NextPeriod(ctx)
		return axdr.Null(), nil
	}
	return axdr.Data{}, o.undefinedMethod(req.Method)
}
