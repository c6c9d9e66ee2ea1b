package dlms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/hdlc"
)

// Kinds of failure. Errors returned by a Client match one of them with
// errors.Is when it applies; the detail types below say more.
var (
	// ErrAccessDenied: the server refused the attribute or method
	// (read-write-denied, scope-of-access-violated).
	ErrAccessDenied = errors.New("dlms: access denied")
	// ErrObjectUndefined: no such object, attribute or method, or the
	// class id does not match the object (object-undefined,
	// object-class-inconsistent).
	ErrObjectUndefined = errors.New("dlms: object undefined")
	// ErrAuthenticationFailed: the association was refused for its
	// credentials, or the server's HLS response f(CtoS) did not verify.
	ErrAuthenticationFailed = errors.New("dlms: authentication failed")
	// ErrAssociationRejected: the AARE did not accept the association.
	ErrAssociationRejected = errors.New("dlms: association rejected")
	// ErrReplay: a protected response carried an invocation counter not
	// above the last one accepted from the server.
	ErrReplay = errors.New("dlms: replayed response")
	// ErrTimeout: the context deadline or an I/O timeout expired while
	// waiting for the meter.
	ErrTimeout = errors.New("dlms: timeout")
	// ErrPeerClosed: the meter closed the connection or the link (EOF,
	// reset, HDLC DM or DISC).
	ErrPeerClosed = errors.New("dlms: connection closed by peer")
	// ErrProtocol: a response that is malformed or does not answer the
	// request (another APDU type, invoke-id, block number...).
	ErrProtocol = errors.New("dlms: protocol error")
	// ErrNotAssociated: a service was called before Associate succeeded
	// or after Release.
	ErrNotAssociated = errors.New("dlms: not associated")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("dlms: client closed")
	// ErrLinkDropped: the link went down in answer to a request, or the
	// meter stopped answering (every error that matches ErrPeerClosed or
	// ErrTimeout matches it too). The association is gone: the client
	// refuses further requests with it, and Release costs no exchange. A
	// meter that drops the link on a request may have crashed on it, so a
	// caller should remember the request and not send it again.
	ErrLinkDropped = errors.New("dlms: link dropped")
	// ErrTooLong: the answer does not fit the negotiated PDU size and
	// cannot come in blocks, because the meter said pdu-too-long or did not
	// grant block transfer with GET yet started one. Ask for less (fewer
	// profile entries, fewer attributes).
	ErrTooLong = errors.New("dlms: answer too long for the negotiated PDU size")
	// ErrInvocationCounter: the meter refused the invocation counter of a
	// ciphered request; see InvocationCounterError.
	ErrInvocationCounter = errors.New("dlms: invocation counter refused")
)

// Attr names one COSEM attribute.
type Attr struct {
	Class     uint16
	OBIS      [6]byte
	Attribute int8
}

// String renders "class/a.b.c.d.e.f/attribute".
func (a Attr) String() string {
	return fmt.Sprintf("%d/%s/%d", a.Class, obisString(a.OBIS), a.Attribute)
}

func (a Attr) descriptor() apdu.AttributeDescriptor {
	return apdu.AttributeDescriptor{ClassID: a.Class, InstanceID: a.OBIS, AttributeID: a.Attribute}
}

// Method names one COSEM method.
type Method struct {
	Class  uint16
	OBIS   [6]byte
	Method int8
}

// String renders "class/a.b.c.d.e.f/method".
func (m Method) String() string {
	return fmt.Sprintf("%d/%s/m%d", m.Class, obisString(m.OBIS), m.Method)
}

func obisString(c [6]byte) string {
	return fmt.Sprintf("%d.%d.%d.%d.%d.%d", c[0], c[1], c[2], c[3], c[4], c[5])
}

// DataAccessError is a GET or SET refused by the server with a
// Data-Access-Result.
type DataAccessError struct {
	Meter  string
	Op     string // "get" or "set"
	Attr   Attr
	Result apdu.DataAccessResult
}

// Error names the meter, the operation and what failed.
func (e *DataAccessError) Error() string {
	return fmt.Sprintf("dlms: %s: %s %s: %s", e.Meter, e.Op, e.Attr, e.Result)
}

