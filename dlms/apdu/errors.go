package apdu

import (
	"errors"
	"strconv"
)

// Decoding errors. Decoders wrap them in a *DecodeError that says what
// failed and where; errors.Is sees through it (also to the axdr errors
// when a COSEM value inside the APDU is malformed).
var (
	// ErrTruncated: the input ends inside the APDU.
	ErrTruncated = errors.New("apdu: truncated")
	// ErrTrailingData: bytes follow a complete APDU and the options do not
	// allow them.
	ErrTrailingData = errors.New("apdu: trailing data after APDU")
	// ErrUnknownTag: the first octet (or a CHOICE tag inside) is not one
	// this package knows.
	ErrUnknownTag = errors.New("apdu: unknown tag")
	// ErrUnsupported: a valid DLMS APDU that this package does not decode
	// (short-name services, ACCESS, general-block-transfer).
	ErrUnsupported = errors.New("apdu: APDU type not supported")
	// ErrBERLength: a BER length is malformed (indefinite form, more than
	// four length octets) or an ACSE element does not fit its parent.
	ErrBERLength = errors.New("apdu: bad BER length")
	// ErrInvalid: a field holds a value its type does not allow.
	ErrInvalid = errors.New("apdu: invalid field value")
	// ErrTooLarge: a SEQUENCE OF count that the remaining input cannot
	// hold.
	ErrTooLarge = errors.New("apdu: element count exceeds input")
)

// Encoding errors.
var (
	// ErrEncode: the value cannot be encoded (a mandatory field is
	// missing or out of range).
	ErrEncode = errors.New("apdu: cannot encode")
)

// DecodeError reports where and in what decoding failed.
type DecodeError struct {
	// APDU names the APDU being decoded, e.g. "get-response-normal".
	APDU string
	// Offset is the position in the input of the element that failed.
	Offset int
	// Field names the element, e.g. "get-response result" or
	// "aarq user-information".
	Field string
	Err   error
}

func (e *DecodeError) Error() string {
	s := "apdu: "
	if e.APDU != "" {
		s += e.APDU + " "
	}
	return s + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

func errAt(off int, field string, err error) error {
	return &DecodeError{Offset: off, Field: field, Err: err}
}

// EncodeError reports what could not be encoded.
type EncodeError struct {
	Field  string
	Reason string
}

func (e *EncodeError) Error() string {
	return "apdu: cannot encode " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrEncode.
func (e *EncodeError) Unwrap() error { return ErrEncode }

func encErr(field, reason string) error { return &EncodeError{Field: field, Reason: reason} }
