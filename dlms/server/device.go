package server

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// Association is the policy under which one client SAP may associate with a
// Device.
type Association struct {
	// ClientSAP is the client address: the wrapper source wPort or the HDLC
	// client address (16 public client, 1 management client...).
	ClientSAP uint16
	// Authentication is the mechanism the client must use.
	Authentication security.Mechanism
	// Secret is the LLS password or the HLS secret (HLS-SHA256).
	Secret []byte
	// Policy is the minimum protection of requests after association;
	// anything above none also requires the ciphered application context.
	Policy security.Policy
	// Suite is the security suite of the keys (0 or 1).
	Suite security.Suite
	// Keys holds the global unicast (EK), broadcast and authentication (AK)
	// keys shared with this client.
	Keys security.Keys
	// ClientPublicKey verifies the client's HLS-ECDSA response.
	ClientPublicKey *ecdsa.PublicKey
	// SigningKey signs the device's HLS-ECDSA response.
	SigningKey *ecdsa.PrivateKey
	// Conformance is what the device offers; the association gets its
	// intersection with the client's proposal. Zero offers DefaultConformance.
	Conformance apdu.Conformance
	// MaxPDU is the server-max-receive-pdu-size announced in the
	// InitiateResponse. The device also keeps its own APDUs within it (and
	// within the client's limit), longer results going in blocks. Zero
	// means 1024.
	MaxPDU uint16
	// Rights gives the client's access rights per object; nil grants
	// cosem.FullAccess.
	Rights cosem.RightsFunc
	// LastClientIC is the last invocation counter accepted from this client
	// in an earlier run (see Device.PersistClientIC); HasLastClientIC says
	// whether there is one.
	LastClientIC    uint32
	HasLastClientIC bool
	// AllowPlainRelease accepts an RLRQ without a ciphered
	// InitiateRequest when Policy is not security.PolicyNone. By default such a
	// release is refused with an EXCEPTION-response, as the reference
	// meters do.
	AllowPlainRelease bool
	// SecuritySetup is the logical name of the Security setup object the
	// current association reports (attribute 9).
	SecuritySetup obis.Code
}

// DefaultConformance is offered when Association.Conformance is zero:
// GET, SET, ACTION, selective access, multiple references, the three block
// transfers, attribute 0 with GET and general protection.
const DefaultConformance = apdu.ConformanceGeneralProtection | apdu.ConformanceBlockTransferWithGetOrRead |
	apdu.ConformanceBlockTransferWithSetOrWrite | apdu.ConformanceBlockTransferWithAction |
	apdu.ConformanceMultipleReferences | apdu.ConformanceGet | apdu.ConformanceSet |
	apdu.ConformanceSelectiveAccess | apdu.ConformanceAction

func (a *Association) conformance() apdu.Conformance {
	if a.Conformance == 0 {
		return DefaultConformance
	}
	return a.Conformance
}

func (a *Association) maxPDU() uint16 {
	if a.MaxPDU == 0 {
		return 1024
	}
	return a.MaxPDU
}

func (a *Association) rights() cosem.RightsFunc {
	if a.Rights == nil {
		return cosem.FullAccess
	}
	return a.Rights
}

func (a *Association) ciphered() bool { return a.Policy != security.PolicyNone }

// SecurityEvent is a kind of security-relevant occurrence a Device reports
// through OnSecurityEvent.
type SecurityEvent uint8

// Security events.
const (
	// EventLLSFailure: an AARQ carried a wrong LLS password.
	EventLLSFailure SecurityEvent = iota + 1
	// EventLockout: too many wrong passwords; the client SAP is refused
	// for Device.LockoutPeriod.
	EventLockout
	// EventLockedOut: an association attempt during a lockout was refused.
	EventLockedOut
	// EventHLSFailure: the client's HLS response did not verify.
	EventHLSFailure
	// EventDecipherFailure: a ciphered APDU failed to decipher or
	// authenticate.
	EventDecipherFailure
	// EventReplay: a ciphered APDU carried an invocation counter that was
	// not above the last one accepted from that client.
	EventReplay
	// EventUnprotected: a request carried less protection than the
	// association's policy demands.
	EventUnprotected
)

