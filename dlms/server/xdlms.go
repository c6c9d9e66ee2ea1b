package server

import (
	"context"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/obis"
)

// service serves one xDLMS request of an established association.
func (s *session) service(ctx context.Context, r apdu.APDU, p protection) ([]byte, error) {
	// A block transfer lives only as long as its own continuation
	// requests follow each other.
	switch r.(type) {
	case *apdu.GetRequestNext:
		s.lactOut, s.lset, s.lact = nil, nil, nil
	case *apdu.SetRequestWithDataBlock:
		s.lget, s.lactOut, s.lact = nil, nil, nil
	case *apdu.ActionRequestWithPBlock:
		s.lget, s.lactOut, s.lset = nil, nil, nil
	case *apdu.ActionRequestNextPBlock:
		s.lget, s.lset, s.lact = nil, nil, nil
	default:
		s.lget, s.lactOut, s.lset, s.lact = nil, nil, nil, nil
	}
	switch r.(type) {
	case *apdu.GetRequestWithList, *apdu.SetRequestWithList, *apdu.SetRequestWithListAndFirstDataBlock,
		*apdu.ActionRequestWithList, *apdu.ActionRequestWithListAndFirstPBlock:
		// A list names several attributes or methods: only with
		// multiple-references granted.
		if !s.conf.Has(apdu.ConformanceMultipleReferences) {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
		}
	}
	switch r.(type) {
	case *apdu.GetRequestNormal, *apdu.GetRequestWithList, *apdu.GetRequestNext:
		if !s.conf.Has(apdu.ConformanceGet) {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
		}
	case *apdu.SetRequestNormal, *apdu.SetRequestWithList, *apdu.SetRequestWithFirstDataBlock,
		*apdu.SetRequestWithListAndFirstDataBlock, *apdu.SetRequestWithDataBlock:
		if !s.conf.Has(apdu.ConformanceSet) {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
		}
	case *apdu.ActionRequestNormal, *apdu.ActionRequestWithList, *apdu.ActionRequestWithFirstPBlock,
		*apdu.ActionRequestWithListAndFirstPBlock, *apdu.ActionRequestWithPBlock, *apdu.ActionRequestNextPBlock:
		if !s.conf.Has(apdu.ConformanceAction) {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
		}
	default:
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
	}
	c := s.caller(p)
	switch r := r.(type) {
	case *apdu.GetRequestNormal:
		res := s.get(ctx, c, r.Attribute, r.Access)
		return s.long(&apdu.GetResponseNormal{InvokeID: r.InvokeID, Result: res}, p, r.InvokeID, 4, true)
	case *apdu.GetRequestWithList:
		res := make([]apdu.GetDataResult, len(r.Attributes))
		for i, at := range r.Attributes {
			res[i] = s.get(ctx, c, at.Attribute, at.Access)
		}
		if q := s.d.Quirks.ListResults; q != nil {
			q(r.Attributes, res)
		}
		return s.long(&apdu.GetResponseWithList{InvokeID: r.InvokeID, Results: res}, p, r.InvokeID, 3, true)
	case *apdu.GetRequestNext:
		return s.getNext(r, p)

	case *apdu.SetRequestNormal:
		if !r.InvokeID.Confirmed() {
			s.set(ctx, c, r.Attribute, r.Access, r.Value)
			return nil, nil
		}
		res := s.set(ctx, c, r.Attribute, r.Access, r.Value)
		return s.respond(&apdu.SetResponseNormal{InvokeID: r.InvokeID, Result: res}, p)
	case *apdu.SetRequestWithList:
		res := make([]apdu.DataAccessResult, len(r.Attributes))
		for i, at := range r.Attributes {
			res[i] = apdu.TypeUnmatched
			if i < len(r.Values) {
				res[i] = s.set(ctx, c, at.Attribute, at.Access, r.Values[i])
			}
		}
		return s.respond(&apdu.SetResponseWithList{InvokeID: r.InvokeID, Results: res}, p)
	case *apdu.SetRequestWithFirstDataBlock:
		at := []apdu.AttributeRequest{{Attribute: r.Attribute, Access: r.Access}}
		s.lset = &longIn{invoke: r.InvokeID, attrs: cloneAttrs(at), prot: p}
		return s.setBlock(ctx, r.InvokeID, r.Block, p)
	case *apdu.SetRequestWithListAndFirstDataBlock:
		s.lset = &longIn{invoke: r.InvokeID, attrs: cloneAttrs(r.Attributes), list: true, prot: p}
		return s.setBlock(ctx, r.InvokeID, r.Block, p)
	case *apdu.SetRequestWithDataBlock:
		if s.lset == nil {
			return s.respond(&apdu.SetResponseLastDataBlock{InvokeID: r.InvokeID, Result: apdu.NoLongSetInProgress,
				BlockNumber: r.Block.BlockNumber}, p)
		}
		return s.setBlock(ctx, r.InvokeID, r.Block, p)

	case *apdu.ActionRequestNormal:
		param := axdr.Null()
		if r.Parameters != nil {
			param = *r.Parameters
		}
		if isHLSReply(r.Method) {
			// HLS is over; a second reply finds no pending challenge.
			return s.respond(&apdu.ActionResponseNormal{InvokeID: r.InvokeID,
				ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionReadWriteDenied}}, p)
		}
		res := s.action(ctx, c, r.Method, param)
		if !r.InvokeID.Confirmed() {
			return nil, nil
		}
		return s.long(&apdu.ActionResponseNormal{InvokeID: r.InvokeID, ActionResponseResult: res}, p, r.InvokeID, 3, false)
	case *apdu.ActionRequestWithList:
		res := make([]apdu.ActionResponseResult, len(r.Methods))
		for i, m := range r.Methods {
			res[i] = apdu.ActionResponseResult{Result: apdu.ActionTypeUnmatched}
			if i < len(r.Parameters) && !isHLSReply(m) {
				res[i] = s.action(ctx, c, m, r.Parameters[i])
			}
		}
		return s.long(&apdu.ActionResponseWithList{InvokeID: r.InvokeID, Results: res}, p, r.InvokeID, 3, false)
	case *apdu.ActionRequestWithFirstPBlock:
		s.lact = &longIn{invoke: r.InvokeID, methods: []apdu.MethodDescriptor{r.Method}, prot: p}
		return s.actionBlock(ctx, r.InvokeID, r.Block, p)
	case *apdu.ActionRequestWithListAndFirstPBlock:
		s.lact = &longIn{invoke: r.InvokeID, methods: append([]apdu.MethodDescriptor(nil), r.Methods...), list: true, prot: p}
		return s.actionBlock(ctx, r.InvokeID, r.Block, p)
	case *apdu.ActionRequestWithPBlock:
		if s.lact == nil {
			return s.respond(&apdu.ActionResponseNormal{InvokeID: r.InvokeID,
				ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionNoLongActionInProgress}}, p)
		}
		return s.actionBlock(ctx, r.InvokeID, r.Block, p)
	case *apdu.ActionRequestNextPBlock:
		return s.actionNext(r, p)
	}
	return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
}

