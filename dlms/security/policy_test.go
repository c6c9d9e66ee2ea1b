package security

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestPolicyNames pins the names meter secrets and manifests store.
func TestPolicyNames(t *testing.T) {
	for p, name := range map[Policy]string{
		PolicyNone:                   "none",
		PolicyAuthenticated:          "authenticated",
		PolicyEncrypted:              "encrypted",
		PolicyAuthenticatedEncrypted: "authenticated-encrypted",
	} {
		if p.String() != name {
			t.Errorf("%d: String %q, want %q", uint8(p), p, name)
		}
		b, err := p.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("%d: MarshalText %q %v", uint8(p), b, err)
		}
		var back Policy = 0xFF
		if err := back.UnmarshalText([]byte(name)); err != nil || back != p {
			t.Errorf("%q: UnmarshalText %d %v", name, back, err)
		}
	}
	// Secrets sealed before the type existed may hold an empty policy.
	if p, err := ParsePolicy(""); err != nil || p != PolicyNone {
		t.Errorf("empty: %s %v", p, err)
	}
	for _, s := range []string{"auth+enc", "authenticated+encrypted", "auth", "enc", "Authenticated", " none", "none "} {
		if _, err := ParsePolicy(s); !errors.Is(err, ErrPolicy) {
			t.Errorf("%q: %v, want ErrPolicy", s, err)
		}
	}
	if _, err := Policy(4).MarshalText(); !errors.Is(err, ErrPolicy) {
		t.Errorf("policy 4 marshalled: %v", err)
	}
	if Policy(4).Valid() || Policy(4).String() != "policy(4)" {
		t.Errorf("policy 4: %v %s", Policy(4).Valid(), Policy(4))
	}
}

func TestPolicyControl(t *testing.T) {
	for p, sc := range map[Policy]SecurityControl{
		PolicyNone: 0, PolicyAuthenticated: Authentication, PolicyEncrypted: Encryption,
		PolicyAuthenticatedEncrypted: AuthenticatedEncryption,
	} {
		if got := p.Control(); got != sc {
			t.Errorf("%s: control %#x, want %#x", p, got, sc)
		}
	}
}

// TestSettingsJSON round-trips the settings the way a JSON document of
// meter secrets carries them.
func TestSettingsJSON(t *testing.T) {
	type secrets struct {
		Authentication Mechanism `json:"authentication"`
		SecurityPolicy Policy    `json:"security_policy"`
	}
	in := secrets{MechanismHLSGMAC, PolicyAuthenticatedEncrypted}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"authentication":"hls-gmac","security_policy":"authenticated-encrypted"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var out secrets
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("back %+v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"authentication":"","security_policy":""}`), &out); err != nil || out != (secrets{}) {
		t.Fatalf("empty fields: %+v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"security_policy":"auth+enc"}`), &out); !errors.Is(err, ErrPolicy) {
		t.Fatalf("old CLI name accepted: %v", err)
	}
}

func TestMechanismSettingNames(t *testing.T) {
	for m, name := range map[Mechanism]string{
		MechanismNone: "none", MechanismLLS: "lls", MechanismHLS: "hls", MechanismHLSMD5: "hls-md5",
		MechanismHLSSHA1: "hls-sha1", MechanismHLSGMAC: "hls-gmac", MechanismHLSSHA256: "hls-sha256",
		MechanismHLSECDSA: "hls-ecdsa",
	} {
		b, err := m.MarshalText()
		if err != nil || string(b) != name || m.String() != name {
			t.Errorf("%d: %q %s %v, want %q", uint8(m), b, m, err, name)
		}
		var back Mechanism = 0xFF
		if err := back.UnmarshalText([]byte(name)); err != nil || back != m {
			t.Errorf("%q: %d %v", name, back, err)
		}
	}
	if m, err := ParseMechanism(""); err != nil || m != MechanismNone {
		t.Errorf("empty: %s %v", m, err)
	}
	for _, s := range []string{"HLS-GMAC", "gmac", "hls_gmac", "LLS"} {
		if _, err := ParseMechanism(s); !errors.Is(err, ErrMechanism) {
			t.Errorf("%q: %v, want ErrMechanism", s, err)
		}
	}
	if _, err := Mechanism(8).MarshalText(); !errors.Is(err, ErrMechanism) {
		t.Errorf("mechanism 8 marshalled: %v", err)
	}
}