// Is matches ErrAccessDenied and ErrObjectUndefined by result.
func (e *DataAccessError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Result == apdu.ReadWriteDenied || e.Result == apdu.ScopeOfAccessViolated
	case ErrObjectUndefined:
		return e.Result == apdu.ObjectUndefined || e.Result == apdu.ObjectClassInconsistent
	}
	return false
}

// ActionError is an ACTION refused by the server with an Action-Result.
type ActionError struct {
	Meter  string
	Method Method
	Result apdu.ActionResult
}

// Error names the meter, the operation and what failed.
func (e *ActionError) Error() string {
	return fmt.Sprintf("dlms: %s: action %s: %s", e.Meter, e.Method, e.Result)
}

// Is matches ErrAccessDenied and ErrObjectUndefined by result.
func (e *ActionError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Result == apdu.ActionReadWriteDenied || e.Result == apdu.ActionScopeOfAccessViolated
	case ErrObjectUndefined:
		return e.Result == apdu.ActionObjectUndefined || e.Result == apdu.ActionObjectClassInconsistent
	}
	return false
}

// ExceptionError is an EXCEPTION-response: the server could not process
// the request at all (e.g. it failed to decipher it, or the service is not
// allowed in this state).
type ExceptionError struct {
	Meter        string
	Op           string
	StateError   apdu.StateError
	ServiceError apdu.ServiceError
	// InvocationCounter is the counter the server expects, sent with
	// service-error invocation-counter-error.
	InvocationCounter uint32
}

// Error names the meter, the operation and what failed.
func (e *ExceptionError) Error() string {
	s := fmt.Sprintf("dlms: %s: %s: exception-response %s, %s", e.Meter, e.Op, e.StateError, e.ServiceError)
	if e.ServiceError == apdu.ServiceInvocationCounterError {
		s += fmt.Sprintf(" (server expects %d)", e.InvocationCounter)
	}
	return s
}

// Is matches ErrTooLong for pdu-too-long and ErrInvocationCounter for
// invocation-counter-error.
func (e *ExceptionError) Is(target error) bool {
	switch target {
	case ErrTooLong:
		return e.ServiceError == apdu.ServicePDUTooLong
	case ErrInvocationCounter:
		return e.ServiceError == apdu.ServiceInvocationCounterError
	}
	return false
}

// InvocationCounterError is the meter's refusal of our invocation counter
// (an EXCEPTION-response with service-error invocation-counter-error,
// whether in answer to the AARQ, as the Gurux server does, or to a
// request), with the counter it expects when it said so.
//
// To resynchronise, move the sending counter to Expected
// (security.Counter.AdvanceTo) and associate again; when Expected is 0,
// read the meter's invocation counter object first (ReadInvocationCounter)
// and continue from the value read plus one. Options.ResyncInvocationCounter
// makes Dial do all of this itself.
type InvocationCounterError struct {
	Meter string
	Op    string
	// Expected is the lowest counter the meter accepts next; 0 when it
	// did not say.
	Expected uint32
	// Err is the refusal as received, an *ExceptionError.
	Err error
}

// Error names the meter, the operation and what the meter expects.
func (e *InvocationCounterError) Error() string {
	if e.Expected == 0 {
		return fmt.Sprintf("dlms: %s: %s: invocation counter refused", e.Meter, e.Op)
	}
	return fmt.Sprintf("dlms: %s: %s: invocation counter refused, the meter expects %d", e.Meter, e.Op, e.Expected)
}

// Is matches ErrInvocationCounter.
func (e *InvocationCounterError) Is(target error) bool { return target == ErrInvocationCounter }

// Unwrap returns the refusal as received.
func (e *InvocationCounterError) Unwrap() error { return e.Err }

// ConfirmedServiceError is a ConfirmedServiceError answer, typically an
// InitiateRequest refused inside the AARE.
type ConfirmedServiceError struct {
	Meter     string
	Op        string
	Service   uint8
	ErrorType uint8
	Value     uint8
}

