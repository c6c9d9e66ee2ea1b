package cosem

import (
	"context"
	"errors"
	"strconv"
)

// Result is a value of the xDLMS Data-Access-Result enumeration. The
// Action-Result enumeration uses the same numbers for the same meanings,
// so one type serves GET, SET and ACTION.
type Result uint8

// Data-Access-Result / Action-Result values (Green Book, xDLMS).
const (
	ResultSuccess                 Result = 0
	ResultHardwareFault           Result = 1
	ResultTemporaryFailure        Result = 2
	ResultReadWriteDenied         Result = 3
	ResultObjectUndefined         Result = 4
	ResultObjectClassInconsistent Result = 9
	ResultObjectUnavailable       Result = 11
	ResultTypeUnmatched           Result = 12
	ResultScopeOfAccessViolated   Result = 13
	ResultDataBlockUnavailable    Result = 14
	ResultLongGetAborted          Result = 15
	ResultNoLongGetInProgress     Result = 16
	ResultLongSetAborted          Result = 17
	ResultNoLongSetInProgress     Result = 18
	ResultDataBlockNumberInvalid  Result = 19
	ResultOtherReason             Result = 250
)

var resultNames = map[Result]string{
	ResultSuccess:                 "success",
	ResultHardwareFault:           "hardware-fault",
	ResultTemporaryFailure:        "temporary-failure",
	ResultReadWriteDenied:         "read-write-denied",
	ResultObjectUndefined:         "object-undefined",
	ResultObjectClassInconsistent: "object-class-inconsistent",
	ResultObjectUnavailable:       "object-unavailable",
	ResultTypeUnmatched:           "type-unmatched",
	ResultScopeOfAccessViolated:   "scope-of-access-violated",
	ResultDataBlockUnavailable:    "data-block-unavailable",
	ResultLongGetAborted:          "long-get-aborted",
	ResultNoLongGetInProgress:     "no-long-get-in-progress",
	ResultLongSetAborted:          "long-set-aborted",
	ResultNoLongSetInProgress:     "no-long-set-in-progress",
	ResultDataBlockNumberInvalid:  "data-block-number-invalid",
	ResultOtherReason:             "other-reason",
}

// String returns the enumeration name, e.g. "type-unmatched".
func (r Result) String() string {
	if s, ok := resultNames[r]; ok {
		return s
	}
	return "result(" + strconv.Itoa(int(r)) + ")"
}

// AccessError is an error that carries the result a DLMS server should
// answer with. Match a kind of failure with errors.Is against the
// sentinels below; the detail text does not take part in matching.
type AccessError struct {
	Result Result
	// Detail says what failed, for logs; it never reaches the wire.
	Detail string
	// Err is an underlying cause, if any.
	Err error
}

// Error returns "cosem: <result>: <detail>: <cause>".
func (e *AccessError) Error() string {
	s := "cosem: " + e.Result.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *AccessError) Unwrap() error { return e.Err }

// Is reports whether target is an *AccessError with the same result, so
// that errors.Is(err, ErrTypeUnmatched) holds for any type-unmatched
// error whatever its detail.
func (e *AccessError) Is(target error) bool {
	t, ok := target.(*AccessError)
	return ok && t.Result == e.Result
}

// Errorf returns an *AccessError with result r and a detail message.
func Errorf(r Result, detail string) error { return &AccessError{Result: r, Detail: detail} }

// Wrap returns an *AccessError with result r, a detail and a cause.
func Wrap(r Result, detail string, cause error) error {
	return &AccessError{Result: r, Detail: detail, Err: cause}
}

// Sentinel errors, one per result an object commonly returns. Compare
// with errors.Is; wrap with Errorf or Wrap to add detail.
var (
	ErrHardwareFault         error = &AccessError{Result: ResultHardwareFault}
	ErrTemporaryFailure      error = &AccessError{Result: ResultTemporaryFailure}
	ErrReadWriteDenied       error = &AccessError{Result: ResultReadWriteDenied}
	ErrObjectUndefined       error = &AccessError{Result: ResultObjectUndefined}
	ErrClassInconsistent     error = &AccessError{Result: ResultObjectClassInconsistent}
	ErrObjectUnavailable     error = &AccessError{Result: ResultObjectUnavailable}
	ErrTypeUnmatched         error = &AccessError{Result: ResultTypeUnmatched}
	ErrScopeOfAccessViolated error = &AccessError{Result: ResultScopeOfAccessViolated}
	ErrOtherReason           error = &AccessError{Result: ResultOtherReason}
)

// ResultOf returns the Data-Access-Result / Action-Result number for err:
// 0 for nil, the carried result for an *AccessError anywhere in the chain,
// temporary-failure for a cancelled or timed-out context, and other-reason
// for anything else.
func ResultOf(err error) uint8 {
	if err == nil {
		return uint8(ResultSuccess)
	}
	var ae *AccessError
	if errors.As(err, &ae) {
		return uint8(ae.Result)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return uint8(ResultTemporaryFailure)
	}
	return uint8(ResultOtherReason)
}