// resolve finds the object a descriptor names and the client's rights on
// it. The current association is the session's own view.
func (s *session) resolve(classID uint16, ln [6]byte) (cosem.Object, cosem.AccessRights, error) {
	var obj cosem.Object
	if classID == cosem.ClassAssociationLN && obis.Code(ln) == cosem.CurrentAssociation && s.current != nil {
		obj = s.current
	} else {
		var err error
		if obj, err = s.d.Tree.Lookup(classID, obis.Code(ln)); err != nil {
			if a := s.d.Quirks.Absent; a != 0 && cosem.ResultOf(err) == uint8(cosem.ResultObjectUndefined) {
				return nil, cosem.AccessRights{}, cosem.Errorf(cosem.Result(a), "no object "+obis.Code(ln).String())
			}
			return nil, cosem.AccessRights{}, err
		}
	}
	r, visible := s.a.rights()(obj)
	if !visible {
		return nil, cosem.AccessRights{}, cosem.ErrObjectUndefined
	}
	return obj, r, nil
}

func accessOf(sa *apdu.SelectiveAccess) *cosem.AccessSelection {
	if sa == nil {
		return nil
	}
	return &cosem.AccessSelection{Selector: sa.Selector, Parameters: sa.Parameters}
}

// get reads one attribute.
func (s *session) get(ctx context.Context, c cosem.Caller, d apdu.AttributeDescriptor, sa *apdu.SelectiveAccess) apdu.GetDataResult {
	obj, rights, err := s.resolve(d.ClassID, d.InstanceID)
	if err != nil {
		return apdu.ResultError(apdu.DataAccessResult(cosem.ResultOf(err)))
	}
	req := &cosem.AttributeRequest{Caller: c, Attribute: d.AttributeID, Access: accessOf(sa)}
	if err := rights.CheckGet(req); err != nil {
		return apdu.ResultError(apdu.DataAccessResult(cosem.ResultOf(err)))
	}
	v, err := obj.Get(ctx, req)
	if err != nil {
		s.d.log().Debug("GET refused", "class", d.ClassID, "ln", obis.Code(d.InstanceID), "attr", d.AttributeID, "err", err)
		return apdu.ResultError(apdu.DataAccessResult(cosem.ResultOf(err)))
	}
	return apdu.ResultData(v)
}