// String names the event.
func (e SecurityEvent) String() string {
	switch e {
	case EventLLSFailure:
		return "lls-failure"
	case EventLockout:
		return "lockout"
	case EventLockedOut:
		return "locked-out"
	case EventHLSFailure:
		return "hls-failure"
	case EventDecipherFailure:
		return "decipher-failure"
	case EventReplay:
		return "replay"
	case EventUnprotected:
		return "unprotected-request"
	}
	if n, ok := signingEventNames[e]; ok {
		return n
	}
	return "security-event(" + strconv.Itoa(int(e)) + ")"
}

// Defaults of the LLS lockout and of reassembly.
const (
	DefaultMaxLLSFailures = 3
	DefaultFailureWindow  = 10 * time.Minute
	DefaultLockoutPeriod  = 15 * time.Minute
	DefaultMaxReassembly  = 64 << 10
	// DefaultInactivityTimeout is IEC 62056-46's default HDLC
	// inactivity time-out, used for the wrapper too.
	DefaultInactivityTimeout = 120 * time.Second
)

// inactivity is the effective InactivityTimeout; zero means never.
func (d *Device) inactivity() time.Duration {
	switch {
	case d.InactivityTimeout < 0:
		return 0
	case d.InactivityTimeout == 0:
		return DefaultInactivityTimeout
	}
	return d.InactivityTimeout
}

// Device is one logical device: an object tree, its address and system
// title, and the associations clients may open with it. Set the exported
// fields before the first Serve; afterwards the Device is safe for
// concurrent use by any number of connections.
type Device struct {
	// Tree holds the device's objects.
	Tree *objects.Tree
	// Address is the server logical address (wrapper wPort, HDLC upper
	// address): 1 for the management logical device.
	Address uint16
	// SystemTitle is the device's 8-byte system title.
	SystemTitle []byte
	// Associations lists the client SAPs that may associate and how.
	Associations []Association

	// Counter issues the invocation counters of everything the device
	// ciphers. Give it a Persist hook so that it resumes above every value
	// used before a restart; nil means a counter starting at 1 that is
	// never persisted, which is only safe for tests.
	Counter *security.Counter
	// PersistClientIC is called with the last invocation counter accepted
	// from a client SAP, so the replay protection survives restarts (load
	// it back into Association.LastClientIC). An error is logged.
	PersistClientIC func(clientSAP uint16, ic uint32) error
	// OnSecurityEvent is told about failed authentications, lockouts,
	// replays and deciphering failures. It must not block.
	OnSecurityEvent func(kind SecurityEvent, clientSAP uint16)
	// Signing, when set, makes the device verify signed requests and
	// refuse the ones it requires signed without a signature.
	Signing *Signing

	// MaxLLSFailures wrong passwords within FailureWindow lock the client
	// SAP out for LockoutPeriod (zero values take the defaults).
	MaxLLSFailures int
	FailureWindow  time.Duration
	LockoutPeriod  time.Duration

	// ChangeSecret is told about a client changing its own secret
	// (change_HLS_secret, or a SET of the LLS secret of the current
	// association) and should persist it; nil refuses such changes.
	ChangeSecret func(clientSAP uint16, secret []byte) error

	// Challenge returns the HLS challenge StoC of n bytes; nil uses
	// security.NewChallenge.
	Challenge func(n int) ([]byte, error)
	// Now is the clock for lockouts (default time.Now).
	Now func() time.Time
	// MaxReassembly bounds a long SET or ACTION request reassembled from
	// blocks (default DefaultMaxReassembly).
	MaxReassembly int
	// InactivityTimeout ends a connection that stays silent this long,
	// as the inactivity_time_out of a meter's TCP-UDP and IEC HDLC setups
	// does: zero takes DefaultInactivityTimeout, a negative value never
	// ends one. A real meter drops an idle client so that the next one can
	// reach it.
	InactivityTimeout time.Duration
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Quirks make the device depart from the standard as some meters in
	// the field do, so that a client can be tried against them; the zero
	// value departs in nothing.
	Quirks Quirks

	once      sync.Mutex
	ready     bool
	mu        sync.Mutex
	guards    map[uint16]*security.ReplayGuard
	failures  map[uint16]*failureState
	secrets   map[uint16][]byte
	defaultIC *security.Counter
}

type failureState struct {
	times  []time.Time
	locked time.Time // refused until then
}

