package apdu

import (
	"strconv"
	"strings"
)

// Conformance is the xDLMS conformance block: 24 bits, bit 0 being the
// most significant bit of the first octet on the wire. The constants are
// masks over the 24-bit value as read big-endian, so 0x401E5D on the wire
// is Conformance(0x401E5D).
type Conformance uint32

// Conformance bits, named as in the Green Book (Green Book bit n is
// 1<<(23-n)).
const (
	ConformanceReservedZero Conformance = 1 << (23 - iota)
	ConformanceGeneralProtection
	ConformanceGeneralBlockTransfer
	ConformanceRead
	ConformanceWrite
	ConformanceUnconfirmedWrite
	ConformanceDeltaValueEncoding
	ConformanceReservedSeven
	ConformanceAttribute0SupportedWithSet
	ConformancePriorityMgmtSupported
	ConformanceAttribute0SupportedWithGet
	ConformanceBlockTransferWithGetOrRead
	ConformanceBlockTransferWithSetOrWrite
	ConformanceBlockTransferWithAction
	ConformanceMultipleReferences
	ConformanceInformationReport
	ConformanceDataNotification
	ConformanceAccess
	ConformanceParameterizedAccess
	ConformanceGet
	ConformanceSet
	ConformanceSelectiveAccess
	ConformanceEventNotification
	ConformanceAction
)

var conformanceNames = [24]string{
	"reserved-zero", "general-protection", "general-block-transfer", "read", "write",
	"unconfirmed-write", "delta-value-encoding", "reserved-seven", "attribute0-supported-with-set",
	"priority-mgmt-supported", "attribute0-supported-with-get", "block-transfer-with-get-or-read",
	"block-transfer-with-set-or-write", "block-transfer-with-action", "multiple-references",
	"information-report", "data-notification", "access", "parameterized-access", "get", "set",
	"selective-access", "event-notification", "action",
}

// Has reports whether all bits of m are set.
func (c Conformance) Has(m Conformance) bool { return c&m == m }

// Names returns the names of the set bits in Green Book bit order.
func (c Conformance) Names() []string {
	var names []string
	for n := uint(0); n < 24; n++ {
		if c&(1<<(23-n)) != 0 {
			names = append(names, conformanceNames[n])
		}
	}
	return names
}

// String returns the hex value and the names, e.g.
// "000018 [get,set]".
func (c Conformance) String() string {
	h := strings.ToUpper(strconv.FormatUint(uint64(c&0xFFFFFF)|1<<24, 16))[1:]
	return h + " [" + strings.Join(c.Names(), ",") + "]"
}

// conformanceLen is the size of the encoded conformance block:
// 5F 1F 04 00 xx xx xx.
const conformanceLen = 7

func appendConformance(b []byte, c Conformance) []byte {
	return append(b, 0x5F, 0x1F, 0x04, 0x00, byte(c>>16), byte(c>>8), byte(c))
}

// conformance reads the BER-encoded [APPLICATION 31] IMPLICIT BIT STRING.
// The unused-bits octet is not checked: 24 bits fill three octets, and
// peers that write a non-zero count there still mean the same bits.
func (r *reader) conformance() (Conformance, error) {
	if r.rest() < conformanceLen {
		return 0, errAt(r.off, "conformance", ErrTruncated)
	}
	p := r.b[r.off:]
	if p[0] != 0x5F || p[1] != 0x1F {
		return 0, errAt(r.off, "conformance", ErrUnknownTag)
	}
	if p[2] != 0x04 {
		return 0, errAt(r.off+2, "conformance", ErrBERLength)
	}
	r.off += conformanceLen
	return Conformance(p[4])<<16 | Conformance(p[5])<<8 | Conformance(p[6]), nil
}

// InitiateRequest is the xDLMS InitiateRequest (0x01) a client puts in the
// AARQ user-information (in plaintext, or ciphered as glo-/ded-
// InitiateRequest by the security layer).
type InitiateRequest struct {
	// DedicatedKey is nil when absent.
	DedicatedKey []byte
	// ResponseNotAllowed is response-allowed = FALSE; the default TRUE is
	// left out of the encoding.
	ResponseNotAllowed bool
	// QualityOfService is proposed-quality-of-service, present when
	// HasQualityOfService.
	QualityOfService    int8
	HasQualityOfService bool
	// DLMSVersion is proposed-dlms-version-number, 6 today.
	DLMSVersion             uint8
	Conformance             Conformance
	ClientMaxReceivePDUSize uint16
}

// InitiateResponse is the xDLMS InitiateResponse (0x08) in the AARE
// user-information.
type InitiateResponse struct {
	QualityOfService        int8
	HasQualityOfService     bool
	DLMSVersion             uint8
	Conformance             Conformance
	ServerMaxReceivePDUSize uint16
	// VAAName is 0x0007 for logical-name referencing, 0xFA00 for short
	// names.
	VAAName uint16
}

// VAANameLN is the vaa-name of a logical-name association.
const VAANameLN = 0x0007

