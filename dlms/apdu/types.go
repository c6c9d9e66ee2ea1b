package apdu

import (
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
)

// InvokeIDAndPriority is the Invoke-Id-And-Priority octet that opens every
// LN service APDU: invoke-id in bits 0-3, service-class (1 = confirmed) in
// bit 6, priority (1 = high) in bit 7. 0xC1 is invoke-id 1, confirmed, high
// priority.
type InvokeIDAndPriority uint8

// NewInvokeIDAndPriority builds the octet; id is taken modulo 16.
func NewInvokeIDAndPriority(id uint8, confirmed, high bool) InvokeIDAndPriority {
	v := id & 0x0F
	if confirmed {
		v |= 0x40
	}
	if high {
		v |= 0x80
	}
	return InvokeIDAndPriority(v)
}

// ID returns the invoke-id (0-15).
func (p InvokeIDAndPriority) ID() uint8 { return uint8(p) & 0x0F }

// Confirmed reports whether the service-class bit asks for a response.
func (p InvokeIDAndPriority) Confirmed() bool { return p&0x40 != 0 }

// HighPriority reports the priority bit.
func (p InvokeIDAndPriority) HighPriority() bool { return p&0x80 != 0 }

// LongInvokeIDAndPriority is the Long-Invoke-Id-And-Priority of
// data-notification: invoke-id in bits 0-23, self-descriptive bit 28,
// processing-option (break on error) bit 29, service-class bit 30,
// priority bit 31.
type LongInvokeIDAndPriority uint32

// ID returns the 24-bit invoke-id.
func (p LongInvokeIDAndPriority) ID() uint32 { return uint32(p) & 0xFFFFFF }

// SelfDescriptive reports bit 28.
func (p LongInvokeIDAndPriority) SelfDescriptive() bool { return p&(1<<28) != 0 }

// BreakOnError reports the processing-option bit 29.
func (p LongInvokeIDAndPriority) BreakOnError() bool { return p&(1<<29) != 0 }

// Confirmed reports the service-class bit 30.
func (p LongInvokeIDAndPriority) Confirmed() bool { return p&(1<<30) != 0 }

// HighPriority reports bit 31.
func (p LongInvokeIDAndPriority) HighPriority() bool { return p&(1<<31) != 0 }

// AttributeDescriptor is a Cosem-Attribute-Descriptor. InstanceID is the
// logical name (OBIS code) and accepts an obis.Code directly.
type AttributeDescriptor struct {
	ClassID     uint16
	InstanceID  [6]byte
	AttributeID int8
}

// MethodDescriptor is a Cosem-Method-Descriptor.
type MethodDescriptor struct {
	ClassID    uint16
	InstanceID [6]byte
	MethodID   int8
}

// descriptorLen is the encoded size of both descriptor types.
const descriptorLen = 9

func appendDescriptor(b []byte, class uint16, inst [6]byte, id int8) []byte {
	b = appendU16(b, class)
	b = append(b, inst[:]...)
	return append(b, byte(id))
}

func (r *reader) descriptor(field string) (class uint16, inst [6]byte, id int8, err error) {
	if r.rest() < descriptorLen {
		return 0, inst, 0, errAt(r.off, field, ErrTruncated)
	}
	p := r.b[r.off:]
	class = uint16(p[0])<<8 | uint16(p[1])
	copy(inst[:], p[2:8])
	id = int8(p[8])
	r.off += descriptorLen
	return class, inst, id, nil
}

func (r *reader) attribute(field string) (AttributeDescriptor, error) {
	c, i, a, err := r.descriptor(field)
	return AttributeDescriptor{ClassID: c, InstanceID: i, AttributeID: a}, err
}

func (r *reader) method(field string) (MethodDescriptor, error) {
	c, i, m, err := r.descriptor(field)
	return MethodDescriptor{ClassID: c, InstanceID: i, MethodID: m}, err
}

// SelectiveAccess is a Selective-Access-Descriptor: the access selector
// (1 range, 2 entry for profile generic) and its parameters.
type SelectiveAccess struct {
	Selector   uint8
	Parameters axdr.Data
}

// AttributeRequest is a Cosem-Attribute-Descriptor-With-Selection, an
// element of the with-list GET and SET requests.
type AttributeRequest struct {
	Attribute AttributeDescriptor
	// Access is nil when no selective access is asked for.
	Access *SelectiveAccess
}

func appendAccess(b []byte, a *SelectiveAccess) []byte {
	if a == nil {
		return append(b, 0)
	}
	b = append(b, 1, a.Selector)
	return a.Parameters.Append(b)
}

