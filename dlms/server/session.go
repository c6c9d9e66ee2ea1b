package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/hdlc"
	"github.com/amigo-ami/amigo/wrapper"
)

// state is where an association stands.
type state uint8

const (
	stIdle       state = iota // no association
	stPending                 // HLS: waiting for reply_to_HLS_authentication
	stAssociated              // requests are served
)

// protection says how a request arrived, so that its answer goes back the
// same way.
type protection struct {
	ciphered bool
	general  bool // general-glo/ded-ciphering rather than a service-specific tag
	kind     security.Kind
	sc       security.SecurityControl
	signed   bool // arrived in general-signing that verified
}

// session is the association state of one connection with one device.
type session struct {
	d    *Device
	peer ClientInfo

	st        state
	a         *Association
	sap       uint16
	clientST  []byte
	keys      security.Keys
	ctos      []byte
	stoc      []byte
	conf      apdu.Conformance
	limit     int // largest APDU we send
	current   *objects.AssociationLN
	dedicated bool

	lget    *longOut // GET-response-with-datablock in progress
	lactOut *longOut // ACTION-response-with-pblock in progress
	lset    *longIn  // SET-request-with-datablock being reassembled
	lact    *longIn  // ACTION-request-with-pblock being reassembled

	in   []byte // deciphered request
	out  []byte // plain response
	wire []byte // ciphered response
}

// longOut is a response sent in blocks.
type longOut struct {
	data  []byte
	off   int
	block uint32 // number of the last block sent
}

// longIn is a request arriving in blocks.
type longIn struct {
	invoke  apdu.InvokeIDAndPriority
	attrs   []apdu.AttributeRequest
	methods []apdu.MethodDescriptor
	list    bool
	raw     []byte
	block   uint32 // number of the last block received
	prot    protection
}

func (d *Device) newSession(peer ClientInfo) *session {
	return &session{d: d, peer: peer}
}

// Serve runs the associations of one connection until the client closes
// it, ctx ends, or the transport fails. A new AARQ replaces the current
// association; an HDLC DISC releases it. Serve returns nil when the client
// went away normally and never closes t; the caller does.
func (d *Device) Serve(ctx context.Context, t Transport, peer ClientInfo) error {
	if err := d.init(); err != nil {
		return err
	}
	s := d.newSession(peer)
	defer s.reset()
	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if t := d.inactivity(); t > 0 {
			rctx, cancel = context.WithTimeout(ctx, t)
		}
		in, err := t.Recv(rctx)
		cancel()
		if err != nil {
			var pe *wrapper.PortError
			switch {
			case errors.Is(err, hdlc.ErrDisconnected):
				s.reset()
				if peer.EndOnDisconnect {
					return nil
				}
				continue
			case errors.As(err, &pe):
				// Another logical device's frame on a shared connection.
				continue
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
				return nil
			}
			return err
		}
		out, err := s.handleSafe(ctx, in)
		if err != nil {
			return err
		}
		if out == nil {
			continue
		}
		if err := t.Send(ctx, out); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// errAbort ends the connection: the peer sent something no answer can
// repair.
var errAbort = errors.New("server: association aborted")

// handleSafe is handle with a last line of defence against a panicking
// object callback: the request is answered with an exception and the
// connection lives on.
func (s *session) handleSafe(ctx context.Context, in []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.d.log().Error("dlms request handler panicked", "panic", r, "stack", string(debug.Stack()))
			s.lget, s.lactOut, s.lset, s.lact = nil, nil, nil, nil
			out, err = s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOtherReason)
		}
	}()
	return s.handle(ctx, in)
}

