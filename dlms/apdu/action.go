package apdu

import "github.com/amigo-ami/amigo/axdr"

// ActionRequestNormal invokes one method.
type ActionRequestNormal struct {
	InvokeID InvokeIDAndPriority
	Method   MethodDescriptor
	// Parameters is nil when the method takes none.
	Parameters *axdr.Data
}

// ActionRequestNextPBlock asks for the next block of a long ACTION
// response.
type ActionRequestNextPBlock struct {
	InvokeID    InvokeIDAndPriority
	BlockNumber uint32
}

// ActionRequestWithList invokes several methods; Parameters pairs with
// Methods.
type ActionRequestWithList struct {
	InvokeID   InvokeIDAndPriority
	Methods    []MethodDescriptor
	Parameters []axdr.Data
}

// ActionRequestWithFirstPBlock starts a long ACTION; Block holds the first
// part of the encoded parameters.
type ActionRequestWithFirstPBlock struct {
	InvokeID InvokeIDAndPriority
	Method   MethodDescriptor
	Block    DataBlockSA
}

// ActionRequestWithListAndFirstPBlock starts a long ACTION of several
// methods.
type ActionRequestWithListAndFirstPBlock struct {
	InvokeID InvokeIDAndPriority
	Methods  []MethodDescriptor
	Block    DataBlockSA
}

// ActionRequestWithPBlock carries a further block of a long ACTION.
type ActionRequestWithPBlock struct {
	InvokeID InvokeIDAndPriority
	Block    DataBlockSA
}

// ActionResponseResult is an Action-Response-With-Optional-Data.
type ActionResponseResult struct {
	Result ActionResult
	// ReturnParameters is nil when the method returned nothing.
	ReturnParameters *GetDataResult
}

// ActionResponseNormal answers an ActionRequestNormal.
type ActionResponseNormal struct {
	InvokeID InvokeIDAndPriority
	ActionResponseResult
}

// ActionResponseWithPBlock carries one block of a long ACTION response.
type ActionResponseWithPBlock struct {
	InvokeID InvokeIDAndPriority
	Block    DataBlockSA
}

// ActionResponseWithList answers an ActionRequestWithList.
type ActionResponseWithList struct {
	InvokeID InvokeIDAndPriority
	Results  []ActionResponseResult
}

// ActionResponseNextPBlock acknowledges block BlockNumber of a long ACTION
// request.
type ActionResponseNextPBlock struct {
	InvokeID    InvokeIDAndPriority
	BlockNumber uint32
}

// Kind returns "action-request-normal".
func (*ActionRequestNormal) Kind() string { return "action-request-normal" }

// Kind returns "action-request-next-pblock".
func (*ActionRequestNextPBlock) Kind() string { return "action-request-next-pblock" }

// Kind returns "action-request-with-list".
func (*ActionRequestWithList) Kind() string { return "action-request-with-list" }

// Kind returns "action-request-with-first-pblock".
func (*ActionRequestWithFirstPBlock) Kind() string { return "action-request-with-first-pblock" }

// Kind returns "action-request-with-list-and-first-pblock".
func (*ActionRequestWithListAndFirstPBlock) Kind() string {
	return "action-request-with-list-and-first-pblock"
}

// Kind returns "action-request-with-pblock".
func (*ActionRequestWithPBlock) Kind() string { return "action-request-with-pblock" }

// Kind returns "action-response-normal".
func (*ActionResponseNormal) Kind() string { return "action-response-normal" }

// Kind returns "action-response-with-pblock".
func (*ActionResponseWithPBlock) Kind() string { return "action-response-with-pblock" }

// Kind returns "action-response-with-list".
func (*ActionResponseWithList) Kind() string { return "action-response-with-list" }

// Kind returns "action-response-next-pblock".
func (*ActionResponseNextPBlock) Kind() string { return "action-response-next-pblock" }

func appendMethod(b []byte, m *MethodDescriptor) []byte {
	return appendDescriptor(b, m.ClassID, m.InstanceID, m.MethodID)
}

// Append appends the encoded APDU to b.
func (a *ActionRequestNormal) Append(b []byte) ([]byte, error) {
	b = appendMethod(append(b, TagActionRequest, 1, byte(a.InvokeID)), &a.Method)
	if a.Parameters == nil {
		return append(b, 0), nil
	}
	return a.Parameters.Append(append(b, 1)), nil
}

// Append appends the encoded APDU to b.
func (a *ActionRequestNextPBlock) Append(b []byte) ([]byte, error) {
	return appendU32(append(b, TagActionRequest, 2, byte(a.InvokeID)), a.BlockNumber), nil
}

// Append appends the encoded APDU to b. Methods and Parameters must have
// the same length.
func (a *ActionRequestWithList) Append(b []byte) ([]byte, error) {
	if len(a.Methods) != len(a.Parameters) {
		return b, encErr("action-request-with-list", "method and parameter counts differ")
	}
	b = appendMethods(append(b, TagActionRequest, 3, byte(a.InvokeID)), a.Methods)
	return appendDataList(b, a.Parameters), nil
}

