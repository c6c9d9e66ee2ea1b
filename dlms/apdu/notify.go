package apdu

import (
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
)

// EventNotificationRequest is the unsolicited event-notification-request
// (0xC2) a server sends when an attribute changes.
type EventNotificationRequest struct {
	// Time is the optional COSEM date-time octet string (12 octets); nil
	// when absent.
	Time      []byte
	Attribute AttributeDescriptor
	Value     axdr.Data
}

// DataNotification is the push APDU (0x0F).
type DataNotification struct {
	LongInvokeID LongInvokeIDAndPriority
	// DateTime holds the date-time octets; nil when absent.
	DateTime []byte
	// DateTimeBare selects how DateTime is written. The ASN.1 type is
	// OCTET STRING, which A-XDR writes as length and octets (0C ...), but
	// most meters send it as a Data octet-string (09 0C ...). The zero
	// value writes the Data form; Decode sets this when the input used the
	// bare form. An absent date-time is a single 00 either way.
	DateTimeBare bool
	Body         axdr.Data
}

// Kind returns "event-notification-request".
func (*EventNotificationRequest) Kind() string { return "event-notification-request" }

// Kind returns "data-notification".
func (*DataNotification) Kind() string { return "data-notification" }

// Append appends the encoded APDU to b.
func (a *EventNotificationRequest) Append(b []byte) ([]byte, error) {
	b = append(b, TagEventNotificationRequest)
	if a.Time == nil {
		b = append(b, 0)
	} else {
		b = appendOctetString(append(b, 1), a.Time)
	}
	b = appendDescriptor(b, a.Attribute.ClassID, a.Attribute.InstanceID, a.Attribute.AttributeID)
	return a.Value.Append(b), nil
}

// Append appends the encoded APDU to b.
func (a *DataNotification) Append(b []byte) ([]byte, error) {
	if a.DateTime != nil && a.DateTimeBare && (len(a.DateTime) == 0 || len(a.DateTime) == int(axdr.TagOctetString)) {
		// A bare length of 0 or 9 would read back as "absent" or as the
		// Data form.
		return b, encErr("data-notification date-time", "bare form cannot carry 0 or 9 octets")
	}
	b = appendU32(append(b, TagDataNotification), uint32(a.LongInvokeID))
	switch {
	case a.DateTime == nil:
		b = append(b, 0)
	case a.DateTimeBare:
		b = appendOctetString(b, a.DateTime)
	default:
		b = appendOctetString(append(b, byte(axdr.TagOctetString)), a.DateTime)
	}
	return a.Body.Append(b), nil
}

func decodeEventNotification(r *reader) (APDU, error) {
	a := &EventNotificationRequest{}
	present, err := r.optional("time")
	if err != nil {
		return nil, err
	}
	if present {
		if a.Time, err = r.octetString("time"); err != nil {
			return nil, err
		}
	}
	if a.Attribute, err = r.attribute("cosem-attribute-descriptor"); err != nil {
		return nil, err
	}
	a.Value, err = r.data("attribute-value")
	return a, err
}

func decodeDataNotification(r *reader) (APDU, error) {
	a := &DataNotification{}
	v, err := r.u32("long-invoke-id-and-priority")
	if err != nil {
		return nil, err
	}
	a.LongInvokeID = LongInvokeIDAndPriority(v)
	if r.rest() == 0 {
		return nil, errAt(r.off, "date-time", ErrTruncated)
	}
	switch r.b[r.off] {
	case 0:
		r.off++
	case byte(axdr.TagOctetString):
		// A bare 9-octet string is no date-time, so 09 is the Data tag.
		r.off++
		if a.DateTime, err = r.octetString("date-time"); err != nil {
			return nil, err
		}
	default:
		a.DateTimeBare = true
		if a.DateTime, err = r.octetString("date-time"); err != nil {
			return nil, err
		}
	}
	a.Body, err = r.data("notification-body")
	return a, err
}

// StateError is the state-error of an EXCEPTION-response.
type StateError uint8

// State-error values.
const (
	StateServiceNotAllowed StateError = 1
	StateServiceUnknown    StateError = 2
)

// String returns the Green Book name.
func (s StateError) String() string {
	switch s {
	case StateServiceNotAllowed:
		return "service-not-allowed"
	case StateServiceUnknown:
		return "service-unknown"
	}
	return "state-error(" + strconv.Itoa(int(s)) + ")"
}

// ServiceError is the service-error of an EXCEPTION-response.
type ServiceError uint8

// Service-error values.
const (
	ServiceOperationNotPossible   ServiceError = 1
	ServiceNotSupported           ServiceError = 2
	ServiceOtherReason            ServiceError = 3
	ServicePDUTooLong             ServiceError = 4
	ServiceDecipheringError       ServiceError = 5
	ServiceInvocationCounterError ServiceError = 6
)

var serviceErrorNames = map[ServiceError]string{
	ServiceOperationNotPossible: "operation-not-possible", ServiceNotSupported: "service-not-supported",
	ServiceOtherReason: "other-reason", ServicePDUTooLong: "pdu-too-long",
	ServiceDecipheringError: "deciphering-error", ServiceInvocationCounterError: "invocation-counter-error",
}

// String returns the Green Book name.
func (s ServiceError) String() string {
	if n, ok := serviceErrorNames[s]; ok {
		return n
	}
	return "service-error(" + strconv.Itoa(int(s)) + ")"
}

// ExceptionResponse (0xD8) is a server's answer to an APDU it cannot
// process at all.
type ExceptionResponse struct {
	StateError   StateError
	ServiceError ServiceError
	// InvocationCounter is the server's expected counter; carried only
	// with ServiceInvocationCounterError.
	InvocationCounter uint32
}

// Kind returns "exception-response".
func (*ExceptionResponse) Kind() string { return "exception-response" }

// Append appends the encoded APDU to b.
func (a *ExceptionResponse) Append(b []byte) ([]byte, error) {
	b = append(b, TagExceptionResponse, byte(a.StateError), byte(a.ServiceError))
	if a.ServiceError == ServiceInvocationCounterError {
		b = appendU32(b, a.InvocationCounter)
	}
	return b, nil
}

func decodeExceptionResponse(r *reader) (APDU, error) {
	a := &ExceptionResponse{}
	v, err := r.u8("state-error")
	if err != nil {
		return nil, err
	}
	a.StateError = StateError(v)
	if v, err = r.u8("service-error"); err != nil {
		return nil, err
	}
	a.ServiceError = ServiceError(v)
	if a.ServiceError == ServiceInvocationCounterError {
		a.InvocationCounter, err = r.u32("invocation-counter")
	}
	return a, err
}