// set writes one attribute.
func (s *session) set(ctx context.Context, c cosem.Caller, d apdu.AttributeDescriptor, sa *apdu.SelectiveAccess, v axdr.Data) apdu.DataAccessResult {
	obj, rights, err := s.resolve(d.ClassID, d.InstanceID)
	if err != nil {
		return apdu.DataAccessResult(cosem.ResultOf(err))
	}
	req := &cosem.AttributeRequest{Caller: c, Attribute: d.AttributeID, Access: accessOf(sa)}
	if err := rights.CheckSet(req); err != nil {
		return apdu.DataAccessResult(cosem.ResultOf(err))
	}
	if s.unsigned(c, d.ClassID, d.InstanceID, false, d.AttributeID) {
		return apdu.ReadWriteDenied
	}
	if obj == cosem.Object(s.current) && d.AttributeID == 7 {
		// The LLS secret belongs to the device, not to this session.
		if v.Tag != axdr.TagOctetString {
			return apdu.TypeUnmatched
		}
		return apdu.DataAccessResult(cosem.ResultOf(s.d.changeSecret(ctx, s.sap, v.Bytes)))
	}
	if err := obj.Set(ctx, req, v); err != nil {
		s.d.log().Debug("SET refused", "class", d.ClassID, "ln", obis.Code(d.InstanceID), "attr", d.AttributeID, "err", err)
		return apdu.DataAccessResult(cosem.ResultOf(err))
	}
	return apdu.Success
}

// action invokes one method. A null-data return is left out of the
// response, as meters do.
func (s *session) action(ctx context.Context, c cosem.Caller, m apdu.MethodDescriptor, param axdr.Data) apdu.ActionResponseResult {
	obj, rights, err := s.resolve(m.ClassID, m.InstanceID)
	if err != nil {
		return apdu.ActionResponseResult{Result: apdu.ActionResult(cosem.ResultOf(err))}
	}
	req := &cosem.MethodRequest{Caller: c, Method: m.MethodID}
	if err := rights.CheckAction(req); err != nil {
		return apdu.ActionResponseResult{Result: apdu.ActionResult(cosem.ResultOf(err))}
	}
	if s.unsigned(c, m.ClassID, m.InstanceID, true, m.MethodID) {
		return apdu.ActionResponseResult{Result: apdu.ActionReadWriteDenied}
	}
	ret, err := obj.Action(ctx, req, param)
	if err != nil {
		s.d.log().Debug("ACTION refused", "class", m.ClassID, "ln", obis.Code(m.InstanceID), "method", m.MethodID, "err", err)
		return apdu.ActionResponseResult{Result: apdu.ActionResult(cosem.ResultOf(err))}
	}
	if ret.Tag == axdr.TagNull {
		return apdu.ActionResponseResult{Result: apdu.ActionSuccess}
	}
	rp := apdu.ResultData(ret)
	return apdu.ActionResponseResult{Result: apdu.ActionSuccess, ReturnParameters: &rp}
}

// long sends resp whole when it fits the negotiated PDU size, otherwise in
// blocks: the raw data of the blocks is the response without its first
// skip octets (tag, choice, invoke id and, for GET-normal, the result
// choice).
func (s *session) long(resp apdu.APDU, p protection, inv apdu.InvokeIDAndPriority, skip int, isGet bool) ([]byte, error) {
	plain, err := resp.Append(s.out[:0])
	if err != nil {
		// An object handed back a value that cannot be encoded.
		s.d.log().Error("encoding response", "kind", resp.Kind(), "err", err)
		if isGet {
			return s.respond(&apdu.GetResponseNormal{InvokeID: inv, Result: apdu.ResultError(apdu.OtherReason)}, p)
		}
		return s.respond(&apdu.ActionResponseNormal{InvokeID: inv,
			ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionOtherReason}}, p)
	}
	s.out = plain
	if wireLen(len(plain), p) <= s.limit {
		return s.seal(plain, p)
	}
	bit := apdu.ConformanceBlockTransferWithGetOrRead
	if !isGet {
		bit = apdu.ConformanceBlockTransferWithAction
	}
	if !s.conf.Has(bit) || s.blockRoom(p) < 1 || len(plain) <= skip {
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServicePDUTooLong)
	}
	lo := &longOut{data: append([]byte(nil), plain[skip:]...)}
	if isGet {
		s.lget = lo
		return s.getBlock(inv, p)
	}
	s.lactOut = lo
	return s.actionOutBlock(inv, p)
}

