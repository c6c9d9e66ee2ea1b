package apdu

import (
	"errors"
	"strconv"
)

// APDU is one decoded application-layer PDU. The concrete types are the
// pointer types of this package (*GetRequestNormal, *AARQ, *Ciphered, ...);
// Decode returns them and a type switch tells them apart.
type APDU interface {
	// Kind names the APDU, e.g. "get-response-with-datablock".
	Kind() string
	// Append appends the encoded APDU to b. On error b is returned
	// unchanged.
	Append(b []byte) ([]byte, error)
}

// Append appends the encoding of a to b.
func Append(b []byte, a APDU) ([]byte, error) {
	if a == nil {
		return b, encErr("apdu", "nil")
	}
	return a.Append(b)
}

// Options selects which peer quirks Decode tolerates. The zero value is
// strict.
type Options struct {
	// AllowTrailing accepts bytes after a complete APDU and returns them
	// to the caller instead of failing with ErrTrailingData. Some servers
	// send junk after the GET result (a re-serialised copy of the value,
	// or the tail of a previous block); the value before it is sound.
	AllowTrailing bool
	// LenientBERLengths lets the lengths of the elements inside an ACSE
	// APDU overrule the APDU's own length and the explicit tags around
	// them when those are too short, as in a protected RLRE whose
	// user-information length misses the octet string it holds.
	LenientBERLengths bool
}

// Tolerant is what a head-end uses against meters in the field: both
// quirks are survived, and the trailing bytes are handed back so that the
// caller can log them.
var Tolerant = Options{AllowTrailing: true, LenientBERLengths: true}

// Decode decodes the one APDU that b holds, strictly: any byte after it
// is ErrTrailingData. The result aliases b.
func Decode(b []byte) (APDU, error) {
	a, _, err := Options{}.Decode(b)
	return a, err
}

// Decode decodes the APDU at the start of b and returns it with the bytes
// that follow it (nil when none). Bytes after the APDU are an error unless
// o.AllowTrailing is set. The result aliases b.
//
// Ciphered APDUs come back as *Ciphered, holding the rest of b whole
// (their own lengths are the security layer's business), so trailing is
// always nil for them.
func (o Options) Decode(b []byte) (a APDU, trailing []byte, err error) {
	if len(b) == 0 {
		return nil, nil, &DecodeError{Offset: 0, Field: "tag", Err: ErrTruncated}
	}
	tag := b[0]
	var end int
	switch tag {
	case TagAARQ, TagAARE, TagRLRQ, TagRLRE:
		a, end, err = o.decodeACSE(b)
	default:
		if cipheredKind(tag) != "" {
			return &Ciphered{Tag: tag, Raw: b}, nil, nil
		}
		r := reader{b: b, off: 1}
		a, err = decodeXDLMS(&r, tag)
		end = r.off
	}
	if err != nil {
		return nil, nil, err
	}
	if end < len(b) {
		if !o.AllowTrailing {
			return nil, nil, &DecodeError{APDU: a.Kind(), Offset: end, Field: "end", Err: ErrTrailingData}
		}
		trailing = b[end:len(b):len(b)]
	}
	return a, trailing, nil
}

func (o Options) decodeACSE(b []byte) (APDU, int, error) {
	p := acseParser{b: b, lenient: o.LenientBERLengths}
	switch b[0] {
	case TagAARQ:
		p.apdu = "aarq"
		a, end, err := decodeAARQ(&p)
		if err != nil {
			return nil, 0, err
		}
		return a, end, nil
	case TagAARE:
		p.apdu = "aare"
		a, end, err := decodeAARE(&p)
		if err != nil {
			return nil, 0, err
		}
		return a, end, nil
	case TagRLRQ:
		p.apdu = "rlrq"
		has, r, user, end, err := decodeRelease(&p)
		if err != nil {
			return nil, 0, err
		}
		return &RLRQ{HasReason: has, Reason: r, UserInformation: user}, end, nil
	default:
		p.apdu = "rlre"
		has, r, user, end, err := decodeRelease(&p)
		if err != nil {
			return nil, 0, err
		}
		return &RLRE{HasReason: has, Reason: r, UserInformation: user}, end, nil
	}
}

// errUnknownChoice is returned by the service decoders for an unknown
// CHOICE octet; decodeXDLMS gives it its place.
var errUnknownChoice = errors.New("unknown choice")

var serviceNames = map[byte]string{
	TagGetRequest: "get-request", TagGetResponse: "get-response",
	TagSetRequest: "set-request", TagSetResponse: "set-response",
	TagActionRequest: "action-request", TagActionResponse: "action-response",
	TagEventNotificationRequest: "event-notification-request",
	TagDataNotification:         "data-notification",
	TagExceptionResponse:        "exception-response",
	TagInitiateRequest:          "initiate-request",
	TagInitiateResponse:         "initiate-response",
	TagConfirmedServiceError:    "confirmed-service-error",
}

// unsupported lists the DLMS APDUs this package knows of but leaves to
// others: short-name services, ACCESS and general-block-transfer.
var unsupported = map[byte]string{
	0x05: "read-request", 0x06: "write-request", 0x0C: "read-response", 0x0D: "write-response",
	0x16: "unconfirmed-write-request", 0x18: "information-report-request",
	0xD9: "access-request", 0xDA: "access-response", 0xE0: "general-block-transfer",
}

func decodeXDLMS(r *reader, tag byte) (a APDU, err error) {
	switch tag {
	case TagGetRequest, TagGetResponse, TagSetRequest, TagSetResponse, TagActionRequest, TagActionResponse:
		if r.rest() < 2 {
			return nil, &DecodeError{APDU: serviceNames[tag], Offset: r.off, Field: "choice", Err: ErrTruncated}
		}
		choice, inv := r.b[1], InvokeIDAndPriority(r.b[2])
		r.off = 3
		switch tag {
		case TagGetRequest:
			a, err = decodeGetRequest(r, choice, inv)
		case TagGetResponse:
			a, err = decodeGetResponse(r, choice, inv)
		case TagSetRequest:
			a, err = decodeSetRequest(r, choice, inv)
		case TagSetResponse:
			a, err = decodeSetResponse(r, choice, inv)
		case TagActionRequest:
			a, err = decodeActionRequest(r, choice, inv)
		default:
			a, err = decodeActionResponse(r, choice, inv)
		}
		if err == errUnknownChoice {
			err = &DecodeError{Offset: 1, Field: "choice " + strconv.Itoa(int(choice)), Err: ErrUnknownTag}
		}
	case TagEventNotificationRequest:
		a, err = decodeEventNotification(r)
	case TagDataNotification:
		a, err = decodeDataNotification(r)
	case TagExceptionResponse:
		a, err = decodeExceptionResponse(r)
	case TagInitiateRequest:
		a, err = decodeInitiateRequest(r)
	case TagInitiateResponse:
		a, err = decodeInitiateResponse(r)
	case TagConfirmedServiceError:
		a, err = decodeConfirmedServiceError(r)
	default:
		if name, ok := unsupported[tag]; ok {
			return nil, &DecodeError{APDU: name, Offset: 0, Field: "tag", Err: ErrUnsupported}
		}
		return nil, &DecodeError{Offset: 0, Field: "tag 0x" + strconv.FormatUint(uint64(tag), 16), Err: ErrUnknownTag}
	}
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) && de.APDU == "" {
			if a != nil {
				de.APDU = a.Kind()
			} else {
				de.APDU = serviceNames[tag]
			}
		}
		return nil, err
	}
	return a, nil
}