// Transport carries whole APDUs between a logical device and a client. It
// has the method set of dlms.Transport (wrapper.Conn, hdlc.Server and
// hdlc.Client implement both); it is declared here so that the meter side
// does not depend on the client package.
type Transport interface {
	Send(ctx context.Context, apdu []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

// Quirks are deliberate departures from IEC 62056-5-3 that real meters
// show: firmware that crashes on a request, answers a list inconsistently,
// or names a missing object wrongly.
type Quirks struct {
	// Request sees every decoded request of an established association
	// before it is served. A non-nil error ends the connection at once,
	// without an answer, as a meter whose firmware crashes on that request;
	// Serve returns the error.
	Request func(r apdu.APDU) error
	// ListResults sees the results of a GET-with-list before they are
	// encoded and may change them in place (res[i] answers reqs[i]).
	ListResults func(reqs []apdu.AttributeRequest, res []apdu.GetDataResult)
	// Absent is the data-access-result for an object the device does not
	// have; zero answers object-undefined, as the standard says. Some
	// meters answer read-write-denied.
	Absent apdu.DataAccessResult
}

// ClientInfo describes the client end of a connection.
type ClientInfo struct {
	// ClientSAP is the client address when it is fixed for the
	// connection.
	ClientSAP uint16
	// SAP, when set, returns the client address of the APDU just received
	// and overrides ClientSAP: a wrapper connection may carry
	// associations of several client SAPs one after the other.
	SAP func() uint16
	// Addr is the remote network address, for logs.
	Addr net.Addr
	// EndOnDisconnect makes Serve return nil when the HDLC link is
	// disconnected (DISC), instead of waiting for the next SNRM: behind a
	// mode E sign-on the meter then returns to IEC 62056-21 and expects a
	// new sign-on.
	EndOnDisconnect bool
}

func (c ClientInfo) sap() uint16 {
	if c.SAP != nil {
		return c.SAP()
	}
	return c.ClientSAP
}

// ErrConfig reports a Device that cannot serve as configured.
var ErrConfig = errors.New("server: invalid device configuration")

// check validates the configuration once.
func (d *Device) init() error {
	d.once.Lock()
	defer d.once.Unlock()
	if d.ready {
		return nil
	}
	if d.Tree == nil {
		return fmt.Errorf("%w: no object tree", ErrConfig)
	}
	seen := map[uint16]bool{}
	for i := range d.Associations {
		a := &d.Associations[i]
		if seen[a.ClientSAP] {
			return fmt.Errorf("%w: client SAP %d listed twice", ErrConfig, a.ClientSAP)
		}
		seen[a.ClientSAP] = true
		switch a.Authentication {
		case security.MechanismNone, security.MechanismLLS, security.MechanismHLSGMAC, security.MechanismHLSSHA256, security.MechanismHLSECDSA:
		default:
			return fmt.Errorf("%w: client SAP %d: unsupported mechanism %v", ErrConfig, a.ClientSAP, a.Authentication)
		}
		if !a.Policy.Valid() {
			return fmt.Errorf("%w: client SAP %d: unknown policy %d", ErrConfig, a.ClientSAP, a.Policy)
		}
		if (a.ciphered() || a.Authentication == security.MechanismHLSGMAC) && (a.Keys.Unicast.IsZero() || a.Keys.Authentication.IsZero()) {
			return fmt.Errorf("%w: client SAP %d: ciphering needs the unicast and authentication keys", ErrConfig, a.ClientSAP)
		}
		if a.Authentication == security.MechanismHLSECDSA && (a.ClientPublicKey == nil || a.SigningKey == nil) {
			return fmt.Errorf("%w: client SAP %d: HLS-ECDSA needs the client public key and a signing key", ErrConfig, a.ClientSAP)
		}
		if (a.Authentication == security.MechanismLLS || a.Authentication == security.MechanismHLSSHA256) && len(a.Secret) == 0 {
			return fmt.Errorf("%w: client SAP %d: %v needs a secret", ErrConfig, a.ClientSAP, a.Authentication)
		}
		if a.MaxPDU != 0 && a.MaxPDU < 64 {
			return fmt.Errorf("%w: client SAP %d: max PDU %d below 64", ErrConfig, a.ClientSAP, a.MaxPDU)
		}
	}
	needST := false
	for i := range d.Associations {
		a := &d.Associations[i]
		needST = needST || a.ciphered() || a.Authentication.IsHLS()
	}
	if needST && len(d.SystemTitle) != security.SystemTitleSize {
		return fmt.Errorf("%w: system title must be %d bytes", ErrConfig, security.SystemTitleSize)
	}
	d.guards = map[uint16]*security.ReplayGuard{}
	d.failures = map[uint16]*failureState{}
	d.secrets = map[uint16][]byte{}
	d.defaultIC = security.NewCounter(1, nil)
	d.ready = true
	return nil
}

// association returns the policy of a client SAP, or nil.
func (d *Device) association(sap uint16) *Association {
	for i := range d.Associations {
		if d.Associations[i].ClientSAP == sap {
			return &d.Associations[i]
		}
	}
	return nil
}

// secret returns the current secret of a client SAP, which change_HLS_secret
// or a SET of the LLS secret may have replaced.
func (d *Device) secret(a *Association) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.secrets[a.ClientSAP]; ok {
		return s
	}
	return a.Secret
}

func (d *Device) setSecret(sap uint16, s []byte) {
	d.mu.Lock()
	d.secrets[sap] = append([]byte(nil), s...)
	d.mu.Unlock()
}

// guard returns the replay guard of a client SAP, shared by all its
// associations so that an APDU of an earlier session cannot be replayed.
func (d *Device) guard(a *Association) *security.ReplayGuard {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.guards[a.ClientSAP]
	if g == nil {
		if a.HasLastClientIC {
			g = security.NewReplayGuard(a.LastClientIC)
		} else {
			g = &security.ReplayGuard{}
		}
		// Encryption-only policies have no tag to vouch for the counter.
		g.AllowUnauthenticated = a.Policy&security.PolicyAuthenticated == 0
		d.guards[a.ClientSAP] = g
	}
	return g
}

// LastClientIC returns the last invocation counter accepted from a client
// SAP, for an invocation counter object (0.0.43.1.x.255) that tells the
// client where to resume.
func (d *Device) LastClientIC(sap uint16) (uint32, bool) {
	if err := d.init(); err != nil {
		return 0, false
	}
	a := d.association(sap)
	if a == nil {
		return 0, false
	}
	return d.guard(a).Last()
}

func (d *Device) counter() *security.Counter {
	if d.Counter != nil {
		return d.Counter
	}
	return d.defaultIC
}

func (d *Device) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Device) challenge(n int) ([]byte, error) {
	if d.Challenge != nil {
		c, err := d.Challenge(n)
		if err == nil && (len(c) < security.MinChallenge || len(c) > security.MaxChallenge) {
			err = fmt.Errorf("server: challenge hook returned %d bytes", len(c))
		}
		return c, err
	}
	return security.NewChallenge(n)
}

