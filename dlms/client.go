package dlms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// currentAssociation is the Association LN instance of the association in
// use, whose method 1 carries the HLS pass 3 and 4.
var currentAssociation = obis.Code{0, 0, 40, 0, 0, 255}

const (
	classAssociationLN  = 15
	methodReplyToHLS    = 1
	dlmsVersion         = 6
	defaultChallengeLen = 16
)

// Negotiated is what the AARQ/AARE exchange settled.
type Negotiated struct {
	ApplicationContext apdu.ApplicationContext
	Mechanism          security.Mechanism
	// Conformance is the server's conformance block from the
	// InitiateResponse: the services both sides may use.
	Conformance apdu.Conformance
	// MaxPDU is the server-max-receive-pdu-size: no request may be
	// longer.
	MaxPDU      uint16
	DLMSVersion uint8
	VAAName     uint16
	// ServerSystemTitle is the responding-AP-title (or the configured
	// one).
	ServerSystemTitle []byte
	// GeneralProtection reports that requests go out as
	// general-glo-ciphering (or general-ded-ciphering).
	GeneralProtection bool
}

// MultipleReferences reports whether the meter granted multiple-references:
// GET and SET with a list of attributes. Without it GetList and SetList
// send one request per attribute.
func (n Negotiated) MultipleReferences() bool {
	return n.Conformance.Has(apdu.ConformanceMultipleReferences)
}

// BlockTransferGet reports whether the meter granted block transfer with
// GET. Without it an answer should fit one APDU, and a meter's
// pdu-too-long fails with ErrTooLong, so the caller asks for less; a meter
// that starts a block transfer anyway is followed.
func (n Negotiated) BlockTransferGet() bool {
	return n.Conformance.Has(apdu.ConformanceBlockTransferWithGetOrRead)
}

// SelectiveAccess reports whether the meter granted selective access (the
// profile reads by range and by entry).
func (n Negotiated) SelectiveAccess() bool {
	return n.Conformance.Has(apdu.ConformanceSelectiveAccess)
}

// Client is one DLMS/COSEM client association over a Transport. Its
// methods are safe for concurrent use; requests are serialised, as the
// application layer is half-duplex.
type Client struct {
	t     Transport
	o     Options
	meter string
	dec   apdu.Options

	mu         sync.Mutex
	closed     bool
	associated bool
	// dropped: a request lost the link; see ErrLinkDropped.
	dropped   bool
	counter   *security.Counter
	guard     *security.ReplayGuard
	serverST  []byte
	neg       Negotiated
	general   bool
	dedicated bool
	invoke    apdu.InvokeIDAndPriority
	resync    *Resync
	// signing, while set, wraps the next request in general-signing.
	signing *Signing
}

// NewClient returns a client that associates over t with Options o. It
// does no I/O; call Associate.
func NewClient(t Transport, o Options) (*Client, error) {
	if t == nil {
		return nil, errors.New("dlms: nil transport")
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return newClient(t, o), nil
}

func newClient(t Transport, o Options) *Client {
	name := o.Name
	if name == "" {
		name = "meter"
	}
	c := &Client{
		t:      t,
		o:      o,
		meter:  fmt.Sprintf("%s (client %d, server %d)", name, o.clientSAP(), o.logical()),
		dec:    o.decoder(),
		guard:  &security.ReplayGuard{AllowUnauthenticated: o.Policy == security.PolicyEncrypted},
		invoke: apdu.NewInvokeIDAndPriority(1, true, true),
	}
	if o.Counter != nil {
		c.counter = o.Counter
	} else {
		c.counter = security.NewCounter(o.InvocationCounter, o.PersistCounter)
	}
	c.serverST = append([]byte(nil), o.ServerSystemTitle...)
	return c
}

// Meter returns how errors name the meter: its name, client SAP and
// logical device.
func (c *Client) Meter() string { return c.meter }

// Negotiated returns what the association settled; the zero value before
// Associate.
func (c *Client) Negotiated() Negotiated {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.neg
	n.ServerSystemTitle = append([]byte(nil), n.ServerSystemTitle...)
	return n
}

// Counter returns the sending invocation counter, e.g. to persist its
// resume point elsewhere.
func (c *Client) Counter() *security.Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counter
}

