package dlms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/obis"
)

// Result is one element of a GetList or GetEach answer: the value, or the
// refusal of that attribute alone, a *DataAccessError (or, from GetEach or
// a GetList sent one attribute at a time, an *ExceptionError).
type Result struct {
	Data axdr.Data
	Err  error
}

// Get reads one attribute, with optional selective access. A long answer
// arrives in blocks that are fetched with GET-request-next and joined into
// one value.
func (c *Client) Get(ctx context.Context, a Attr, sel *apdu.SelectiveAccess) (axdr.Data, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return axdr.Data{}, c.opErr("get", a.String(), err)
	}
	return c.get(ctx, a, sel)
}

func (c *Client) get(ctx context.Context, a Attr, sel *apdu.SelectiveAccess) (axdr.Data, error) {
	const op = "get"
	resp, err := c.call(ctx, &apdu.GetRequestNormal{InvokeID: c.invoke, Attribute: a.descriptor(), Access: sel})
	if err != nil {
		return axdr.Data{}, c.opErr(op, a.String(), err)
	}
	denied := func(r apdu.DataAccessResult) error {
		return &DataAccessError{Meter: c.meter, Op: op, Attr: a, Result: r}
	}
	switch r := resp.(type) {
	case *apdu.GetResponseNormal:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return axdr.Data{}, c.opErr(op, a.String(), err)
		}
		if r.Result.IsAccessResult {
			return axdr.Data{}, denied(r.Result.AccessResult)
		}
		return r.Result.Data, nil
	case *apdu.GetResponseWithDataBlock:
		raw, err := c.getBlocks(ctx, r, denied)
		if err != nil {
			return axdr.Data{}, c.opErr(op, a.String(), err)
		}
		d, n, err := axdr.Decode(raw)
		if err == nil && n != len(raw) && c.o.Strict {
			err = fmt.Errorf("%d bytes after the value", len(raw)-n)
		}
		if err != nil {
			return axdr.Data{}, c.opErr(op, a.String(), fmt.Errorf("%w: reassembled blocks: %w", ErrProtocol, err))
		}
		return d, nil
	case *apdu.ExceptionResponse:
		return axdr.Data{}, c.exception(op+" "+a.String(), r)
	}
	return axdr.Data{}, c.opErr(op, a.String(), protocolError("%s in answer to a GET", resp.Kind()))
}

// getBlocks collects the raw data of a long GET answer. The state lives
// in this call only, so an aborted transfer cannot leak into the next
// request; block numbers must run 1, 2, 3... without gaps.
func (c *Client) getBlocks(ctx context.Context, r *apdu.GetResponseWithDataBlock, denied func(apdu.DataAccessResult) error) ([]byte, error) {
	var raw []byte
	limit := c.o.maxResponse()
	for want := uint32(1); ; want++ {
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return nil, err
		}
		if r.Block.IsAccessResult {
			return nil, denied(r.Block.AccessResult)
		}
		// A meter that did not grant block transfer with GET may still
		// start one (the Gurux C server example does for its public
		// client's object list): it evidently serves GET-request-next, so
		// the client follows it rather than lose the answer. A meter that
		// then refuses the next block fails the GET as any refusal does.
		if r.Block.BlockNumber != want {
			return nil, protocolError("GET block number %d, expected %d", r.Block.BlockNumber, want)
		}
		if len(raw)+len(r.Block.Raw) > limit {
			return nil, protocolError("GET answer exceeds %d bytes", limit)
		}
		raw = append(raw, r.Block.Raw...)
		if r.Block.LastBlock {
			return raw, nil
		}
		resp, err := c.call(ctx, &apdu.GetRequestNext{InvokeID: c.invoke, BlockNumber: want})
		if err != nil {
			return nil, err
		}
		switch n := resp.(type) {
		case *apdu.GetResponseWithDataBlock:
			r = n
		case *apdu.GetResponseNormal:
			// A server aborts a long GET this way (long-get-aborted,
			// data-block-number-invalid...).
			if n.Result.IsAccessResult {
				return nil, denied(n.Result.AccessResult)
			}
			return nil, protocolError("get-response-normal with data during a block transfer")
		case *apdu.ExceptionResponse:
			return nil, c.exception(fmt.Sprintf("get-request-next %d", want), n)
		default:
			return nil, protocolError("%s in answer to GET-request-next", resp.Kind())
		}
	}
}