// Kind returns "initiate-request".
func (*InitiateRequest) Kind() string { return "initiate-request" }

// Kind returns "initiate-response".
func (*InitiateResponse) Kind() string { return "initiate-response" }

// Append appends the encoded APDU to b.
func (a *InitiateRequest) Append(b []byte) ([]byte, error) {
	b = append(b, TagInitiateRequest)
	if a.DedicatedKey == nil {
		b = append(b, 0)
	} else {
		b = appendOctetString(append(b, 1), a.DedicatedKey)
	}
	if a.ResponseNotAllowed {
		b = append(b, 1, 0)
	} else {
		b = append(b, 0)
	}
	b = appendQoS(b, a.QualityOfService, a.HasQualityOfService)
	b = appendConformance(append(b, a.DLMSVersion), a.Conformance)
	return appendU16(b, a.ClientMaxReceivePDUSize), nil
}

// Append appends the encoded APDU to b.
func (a *InitiateResponse) Append(b []byte) ([]byte, error) {
	b = appendQoS(append(b, TagInitiateResponse), a.QualityOfService, a.HasQualityOfService)
	b = appendConformance(append(b, a.DLMSVersion), a.Conformance)
	b = appendU16(b, a.ServerMaxReceivePDUSize)
	return appendU16(b, a.VAAName), nil
}

func appendQoS(b []byte, q int8, has bool) []byte {
	if !has {
		return append(b, 0)
	}
	return append(b, 1, byte(q))
}

func (r *reader) qos() (int8, bool, error) {
	present, err := r.optional("quality-of-service")
	if err != nil || !present {
		return 0, false, err
	}
	v, err := r.u8("quality-of-service")
	return int8(v), true, err
}

func decodeInitiateRequest(r *reader) (APDU, error) {
	a := &InitiateRequest{}
	present, err := r.optional("dedicated-key")
	if err != nil {
		return nil, err
	}
	if present {
		if a.DedicatedKey, err = r.octetString("dedicated-key"); err != nil {
			return nil, err
		}
	}
	if present, err = r.optional("response-allowed"); err != nil {
		return nil, err
	}
	if present {
		v, err := r.bool("response-allowed")
		if err != nil {
			return nil, err
		}
		a.ResponseNotAllowed = !v
	}
	if a.QualityOfService, a.HasQualityOfService, err = r.qos(); err != nil {
		return nil, err
	}
	if a.DLMSVersion, err = r.u8("dlms-version-number"); err != nil {
		return nil, err
	}
	if a.Conformance, err = r.conformance(); err != nil {
		return nil, err
	}
	a.ClientMaxReceivePDUSize, err = r.u16("client-max-receive-pdu-size")
	return a, err
}

func decodeInitiateResponse(r *reader) (APDU, error) {
	a := &InitiateResponse{}
	var err error
	if a.QualityOfService, a.HasQualityOfService, err = r.qos(); err != nil {
		return nil, err
	}
	if a.DLMSVersion, err = r.u8("dlms-version-number"); err != nil {
		return nil, err
	}
	if a.Conformance, err = r.conformance(); err != nil {
		return nil, err
	}
	if a.ServerMaxReceivePDUSize, err = r.u16("server-max-receive-pdu-size"); err != nil {
		return nil, err
	}
	a.VAAName, err = r.u16("vaa-name")
	return a, err
}

// ConfirmedServiceError (0x0E) reports why a confirmed service, typically
// the InitiateRequest, failed: Service is the ConfirmedServiceError CHOICE
// (1 initiateError, 5 read, 6 write, ...), ErrorType the ServiceError
// CHOICE (6 initiate, 5 access, ...) and Value its enum value.
type ConfirmedServiceError struct {
	Service   uint8
	ErrorType uint8
	Value     uint8
}

// ConfirmedServiceError choices and values used in association set-up.
const (
	ServiceInitiateError = 1 // ConfirmedServiceError [1] initiateError
	ErrorTypeInitiate    = 6 // ServiceError [6] initiate

	InitiateOther                   = 0
	InitiateDLMSVersionTooLow       = 1
	InitiateIncompatibleConformance = 2
	InitiatePDUSizeTooShort         = 3
	InitiateRefusedByVDEHandler     = 4
)

// Kind returns "confirmed-service-error".
func (*ConfirmedServiceError) Kind() string { return "confirmed-service-error" }

// Append appends the encoded APDU to b.
func (a *ConfirmedServiceError) Append(b []byte) ([]byte, error) {
	return append(b, TagConfirmedServiceError, a.Service, a.ErrorType, a.Value), nil
}

func decodeConfirmedServiceError(r *reader) (APDU, error) {
	if r.rest() < 3 {
		return nil, errAt(r.off, "confirmed-service-error", ErrTruncated)
	}
	a := &ConfirmedServiceError{Service: r.b[r.off], ErrorType: r.b[r.off+1], Value: r.b[r.off+2]}
	r.off += 3
	return a, nil
}
