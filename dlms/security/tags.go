package security

// APDU tags of the ciphered xDLMS APDUs and their plain counterparts (Green
// Book xDLMS ASN.1: glo- tags are the plain tag + 0x20 for the DLMS (v5)
// services and + 0x08 for the COSEM services; ded- tags + 0x40 and + 0x10).
const (
	TagInitiateRequest          byte = 0x01
	TagReadRequest              byte = 0x05
	TagWriteRequest             byte = 0x06
	TagInitiateResponse         byte = 0x08
	TagReadResponse             byte = 0x0C
	TagWriteResponse            byte = 0x0D
	TagConfirmedServiceError    byte = 0x0E
	TagUnconfirmedWriteRequest  byte = 0x16
	TagInformationReportRequest byte = 0x18
	TagGetRequest               byte = 0xC0
	TagSetRequest               byte = 0xC1
	TagEventNotification        byte = 0xC2
	TagActionRequest            byte = 0xC3
	TagGetResponse              byte = 0xC4
	TagSetResponse              byte = 0xC5
	TagActionResponse           byte = 0xC7

	TagGloInitiateRequest          byte = 0x21
	TagGloReadRequest              byte = 0x25
	TagGloWriteRequest             byte = 0x26
	TagGloInitiateResponse         byte = 0x28
	TagGloReadResponse             byte = 0x2C
	TagGloWriteResponse            byte = 0x2D
	TagGloConfirmedServiceError    byte = 0x2E
	TagGloUnconfirmedWriteRequest  byte = 0x36
	TagGloInformationReportRequest byte = 0x38
	TagGloGetRequest               byte = 0xC8
	TagGloSetRequest               byte = 0xC9
	TagGloEventNotification        byte = 0xCA
	TagGloActionRequest            byte = 0xCB
	TagGloGetResponse              byte = 0xCC
	TagGloSetResponse              byte = 0xCD
	TagGloActionResponse           byte = 0xCF

	TagDedInitiateRequest          byte = 0x41
	TagDedReadRequest              byte = 0x45
	TagDedWriteRequest             byte = 0x46
	TagDedInitiateResponse         byte = 0x48
	TagDedReadResponse             byte = 0x4C
	TagDedWriteResponse            byte = 0x4D
	TagDedConfirmedServiceError    byte = 0x4E
	TagDedUnconfirmedWriteRequest  byte = 0x56
	TagDedInformationReportRequest byte = 0x58
	TagDedGetRequest               byte = 0xD0
	TagDedSetRequest               byte = 0xD1
	TagDedEventNotification        byte = 0xD2
	TagDedActionRequest            byte = 0xD3
	TagDedGetResponse              byte = 0xD4
	TagDedSetResponse              byte = 0xD5
	TagDedActionResponse           byte = 0xD7

	TagGeneralGloCiphering byte = 0xDB
	TagGeneralDedCiphering byte = 0xDC
	TagGeneralCiphering    byte = 0xDD
	TagGeneralSigning      byte = 0xDF
)

// Kind says which key family protects an APDU.
type Kind uint8

// Key families.
const (
	// Global uses the global unicast (or broadcast) encryption key.
	Global Kind = iota + 1
	// Dedicated uses the dedicated key agreed in the AARQ.
	Dedicated
)

// String names the key family.
func (k Kind) String() string {
	switch k {
	case Global:
		return "global"
	case Dedicated:
		return "dedicated"
	}
	return "unknown"
}

var serviceTags = [...][3]byte{
	{TagInitiateRequest, TagGloInitiateRequest, TagDedInitiateRequest},
	{TagReadRequest, TagGloReadRequest, TagDedReadRequest},
	{TagWriteRequest, TagGloWriteRequest, TagDedWriteRequest},
	{TagInitiateResponse, TagGloInitiateResponse, TagDedInitiateResponse},
	{TagReadResponse, TagGloReadResponse, TagDedReadResponse},
	{TagWriteResponse, TagGloWriteResponse, TagDedWriteResponse},
	{TagConfirmedServiceError, TagGloConfirmedServiceError, TagDedConfirmedServiceError},
	{TagUnconfirmedWriteRequest, TagGloUnconfirmedWriteRequest, TagDedUnconfirmedWriteRequest},
	{TagInformationReportRequest, TagGloInformationReportRequest, TagDedInformationReportRequest},
	{TagGetRequest, TagGloGetRequest, TagDedGetRequest},
	{TagSetRequest, TagGloSetRequest, TagDedSetRequest},
	{TagEventNotification, TagGloEventNotification, TagDedEventNotification},
	{TagActionRequest, TagGloActionRequest, TagDedActionRequest},
	{TagGetResponse, TagGloGetResponse, TagDedGetResponse},
	{TagSetResponse, TagGloSetResponse, TagDedSetResponse},
	{TagActionResponse, TagGloActionResponse, TagDedActionResponse},
}

// CipheredTag returns the service-specific glo- or ded- tag for a plain
// APDU tag.
func CipheredTag(plain byte, kind Kind) (byte, bool) {
	for _, t := range serviceTags {
		if t[0] == plain {
			switch kind {
			case Global:
				return t[1], true
			case Dedicated:
				return t[2], true
			}
		}
	}
	return 0, false
}

// GloTag returns the glo- tag for a plain APDU tag.
func GloTag(plain byte) (byte, bool) { return CipheredTag(plain, Global) }

// DedTag returns the ded- tag for a plain APDU tag.
func DedTag(plain byte) (byte, bool) { return CipheredTag(plain, Dedicated) }

// PlainTag maps a service-specific glo- or ded- tag back to its plain tag
// and key family.
func PlainTag(ciphered byte) (plain byte, kind Kind, ok bool) {
	for _, t := range serviceTags {
		switch ciphered {
		case t[1]:
			return t[0], Global, true
		case t[2]:
			return t[0], Dedicated, true
		}
	}
	return 0, 0, false
}

// IsCiphered reports whether tag opens a ciphered or signed APDU.
func IsCiphered(tag byte) bool {
	switch tag {
	case TagGeneralGloCiphering, TagGeneralDedCiphering, TagGeneralCiphering, TagGeneralSigning:
		return true
	}
	_, _, ok := PlainTag(tag)
	return ok
}
