// Package apdu owns the DLMS/COSEM application-layer PDUs for logical-name
// referencing: the ACSE association PDUs (AARQ, AARE, RLRQ, RLRE, BER
// encoded), the xDLMS InitiateRequest/InitiateResponse and
// ConfirmedServiceError carried in their user-information, and the LN
// services GET, SET, ACTION, event-notification, data-notification and
// exception-response (A-XDR encoded), including the block-transfer forms.
//
// Codecs are pure functions on byte slices. Append writes an APDU to the
// end of a buffer; Decode reads one from a buffer and returns a typed
// value (a pointer to one of the concrete structs in this package).
// Decoded values alias the input: COSEM data values (axdr.Data), raw
// blocks and octet strings are sub-slices of it.
//
// Ciphered APDUs (glo-, ded-, general-glo-, general-ded-, general-ciphering
// and general-signing) are not opened here: Decode returns them as
// *Ciphered so that a session can hand them to the security layer.
//
// Decode is strict by default. Real peers have quirks (data after a
// complete APDU, wrong BER lengths in an RLRE); Options selects which of
// them to tolerate, and Tolerant is the profile a head-end uses.
package apdu
