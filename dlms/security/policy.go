package security

import (
	"fmt"
	"strconv"
)

// Policy is the protection every xDLMS APDU of an association carries once
// it is established: nothing, a GMAC tag, enciphering, or both. The client
// applies it, the server demands it as a minimum, and meter secrets and
// manifests store it by name.
type Policy uint8

// Security policies; the values are bits, so PolicyAuthenticatedEncrypted
// is PolicyAuthenticated|PolicyEncrypted.
const (
	PolicyNone                   Policy = 0
	PolicyAuthenticated          Policy = 1
	PolicyEncrypted              Policy = 2
	PolicyAuthenticatedEncrypted Policy = PolicyAuthenticated | PolicyEncrypted
)

// policyNames are the setting names. They are stored in sealed meter
// secrets and in manifests, so they never change.
var policyNames = [...]string{
	PolicyNone:                   "none",
	PolicyAuthenticated:          "authenticated",
	PolicyEncrypted:              "encrypted",
	PolicyAuthenticatedEncrypted: "authenticated-encrypted",
}

// Valid reports whether p is one of the four policies.
func (p Policy) Valid() bool { return int(p) < len(policyNames) }

// String returns the setting name, e.g. "authenticated-encrypted".
func (p Policy) String() string {
	if p.Valid() {
		return policyNames[p]
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// Control returns the security control bits the policy sets.
func (p Policy) Control() SecurityControl {
	var sc SecurityControl
	if p&PolicyAuthenticated != 0 {
		sc |= Authentication
	}
	if p&PolicyEncrypted != 0 {
		sc |= Encryption
	}
	return sc
}

// MarshalText returns the setting name; an unknown policy fails rather
// than store a name nothing reads back.
func (p Policy) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, errOp("marshal "+p.String(), ErrPolicy)
	}
	return []byte(policyNames[p]), nil
}

// UnmarshalText reads a setting name. The empty text is PolicyNone, as an
// empty manifest column or secrets field has always meant.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePolicy reads a setting name: none, authenticated, encrypted or
// authenticated-encrypted ("" is none).
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return PolicyNone, nil
	}
	for p, n := range policyNames {
		if s == n {
			return Policy(p), nil
		}
	}
	return 0, errOp(fmt.Sprintf("policy %q", s), ErrPolicy)
}