// GetList reads several attributes in one GET with list when the meter
// granted multiple-references, else one GET at a time as GetEach does: it
// never sends a list the meter did not allow. A refused attribute sets its
// own Result.Err (a *DataAccessError) and the others are unaffected; the
// error return is for failures of the exchange, after which no result is
// trustworthy.
//
// Some meters answer lists wrongly (after the first absent object every
// later one comes back object-undefined): see ListLooksInconsistent. A
// meter that refuses a list as a whole (an *ExceptionError) fails the
// call; read it with GetEach.
func (c *Client) GetList(ctx context.Context, attrs []Attr) ([]Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reqs := make([]apdu.AttributeRequest, len(attrs))
	for i, a := range attrs {
		reqs[i].Attribute = a.descriptor()
	}
	return c.getList(ctx, attrs, reqs)
}

// GetEach reads attrs one GET at a time, for meters whose lists cannot be
// trusted or that drop the link on a list; the results have GetList's
// shape. A refusal of one attribute (a *DataAccessError, or an
// *ExceptionError other than an invocation counter refusal) is that
// result's Err and the next attribute is read. Any other failure ends the
// call: the results read so far are returned, every attribute not read
// carries that error as its Err, and it is also the error returned.
func (c *Client) GetEach(ctx context.Context, attrs []Attr) ([]Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Result, len(attrs))
	for i, a := range attrs {
		err := c.ready()
		var d axdr.Data
		if err == nil {
			d, err = c.get(ctx, a, nil)
		} else {
			err = c.opErr("get", a.String(), err)
		}
		if err != nil && !refusal(err) {
			for j := i; j < len(out); j++ {
				out[j].Err = err
			}
			return out, err
		}
		out[i] = Result{Data: d, Err: err}
	}
	return out, nil
}

// refusal reports whether err refuses one request and leaves the
// association usable.
func refusal(err error) bool {
	var da *DataAccessError
	var ex *ExceptionError
	if errors.Is(err, ErrInvocationCounter) {
		return false
	}
	return errors.As(err, &da) || errors.As(err, &ex)
}

// ListLooksInconsistent reports whether a GetList answer shows the known
// defect of some meters (the Gurux server among them): after the first
// item refused object-undefined or read-write-denied, every later item is
// object-undefined too, objects the meter has included. The items after
// the first refused one should then be read again one at a time
// (GetEach), and the meter read one attribute at a time from then on. A
// list with a single failure at its end, or with any later item read,
// does not look inconsistent.
func ListLooksInconsistent(attrs []Attr, results []Result) bool {
	if len(attrs) != len(results) {
		return false
	}
	first := -1
	for i, r := range results {
		var da *DataAccessError
		if errors.As(r.Err, &da) && (da.Result == apdu.ObjectUndefined || da.Result == apdu.ReadWriteDenied) {
			first = i
			break
		}
	}
	if first < 0 || first == len(results)-1 {
		return false
	}
	for _, r := range results[first+1:] {
		var da *DataAccessError
		if !errors.As(r.Err, &da) || da.Result != apdu.ObjectUndefined {
			return false
		}
	}
	return true
}

