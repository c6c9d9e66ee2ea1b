package apdu

import "strconv"

// ApplicationContext is the last arc of the DLMS application-context-name
// {joint-iso-ccitt(2) country(16) country-name(756) identified-organization(5)
// DLMS-UA(8) application-context(1) N}.
type ApplicationContext uint8

// Application contexts.
const (
	ContextLN         ApplicationContext = 1 // Logical_Name_Referencing_No_Ciphering
	ContextSN         ApplicationContext = 2 // Short_Name_Referencing_No_Ciphering
	ContextLNCiphered ApplicationContext = 3 // Logical_Name_Referencing_With_Ciphering
	ContextSNCiphered ApplicationContext = 4 // Short_Name_Referencing_With_Ciphering
)

// Mechanism is the last arc of the DLMS mechanism-name
// {2 16 756 5 8 authentication-mechanism-name(2) N}.
type Mechanism uint8

// Authentication mechanisms.
const (
	MechanismLowest    Mechanism = 0
	MechanismLLS       Mechanism = 1
	MechanismHLS       Mechanism = 2
	MechanismHLSMD5    Mechanism = 3
	MechanismHLSSHA1   Mechanism = 4
	MechanismHLSGMAC   Mechanism = 5
	MechanismHLSSHA256 Mechanism = 6
	MechanismHLSECDSA  Mechanism = 7
)

// dlmsOID is the encoded OID prefix 2.16.756.5.8 shared by the context and
// mechanism names.
var dlmsOID = [5]byte{0x60, 0x85, 0x74, 0x05, 0x08}

func appendDLMSOID(b []byte, kind, arc byte) []byte {
	b = append(b, dlmsOID[:]...)
	return append(b, kind, arc)
}

// dlmsArc returns N of a 2.16.756.5.8.kind.N OID.
func dlmsArc(v []byte, kind byte) (byte, bool) {
	if len(v) != 7 || [5]byte(v[:5]) != dlmsOID || v[5] != kind || v[6] >= 0x80 {
		return 0, false
	}
	return v[6], true
}

// AuthenticationRequirement is the ACSE-requirements bit string with the
// authentication functional unit set, the value DLMS puts in
// sender-acse-requirements and responder-acse-requirements.
func AuthenticationRequirement() []byte { return []byte{0x07, 0x80} }

// AARQ is the A-ASSOCIATE request (0x60).
//
// Octet-string fields are nil when absent. AP titles and AE qualifiers are
// the contents of the OCTET STRING DLMS puts in them (the client system
// title, a certificate). Calling and called AP/AE invocation identifiers
// and other elements not listed are skipped when decoding.
type AARQ struct {
	// ProtocolVersion is the raw BIT STRING contents of protocol-version
	// (e.g. 07 80 for version1); nil when absent, which means version1.
	ProtocolVersion    []byte
	ApplicationContext ApplicationContext
	CalledAPTitle      []byte
	CalledAEQualifier  []byte
	CallingAPTitle     []byte
	CallingAEQualifier []byte
	// SenderACSERequirements is the raw BIT STRING contents; see
	// AuthenticationRequirement.
	SenderACSERequirements []byte
	MechanismName          Mechanism
	HasMechanismName       bool
	// CallingAuthenticationValue is the charstring alternative: the LLS
	// password or the HLS challenge CtoS.
	CallingAuthenticationValue []byte
	ImplementationInformation  []byte
	// UserInformation is the xDLMS APDU inside: an InitiateRequest
	// (decode it with Decode) or a ciphered one.
	UserInformation []byte
}

// AssociationResult is the AARE result.
type AssociationResult uint8

// Association results.
const (
	ResultAccepted          AssociationResult = 0
	ResultRejectedPermanent AssociationResult = 1
	ResultRejectedTransient AssociationResult = 2
)

// String returns the ACSE name.
func (r AssociationResult) String() string {
	switch r {
	case ResultAccepted:
		return "accepted"
	case ResultRejectedPermanent:
		return "rejected-permanent"
	case ResultRejectedTransient:
		return "rejected-transient"
	}
	return "result(" + strconv.Itoa(int(r)) + ")"
}

// DiagnosticSource selects the result-source-diagnostic alternative.
type DiagnosticSource uint8

// Diagnostic sources. The zero value encodes as DiagnosticServiceUser.
const (
	DiagnosticServiceUser     DiagnosticSource = 1
	DiagnosticServiceProvider DiagnosticSource = 2
)