func (r *reader) access(field string) (*SelectiveAccess, error) {
	present, err := r.optional(field)
	if err != nil || !present {
		return nil, err
	}
	sel, err := r.u8(field)
	if err != nil {
		return nil, err
	}
	p, err := r.data("parameters")
	if err != nil {
		return nil, err
	}
	return &SelectiveAccess{Selector: sel, Parameters: p}, nil
}

func appendAttributeRequests(b []byte, list []AttributeRequest) []byte {
	b = axdr.AppendLength(b, len(list))
	for i := range list {
		a := &list[i].Attribute
		b = appendDescriptor(b, a.ClassID, a.InstanceID, a.AttributeID)
		b = appendAccess(b, list[i].Access)
	}
	return b
}

func (r *reader) attributeRequests(field string) ([]AttributeRequest, error) {
	n, err := r.count(descriptorLen+1, field)
	if err != nil {
		return nil, err
	}
	list := make([]AttributeRequest, n)
	for i := range list {
		if list[i].Attribute, err = r.attribute(field); err != nil {
			return nil, err
		}
		if list[i].Access, err = r.access("access-selection"); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func appendMethods(b []byte, list []MethodDescriptor) []byte {
	b = axdr.AppendLength(b, len(list))
	for _, m := range list {
		b = appendDescriptor(b, m.ClassID, m.InstanceID, m.MethodID)
	}
	return b
}

func (r *reader) methods(field string) ([]MethodDescriptor, error) {
	n, err := r.count(descriptorLen, field)
	if err != nil {
		return nil, err
	}
	list := make([]MethodDescriptor, n)
	for i := range list {
		if list[i], err = r.method(field); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func appendDataList(b []byte, list []axdr.Data) []byte {
	b = axdr.AppendLength(b, len(list))
	for i := range list {
		b = list[i].Append(b)
	}
	return b
}

func (r *reader) dataList(field string) ([]axdr.Data, error) {
	n, err := r.count(1, field)
	if err != nil {
		return nil, err
	}
	list := make([]axdr.Data, n)
	for i := range list {
		if list[i], err = r.data(field); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// DataAccessResult is the Data-Access-Result enum of GET and SET.
type DataAccessResult uint8

// Data-Access-Result values.
const (
	Success                 DataAccessResult = 0
	HardwareFault           DataAccessResult = 1
	TemporaryFailure        DataAccessResult = 2
	ReadWriteDenied         DataAccessResult = 3
	ObjectUndefined         DataAccessResult = 4
	ObjectClassInconsistent DataAccessResult = 9
	ObjectUnavailable       DataAccessResult = 11
	TypeUnmatched           DataAccessResult = 12
	ScopeOfAccessViolated   DataAccessResult = 13
	DataBlockUnavailable    DataAccessResult = 14
	LongGetAborted          DataAccessResult = 15
	NoLongGetInProgress     DataAccessResult = 16
	LongSetAborted          DataAccessResult = 17
	NoLongSetInProgress     DataAccessResult = 18
	DataBlockNumberInvalid  DataAccessResult = 19
	OtherReason             DataAccessResult = 250
)

var dataAccessResultNames = map[DataAccessResult]string{
	Success: "success", HardwareFault: "hardware-fault", TemporaryFailure: "temporary-failure",
	ReadWriteDenied: "read-write-denied", ObjectUndefined: "object-undefined",
	ObjectClassInconsistent: "object-class-inconsistent", ObjectUnavailable: "object-unavailable",
	TypeUnmatched: "type-unmatched", ScopeOfAccessViolated: "scope-of-access-violated",
	DataBlockUnavailable: "data-block-unavailable", LongGetAborted: "long-get-aborted",
	NoLongGetInProgress: "no-long-get-in-progress", LongSetAborted: "long-set-aborted",
	NoLongSetInProgress: "no-long-set-in-progress", DataBlockNumberInvalid: "data-block-number-invalid",
	OtherReason: "other-reason",
}

// String returns the Green Book name, or "data-access-result(N)".
func (r DataAccessResult) String() string {
	if s, ok := dataAccessResultNames[r]; ok {
		return s
	}
	return "data-access-result(" + strconv.Itoa(int(r)) + ")"
}

// ActionResult is the Action-Result enum.
type ActionResult uint8

// Action-Result values.
const (
	ActionSuccess                 ActionResult = 0
	ActionHardwareFault           ActionResult = 1
	ActionTemporaryFailure        ActionResult = 2
	ActionReadWriteDenied         ActionResult = 3
	ActionObjectUndefined         ActionResult = 4
	ActionObjectClassInconsistent ActionResult = 9
	ActionObjectUnavailable       ActionResult = 11
	ActionTypeUnmatched           ActionResult = 12
	ActionScopeOfAccessViolated   ActionResult = 13
	ActionDataBlockUnavailable    ActionResult = 14
	ActionLongActionAborted       ActionResult = 15
	ActionNoLongActionInProgress  ActionResult = 16
	ActionOtherReason             ActionResult = 250
)

var actionResultNames = map[ActionResult]string{
	ActionSuccess: "success", ActionHardwareFault: "hardware-fault", ActionTemporaryFailure: "temporary-failure",
	ActionReadWriteDenied: "read-write-denied", ActionObjectUndefined: "object-undefined",
	ActionObjectClassInconsistent: "object-class-inconsistent", ActionObjectUnavailable: "object-unavailable",
	ActionTypeUnmatched: "type-unmatched", ActionScopeOfAccessViolated: "scope-of-access-violated",
	ActionDataBlockUnavailable: "data-block-unavailable", ActionLongActionAborted: "long-action-aborted",
	ActionNoLongActionInProgress: "no-long-action-in-progress", ActionOtherReason: "other-reason",
}

// String returns the Green Book name, or "action-result(N)".
func (r ActionResult) String() string {
	if s, ok := actionResultNames[r]; ok {
		return s
	}
	return "action-result(" + strconv.Itoa(int(r)) + ")"
}

// GetDataResult is the Get-Data-Result CHOICE: a value ([0] data) or, when
// IsAccessResult is set, a failure ([1] data-access-result).
type GetDataResult struct {
	Data           axdr.Data
	AccessResult   DataAccessResult
	IsAccessResult bool
}

// ResultData returns the data alternative.
func ResultData(d axdr.Data) GetDataResult { return GetDataResult{Data: d} }

// ResultError returns the data-access-result alternative.
func ResultError(r DataAccessResult) GetDataResult {
	return GetDataResult{AccessResult: r, IsAccessResult: true}
}

func appendGetDataResult(b []byte, r *GetDataResult) []byte {
	if r.IsAccessResult {
		return append(b, 1, byte(r.AccessResult))
	}
	return r.Data.Append(append(b, 0))
}

func (r *reader) getDataResult(field string) (GetDataResult, error) {
	start := r.off
	c, err := r.u8(field)
	if err != nil {
		return GetDataResult{}, err
	}
	switch c {
	case 0:
		d, err := r.data("data")
		return GetDataResult{Data: d}, err
	case 1:
		v, err := r.u8("data-access-result")
		return GetDataResult{AccessResult: DataAccessResult(v), IsAccessResult: true}, err
	}
	return GetDataResult{}, errAt(start, field, ErrUnknownTag)
}

// DataBlockG is the DataBlock-G of get-response-with-datablock: one block
// of the encoded value, or a data-access-result when IsAccessResult is set.
type DataBlockG struct {
	LastBlock      bool
	BlockNumber    uint32
	Raw            []byte
	AccessResult   DataAccessResult
	IsAccessResult bool
}

func appendDataBlockG(b []byte, d *DataBlockG) []byte {
	b = appendBool(b, d.LastBlock)
	b = appendU32(b, d.BlockNumber)
	if d.IsAccessResult {
		return append(b, 1, byte(d.AccessResult))
	}
	return appendOctetString(append(b, 0), d.Raw)
}

func (r *reader) dataBlockG(field string) (DataBlockG, error) {
	var d DataBlockG
	var err error
	if d.LastBlock, err = r.bool("last-block"); err != nil {
		return d, err
	}
	if d.BlockNumber, err = r.u32("block-number"); err != nil {
		return d, err
	}
	start := r.off
	c, err := r.u8("result")
	if err != nil {
		return d, err
	}
	switch c {
	case 0:
		d.Raw, err = r.octetString("raw-data")
	case 1:
		var v byte
		v, err = r.u8("data-access-result")
		d.AccessResult, d.IsAccessResult = DataAccessResult(v), true
	default:
		err = errAt(start, field+" result", ErrUnknownTag)
	}
	return d, err
}

// DataBlockSA is the DataBlock-SA of the SET and ACTION block transfers.
type DataBlockSA struct {
	LastBlock   bool
	BlockNumber uint32
	Raw         []byte
}

func appendDataBlockSA(b []byte, d *DataBlockSA) []byte {
	b = appendBool(b, d.LastBlock)
	b = appendU32(b, d.BlockNumber)
	return appendOctetString(b, d.Raw)
}

func (r *reader) dataBlockSA(field string) (DataBlockSA, error) {
	var d DataBlockSA
	var err error
	if d.LastBlock, err = r.bool("last-block"); err != nil {
		return d, err
	}
	if d.BlockNumber, err = r.u32("block-number"); err != nil {
		return d, err
	}
	d.Raw, err = r.octetString("raw-data")
	return d, err
}
