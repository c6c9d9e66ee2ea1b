package apdu

// Ciphered is an APDU protected by the security layer, returned unopened
// so that a session can route it. Raw is the whole APDU from its tag on
// (aliasing the input); Append writes Raw back unchanged.
type Ciphered struct {
	Tag byte
	Raw []byte
}

// Kind returns the name of the ciphered APDU type, e.g.
// "general-glo-ciphering" or "glo-get-request".
func (c *Ciphered) Kind() string {
	if k := cipheredKind(c.Tag); k != "" {
		return k
	}
	return "ciphered"
}

// Append appends Raw to b.
func (c *Ciphered) Append(b []byte) ([]byte, error) {
	if len(c.Raw) == 0 || c.Raw[0] != c.Tag || cipheredKind(c.Tag) == "" {
		return b, encErr("ciphered", "Raw must start with a ciphered APDU tag equal to Tag")
	}
	return append(b, c.Raw...), nil
}

// IsCiphered reports whether tag opens a ciphered or signed APDU.
func IsCiphered(tag byte) bool { return cipheredKind(tag) != "" }

var cipheredNames = map[byte]string{
	// global key, service-specific
	0x21: "glo-initiate-request", 0x25: "glo-read-request", 0x26: "glo-write-request",
	0x28: "glo-initiate-response", 0x2C: "glo-read-response", 0x2D: "glo-write-response",
	0x2E: "glo-confirmed-service-error", 0x36: "glo-unconfirmed-write-request",
	0x38: "glo-information-report-request",
	0xC8: "glo-get-request", 0xC9: "glo-set-request", 0xCA: "glo-event-notification-request",
	0xCB: "glo-action-request", 0xCC: "glo-get-response", 0xCD: "glo-set-response",
	0xCE: "glo-event-notification-response", 0xCF: "glo-action-response",
	// dedicated key, service-specific
	0x41: "ded-initiate-request", 0x45: "ded-read-request", 0x46: "ded-write-request",
	0x48: "ded-initiate-response", 0x4C: "ded-read-response", 0x4D: "ded-write-response",
	0x4E: "ded-confirmed-service-error", 0x56: "ded-unconfirmed-write-request",
	0x58: "ded-information-report-request",
	0xD0: "ded-get-request", 0xD1: "ded-set-request", 0xD2: "ded-event-notification-request",
	0xD3: "ded-action-request", 0xD4: "ded-get-response", 0xD5: "ded-set-response",
	0xD6: "ded-event-notification-response", 0xD7: "ded-action-response",
	// general protection
	0xDB: "general-glo-ciphering", 0xDC: "general-ded-ciphering",
	0xDD: "general-ciphering", 0xDF: "general-signing",
}

func cipheredKind(tag byte) string { return cipheredNames[tag] }