// Append appends the encoded APDU to b.
func (a *ActionRequestWithFirstPBlock) Append(b []byte) ([]byte, error) {
	b = appendMethod(append(b, TagActionRequest, 4, byte(a.InvokeID)), &a.Method)
	return appendDataBlockSA(b, &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *ActionRequestWithListAndFirstPBlock) Append(b []byte) ([]byte, error) {
	b = appendMethods(append(b, TagActionRequest, 5, byte(a.InvokeID)), a.Methods)
	return appendDataBlockSA(b, &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *ActionRequestWithPBlock) Append(b []byte) ([]byte, error) {
	return appendDataBlockSA(append(b, TagActionRequest, 6, byte(a.InvokeID)), &a.Block), nil
}

func appendActionResult(b []byte, r *ActionResponseResult) []byte {
	b = append(b, byte(r.Result))
	if r.ReturnParameters == nil {
		return append(b, 0)
	}
	return appendGetDataResult(append(b, 1), r.ReturnParameters)
}

// Append appends the encoded APDU to b.
func (a *ActionResponseNormal) Append(b []byte) ([]byte, error) {
	return appendActionResult(append(b, TagActionResponse, 1, byte(a.InvokeID)), &a.ActionResponseResult), nil
}

// Append appends the encoded APDU to b.
func (a *ActionResponseWithPBlock) Append(b []byte) ([]byte, error) {
	return appendDataBlockSA(append(b, TagActionResponse, 2, byte(a.InvokeID)), &a.Block), nil
}

// Append appends the encoded APDU to b.
func (a *ActionResponseWithList) Append(b []byte) ([]byte, error) {
	b = appendLen(append(b, TagActionResponse, 3, byte(a.InvokeID)), len(a.Results))
	for i := range a.Results {
		b = appendActionResult(b, &a.Results[i])
	}
	return b, nil
}

// Append appends the encoded APDU to b.
func (a *ActionResponseNextPBlock) Append(b []byte) ([]byte, error) {
	return appendU32(append(b, TagActionResponse, 4, byte(a.InvokeID)), a.BlockNumber), nil
}

func (r *reader) actionResult() (ActionResponseResult, error) {
	var res ActionResponseResult
	v, err := r.u8("result")
	if err != nil {
		return res, err
	}
	res.Result = ActionResult(v)
	present, err := r.optional("return-parameters")
	if err != nil || !present {
		return res, err
	}
	g, err := r.getDataResult("return-parameters")
	if err != nil {
		return res, err
	}
	res.ReturnParameters = &g
	return res, nil
}

func decodeActionRequest(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &ActionRequestNormal{InvokeID: inv}
		if a.Method, err = r.method("cosem-method-descriptor"); err != nil {
			return nil, err
		}
		present, err := r.optional("method-invocation-parameters")
		if err != nil || !present {
			return a, err
		}
		d, err := r.data("method-invocation-parameters")
		if err != nil {
			return nil, err
		}
		a.Parameters = &d
		return a, nil
	case 2:
		a := &ActionRequestNextPBlock{InvokeID: inv}
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	case 3:
		a := &ActionRequestWithList{InvokeID: inv}
		if a.Methods, err = r.methods("cosem-method-descriptor-list"); err != nil {
			return nil, err
		}
		start := r.off
		if a.Parameters, err = r.dataList("method-invocation-parameters"); err != nil {
			return nil, err
		}
		if len(a.Parameters) != len(a.Methods) {
			return nil, errAt(start, "method-invocation-parameters count", ErrInvalid)
		}
		return a, nil
	case 4:
		a := &ActionRequestWithFirstPBlock{InvokeID: inv}
		if a.Method, err = r.method("cosem-method-descriptor"); err != nil {
			return nil, err
		}
		a.Block, err = r.dataBlockSA("pblock")
		return a, err
	case 5:
		a := &ActionRequestWithListAndFirstPBlock{InvokeID: inv}
		if a.Methods, err = r.methods("cosem-method-descriptor-list"); err != nil {
			return nil, err
		}
		a.Block, err = r.dataBlockSA("pblock")
		return a, err
	case 6:
		a := &ActionRequestWithPBlock{InvokeID: inv}
		a.Block, err = r.dataBlockSA("pblock")
		return a, err
	}
	return nil, errUnknownChoice
}

func decodeActionResponse(r *reader, choice byte, inv InvokeIDAndPriority) (APDU, error) {
	var err error
	switch choice {
	case 1:
		a := &ActionResponseNormal{InvokeID: inv}
		a.ActionResponseResult, err = r.actionResult()
		return a, err
	case 2:
		a := &ActionResponseWithPBlock{InvokeID: inv}
		a.Block, err = r.dataBlockSA("pblock")
		return a, err
	case 3:
		a := &ActionResponseWithList{InvokeID: inv}
		n, err := r.count(2, "action-response-list")
		if err != nil {
			return nil, err
		}
		a.Results = make([]ActionResponseResult, n)
		for i := range a.Results {
			if a.Results[i], err = r.actionResult(); err != nil {
				return nil, err
			}
		}
		return a, nil
	case 4:
		a := &ActionResponseNextPBlock{InvokeID: inv}
		a.BlockNumber, err = r.u32("block-number")
		return a, err
	}
	return nil, errUnknownChoice
}