// acse-service-user diagnostic values.
const (
	DiagnosticNull                                     = 0
	DiagnosticNoReasonGiven                            = 1
	DiagnosticApplicationContextNameNotSupported       = 2
	DiagnosticCallingAPTitleNotRecognized              = 3
	DiagnosticCallingAPInvocationIDNotRecognized       = 4
	DiagnosticCallingAEQualifierNotRecognized          = 5
	DiagnosticCallingAEInvocationIDNotRecognized       = 6
	DiagnosticCalledAPTitleNotRecognized               = 7
	DiagnosticCalledAPInvocationIDNotRecognized        = 8
	DiagnosticCalledAEQualifierNotRecognized           = 9
	DiagnosticCalledAEInvocationIDNotRecognized        = 10
	DiagnosticAuthenticationMechanismNameNotRecognised = 11
	DiagnosticAuthenticationMechanismNameRequired      = 12
	DiagnosticAuthenticationFailure                    = 13
	DiagnosticAuthenticationRequired                   = 14
)

// Diagnostic is the AARE result-source-diagnostic.
type Diagnostic struct {
	Source DiagnosticSource
	Value  uint8
}

// AARE is the A-ASSOCIATE response (0x61). Result and Diagnostic are
// always encoded; the other optional fields are nil/false when absent.
type AARE struct {
	ProtocolVersion           []byte
	ApplicationContext        ApplicationContext
	Result                    AssociationResult
	Diagnostic                Diagnostic
	RespondingAPTitle         []byte
	RespondingAEQualifier     []byte
	ResponderACSERequirements []byte
	MechanismName             Mechanism
	HasMechanismName          bool
	// RespondingAuthenticationValue is the HLS challenge StoC.
	RespondingAuthenticationValue []byte
	ImplementationInformation     []byte
	// UserInformation is the xDLMS InitiateResponse or
	// ConfirmedServiceError inside, plain or ciphered.
	UserInformation []byte
}

// ReleaseReason is the reason of RLRQ and RLRE.
type ReleaseReason uint8

// Release reasons (RLRQ: normal, urgent, user-defined; RLRE: normal,
// not-finished, user-defined).
const (
	ReleaseNormal      ReleaseReason = 0
	ReleaseUrgent      ReleaseReason = 1
	ReleaseNotFinished ReleaseReason = 1
	ReleaseUserDefined ReleaseReason = 30
)

// RLRQ is the A-RELEASE request (0x62).
type RLRQ struct {
	Reason    ReleaseReason
	HasReason bool
	// UserInformation is the xDLMS InitiateRequest of a protected
	// release, usually ciphered; nil when absent.
	UserInformation []byte
}

// RLRE is the A-RELEASE response (0x63).
type RLRE struct {
	Reason          ReleaseReason
	HasReason       bool
	UserInformation []byte
}

// Kind returns "aarq".
func (*AARQ) Kind() string { return "aarq" }

// Kind returns "aare".
func (*AARE) Kind() string { return "aare" }

// Kind returns "rlrq".
func (*RLRQ) Kind() string { return "rlrq" }

// Kind returns "rlre".
func (*RLRE) Kind() string { return "rlre" }

// ACSE element identifiers.
const (
	berOctetString = 0x04
	berOID         = 0x06
	berCharstring  = 0x80
	berUserInfo    = 0xBE
	berImplInfo    = 0x9D
)

func appendOptOctets(b []byte, tag byte, v []byte) []byte {
	if v == nil {
		return b
	}
	return appendExplicit(b, tag, berOctetString, v)
}

func appendContext(b []byte, c ApplicationContext) []byte {
	b, s := openTLV(b, 0xA1)
	b = append(b, berOID, 7)
	b = appendDLMSOID(b, 1, byte(c))
	return closeTLV(b, s)
}

func appendMechanism(b []byte, tag byte, m Mechanism) []byte {
	b = append(b, tag, 7)
	return appendDLMSOID(b, 2, byte(m))
}

func appendTail(b []byte, impl, user []byte) []byte {
	if impl != nil {
		b = appendPrim(b, berImplInfo, impl)
	}
	if user != nil {
		b = appendExplicit(b, berUserInfo, berOctetString, user)
	}
	return b
}