// handle answers one APDU. A nil answer with a nil error means nothing is
// sent back; an error ends the connection. The answer aliases the
// session's buffers until the next call.
func (s *session) handle(ctx context.Context, in []byte) ([]byte, error) {
	if len(in) == 0 {
		return s.exception(apdu.StateServiceUnknown, apdu.ServiceOtherReason)
	}
	switch in[0] {
	case apdu.TagAARQ:
		return s.aarq(ctx, in)
	case apdu.TagRLRQ:
		return s.rlrq(in)
	}
	if s.st == stIdle {
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
	}
	var sig *signed
	if in[0] == security.TagGeneralSigning {
		content, v, resp, err := s.verifySigned(in)
		if resp != nil || err != nil {
			return resp, err
		}
		in, sig = content, v
	}
	req, prot := in, protection{}
	if security.IsCiphered(in[0]) {
		if !s.a.ciphered() {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
		}
		plain, p, resp, err := s.open(in)
		if resp != nil || err != nil {
			return resp, err
		}
		req, prot = plain, p
		if len(req) == 0 || security.IsCiphered(req[0]) || req[0] == apdu.TagAARQ || req[0] == apdu.TagRLRQ {
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
		}
	}
	prot.signed = sig != nil
	if need := s.a.Policy.Control(); prot.sc&need != need {
		s.d.event(EventUnprotected, s.sap)
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
	}
	r, err := apdu.Decode(req)
	if err != nil {
		s.d.log().Debug("undecodable request", "err", err, "client_sap", s.sap)
		if errors.Is(err, apdu.ErrUnknownTag) || errors.Is(err, apdu.ErrUnsupported) {
			return s.exception(apdu.StateServiceUnknown, apdu.ServiceNotSupported)
		}
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOtherReason)
	}
	if s.st == stPending {
		if a, ok := r.(*apdu.ActionRequestNormal); ok && isHLSReply(a.Method) {
			return s.replyHLS(ctx, a, prot)
		}
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
	}
	if q := s.d.Quirks.Request; q != nil {
		if err := q(r); err != nil {
			return nil, err
		}
	}
	return s.service(ctx, r, prot)
}

func isHLSReply(m apdu.MethodDescriptor) bool {
	return m.ClassID == cosem.ClassAssociationLN && m.InstanceID == [6]byte(cosem.CurrentAssociation) && m.MethodID == 1
}

// reset ends the association; the connection stays.
func (s *session) reset() {
	s.st, s.a, s.sap = stIdle, nil, 0
	s.clientST, s.ctos, s.stoc, s.current = nil, nil, nil, nil
	s.keys, s.conf, s.limit, s.dedicated = security.Keys{}, 0, 0, false
	s.lget, s.lactOut, s.lset, s.lact = nil, nil, nil, nil
}

// open deciphers a ciphered request with the client's replay guard. A
// non-nil response means the request is refused with it.
func (s *session) open(in []byte) ([]byte, protection, []byte, error) {
	g := s.d.guard(s.a)
	out, u, err := g.Unwrap(s.in[:0], s.keys, s.clientST, in)
	s.in = out[:0]
	if err == nil && !bytes.Equal(u.SystemTitle, s.clientST) {
		err = fmt.Errorf("%w: carried system title % X is not the client's", security.ErrAuthentication, u.SystemTitle)
	}
	if err != nil {
		s.d.log().Debug("ciphered request refused", "err", err, "client_sap", s.sap)
		if errors.Is(err, security.ErrReplay) {
			s.d.event(EventReplay, s.sap)
			last, _ := g.Last()
			resp, err := s.encodePlain(&apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed,
				ServiceError: apdu.ServiceInvocationCounterError, InvocationCounter: last + 1})
			return nil, protection{}, resp, err
		}
		s.d.event(EventDecipherFailure, s.sap)
		resp, err := s.exception(apdu.StateServiceNotAllowed, apdu.ServiceDecipheringError)
		return nil, protection{}, resp, err
	}
	s.persistIC(u.Header.IC)
	p := protection{ciphered: true, kind: u.Kind, sc: u.Header.SC,
		general: u.Tag == security.TagGeneralGloCiphering || u.Tag == security.TagGeneralDedCiphering}
	return out, p, nil, nil
}

