// Package security owns DLMS/COSEM application-layer security as specified
// in the Green Book (DLMS UA 1000-2, security chapter): the security control
// byte and AES-GCM ciphering of security suites 0, 1 and 2 (symmetric part),
// the ciphered APDU wrappers (service-specific glo-/ded-, general-glo-,
// general-ded-, general-ciphering and general-signing), sending invocation
// counters and receiving replay protection, the authentication mechanisms
// negotiated in AARQ/AARE (LLS and the HLS variants, including
// reply_to_HLS_authentication), suite 1 public-key primitives (ECDSA P-256,
// ECDH P-256 with the NIST SP 800-56A concatenation KDF) and key transfer
// (RFC 3394 key wrap and the Security setup key_transfer parameter).
//
// Everything here is a pure function on byte slices. Nothing performs I/O,
// and nothing depends on the APDU or A-XDR codecs: the few length and
// structure encodings the wrappers need are implemented locally.
//
// Keys are held in [Key], which never prints its material (see [Key.String]).
package security