// getList is GetList with selective access per attribute; reqs[i] names
// attrs[i].
func (c *Client) getList(ctx context.Context, attrs []Attr, reqs []apdu.AttributeRequest) ([]Result, error) {
	target := fmt.Sprintf("list of %d", len(attrs))
	if err := c.ready(); err != nil {
		return nil, c.opErr("get", target, err)
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	out := make([]Result, len(attrs))
	if len(attrs) == 1 || !c.neg.MultipleReferences() {
		for i, a := range attrs {
			d, err := c.get(ctx, a, reqs[i].Access)
			if err != nil && !refusal(err) {
				return nil, err
			}
			out[i] = Result{Data: d, Err: err}
		}
		return out, nil
	}
	resp, err := c.call(ctx, &apdu.GetRequestWithList{InvokeID: c.invoke, Attributes: reqs})
	if err != nil {
		return nil, c.opErr("get", target, err)
	}
	var results []apdu.GetDataResult
	switch r := resp.(type) {
	case *apdu.GetResponseWithList:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return nil, c.opErr("get", target, err)
		}
		results = r.Results
	case *apdu.GetResponseWithDataBlock:
		raw, err := c.getBlocks(ctx, r, func(res apdu.DataAccessResult) error {
			return &DataAccessError{Meter: c.meter, Op: "get", Attr: attrs[0], Result: res}
		})
		if err != nil {
			return nil, c.opErr("get", target, err)
		}
		if results, err = parseResultList(raw); err != nil {
			return nil, c.opErr("get", target, err)
		}
	case *apdu.ExceptionResponse:
		return nil, c.exception("get "+target, r)
	default:
		return nil, c.opErr("get", target, protocolError("%s in answer to a GET with list", resp.Kind()))
	}
	if len(results) != len(attrs) {
		return nil, c.opErr("get", target, protocolError("%d results for %d attributes", len(results), len(attrs)))
	}
	for i, r := range results {
		if r.IsAccessResult {
			out[i].Err = &DataAccessError{Meter: c.meter, Op: "get", Attr: attrs[i], Result: r.AccessResult}
		} else {
			out[i].Data = r.Data
		}
	}
	return out, nil
}

// parseResultList decodes SEQUENCE OF Get-Data-Result, the raw data of a
// long GET with list.
func parseResultList(b []byte) ([]apdu.GetDataResult, error) {
	n, k, err := axdr.DecodeLength(b)
	if err != nil {
		return nil, fmt.Errorf("%w: result count: %w", ErrProtocol, err)
	}
	b = b[k:]
	if n > len(b)/2 {
		return nil, protocolError("%d results in %d bytes", n, len(b))
	}
	out := make([]apdu.GetDataResult, 0, n)
	for i := 0; i < n; i++ {
		if len(b) < 2 {
			return nil, protocolError("result %d truncated", i)
		}
		switch b[0] {
		case 0:
			d, used, err := axdr.Decode(b[1:])
			if err != nil {
				return nil, fmt.Errorf("%w: result %d: %w", ErrProtocol, i, err)
			}
			out = append(out, apdu.ResultData(d))
			b = b[1+used:]
		case 1:
			out = append(out, apdu.ResultError(apdu.DataAccessResult(b[1])))
			b = b[2:]
		default:
			return nil, protocolError("result %d: Get-Data-Result choice %d", i, b[0])
		}
	}
	return out, nil
}

// maxRequest is the longest plain APDU that, once protected, still fits
// the server's receive PDU size.
func (c *Client) maxRequest() int {
	n := int(c.neg.MaxPDU)
	if n == 0 {
		n = 0xFFFF
	}
	if c.o.ciphered() {
		// tag, length (up to 3), SC, IC, GMAC tag; general-glo also
		// carries the system title with its length.
		n -= 1 + 3 + 5 + 12
		if c.general {
			n -= 1 + 8
		}
	}
	return n
}

// sendBlocks sends raw in as many blocks as the server's PDU size needs.
// first and next build the request carrying one block; ack checks the
// answer to each block but the last, whose answer is returned.
func (c *Client) sendBlocks(ctx context.Context, raw []byte, first, next func(apdu.DataBlockSA) apdu.APDU, ack func(apdu.APDU, uint32) error) (apdu.APDU, error) {
	if c.signing != nil {
		return nil, ErrSignedTooLong
	}
	overhead := func(build func(apdu.DataBlockSA) apdu.APDU) (int, error) {
		b, err := apdu.Append(nil, build(apdu.DataBlockSA{}))
		// The empty raw-data has a one-byte length; a long one takes up
		// to five.
		return len(b) + 4, err
	}
	h1, err := overhead(first)
	if err != nil {
		return nil, err
	}
	h2, err := overhead(next)
	if err != nil {
		return nil, err
	}
	max := c.maxRequest()
	if max-h1 < 1 || max-h2 < 1 {
		return nil, protocolError("server PDU size %d leaves no room for a data block", c.neg.MaxPDU)
	}
	build, room := first, max-h1
	for n := uint32(1); ; n++ {
		chunk := raw[:min(room, len(raw))]
		raw = raw[len(chunk):]
		last := len(raw) == 0
		resp, err := c.call(ctx, build(apdu.DataBlockSA{LastBlock: last, BlockNumber: n, Raw: chunk}))
		if err != nil {
			return nil, err
		}
		if last {
			return resp, nil
		}
		if err := ack(resp, n); err != nil {
			return nil, err
		}
		build, room = next, max-h2
	}
}

