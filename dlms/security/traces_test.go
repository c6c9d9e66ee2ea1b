package security

import (
	"bytes"
	"testing"

	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

// acseFields walks the top-level elements of an AARQ/AARE/RLRQ/RLRE
// tolerantly (file 10's RLRE has wrong outer and user-information lengths)
// and returns each element's value by tag. For user-information (0xBE) it
// returns the xDLMS APDU inside the OCTET STRING, sized by the octet
// string's own length.
func acseFields(t *testing.T, apdu []byte) map[byte][]byte {
	t.Helper()
	r := reader{op: "acse", b: apdu, off: 1}
	if _, err := r.length("ACSE APDU"); err != nil {
		t.Fatal(err)
	}
	out := map[byte][]byte{}
	for r.remaining() > 0 {
		tag, _ := r.byte1("tag")
		if tag == 0xBE {
			if _, err := r.length("user-information"); err != nil {
				t.Fatal(err)
			}
			if c, _ := r.byte1("octet string tag"); c != 0x04 {
				t.Fatalf("user-information does not hold an OCTET STRING: 0x%02X", c)
			}
			v, err := r.octets("user-information")
			if err != nil {
				t.Fatal(err)
			}
			out[tag] = v
			break
		}
		v, err := r.octets("ACSE element")
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = v
	}
	return out
}

// authValue extracts the GraphicString [0] of calling/responding
// authentication-value (80 len challenge).
func authValue(t *testing.T, v []byte) []byte {
	t.Helper()
	if len(v) < 2 || v[0] != 0x80 || int(v[1]) != len(v)-2 {
		t.Fatalf("unexpected authentication-value %X", v)
	}
	return v[2:]
}

func TestTraces(t *testing.T) {
	for _, name := range []string{
		"04-wrapper-hls-gmac.json",
		"05-hdlc-hls-gmac.json",
		"09-wrapper-hls-gmac-action-disconnect.json",
		"10-wrapper-hls-gmac-glo-protected-release.json",
		"13-wrapper-hls-gmac-profile-range.json",
	} {
		t.Run(name, func(t *testing.T) {
			tf := dlmstrace.Load(t, name)
			keys := Keys{Unicast: MustKey(tf.Keys.BlockCipherKey()), Authentication: MustKey(tf.Keys.AuthenticationKey())}
			ex := Exchange{ClientSystemTitle: tf.ClientTitle(), ServerSystemTitle: tf.ServerTitle()}
			// Each direction's counter only grows; check that with a guard
			// per sender, reset at every AARQ (a new association).
			guards := map[string]*ReplayGuard{}
			deciphered, gmacs := 0, 0
			for i, s := range tf.Steps {
				apdu := s.APDU()
				if len(apdu) == 0 { // link-layer frame (SNRM, UA, RR, DISC)
					continue
				}
				sender := ex.ClientSystemTitle
				if s.Dir == "S->C" {
					sender = ex.ServerSystemTitle
				}
				inner := apdu
				switch apdu[0] {
				case 0x60, 0x61, 0x62, 0x63:
					f := acseFields(t, apdu)
					if apdu[0] == 0x60 {
						guards = map[string]*ReplayGuard{}
						if v, ok := f[0xAC]; ok {
							ex.CtoS = authValue(t, v)
						}
					}
					if v, ok := f[0xAA]; ok && apdu[0] == 0x61 {
						ex.StoC = authValue(t, v)
					}
					inner = f[0xBE]
				}
				if s.DecryptedAPDUHex == "" {
					if inner != nil && IsCiphered(inner[0]) {
						t.Fatalf("step %d: ciphered APDU %X has no decrypted_apdu_hex", i, inner[0])
					}
					continue
				}
				want := s.Plain()
				g := guards[s.Dir]
				if g == nil {
					g = &ReplayGuard{}
					guards[s.Dir] = g
				}
				plain, u, err := g.Unwrap(nil, keys, sender, inner)
				if err != nil {
					t.Fatalf("step %d (%s): Unwrap: %v", i, s.Dir, err)
				}
				if !bytes.Equal(plain, want) {
					t.Fatalf("step %d: plaintext %X\nwant              %X", i, plain, want)
				}
				deciphered++
				// Re-encrypt with the same SC, IC and title: byte-identical.
				var again []byte
				if u.Tag == TagGeneralGloCiphering || u.Tag == TagGeneralDedCiphering {
					again, err = WrapGeneral(nil, u.Kind, u.Header.SC, keys, u.SystemTitle, u.Header.IC, plain)
				} else {
					again, err = Wrap(nil, u.Kind, u.Header.SC, keys, sender, u.Header.IC, plain)
				}
				if err != nil {
					t.Fatalf("step %d: re-wrap: %v", i, err)
				}
				if !bytes.Equal(again, inner) {
					t.Fatalf("step %d: re-wrap %X\nwant           %X", i, again, inner)
				}
				// reply_to_HLS_authentication: the ACTION request carries
				// f(StoC) and its response f(CtoS), as octet-string[17] at
				// the end of the APDU.
				if (plain[0] == TagActionRequest || plain[0] == TagActionResponse) && len(plain) > 19 &&
					plain[len(plain)-19] == 0x09 && plain[len(plain)-18] == 17 {
					resp := plain[len(plain)-17:]
					party := Client
					if plain[0] == TagActionResponse {
						party = Server
					}
					ic, err := ex.VerifyGMACResponse(party, keys, resp)
					if err != nil {
						t.Fatalf("step %d: %v response: %v", i, party, err)
					}
					again, err := ex.GMACResponse(party, Suite0, keys, ic)
					if err != nil || !bytes.Equal(again, resp) {
						t.Fatalf("step %d: GMACResponse = %X, %v; want %X", i, again, err, resp)
					}
					gmacs++
				}
			}
			if deciphered == 0 || gmacs != 2 {
				t.Fatalf("deciphered %d APDUs and verified %d HLS GMACs; want >0 and 2", deciphered, gmacs)
			}
			t.Logf("deciphered and re-ciphered %d APDUs, verified %d HLS GMACs", deciphered, gmacs)
		})
	}
}