// Associate opens the application association: the optional invocation
// counter pre-read, AARQ/AARE, and for HLS the reply_to_HLS_authentication
// exchange.
func (c *Client) Associate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &OpError{Meter: c.meter, Op: "associate", Err: ErrClosed}
	}
	if c.o.ReadInvocationCounter {
		v, err := c.preReadCounter(ctx)
		if err != nil {
			return err
		}
		if v == ^uint32(0) {
			return &OpError{Meter: c.meter, Op: "associate", Err: security.ErrCounterExhausted}
		}
		c.counter = security.NewCounter(max(v+1, c.o.InvocationCounter), c.o.PersistCounter)
	}
	if err := c.readdress(ctx, c.o.clientSAP()); err != nil {
		return &OpError{Meter: c.meter, Op: "associate", Err: linkError(ctx, err)}
	}
	return c.associate(ctx)
}

// preReadCounter reads the server's last seen invocation counter as the
// public client on the same connection.
func (c *Client) preReadCounter(ctx context.Context) (uint32, error) {
	const public = 16
	ln := c.o.InvocationCounterOBIS
	if ln == (obis.Code{}) {
		ln = DefaultInvocationCounterOBIS
	}
	if err := c.readdress(ctx, public); err != nil {
		return 0, &OpError{Meter: c.meter, Op: "read invocation counter", Err: linkError(ctx, err)}
	}
	po := Options{
		Link: c.o.Link, ClientSAP: public, Server: c.o.Server, Conformance: c.o.Conformance,
		MaxPDU: c.o.MaxPDU, MaxResponse: c.o.MaxResponse, Timeout: c.o.Timeout, Strict: c.o.Strict, Name: c.o.Name,
	}
	pub := newClient(c.t, po)
	if err := pub.associate(ctx); err != nil {
		return 0, err
	}
	a := Attr{Class: 1, OBIS: ln, Attribute: 2}
	d, err := pub.get(ctx, a, nil)
	if err != nil {
		return 0, err
	}
	// The link is released by readdress when it must be (HDLC DISC).
	if err := pub.release(ctx, false); err != nil {
		return 0, err
	}
	v, ok := d.Uint()
	if !ok || v > uint64(^uint32(0)) {
		return 0, &OpError{Meter: pub.meter, Op: "read invocation counter", Target: a.String(), Err: protocolError("value %s is not a 32-bit unsigned counter", d)}
	}
	return uint32(v), nil
}

