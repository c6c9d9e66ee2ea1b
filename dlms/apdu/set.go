package apdu

import "github.com/amigo-ami/amigo/axdr"

// SetRequestNormal writes one attribute.
type SetRequestNormal struct {
	InvokeID  InvokeIDAndPriority
	Attribute AttributeDescriptor
	Access    *SelectiveAccess
	Value     axdr.Data
}

// SetRequestWithFirstDataBlock starts a long SET of one attribute; Block
// holds the first part of the encoded value.
type SetRequestWithFirstDataBlock struct {
	InvokeID  InvokeIDAndPriority
	Attribute AttributeDescriptor
	Access    *SelectiveAccess
	Block     DataBlockSA
}

// SetRequestWithDataBlock carries a further block of a long SET.
type SetRequestWithDataBlock struct {
	InvokeID InvokeIDAndPriority
	Block    DataBlockSA
}

// SetRequestWithList writes several attributes; Values pairs with
// Attributes.
type SetRequestWithList struct {
	InvokeID   InvokeIDAndPriority
	Attributes []AttributeRequest
	Values     []axdr.Data
}

// SetRequestWithListAndFirstDataBlock starts a long SET of several
// attributes; Block holds the first part of the encoded value list.
type SetRequestWithListAndFirstDataBlock struct {
	InvokeID   InvokeIDAndPriority
	Attributes []AttributeRequest
	Block      DataBlockSA
}

// SetResponseNormal answers a SetRequestNormal.
type SetResponseNormal struct {
	InvokeID InvokeIDAndPriority
	Result   DataAccessResult
}

// SetResponseDataBlock acknowledges block BlockNumber of a long SET.
type SetResponseDataBlock struct {
	InvokeID    InvokeIDAndPriority
	BlockNumber uint32
}

// SetResponseLastDataBlock ends a long SET of one attribute.
type SetResponseLastDataBlock struct {
	InvokeID    InvokeIDAndPriority
	Result      DataAccessResult
	BlockNumber uint32
}

// SetResponseLastDataBlockWithList ends a long SET of several attributes.
type SetResponseLastDataBlockWithList struct {
	InvokeID    InvokeIDAndPriority
	Results     []DataAccessResult
	BlockNumber uint32
}

// SetResponseWithList answers a SetRequestWithList.
type SetResponseWithList struct {
	InvokeID InvokeIDAndPriority
	Results  []DataAccessResult
}

// Kind returns "set-request-normal".
func (*SetRequestNormal) Kind() string { return "set-request-normal" }

// Kind returns "set-request-with-first-datablock".
func (*SetRequestWithFirstDataBlock) Kind() string { return "set-request-with-first-datablock" }

// Kind returns "set-request-with-datablock".
func (*SetRequestWithDataBlock) Kind() string { return "set-request-with-datablock" }

// Kind returns "set-request-with-list".
func (*SetRequestWithList) Kind() string { return "set-request-with-list" }

// Kind returns "set-request-with-list-and-first-datablock".
func (*SetRequestWithListAndFirstDataBlock) Kind() string {
	return "set-request-with-list-and-first-datablock"
}

// Kind returns "set-response-normal".
func (*SetResponseNormal) Kind() string { return "set-response-normal" }

// Kind returns "set-response-datablock".
func (*SetResponseDataBlock) Kind() string { return "set-response-datablock" }

// Kind returns "set-response-last-datablock".
func (*SetResponseLastDataBlock) Kind() string { return "set-response-last-datablock" }

// Kind returns "set-response-last-datablock-with-list".
func (*SetResponseLastDataBlockWithList) Kind() string {
	return "set-response-last-datablock-with-list"
}

// Kind returns "set-response-with-list".
func (*SetResponseWithList) Kind() string { return "set-response-with-list" }

// Append appends the encoded APDU to b.
func (a *SetRequestNormal) Append(b []byte) ([]byte, error) {
	b = append(b, TagSetRequest, 1, byte(a.InvokeID))
	b = appendDescriptor(b, a.Attribute.ClassID, a.Attribute.InstanceID, a.Attribute.AttributeID)
	b = appendAccess(b, a.Access)
	return a.Value.Append(b), nil
}