func (d *Device) maxReassembly() int {
	if d.MaxReassembly > 0 {
		return d.MaxReassembly
	}
	return DefaultMaxReassembly
}

func (d *Device) event(kind SecurityEvent, sap uint16) {
	d.log().Warn("dlms security event", "event", kind.String(), "client_sap", sap, "device", d.Address)
	if d.OnSecurityEvent != nil {
		d.OnSecurityEvent(kind, sap)
	}
}

func (d *Device) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return discard
}

var discard = slog.New(slog.DiscardHandler)

// lockedOut reports whether a client SAP is refused because of earlier
// wrong passwords.
func (d *Device) lockedOut(sap uint16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.failures[sap]
	return f != nil && d.now().Before(f.locked)
}

// passwordFailed records a wrong LLS password and starts a lockout when
// there were too many within the window.
func (d *Device) passwordFailed(sap uint16) {
	maxF, window, period := d.MaxLLSFailures, d.FailureWindow, d.LockoutPeriod
	if maxF <= 0 {
		maxF = DefaultMaxLLSFailures
	}
	if window <= 0 {
		window = DefaultFailureWindow
	}
	if period <= 0 {
		period = DefaultLockoutPeriod
	}
	now := d.now()
	d.mu.Lock()
	f := d.failures[sap]
	if f == nil {
		f = &failureState{}
		d.failures[sap] = f
	}
	kept := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	f.times = append(kept, now)
	locked := len(f.times) >= maxF
	if locked {
		f.locked = now.Add(period)
		f.times = f.times[:0]
	}
	d.mu.Unlock()
	d.event(EventLLSFailure, sap)
	if locked {
		d.event(EventLockout, sap)
	}
}

// passwordOK forgets earlier failures of a client SAP.
func (d *Device) passwordOK(sap uint16) {
	d.mu.Lock()
	if f := d.failures[sap]; f != nil {
		f.times = f.times[:0]
	}
	d.mu.Unlock()
}