// Set writes one attribute. A value too long for the server's PDU size
// goes out in blocks (SET-request-with-first-datablock and
// -with-datablock).
func (c *Client) Set(ctx context.Context, a Attr, v axdr.Data) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return c.opErr("set", a.String(), err)
	}
	return c.set(ctx, a, v)
}

func (c *Client) set(ctx context.Context, a Attr, v axdr.Data) error {
	const op = "set"
	denied := func(r apdu.DataAccessResult) error {
		return &DataAccessError{Meter: c.meter, Op: op, Attr: a, Result: r}
	}
	req := &apdu.SetRequestNormal{InvokeID: c.invoke, Attribute: a.descriptor(), Value: v}
	var resp apdu.APDU
	var err error
	if 3+1+9+1+v.EncodedLen() <= c.maxRequest() {
		resp, err = c.call(ctx, req)
	} else {
		resp, err = c.sendBlocks(ctx, v.Append(nil),
			func(b apdu.DataBlockSA) apdu.APDU {
				return &apdu.SetRequestWithFirstDataBlock{InvokeID: c.invoke, Attribute: a.descriptor(), Block: b}
			},
			func(b apdu.DataBlockSA) apdu.APDU { return &apdu.SetRequestWithDataBlock{InvokeID: c.invoke, Block: b} },
			func(r apdu.APDU, n uint32) error { return c.setAck(r, n, denied) })
	}
	if err != nil {
		return c.opErr(op, a.String(), err)
	}
	switch r := resp.(type) {
	case *apdu.SetResponseNormal:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return c.opErr(op, a.String(), err)
		}
		if r.Result != apdu.Success {
			return denied(r.Result)
		}
		return nil
	case *apdu.SetResponseLastDataBlock:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return c.opErr(op, a.String(), err)
		}
		if r.Result != apdu.Success {
			return denied(r.Result)
		}
		return nil
	case *apdu.ExceptionResponse:
		return c.exception(op+" "+a.String(), r)
	}
	return c.opErr(op, a.String(), protocolError("%s in answer to a SET", resp.Kind()))
}

// setAck checks the server's acknowledgement of SET block n.
func (c *Client) setAck(resp apdu.APDU, n uint32, denied func(apdu.DataAccessResult) error) error {
	switch r := resp.(type) {
	case *apdu.SetResponseDataBlock:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return err
		}
		if r.BlockNumber != n {
			return protocolError("SET block %d acknowledged as %d", n, r.BlockNumber)
		}
		return nil
	case *apdu.SetResponseNormal:
		if r.Result != apdu.Success {
			return denied(r.Result)
		}
	case *apdu.SetResponseLastDataBlock:
		if r.Result != apdu.Success {
			return denied(r.Result)
		}
	case *apdu.ExceptionResponse:
		return c.exception(fmt.Sprintf("set block %d", n), r)
	}
	return protocolError("%s in answer to SET block %d", resp.Kind(), n)
}