func (c *Client) readdress(ctx context.Context, sap uint16) error {
	r, ok := c.t.(Readdresser)
	if !ok {
		return nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return r.Readdress(ctx, sap)
}

func (c *Client) initiateRequest() ([]byte, error) {
	ir := apdu.InitiateRequest{DLMSVersion: dlmsVersion, Conformance: c.o.conformance(), ClientMaxReceivePDUSize: c.o.maxPDU()}
	if c.o.ciphered() && !c.o.Keys.Dedicated.IsZero() {
		ir.DedicatedKey = c.o.Keys.Dedicated.Bytes()
	}
	b, err := apdu.Append(nil, &ir)
	if err != nil {
		return nil, err
	}
	if !c.o.ciphered() {
		return b, nil
	}
	// The InitiateRequest is always glo-ciphered: the dedicated key it
	// may carry does not exist for the server yet.
	return c.seal(b, false, security.Global)
}

func (c *Client) associate(ctx context.Context) error {
	fail := func(err error) error {
		if typed(err) {
			return err
		}
		return &OpError{Meter: c.meter, Op: "associate", Err: err}
	}
	c.associated, c.general, c.dedicated = false, false, false
	mech := c.o.Authentication
	aarq := apdu.AARQ{ApplicationContext: apdu.ContextLN}
	if c.o.ciphered() {
		aarq.ApplicationContext = apdu.ContextLNCiphered
	}
	if c.o.ciphered() || mech.IsHLS() {
		aarq.CallingAPTitle = c.o.SystemTitle
	}
	var ctos []byte
	if mech != security.MechanismNone {
		aarq.SenderACSERequirements = apdu.AuthenticationRequirement()
		aarq.MechanismName, aarq.HasMechanismName = apdu.Mechanism(mech), true
		switch {
		case mech == security.MechanismLLS:
			aarq.CallingAuthenticationValue = c.o.Password.raw()
		case c.o.Challenge != nil:
			ctos = c.o.Challenge
		default:
			var err error
			if ctos, err = security.NewChallenge(defaultChallengeLen); err != nil {
				return fail(err)
			}
		}
		if ctos != nil {
			aarq.CallingAuthenticationValue = ctos
		}
	}
	ui, err := c.initiateRequest()
	if err != nil {
		return fail(err)
	}
	aarq.UserInformation = ui
	req, err := apdu.Append(nil, &aarq)
	if err != nil {
		return fail(err)
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return fail(err)
	}
	a, _, err := c.dec.Decode(resp)
	if err != nil {
		return fail(fmt.Errorf("%w: AARE: %w", ErrProtocol, err))
	}
	var aare *apdu.AARE
	switch r := a.(type) {
	case *apdu.AARE:
		aare = r
	case *apdu.ExceptionResponse:
		return c.exception("associate", r)
	default:
		return fail(protocolError("%s in answer to the AARQ", a.Kind()))
	}
	if aare.Result != apdu.ResultAccepted {
		if ui := aare.UserInformation; len(ui) > 0 && ui[0] == apdu.TagExceptionResponse {
			// Some meters say in the AARE why they refused the
			// InitiateRequest, e.g. the invocation counter they expect.
			if x, err := apdu.Decode(ui); err == nil {
				if r, ok := x.(*apdu.ExceptionResponse); ok {
					return c.exception("associate", r)
				}
			}
		}
		return &AssociationError{Meter: c.meter, Result: aare.Result, Diagnostic: aare.Diagnostic}
	}
	if len(aare.RespondingAPTitle) > 0 {
		c.serverST = append(c.serverST[:0], aare.RespondingAPTitle...)
	}
	if (c.o.ciphered() || mech.IsHLS()) && len(c.serverST) != security.SystemTitleSize {
		return fail(protocolError("server system title of %d bytes (want 8)", len(c.serverST)))
	}
	ir, err := c.initiateResponse(aare.UserInformation, "associate")
	if err != nil {
		return fail(err)
	}
	c.neg = Negotiated{
		ApplicationContext: aare.ApplicationContext,
		Mechanism:          mech,
		Conformance:        ir.Conformance,
		MaxPDU:             ir.ServerMaxReceivePDUSize,
		DLMSVersion:        ir.DLMSVersion,
		VAAName:            ir.VAAName,
		ServerSystemTitle:  append([]byte(nil), c.serverST...),
	}
	if mech.IsHLS() {
		if aare.HasMechanismName && security.Mechanism(aare.MechanismName) != mech {
			return fail(fmt.Errorf("%w: server answered mechanism %d to %s", ErrAuthenticationFailed, aare.MechanismName, mech))
		}
		stoc := aare.RespondingAuthenticationValue
		if len(stoc) < security.MinChallenge || len(stoc) > security.MaxChallenge {
			return fail(fmt.Errorf("%w: server challenge StoC of %d bytes", ErrAuthenticationFailed, len(stoc)))
		}
		if err := c.hls(ctx, ctos, stoc); err != nil {
			return err
		}
	}
	c.associated, c.dropped = true, false
	c.dedicated = c.o.ciphered() && !c.o.Keys.Dedicated.IsZero()
	c.general = c.o.ciphered() && c.o.GeneralProtection && ir.Conformance.Has(apdu.ConformanceGeneralProtection)
	c.neg.GeneralProtection = c.general
	return nil
}

// initiateResponse opens the AARE (or RLRE) user-information.
func (c *Client) initiateResponse(ui []byte, op string) (*apdu.InitiateResponse, error) {
	if len(ui) == 0 {
		return nil, protocolError("no InitiateResponse in the user-information")
	}
	plain := ui
	if security.IsCiphered(ui[0]) {
		if !c.o.ciphered() {
			return nil, protocolError("ciphered user-information (tag 0x%02X) in an unciphered association", ui[0])
		}
		var err error
		if plain, err = c.open(ui); err != nil {
			return nil, err
		}
	}
	a, err := apdu.Decode(plain)
	if err != nil {
		if a, _, err = c.dec.Decode(plain); err != nil {
			return nil, fmt.Errorf("%w: user-information: %w", ErrProtocol, err)
		}
	}
	switch r := a.(type) {
	case *apdu.InitiateResponse:
		if c.o.ciphered() && !security.IsCiphered(ui[0]) {
			return nil, protocolError("unprotected InitiateResponse in a ciphered association")
		}
		return r, nil
	case *apdu.ConfirmedServiceError:
		return nil, &ConfirmedServiceError{Meter: c.meter, Op: op, Service: r.Service, ErrorType: r.ErrorType, Value: r.Value}
	}
	return nil, protocolError("%s in the user-information", a.Kind())
}

// hls runs passes 3 and 4: reply_to_HLS_authentication with f(StoC), and
// the check of the server's f(CtoS).
func (c *Client) hls(ctx context.Context, ctos, stoc []byte) error {
	ex := security.Exchange{ClientSystemTitle: c.o.SystemTitle, ServerSystemTitle: c.serverST, CtoS: ctos, StoC: stoc}
	m := Method{Class: classAssociationLN, OBIS: currentAssociation, Method: methodReplyToHLS}
	fail := func(err error) error {
		return &OpError{Meter: c.meter, Op: "associate", Target: m.String(), Err: fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)}
	}
	var f []byte
	var err error
	switch c.o.Authentication {
	case security.MechanismHLSGMAC:
		var ic uint32
		if ic, err = c.counter.Next(); err == nil {
			f, err = ex.GMACResponse(security.Client, c.o.Suite, c.o.Keys, ic)
		}
	case security.MechanismHLSSHA256:
		f, err = ex.SHA256Response(security.Client, c.o.Password.raw())
	case security.MechanismHLSECDSA:
		f, err = ex.ECDSAResponse(security.Client, c.o.SigningKey)
	default:
		err = fmt.Errorf("mechanism %s not supported", c.o.Authentication)
	}
	if err != nil {
		return &OpError{Meter: c.meter, Op: "associate", Target: m.String(), Err: err}
	}
	ret, err := c.action(ctx, m, axdr.OctetString(f))
	if err != nil {
		var ae *ActionError
		if errors.As(err, &ae) {
			return fail(err)
		}
		return err
	}
	if ret.Tag != axdr.TagOctetString {
		return fail(fmt.Errorf("server answered %s instead of f(CtoS)", ret))
	}
	switch c.o.Authentication {
	case security.MechanismHLSGMAC:
		_, err = ex.VerifyGMACResponse(security.Server, c.o.Keys, ret.Bytes)
	case security.MechanismHLSSHA256:
		err = ex.VerifySHA256Response(security.Server, c.o.Password.raw(), ret.Bytes)
	case security.MechanismHLSECDSA:
		err = ex.VerifyECDSAResponse(security.Server, c.o.ServerPublicKey, ret.Bytes)
	}
	if err != nil {
		return fail(fmt.Errorf("server response f(CtoS): %w", err))
	}
	return nil
}

