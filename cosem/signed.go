package cosem

// Signed reports whether the request arrived in a general-signing APDU
// that verified under a key the device trusts, with an originator counter
// it accepted. An object whose method must only run on a signed command
// (a key transfer, an image activation) refuses the request without it.
func (c Caller) Signed() bool { return c.Protection&ProtSigned != 0 }
