package apdu

// APDU tags of the LN services.
const (
	TagGetRequest               = 0xC0
	TagSetRequest               = 0xC1
	TagEventNotificationRequest = 0xC2
	TagActionRequest            = 0xC3
	TagGetResponse              = 0xC4
	TagSetResponse              = 0xC5
	TagActionResponse           = 0xC7
	TagExceptionResponse        = 0xD8
	TagDataNotification         = 0x0F
	TagInitiateRequest          = 0x01
	TagInitiateResponse         = 0x08
	TagConfirmedServiceError    = 0x0E
	TagAARQ                     = 0x60
	TagAARE                     = 0x61
	TagRLRQ                     = 0x62
	TagRLRE                     = 0x63
)

// GetRequestNormal reads one attribute (Get-Request-Normal).
type GetRequestNormal struct {
	InvokeID  InvokeIDAndPriority
	Attribute AttributeDescriptor
	// Access is nil when no selective access is asked for.
	Access *SelectiveAccess
}

// GetRequestNext asks for the block after BlockNumber of a long GET.
type GetRequestNext struct {
	InvokeID    InvokeIDAndPriority
	BlockNumber uint32
}

// GetRequestWithList reads several attributes at once.
type GetRequestWithList struct {
	InvokeID   InvokeIDAndPriority
	Attributes []AttributeRequest
}

// GetResponseNormal carries the result of a GET of one attribute.
type GetResponseNormal struct {
	InvokeID InvokeIDAndPriority
	Result   GetDataResult
}

// GetResponseWithDataBlock carries one block of a long GET.
type GetResponseWithDataBlock struct {
	InvokeID InvokeIDAndPriority
	Block    DataBlockG
}

// GetResponseWithList carries one result per requested attribute.
type GetResponseWithList struct {
	InvokeID InvokeIDAndPriority
	Results  []GetDataResult
}

// Kind returns "get-request-normal".
func (*GetRequestNormal) Kind() string { return "get-request-normal" }

// Kind returns "get-request-next".
func (*GetRequestNext) Kind() string { return "get-request-next" }

// Kind returns "get-request-with-list".
func (*GetRequestWithList) Kind() string { return "get-request-with-list" }

// Kind returns "get-response-normal".
func (*GetResponseNormal) Kind() string { return "get-response-normal" }

// Kind returns "get-response-with-datablock".
func (*GetResponseWithDataBlock) Kind() string { return "get-response-with-datablock" }

// Kind returns "get-response-with-list".
func (*GetResponseWithList) Kind() string { return "get-response-with-list" }

// Append appends the encoded APDU to b.
func (a *GetRequestNormal) Append(b []byte) ([]byte, error) {
	b = append(b, TagGetRequest, 1, byte(a.InvokeID))
	b = appendDescriptor(b, a.Attribute.ClassID, a.Attribute.InstanceID, a.Attribute.AttributeID)
	return appendAccess(b, a.Access), nil
}

// Append appends the encoded APDU to b.
func (a *GetRequestNext) Append(b []byte) ([]byte, error) {
	return appendU32(append(b, TagGetRequest, 2, byte(a.InvokeID)), a.BlockNumber), nil
}

// Append appends the encoded APDU to b.
func (a *GetRequestWithList) Append(b []byte) ([]byte, error) {
	b = append(b, TagGetRequest, 3, byte(a.InvokeID))
	return appendAttributeRequests(b, a.Attributes), nil
}

// Append appends the encoded APDU to b.
func (a *GetResponseNormal) Append(b []byte) ([]byte, error) {
	return appendGetDataResult(append(b, TagGetResponse, 1, byte(a.InvokeID)), &a.Result), nil
}

// Append appends the encoded APDU to b.
func (a *GetResponseWithDataBlock) Append(b []byte) ([]byte, error) {
	return appendDataBlockG(append(b, TagGetResponse, 2, byte(a.InvokeID)), &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *GetResponseWithList) Append(b []byte) ([]byte, error) {
	b = append(b, TagGetResponse, 3, byte(a.InvokeID))
	b = appendLen(b, len(a.Results))
	for i := range a.Results {
		b = appendGetDataResult(b, &a.Results[i])
	}
	return b, nil
}

// decodeGetRequest reads the body after the tag and CHOICE octets.
func decodeGetRequest(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &GetRequestNormal{InvokeID: inv}
		if a.Attribute, err = r.attribute("cosem-attribute-descriptor"); err != nil {
			return nil, err
		}
		a.Access, err = r.access("access-selection")
		return a, err
	case 2:
		a := &GetRequestNext{InvokeID: inv}
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	case 3:
		a := &GetRequestWithList{InvokeID: inv}
		a.Attributes, err = r.attributeRequests("attribute-descriptor-list")
		return a, err
	}
	return nil, errUnknownChoice
}

func decodeGetResponse(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &GetResponseNormal{InvokeID: inv}
		a.Result, err = r.getDataResult("result")
		return a, err
	case 2:
		a := &GetResponseWithDataBlock{InvokeID: inv}
		a.Block, err = r.dataBlockG("result")
		return a, err
	case 3:
		a := &GetResponseWithList{InvokeID: inv}
		n, err := r.count(2, "result-list")
		if err != nil {
			return nil, err
		}
		a.Results = make([]GetDataResult, n)
		for i := range a.Results {
			if a.Results[i], err = r.getDataResult("result"); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, errUnknownChoice
}