// seal protects a plain xDLMS APDU with the next invocation counter.
func (c *Client) seal(plain []byte, general bool, kind security.Kind) ([]byte, error) {
	ic, err := c.counter.Next()
	if err != nil {
		return nil, err
	}
	sc := security.NewSecurityControl(c.o.Suite, c.o.Policy.Control())
	if general {
		return security.WrapGeneral(nil, kind, sc, c.o.Keys, c.o.SystemTitle, ic, plain)
	}
	return security.Wrap(nil, kind, sc, c.o.Keys, c.o.SystemTitle, ic, plain)
}

// open deciphers a protected response, rejecting replayed counters and
// APDUs from another system title.
func (c *Client) open(b []byte) ([]byte, error) {
	plain, u, err := c.guard.Unwrap(nil, c.o.Keys, c.serverST, b)
	if err != nil {
		if errors.Is(err, security.ErrReplay) {
			return nil, fmt.Errorf("%w: %w", ErrReplay, err)
		}
		return nil, err
	}
	if !bytes.Equal(u.SystemTitle, c.serverST) {
		return nil, protocolError("response from system title %X, associated with %X", u.SystemTitle, c.serverST)
	}
	return plain, nil
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := c.o.timeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// roundTrip sends one APDU and returns a private copy of the answer.
func (c *Client) roundTrip(ctx context.Context, req []byte) ([]byte, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := c.t.Send(ctx, req); err != nil {
		return nil, c.linkLost(ctx, err)
	}
	resp, err := c.t.Recv(ctx)
	if err != nil {
		return nil, c.linkLost(ctx, err)
	}
	if len(resp) == 0 {
		return nil, protocolError("empty APDU")
	}
	return bytes.Clone(resp), nil
}

// linkLost classifies a transport error and, when the link is gone or
// silent, ends the association: an answer arriving late must not be taken
// for the answer to the next request.
func (c *Client) linkLost(ctx context.Context, err error) error {
	err = linkError(ctx, err)
	if dropped(err) {
		c.dropped, c.associated = true, false
	}
	return err
}

// call protects req per the association, exchanges it and returns the
// decoded (and deciphered) answer.
func (c *Client) call(ctx context.Context, req apdu.APDU) (apdu.APDU, error) {
	plain, err := apdu.Append(nil, req)
	if err != nil {
		return nil, err
	}
	wire := plain
	if c.o.ciphered() {
		kind := security.Global
		if c.dedicated {
			kind = security.Dedicated
		}
		if wire, err = c.seal(plain, c.general, kind); err != nil {
			return nil, err
		}
	}
	if c.signing != nil {
		if wire, err = c.signRequest(ctx, wire); err != nil {
			return nil, err
		}
	}
	resp, err := c.roundTrip(ctx, wire)
	if err != nil {
		return nil, err
	}
	body := resp
	protected := security.IsCiphered(resp[0])
	if protected {
		if !c.o.ciphered() {
			return nil, protocolError("ciphered %s in an unciphered association", kindOf(resp))
		}
		if body, err = c.open(resp); err != nil {
			return nil, err
		}
	}
	a, _, err := c.dec.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if c.o.ciphered() && !protected {
		// A server that cannot decipher a request cannot cipher its
		// complaint either; anything else in clear is a downgrade.
		if _, ok := a.(*apdu.ExceptionResponse); !ok {
			return nil, protocolError("unprotected %s in a ciphered association", a.Kind())
		}
	}
	return a, nil
}

func kindOf(b []byte) string {
	if a, _, err := apdu.Tolerant.Decode(b); err == nil {
		return a.Kind()
	}
	return fmt.Sprintf("APDU 0x%02X", b[0])
}

func (c *Client) exception(op string, r *apdu.ExceptionResponse) error {
	e := &ExceptionError{Meter: c.meter, Op: op, StateError: r.StateError, ServiceError: r.ServiceError, InvocationCounter: r.InvocationCounter}
	if r.ServiceError == apdu.ServiceInvocationCounterError {
		return &InvocationCounterError{Meter: c.meter, Op: op, Expected: r.InvocationCounter, Err: e}
	}
	return e
}

func (c *Client) checkInvoke(id apdu.InvokeIDAndPriority) error {
	if id.ID() != c.invoke.ID() {
		return protocolError("invoke-id %d in answer to invoke-id %d", id.ID(), c.invoke.ID())
	}
	return nil
}

// ready reports whether services may run; the caller holds c.mu.
func (c *Client) ready() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.dropped:
		return ErrLinkDropped
	case !c.associated:
		return ErrNotAssociated
	}
	return nil
}