// SetList writes several attributes in one request. The returned slice
// holds nil or a *DataAccessError per attribute; the error return is for
// failures of the exchange.
func (c *Client) SetList(ctx context.Context, attrs []Attr, values []axdr.Data) ([]error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	const op = "set"
	target := fmt.Sprintf("list of %d", len(attrs))
	if err := c.ready(); err != nil {
		return nil, c.opErr(op, target, err)
	}
	if len(attrs) != len(values) {
		return nil, c.opErr(op, target, fmt.Errorf("%d attributes but %d values", len(attrs), len(values)))
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	if len(attrs) == 1 || !c.neg.Conformance.Has(apdu.ConformanceMultipleReferences) {
		out := make([]error, len(attrs))
		for i := range attrs {
			err := c.set(ctx, attrs[i], values[i])
			if _, ok := err.(*DataAccessError); err != nil && !ok {
				return nil, err
			}
			out[i] = err
		}
		return out, nil
	}
	reqs := make([]apdu.AttributeRequest, len(attrs))
	size := 16
	for i, a := range attrs {
		reqs[i].Attribute = a.descriptor()
		size += 10 + values[i].EncodedLen()
	}
	var resp apdu.APDU
	var err error
	if size <= c.maxRequest() {
		resp, err = c.call(ctx, &apdu.SetRequestWithList{InvokeID: c.invoke, Attributes: reqs, Values: values})
	} else {
		raw := axdr.AppendLength(nil, len(values))
		for _, v := range values {
			raw = v.Append(raw)
		}
		denied := func(r apdu.DataAccessResult) error {
			return &DataAccessError{Meter: c.meter, Op: op, Attr: attrs[0], Result: r}
		}
		resp, err = c.sendBlocks(ctx, raw,
			func(b apdu.DataBlockSA) apdu.APDU {
				return &apdu.SetRequestWithListAndFirstDataBlock{InvokeID: c.invoke, Attributes: reqs, Block: b}
			},
			func(b apdu.DataBlockSA) apdu.APDU { return &apdu.SetRequestWithDataBlock{InvokeID: c.invoke, Block: b} },
			func(r apdu.APDU, n uint32) error { return c.setAck(r, n, denied) })
	}
	if err != nil {
		return nil, c.opErr(op, target, err)
	}
	var results []apdu.DataAccessResult
	switch r := resp.(type) {
	case *apdu.SetResponseWithList:
		results = r.Results
	case *apdu.SetResponseLastDataBlockWithList:
		results = r.Results
	case *apdu.ExceptionResponse:
		return nil, c.exception(op+" "+target, r)
	default:
		return nil, c.opErr(op, target, protocolError("%s in answer to a SET with list", resp.Kind()))
	}
	if len(results) != len(attrs) {
		return nil, c.opErr(op, target, protocolError("%d results for %d attributes", len(results), len(attrs)))
	}
	out := make([]error, len(attrs))
	for i, r := range results {
		if r != apdu.Success {
			out[i] = &DataAccessError{Meter: c.meter, Op: op, Attr: attrs[i], Result: r}
		}
	}
	return out, nil
}

// Action invokes a method with param and returns its return parameters
// (null-data when there are none). The parameter is always sent: the Blue
// Book gives methods without a meaningful parameter a dummy one, usually
// integer(0). Long parameters go out in blocks, long answers are fetched
// in blocks.
func (c *Client) Action(ctx context.Context, m Method, param axdr.Data) (axdr.Data, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return axdr.Data{}, c.opErr("action", m.String(), err)
	}
	return c.action(ctx, m, param)
}