// Append appends the encoded AARQ to b.
func (a *AARQ) Append(b []byte) ([]byte, error) {
	if a.ApplicationContext == 0 || a.ApplicationContext >= 0x80 {
		return b, encErr("aarq application-context-name", "not set")
	}
	if a.HasMechanismName && a.MechanismName >= 0x80 {
		return b, encErr("aarq mechanism-name", "out of range")
	}
	b, s := openTLV(b, TagAARQ)
	if a.ProtocolVersion != nil {
		b = appendPrim(b, 0x80, a.ProtocolVersion)
	}
	b = appendContext(b, a.ApplicationContext)
	b = appendOptOctets(b, 0xA2, a.CalledAPTitle)
	b = appendOptOctets(b, 0xA3, a.CalledAEQualifier)
	b = appendOptOctets(b, 0xA6, a.CallingAPTitle)
	b = appendOptOctets(b, 0xA7, a.CallingAEQualifier)
	if a.SenderACSERequirements != nil {
		b = appendPrim(b, 0x8A, a.SenderACSERequirements)
	}
	if a.HasMechanismName {
		b = appendMechanism(b, 0x8B, a.MechanismName)
	}
	if a.CallingAuthenticationValue != nil {
		b = appendExplicit(b, 0xAC, berCharstring, a.CallingAuthenticationValue)
	}
	b = appendTail(b, a.ImplementationInformation, a.UserInformation)
	return closeTLV(b, s), nil
}

// Append appends the encoded AARE to b.
func (a *AARE) Append(b []byte) ([]byte, error) {
	if a.ApplicationContext == 0 || a.ApplicationContext >= 0x80 {
		return b, encErr("aare application-context-name", "not set")
	}
	if a.HasMechanismName && a.MechanismName >= 0x80 {
		return b, encErr("aare mechanism-name", "out of range")
	}
	if a.Result >= 0x80 || a.Diagnostic.Value >= 0x80 || a.Diagnostic.Source > DiagnosticServiceProvider {
		return b, encErr("aare result", "out of range")
	}
	b, s := openTLV(b, TagAARE)
	if a.ProtocolVersion != nil {
		b = appendPrim(b, 0x80, a.ProtocolVersion)
	}
	b = appendContext(b, a.ApplicationContext)
	b = append(b, 0xA2, 3, 0x02, 1, byte(a.Result))
	src := byte(0xA1)
	if a.Diagnostic.Source == DiagnosticServiceProvider {
		src = 0xA2
	}
	b = append(b, 0xA3, 5, src, 3, 0x02, 1, a.Diagnostic.Value)
	b = appendOptOctets(b, 0xA4, a.RespondingAPTitle)
	b = appendOptOctets(b, 0xA5, a.RespondingAEQualifier)
	if a.ResponderACSERequirements != nil {
		b = appendPrim(b, 0x88, a.ResponderACSERequirements)
	}
	if a.HasMechanismName {
		b = appendMechanism(b, 0x89, a.MechanismName)
	}
	if a.RespondingAuthenticationValue != nil {
		b = appendExplicit(b, 0xAA, berCharstring, a.RespondingAuthenticationValue)
	}
	b = appendTail(b, a.ImplementationInformation, a.UserInformation)
	return closeTLV(b, s), nil
}

func appendRelease(b []byte, tag byte, has bool, r ReleaseReason, user []byte) []byte {
	b, s := openTLV(b, tag)
	if has {
		b = append(b, 0x80, 1, byte(r))
	}
	b = appendTail(b, nil, user)
	return closeTLV(b, s)
}

// Append appends the encoded RLRQ to b.
func (a *RLRQ) Append(b []byte) ([]byte, error) {
	return appendRelease(b, TagRLRQ, a.HasReason, a.Reason, a.UserInformation), nil
}

// Append appends the encoded RLRE to b.
func (a *RLRE) Append(b []byte) ([]byte, error) {
	return appendRelease(b, TagRLRE, a.HasReason, a.Reason, a.UserInformation), nil
}

// Shared element decoders. Each returns where the element ends.

func (p *acseParser) context(e berElem) (ApplicationContext, int, error) {
	v, end, err := p.explicitPrim(e, berOID, "application-context-name")
	if err != nil {
		return 0, 0, err
	}
	arc, ok := dlmsArc(v, 1)
	if !ok {
		return 0, 0, p.err(e.start, "application-context-name", ErrInvalid)
	}
	return ApplicationContext(arc), end, nil
}

func (p *acseParser) mechanism(e berElem) (Mechanism, int, error) {
	v, err := p.prim(e, "mechanism-name")
	if err != nil {
		return 0, 0, err
	}
	arc, ok := dlmsArc(v, 2)
	if !ok {
		return 0, 0, p.err(e.start, "mechanism-name", ErrInvalid)
	}
	return Mechanism(arc), e.cEnd, nil
}

// primEnd returns a primitive element's contents and end.
func (p *acseParser) primEnd(e berElem, field string) ([]byte, int, error) {
	v, err := p.prim(e, field)
	return v, e.cEnd, err
}

// skip passes over an element this package does not decode.
func (p *acseParser) skip(e berElem) (int, error) {
	if err := p.bounds(e, "unknown element"); err != nil {
		return 0, err
	}
	return e.cEnd, nil
}