// Release ends the association: RLRQ/RLRE (protected when configured),
// then on HDLC the link's DISC. An unciphered HDLC association is released
// by the DISC alone, as IEC 62056-46 allows. The client may associate
// again afterwards.
func (c *Client) Release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &OpError{Meter: c.meter, Op: "release", Err: ErrClosed}
	}
	return c.release(ctx, true)
}

func (c *Client) release(ctx context.Context, disconnect bool) error {
	fail := func(err error) error { return c.opErr("release", "", err) }
	if c.dropped {
		// The association went with the link; a DISC would only wait
		// for its time-out.
		return nil
	}
	wasAssociated := c.associated
	c.associated = false
	if wasAssociated && !(c.o.Link == LinkHDLC && !c.o.ciphered()) {
		rlrq := apdu.RLRQ{Reason: apdu.ReleaseNormal, HasReason: true}
		protected := c.o.ciphered() && c.o.ProtectedRelease
		if protected {
			ui, err := c.initiateRequest()
			if err != nil {
				return fail(err)
			}
			rlrq.UserInformation = ui
		}
		req, err := apdu.Append(nil, &rlrq)
		if err != nil {
			return fail(err)
		}
		resp, err := c.roundTrip(ctx, req)
		if err != nil {
			return fail(err)
		}
		a, _, err := c.dec.Decode(resp)
		if err != nil {
			return fail(fmt.Errorf("%w: RLRE: %w", ErrProtocol, err))
		}
		switch r := a.(type) {
		case *apdu.RLRE:
			if protected || len(r.UserInformation) > 0 {
				if _, err := c.initiateResponse(r.UserInformation, "release"); err != nil {
					return fail(err)
				}
			}
		case *apdu.ExceptionResponse:
			// Servers that only accept a protected RLRQ in a ciphered
			// association refuse a plain one this way; the link going
			// down ends the association all the same.
			if !c.o.ciphered() || protected {
				return c.exception("release", r)
			}
		default:
			return fail(protocolError("%s in answer to the RLRQ", a.Kind()))
		}
	}
	if d, ok := c.t.(Disconnecter); ok && disconnect && c.o.Link == LinkHDLC {
		ctx, cancel := c.withTimeout(ctx)
		defer cancel()
		if err := d.Disconnect(ctx); err != nil {
			return fail(linkError(ctx, err))
		}
	}
	return nil
}

// Close closes the transport without releasing the association.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed, c.associated = true, false
	return c.t.Close()
}

// typed reports whether err already names the meter and operation.
func typed(err error) bool {
	switch err.(type) {
	case *OpError, *AssociationError, *ConfirmedServiceError, *ExceptionError, *DataAccessError, *ActionError,
		*InvocationCounterError:
		return true
	}
	return false
}

// opErr names the meter, operation and target in err unless it already
// does.
func (c *Client) opErr(op, target string, err error) error {
	if err == nil || typed(err) {
		return err
	}
	return &OpError{Meter: c.meter, Op: op, Target: target, Err: err}
}