// nextChunk cuts the next block of a long response.
func (s *session) nextChunk(lo *longOut, p protection) (raw []byte, last bool) {
	n := min(s.blockRoom(p), len(lo.data)-lo.off)
	raw = lo.data[lo.off : lo.off+n]
	lo.off += n
	lo.block++
	return raw, lo.off == len(lo.data)
}

func (s *session) getBlock(inv apdu.InvokeIDAndPriority, p protection) ([]byte, error) {
	lo := s.lget
	raw, last := s.nextChunk(lo, p)
	if last {
		s.lget = nil
	}
	return s.respond(&apdu.GetResponseWithDataBlock{InvokeID: inv,
		Block: apdu.DataBlockG{LastBlock: last, BlockNumber: lo.block, Raw: raw}}, p)
}

func (s *session) getNext(r *apdu.GetRequestNext, p protection) ([]byte, error) {
	abort := func(res apdu.DataAccessResult) ([]byte, error) {
		s.lget = nil
		return s.respond(&apdu.GetResponseWithDataBlock{InvokeID: r.InvokeID,
			Block: apdu.DataBlockG{LastBlock: true, BlockNumber: r.BlockNumber, IsAccessResult: true, AccessResult: res}}, p)
	}
	switch {
	case s.lget == nil:
		return abort(apdu.NoLongGetInProgress)
	case r.BlockNumber != s.lget.block:
		return abort(apdu.DataBlockNumberInvalid)
	}
	return s.getBlock(r.InvokeID, p)
}

func (s *session) actionOutBlock(inv apdu.InvokeIDAndPriority, p protection) ([]byte, error) {
	lo := s.lactOut
	raw, last := s.nextChunk(lo, p)
	if last {
		s.lactOut = nil
	}
	return s.respond(&apdu.ActionResponseWithPBlock{InvokeID: inv,
		Block: apdu.DataBlockSA{LastBlock: last, BlockNumber: lo.block, Raw: raw}}, p)
}

func (s *session) actionNext(r *apdu.ActionRequestNextPBlock, p protection) ([]byte, error) {
	if s.lactOut == nil || r.BlockNumber != s.lactOut.block {
		res := apdu.ActionNoLongActionInProgress
		if s.lactOut != nil {
			res = apdu.ActionLongActionAborted
		}
		s.lactOut = nil
		return s.respond(&apdu.ActionResponseNormal{InvokeID: r.InvokeID,
			ActionResponseResult: apdu.ActionResponseResult{Result: res}}, p)
	}
	return s.actionOutBlock(r.InvokeID, p)
}

// absorb appends one request block to a long request, checking the block
// number and the size bound. It returns a failure result, or success.
func (s *session) absorb(li *longIn, b apdu.DataBlockSA) cosem.Result {
	if b.BlockNumber != li.block+1 {
		return cosem.ResultDataBlockNumberInvalid
	}
	if len(li.raw)+len(b.Raw) > s.d.maxReassembly() {
		return cosem.ResultLongSetAborted
	}
	li.raw = append(li.raw, b.Raw...)
	li.block = b.BlockNumber
	return cosem.ResultSuccess
}