func (c *Client) action(ctx context.Context, m Method, param axdr.Data) (axdr.Data, error) {
	const op = "action"
	md := apdu.MethodDescriptor{ClassID: m.Class, InstanceID: m.OBIS, MethodID: m.Method}
	failed := func(r apdu.ActionResult) error { return &ActionError{Meter: c.meter, Method: m, Result: r} }
	var resp apdu.APDU
	var err error
	if 3+1+9+1+param.EncodedLen() <= c.maxRequest() {
		resp, err = c.call(ctx, &apdu.ActionRequestNormal{InvokeID: c.invoke, Method: md, Parameters: &param})
	} else {
		resp, err = c.sendBlocks(ctx, param.Append(nil),
			func(b apdu.DataBlockSA) apdu.APDU {
				return &apdu.ActionRequestWithFirstPBlock{InvokeID: c.invoke, Method: md, Block: b}
			},
			func(b apdu.DataBlockSA) apdu.APDU { return &apdu.ActionRequestWithPBlock{InvokeID: c.invoke, Block: b} },
			func(r apdu.APDU, n uint32) error {
				switch a := r.(type) {
				case *apdu.ActionResponseNextPBlock:
					if a.BlockNumber != n {
						return protocolError("ACTION block %d acknowledged as %d", n, a.BlockNumber)
					}
					return c.checkInvoke(a.InvokeID)
				case *apdu.ActionResponseNormal:
					if a.Result != apdu.ActionSuccess {
						return failed(a.Result)
					}
				case *apdu.ExceptionResponse:
					return c.exception(fmt.Sprintf("action block %d", n), a)
				}
				return protocolError("%s in answer to ACTION block %d", r.Kind(), n)
			})
	}
	if err != nil {
		return axdr.Data{}, c.opErr(op, m.String(), err)
	}
	switch r := resp.(type) {
	case *apdu.ActionResponseNormal:
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return axdr.Data{}, c.opErr(op, m.String(), err)
		}
		if r.Result != apdu.ActionSuccess {
			return axdr.Data{}, failed(r.Result)
		}
		if r.ReturnParameters == nil {
			return axdr.Null(), nil
		}
		if r.ReturnParameters.IsAccessResult {
			// Action-Result shares the Data-Access-Result numbering.
			return axdr.Data{}, failed(apdu.ActionResult(r.ReturnParameters.AccessResult))
		}
		return r.ReturnParameters.Data, nil
	case *apdu.ActionResponseWithPBlock:
		raw, err := c.actionBlocks(ctx, r)
		if err != nil {
			return axdr.Data{}, c.opErr(op, m.String(), err)
		}
		d, _, err := axdr.Decode(raw)
		if err != nil {
			return axdr.Data{}, c.opErr(op, m.String(), fmt.Errorf("%w: reassembled blocks: %w", ErrProtocol, err))
		}
		return d, nil
	case *apdu.ExceptionResponse:
		return axdr.Data{}, c.exception(op+" "+m.String(), r)
	}
	return axdr.Data{}, c.opErr(op, m.String(), protocolError("%s in answer to an ACTION", resp.Kind()))
}

// actionBlocks collects a long ACTION answer, whose joined raw data is the
// encoded return value.
func (c *Client) actionBlocks(ctx context.Context, r *apdu.ActionResponseWithPBlock) ([]byte, error) {
	var raw []byte
	limit := c.o.maxResponse()
	for want := uint32(1); ; want++ {
		if err := c.checkInvoke(r.InvokeID); err != nil {
			return nil, err
		}
		if r.Block.BlockNumber != want {
			return nil, protocolError("ACTION block number %d, expected %d", r.Block.BlockNumber, want)
		}
		if len(raw)+len(r.Block.Raw) > limit {
			return nil, protocolError("ACTION answer exceeds %d bytes", limit)
		}
		raw = append(raw, r.Block.Raw...)
		if r.Block.LastBlock {
			return raw, nil
		}
		resp, err := c.call(ctx, &apdu.ActionRequestNextPBlock{InvokeID: c.invoke, BlockNumber: want})
		if err != nil {
			return nil, err
		}
		n, ok := resp.(*apdu.ActionResponseWithPBlock)
		if !ok {
			return nil, protocolError("%s in answer to ACTION-request-next-pblock", resp.Kind())
		}
		r = n
	}
}

// ObjectList reads the object_list of the current association
// (0.0.40.0.0.255 attribute 2).
func (c *Client) ObjectList(ctx context.Context) ([]cosem.ObjectListEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := Attr{Class: classAssociationLN, OBIS: currentAssociation, Attribute: 2}
	if err := c.ready(); err != nil {
		return nil, c.opErr("get", a.String(), err)
	}
	d, err := c.get(ctx, a, nil)
	if err != nil {
		return nil, err
	}
	l, err := cosem.ParseObjectList(d)
	if err != nil {
		return nil, c.opErr("get", a.String(), fmt.Errorf("%w: %w", ErrProtocol, err))
	}
	return l, nil
}