func decodeAARQ(p *acseParser) (*AARQ, int, error) {
	a := &AARQ{}
	end, err := p.walk(func(e berElem) (int, error) {
		var end int
		var err error
		switch e.tag {
		case 0x80:
			a.ProtocolVersion, end, err = p.primEnd(e, "protocol-version")
		case 0xA1:
			a.ApplicationContext, end, err = p.context(e)
		case 0xA2:
			a.CalledAPTitle, end, err = p.explicitPrim(e, berOctetString, "called-AP-title")
		case 0xA3:
			a.CalledAEQualifier, end, err = p.explicitPrim(e, berOctetString, "called-AE-qualifier")
		case 0xA6:
			a.CallingAPTitle, end, err = p.explicitPrim(e, berOctetString, "calling-AP-title")
		case 0xA7:
			a.CallingAEQualifier, end, err = p.explicitPrim(e, berOctetString, "calling-AE-qualifier")
		case 0x8A:
			a.SenderACSERequirements, end, err = p.primEnd(e, "sender-acse-requirements")
		case 0x8B:
			a.MechanismName, end, err = p.mechanism(e)
			a.HasMechanismName = err == nil
		case 0xAC:
			a.CallingAuthenticationValue, end, err = p.explicitPrim(e, berCharstring, "calling-authentication-value")
		case berImplInfo:
			a.ImplementationInformation, end, err = p.primEnd(e, "implementation-information")
		case berUserInfo:
			a.UserInformation, end, err = p.explicitPrim(e, berOctetString, "user-information")
		default:
			end, err = p.skip(e)
		}
		return end, err
	})
	if err != nil {
		return nil, 0, err
	}
	if a.ApplicationContext == 0 {
		return nil, 0, p.err(0, "application-context-name", ErrInvalid)
	}
	return a, end, nil
}

func decodeAARE(p *acseParser) (*AARE, int, error) {
	a := &AARE{}
	end, err := p.walk(func(e berElem) (int, error) {
		var end int
		var err error
		switch e.tag {
		case 0x80:
			a.ProtocolVersion, end, err = p.primEnd(e, "protocol-version")
		case 0xA1:
			a.ApplicationContext, end, err = p.context(e)
		case 0xA2:
			var v uint8
			v, end, err = p.explicitInt(e, "result")
			a.Result = AssociationResult(v)
		case 0xA3:
			var in berElem
			in, end, err = p.unwrap(e, "result-source-diagnostic")
			if err != nil {
				return 0, err
			}
			switch in.tag {
			case 0xA1:
				a.Diagnostic.Source = DiagnosticServiceUser
			case 0xA2:
				a.Diagnostic.Source = DiagnosticServiceProvider
			default:
				return 0, p.err(in.start, "result-source-diagnostic", ErrUnknownTag)
			}
			a.Diagnostic.Value, _, err = p.explicitInt(in, "result-source-diagnostic")
		case 0xA4:
			a.RespondingAPTitle, end, err = p.explicitPrim(e, berOctetString, "responding-AP-title")
		case 0xA5:
			a.RespondingAEQualifier, end, err = p.explicitPrim(e, berOctetString, "responding-AE-qualifier")
		case 0x88:
			a.ResponderACSERequirements, end, err = p.primEnd(e, "responder-acse-requirements")
		case 0x89:
			a.MechanismName, end, err = p.mechanism(e)
			a.HasMechanismName = err == nil
		case 0xAA:
			a.RespondingAuthenticationValue, end, err = p.explicitPrim(e, berCharstring, "responding-authentication-value")
		case berImplInfo:
			a.ImplementationInformation, end, err = p.primEnd(e, "implementation-information")
		case berUserInfo:
			a.UserInformation, end, err = p.explicitPrim(e, berOctetString, "user-information")
		default:
			end, err = p.skip(e)
		}
		return end, err
	})
	if err != nil {
		return nil, 0, err
	}
	if a.ApplicationContext == 0 {
		return nil, 0, p.err(0, "application-context-name", ErrInvalid)
	}
	return a, end, nil
}

func decodeRelease(p *acseParser) (has bool, r ReleaseReason, user []byte, end int, err error) {
	end, err = p.walk(func(e berElem) (int, error) {
		switch e.tag {
		case 0x80:
			v, err := p.prim(e, "reason")
			if err != nil {
				return 0, err
			}
			n, ok := smallInt(v)
			if !ok {
				return 0, p.err(e.start, "reason", ErrInvalid)
			}
			has, r = true, ReleaseReason(n)
			return e.cEnd, nil
		case berUserInfo:
			var end int
			var err error
			user, end, err = p.explicitPrim(e, berOctetString, "user-information")
			return end, err
		}
		return p.skip(e)
	})
	return has, r, user, end, err
}