// Append appends the encoded APDU to b.
func (a *SetRequestWithFirstDataBlock) Append(b []byte) ([]byte, error) {
	b = append(b, TagSetRequest, 2, byte(a.InvokeID))
	b = appendDescriptor(b, a.Attribute.ClassID, a.Attribute.InstanceID, a.Attribute.AttributeID)
	b = appendAccess(b, a.Access)
	return appendDataBlockSA(b, &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *SetRequestWithDataBlock) Append(b []byte) ([]byte, error) {
	return appendDataBlockSA(append(b, TagSetRequest, 3, byte(a.InvokeID)), &a.Block), nil
}

// Append appends the encoded APDU to b. Attributes and Values must have
// the same length.
func (a *SetRequestWithList) Append(b []byte) ([]byte, error) {
	if len(a.Attributes) != len(a.Values) {
		return b, encErr("set-request-with-list", "attribute and value counts differ")
	}
	b = append(b, TagSetRequest, 4, byte(a.InvokeID))
	b = appendAttributeRequests(b, a.Attributes)
	return appendDataList(b, a.Values), nil
}

// Append appends the encoded APDU to b.
func (a *SetRequestWithListAndFirstDataBlock) Append(b []byte) ([]byte, error) {
	b = append(b, TagSetRequest, 5, byte(a.InvokeID))
	b = appendAttributeRequests(b, a.Attributes)
	return appendDataBlockSA(b, &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *SetResponseNormal) Append(b []byte) ([]byte, error) {
	return append(b, TagSetResponse, 1, byte(a.InvokeID), byte(a.Result)), nil
}

// Append appends the encoded APDU to b.
func (a *SetResponseDataBlock) Append(b []byte) ([]byte, error) {
	return appendU32(append(b, TagSetResponse, 2, byte(a.InvokeID)), a.BlockNumber), nil
}

// Append appends the encoded APDU to b.
func (a *SetResponseLastDataBlock) Append(b []byte) ([]byte, error) {
	return appendU32(append(b, TagSetResponse, 3, byte(a.InvokeID), byte(a.Result)), a.BlockNumber), nil
}

// Append appends the encoded APDU to b.
func (a *SetResponseLastDataBlockWithList) Append(b []byte) ([]byte, error) {
	b = appendResults(append(b, TagSetResponse, 4, byte(a.InvokeID)), a.Results)
	return appendU32(b, a.BlockNumber), nil
}

// Append appends the encoded APDU to b.
func (a *SetResponseWithList) Append(b []byte) ([]byte, error) {
	return appendResults(append(b, TagSetResponse, 5, byte(a.InvokeID)), a.Results), nil
}

func appendResults(b []byte, rs []DataAccessResult) []byte {
	b = appendLen(b, len(rs))
	for _, r := range rs {
		b = append(b, byte(r))
	}
	return b
}

func (r *reader) results(field string) ([]DataAccessResult, error) {
	n, err := r.count(1, field)
	if err != nil {
		return nil, err
	}
	rs := make([]DataAccessResult, n)
	for i := range rs {
		rs[i] = DataAccessResult(r.b[r.off+i])
	}
	r.off += n
	return rs, nil
}

func decodeSetRequest(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &SetRequestNormal{InvokeID: inv}
		if a.Attribute, err = r.attribute("cosem-attribute-descriptor"); err != nil {
			return nil, err
		}
		if a.Access, err = r.access("access-selection"); err != nil {
			return nil, err
		}
		a.Value, err = r.data("value")
		return a, err
	case 2:
		a := &SetRequestWithFirstDataBlock{InvokeID: inv}
		if a.Attribute, err = r.attribute("cosem-attribute-descriptor"); err != nil {
			return nil, err
		}
		if a.Access, err = r.access("access-selection"); err != nil {
			return nil, err
		}
		a.Block, err = r.dataBlockSA("datablock")
		return a, err
	case 3:
		a := &SetRequestWithDataBlock{InvokeID: inv}
		a.Block, err = r.dataBlockSA("datablock")
		return a, err
	case 4:
		a := &SetRequestWithList{InvokeID: inv}
		if a.Attributes, err = r.attributeRequests("attribute-descriptor-list"); err != nil {
			return nil, err
		}
		start := r.off
		if a.Values, err = r.dataList("value-list"); err != nil {
			return nil, err
		}
		if len(a.Values) != len(a.Attributes) {
			return nil, errAt(start, "value-list count", ErrInvalid)
		}
		return a, nil
	case 5:
		a := &SetRequestWithListAndFirstDataBlock{InvokeID: inv}
		if a.Attributes, err = r.attributeRequests("attribute-descriptor-list"); err != nil {
			return nil, err
		}
		a.Block, err = r.dataBlockSA("datablock")
		return a, err
	}
	return nil, errUnknownChoice
}

func decodeSetResponse(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &SetResponseNormal{InvokeID: inv}
		v, err := r.u8("result")
		a.Result = DataAccessResult(v)
		return a, err
	case 2:
		a := &SetResponseDataBlock{InvokeID: inv}
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	case 3:
		a := &SetResponseLastDataBlock{InvokeID: inv}
		v, err := r.u8("result")
		if err != nil {
			return nil, err
		}
		a.Result = DataAccessResult(v)
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	case 4:
		a := &SetResponseLastDataBlockWithList{InvokeID: inv}
		if a.Results, err = r.results("result"); err != nil {
			return nil, err
		}
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	case 5:
		a := &SetResponseWithList{InvokeID: inv}
		a.Results, err = r.results("result")
		return a, err
	}
	return nil, errUnknownChoice
}