const (
	classProfileGeneric = 7
	classClock          = 8
)

// captureObjects reads a profile's capture_objects (attribute 3).
func (c *Client) captureObjects(ctx context.Context, ln obis.Code) ([]cosem.CaptureObject, error) {
	a := Attr{Class: classProfileGeneric, OBIS: ln, Attribute: 3}
	d, err := c.get(ctx, a, nil)
	if err != nil {
		return nil, err
	}
	cols, err := cosem.ParseCaptureObjects(d)
	if err != nil {
		return nil, c.opErr("get", a.String(), fmt.Errorf("%w: %w", ErrProtocol, err))
	}
	return cols, nil
}

// ReadProfile reads the rows of profile generic ln whose clock column lies
// within [from, to], by range selective access on its buffer. It first
// reads capture_objects to find the clock column. columns selects the
// columns to return (all when empty). It returns the rows, each usually a
// structure with one item per column, and the columns they hold.
//
// The bounds go out as date-time octet strings in the zone of from and
// to, with the day of week not specified, as most head-ends send them.
func (c *Client) ReadProfile(ctx context.Context, ln obis.Code, from, to time.Time, columns ...cosem.CaptureObject) ([]axdr.Data, []cosem.CaptureObject, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := Attr{Class: classProfileGeneric, OBIS: ln, Attribute: 2}
	if err := c.ready(); err != nil {
		return nil, nil, c.opErr("get", buf.String(), err)
	}
	cols, err := c.captureObjects(ctx, ln)
	if err != nil {
		return nil, nil, err
	}
	var clock *cosem.CaptureObject
	for i := range cols {
		if cols[i].ClassID == classClock && cols[i].Attribute == 2 {
			clock = &cols[i]
			break
		}
	}
	if clock == nil {
		return nil, nil, c.opErr("get", buf.String(), fmt.Errorf("profile has no clock column to select a range on (capture objects %v)", cols))
	}
	rd := cosem.RangeDescriptor{RestrictingObject: *clock, From: rangeBound(from), To: rangeBound(to), SelectedValues: columns}
	rows, err := c.profileRows(ctx, buf, &apdu.SelectiveAccess{Selector: cosem.SelectorRange, Parameters: rd.Data()})
	if err != nil {
		return nil, nil, err
	}
	if len(columns) > 0 {
		cols = columns
	}
	return rows, cols, nil
}

// ProfileRange names a span of one profile generic's buffer, both ends
// inclusive.
type ProfileRange struct {
	LN       obis.Code
	From, To time.Time
}

// Profile is what ReadProfiles read of one ProfileRange.
type Profile struct {
	Rows    []axdr.Data
	Columns []cosem.CaptureObject
	// Err is this profile's own failure (ErrObjectUndefined for a meter
	// without it); the other profiles of the call are unaffected.
	Err error
}

// standardClock is the clock column the IDIS and DSMR profiles capture:
// the time attribute of 0-0:1.0.0.255.
var standardClock = cosem.CaptureObject{ClassID: classClock, LogicalName: obis.Code{0, 0, 1, 0, 0, 255}, Attribute: 2}