func (s *session) persistIC(ic uint32) {
	if f := s.d.PersistClientIC; f != nil {
		if err := f(s.a.ClientSAP, ic); err != nil {
			s.d.log().Error("persisting client invocation counter", "err", err, "client_sap", s.a.ClientSAP)
		}
	}
}

// exception answers with an EXCEPTION-response, always in plaintext: it
// is what a client gets when its request could not be taken apart.
func (s *session) exception(se apdu.StateError, e apdu.ServiceError) ([]byte, error) {
	return s.encodePlain(&apdu.ExceptionResponse{StateError: se, ServiceError: e})
}

func (s *session) encodePlain(a apdu.APDU) ([]byte, error) {
	out, err := a.Append(s.out[:0])
	if err != nil {
		return nil, fmt.Errorf("server: encoding %s: %w", a.Kind(), err)
	}
	s.out = out
	return out, nil
}

// respond encodes a and protects it like the request was.
func (s *session) respond(a apdu.APDU, p protection) ([]byte, error) {
	plain, err := s.encodePlain(a)
	if err != nil {
		return nil, err
	}
	return s.seal(plain, p)
}

// seal ciphers plain as the request that it answers was ciphered, with the
// device's system title and next invocation counter.
func (s *session) seal(plain []byte, p protection) ([]byte, error) {
	if !p.ciphered {
		return plain, nil
	}
	ic, err := s.d.counter().Next()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	bits := (p.sc & (security.Authentication | security.Encryption)) | s.a.Policy.Control()
	sc := security.NewSecurityControl(s.a.Suite, bits)
	if p.general {
		s.wire, err = security.WrapGeneral(s.wire[:0], p.kind, sc, s.keys, s.d.SystemTitle, ic, plain)
	} else {
		s.wire, err = security.Wrap(s.wire[:0], p.kind, sc, s.keys, s.d.SystemTitle, ic, plain)
	}
	if err != nil {
		return nil, fmt.Errorf("server: ciphering response: %w", err)
	}
	return s.wire, nil
}

// Worst-case sizes: a block response header (tag, choice, invoke id, last
// flag, block number, raw-data choice and a three-octet length) and the
// ciphering overheads.
const (
	blockHeader      = 12
	specificOverhead = 1 + 3 + security.HeaderSize + security.TagSize
	generalOverhead  = 1 + 3 + 1 + security.SystemTitleSize + 3 + security.HeaderSize + security.TagSize
)

func lengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	}
	return 3
}

// wireLen is the size of a plain APDU of n bytes once protected as p.
func wireLen(n int, p protection) int {
	if !p.ciphered {
		return n
	}
	c := security.HeaderSize + n + security.TagSize
	if !p.general {
		return 1 + lengthSize(c) + c
	}
	inner := 1 + security.SystemTitleSize + lengthSize(c) + c
	return 1 + lengthSize(inner) + inner
}

// blockRoom is how many raw bytes fit in one block response.
func (s *session) blockRoom(p protection) int {
	n := s.limit - blockHeader
	if p.ciphered {
		if p.general {
			n -= generalOverhead
		} else {
			n -= specificOverhead
		}
	}
	return n
}

func (s *session) caller(p protection) cosem.Caller {
	var prot cosem.Protection
	if p.ciphered {
		if p.sc.Authenticated() {
			prot |= cosem.ProtAuthenticated
		}
		if p.sc.Encrypted() {
			prot |= cosem.ProtEncrypted
		}
	}
	if p.signed {
		prot |= cosem.ProtSigned
	}
	return cosem.Caller{ClientSAP: s.sap, ServerSAP: s.d.Address, Mechanism: s.a.Authentication,
		Authenticated: s.st == stAssociated, Protection: prot}
}

// firstFrameTimeout bounds the wait for the first frame of a connection
// when every device has its inactivity timeout turned off.
const firstFrameTimeout = 2 * time.Minute