func (s *session) setBlock(ctx context.Context, inv apdu.InvokeIDAndPriority, b apdu.DataBlockSA, p protection) ([]byte, error) {
	li := s.lset
	if res := s.absorb(li, b); res != cosem.ResultSuccess {
		s.lset = nil
		return s.setLast(inv, li, b.BlockNumber, apdu.DataAccessResult(res), p)
	}
	if !b.LastBlock {
		return s.respond(&apdu.SetResponseDataBlock{InvokeID: inv, BlockNumber: b.BlockNumber}, p)
	}
	s.lset = nil
	values, ok := decodeValues(li.raw, li.list, len(li.attrs))
	if !ok {
		return s.setLast(inv, li, b.BlockNumber, apdu.TypeUnmatched, p)
	}
	c := s.caller(p)
	res := make([]apdu.DataAccessResult, len(li.attrs))
	for i, at := range li.attrs {
		res[i] = s.set(ctx, c, at.Attribute, at.Access, values[i])
	}
	if !li.list {
		return s.respond(&apdu.SetResponseLastDataBlock{InvokeID: inv, Result: res[0], BlockNumber: b.BlockNumber}, p)
	}
	return s.respond(&apdu.SetResponseLastDataBlockWithList{InvokeID: inv, Results: res, BlockNumber: b.BlockNumber}, p)
}

// setLast ends a long SET with one result for every attribute.
func (s *session) setLast(inv apdu.InvokeIDAndPriority, li *longIn, block uint32, r apdu.DataAccessResult, p protection) ([]byte, error) {
	if !li.list {
		return s.respond(&apdu.SetResponseLastDataBlock{InvokeID: inv, Result: r, BlockNumber: block}, p)
	}
	res := make([]apdu.DataAccessResult, len(li.attrs))
	for i := range res {
		res[i] = r
	}
	return s.respond(&apdu.SetResponseLastDataBlockWithList{InvokeID: inv, Results: res, BlockNumber: block}, p)
}

func (s *session) actionBlock(ctx context.Context, inv apdu.InvokeIDAndPriority, b apdu.DataBlockSA, p protection) ([]byte, error) {
	li := s.lact
	fail := func(r apdu.ActionResult) ([]byte, error) {
		s.lact = nil
		return s.respond(&apdu.ActionResponseNormal{InvokeID: inv, ActionResponseResult: apdu.ActionResponseResult{Result: r}}, p)
	}
	if res := s.absorb(li, b); res != cosem.ResultSuccess {
		if res == cosem.ResultLongSetAborted {
			return fail(apdu.ActionLongActionAborted)
		}
		return fail(apdu.ActionResult(res))
	}
	if !b.LastBlock {
		return s.respond(&apdu.ActionResponseNextPBlock{InvokeID: inv, BlockNumber: b.BlockNumber}, p)
	}
	s.lact = nil
	params, ok := decodeValues(li.raw, li.list, len(li.methods))
	if !ok {
		return fail(apdu.ActionTypeUnmatched)
	}
	c := s.caller(p)
	res := make([]apdu.ActionResponseResult, len(li.methods))
	for i, m := range li.methods {
		res[i] = apdu.ActionResponseResult{Result: apdu.ActionReadWriteDenied}
		if !isHLSReply(m) {
			res[i] = s.action(ctx, c, m, params[i])
		}
	}
	if !li.list {
		return s.long(&apdu.ActionResponseNormal{InvokeID: inv, ActionResponseResult: res[0]}, p, inv, 3, false)
	}
	return s.long(&apdu.ActionResponseWithList{InvokeID: inv, Results: res}, p, inv, 3, false)
}

// decodeValues reads the reassembled raw data of a long SET or ACTION: one
// Data, or (with a list) a count followed by that many Data, which must be
// want and fill raw exactly.
func decodeValues(raw []byte, list bool, want int) ([]axdr.Data, bool) {
	if !list {
		v, n, err := axdr.Decode(raw)
		if err != nil || n != len(raw) {
			return nil, false
		}
		return []axdr.Data{v}, true
	}
	count, n, err := axdr.DecodeLength(raw)
	if err != nil || count != want || count > len(raw) {
		return nil, false
	}
	vals := make([]axdr.Data, 0, count)
	for range count {
		v, k, err := axdr.Decode(raw[n:])
		if err != nil {
			return nil, false
		}
		vals = append(vals, v)
		n += k
	}
	return vals, n == len(raw)
}

// cloneAttrs copies attribute requests out of the request buffer, which
// the next request reuses.
func cloneAttrs(at []apdu.AttributeRequest) []apdu.AttributeRequest {
	out := make([]apdu.AttributeRequest, len(at))
	for i, a := range at {
		out[i].Attribute = a.Attribute
		if a.Access != nil {
			out[i].Access = &apdu.SelectiveAccess{Selector: a.Access.Selector, Parameters: a.Access.Parameters.Clone()}
		}
	}
	return out
}