// ReadProfiles reads the capture objects and a range of the buffer of
// several profiles in one GET with list, each range restricted on the
// standard clock column. A daily read of a load profile, a billing profile
// and the event logs then costs one exchange (and its blocks) where
// ReadProfile costs two per profile. A profile whose capture objects hold
// no standard clock, or whose range the meter refuses, is read again by
// ReadProfile, which looks its clock column up first.
//
// Some meters crash on this list (the Gurux server, on attribute 3 and a
// range of attribute 2 in one GET with list); a caller that saw it drop the
// link (ErrLinkDropped) reads such meters with ReadProfileFrom.
func (c *Client) ReadProfiles(ctx context.Context, ranges []ProfileRange) ([]Profile, error) {
	attrs := make([]Attr, 0, 2*len(ranges))
	reqs := make([]apdu.AttributeRequest, 0, 2*len(ranges))
	for _, r := range ranges {
		cols := Attr{Class: classProfileGeneric, OBIS: r.LN, Attribute: 3}
		buf := Attr{Class: classProfileGeneric, OBIS: r.LN, Attribute: 2}
		rd := cosem.RangeDescriptor{RestrictingObject: standardClock, From: rangeBound(r.From), To: rangeBound(r.To)}
		attrs = append(attrs, cols, buf)
		reqs = append(reqs, apdu.AttributeRequest{Attribute: cols.descriptor()},
			apdu.AttributeRequest{Attribute: buf.descriptor(), Access: &apdu.SelectiveAccess{Selector: cosem.SelectorRange, Parameters: rd.Data()}})
	}
	c.mu.Lock()
	res, err := c.getList(ctx, attrs, reqs)
	c.mu.Unlock()
	out := make([]Profile, len(ranges))
	var refused *ExceptionError
	var denied *DataAccessError
	if errors.As(err, &refused) || errors.As(err, &denied) {
		// A meter that grants multiple references may still refuse a list
		// this long or with selective access in it: one profile at a time.
		for i, r := range ranges {
			out[i].Rows, out[i].Columns, out[i].Err = c.ReadProfile(ctx, r.LN, r.From, r.To)
			if out[i].Err != nil && !errors.As(out[i].Err, &denied) {
				return nil, out[i].Err
			}
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range ranges {
		cr, br := res[2*i], res[2*i+1]
		if cr.Err != nil {
			out[i].Err = cr.Err
			continue
		}
		cols, err := cosem.ParseCaptureObjects(cr.Data)
		if err != nil {
			out[i].Err = c.opErr("get", attrs[2*i].String(), fmt.Errorf("%w: %w", ErrProtocol, err))
			continue
		}
		if br.Err != nil || !slices.Contains(cols, standardClock) {
			out[i].Rows, out[i].Columns, out[i].Err = c.ReadProfile(ctx, ranges[i].LN, ranges[i].From, ranges[i].To)
			continue
		}
		if br.Data.Tag != axdr.TagArray && br.Data.Tag != axdr.TagCompactArray {
			out[i].Err = c.opErr("get", attrs[2*i+1].String(), protocolError("profile buffer is %s, not an array", br.Data.Tag))
			continue
		}
		out[i].Rows, out[i].Columns = br.Data.Items, cols
	}
	return out, nil
}

// ReadProfileEntries reads entries fromEntry..toEntry (1-based; toEntry 0
// means up to the last) of profile generic ln, all columns, by entry
// selective access. It returns the rows and the columns.
func (c *Client) ReadProfileEntries(ctx context.Context, ln obis.Code, fromEntry, toEntry uint32) ([]axdr.Data, []cosem.CaptureObject, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := Attr{Class: classProfileGeneric, OBIS: ln, Attribute: 2}
	if err := c.ready(); err != nil {
		return nil, nil, c.opErr("get", buf.String(), err)
	}
	cols, err := c.captureObjects(ctx, ln)
	if err != nil {
		return nil, nil, err
	}
	ed := cosem.EntryDescriptor{FromEntry: fromEntry, ToEntry: toEntry, FromSelectedValue: 1}
	rows, err := c.profileRows(ctx, buf, &apdu.SelectiveAccess{Selector: cosem.SelectorEntry, Parameters: ed.Data()})
	if err != nil {
		return nil, nil, err
	}
	return rows, cols, nil
}

func (c *Client) profileRows(ctx context.Context, buf Attr, sel *apdu.SelectiveAccess) ([]axdr.Data, error) {
	d, err := c.get(ctx, buf, sel)
	if err != nil {
		return nil, err
	}
	if d.Tag != axdr.TagArray && d.Tag != axdr.TagCompactArray {
		return nil, c.opErr("get", buf.String(), protocolError("profile buffer is %s, not an array", d.Tag))
	}
	return d.Items, nil
}

// rangeBound encodes a range bound as a date-time octet string.
func rangeBound(t time.Time) axdr.Data {
	dt := axdr.FromTime(t, 0)
	dt.DayOfWeek = axdr.Unspecified
	return axdr.DateTimeOctets(dt)
}