// Error names the meter, the operation and what failed.
func (e *ConfirmedServiceError) Error() string {
	return fmt.Sprintf("dlms: %s: %s: confirmed-service-error service %d, error type %d, value %d", e.Meter, e.Op, e.Service, e.ErrorType, e.Value)
}

// Is matches ErrAssociationRejected for an initiate error.
func (e *ConfirmedServiceError) Is(target error) bool {
	return target == ErrAssociationRejected && e.Service == apdu.ServiceInitiateError
}

// AssociationError is an AARE that did not accept the association.
type AssociationError struct {
	Meter      string
	Result     apdu.AssociationResult
	Diagnostic apdu.Diagnostic
}

// Error names the meter, the operation and what failed.
func (e *AssociationError) Error() string {
	src := "acse-service-user"
	if e.Diagnostic.Source == apdu.DiagnosticServiceProvider {
		src = "acse-service-provider"
	}
	return fmt.Sprintf("dlms: %s: association %s, %s diagnostic %d%s", e.Meter, e.Result, src, e.Diagnostic.Value, diagnosticName(e.Diagnostic))
}

// Is matches ErrAssociationRejected, and ErrAuthenticationFailed when the
// diagnostic is about authentication.
func (e *AssociationError) Is(target error) bool {
	switch target {
	case ErrAssociationRejected:
		return true
	case ErrAuthenticationFailed:
		return e.Diagnostic.Source != apdu.DiagnosticServiceProvider &&
			e.Diagnostic.Value >= apdu.DiagnosticAuthenticationMechanismNameNotRecognised &&
			e.Diagnostic.Value <= apdu.DiagnosticAuthenticationRequired
	}
	return false
}

func diagnosticName(d apdu.Diagnostic) string {
	if d.Source == apdu.DiagnosticServiceProvider {
		return ""
	}
	switch d.Value {
	case apdu.DiagnosticNoReasonGiven:
		return " (no-reason-given)"
	case apdu.DiagnosticApplicationContextNameNotSupported:
		return " (application-context-name-not-supported)"
	case apdu.DiagnosticAuthenticationMechanismNameNotRecognised:
		return " (authentication-mechanism-name-not-recognised)"
	case apdu.DiagnosticAuthenticationMechanismNameRequired:
		return " (authentication-mechanism-name-required)"
	case apdu.DiagnosticAuthenticationFailure:
		return " (authentication-failure)"
	case apdu.DiagnosticAuthenticationRequired:
		return " (authentication-required)"
	}
	return ""
}

// OpError is any other failure of an operation on a meter: a transport
// error, a ciphering failure or a protocol violation. Err tells which; it
// matches ErrTimeout, ErrPeerClosed, ErrReplay, ErrProtocol... with
// errors.Is.
type OpError struct {
	Meter  string
	Op     string // "associate", "get", "set", "action", "release"...
	Target string // the attribute or method, empty for the association
	Err    error
}

// Error names the meter, the operation and what failed.
func (e *OpError) Error() string {
	if e.Target == "" {
		return fmt.Sprintf("dlms: %s: %s: %v", e.Meter, e.Op, e.Err)
	}
	return fmt.Sprintf("dlms: %s: %s %s: %v", e.Meter, e.Op, e.Target, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Is matches ErrLinkDropped when the cause is a closed or silent link.
func (e *OpError) Is(target error) bool {
	return target == ErrLinkDropped && dropped(e.Err)
}

// dropped reports whether err means the link is gone.
func dropped(err error) bool {
	return errors.Is(err, ErrPeerClosed) || errors.Is(err, ErrTimeout)
}

// protocolError builds an ErrProtocol cause.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// linkError tags a transport error with ErrTimeout or ErrPeerClosed so
// callers need not know which link produced it.
func linkError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrPeerClosed):
		return err
	case isTimeout(err), ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case isClosed(err):
		return fmt.Errorf("%w: %w", ErrPeerClosed, err)
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isClosed(err error) bool {
	var frmr *hdlc.FrameRejectError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, hdlc.ErrDM) || errors.Is(err, hdlc.ErrDisconnected) ||
		errors.As(err, &frmr)
}
