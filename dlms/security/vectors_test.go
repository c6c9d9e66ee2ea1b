package security

import (
	"bytes"
	"testing"
)

type vectorFile struct {
	Keys struct {
		EK string `json:"block_cipher_key_EK"`
		AK string `json:"authentication_key_AK"`
	} `json:"keys"`
	Ciphering []struct {
		Name              string `json:"name"`
		SystemTitle       string `json:"system_title"`
		InvocationCounter string `json:"invocation_counter"`
		SecurityControl   string `json:"security_control"`
		Plaintext         string `json:"plaintext"`
		Ciphertext        string `json:"ciphertext"`
		Tag               string `json:"tag"`
		GloGetRequest     string `json:"glo_get_request_apdu"`
	} `json:"ciphering"`
	HLSGMAC []struct {
		Name              string `json:"name"`
		SystemTitle       string `json:"system_title"`
		InvocationCounter string `json:"invocation_counter"`
		SecurityControl   string `json:"security_control"`
		Challenge         string `json:"challenge"`
		Tag               string `json:"tag"`
	} `json:"hls_gmac"`
	KeyWrap []struct {
		Name    string `json:"name"`
		KEK     string `json:"kek"`
		KeyData string `json:"key_data"`
		Wrapped string `json:"wrapped"`
	} `json:"key_wrap_rfc3394"`
}

func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestGreenBookVectors(t *testing.T) {
	var vf vectorFile
	loadJSON(t, "dlms-security-vectors.json", &vf)
	keys := Keys{Unicast: MustKey(unhex(t, vf.Keys.EK)), Authentication: MustKey(unhex(t, vf.Keys.AK))}
	if len(vf.Ciphering) == 0 || len(vf.HLSGMAC) == 0 || len(vf.KeyWrap) == 0 {
		t.Fatal("vector file has an empty section")
	}
	for _, v := range vf.Ciphering {
		t.Run("ciphering/"+v.Name, func(t *testing.T) {
			st := unhex(t, v.SystemTitle)
			icb := unhex(t, v.InvocationCounter)
			sc := SecurityControl(unhex(t, v.SecurityControl)[0])
			pt := unhex(t, v.Plaintext)
			// Expected content: SC || IC || (ciphertext or plaintext) || tag.
			want := append([]byte{byte(sc)}, icb...)
			if v.Ciphertext != "" {
				want = append(want, unhex(t, v.Ciphertext)...)
			} else {
				want = append(want, pt...)
			}
			if v.Tag != "" {
				want = append(want, unhex(t, v.Tag)...)
			}
			got, err := Encrypt(sc, keys, st, u32(icb), pt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Encrypt = %X\nwant      %X", got, want)
			}
			back, h, err := Decrypt(keys, st, got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, pt) || h.SC != sc || h.IC != u32(icb) {
				t.Fatalf("Decrypt = %X %+v", back, h)
			}
			if v.GloGetRequest != "" {
				apdu, err := Wrap(nil, Global, sc, keys, st, u32(icb), pt)
				if err != nil {
					t.Fatal(err)
				}
				if wantAPDU := unhex(t, v.GloGetRequest); !bytes.Equal(apdu, wantAPDU) {
					t.Fatalf("Wrap = %X\nwant   %X", apdu, wantAPDU)
				}
				plain, u, err := Unwrap(nil, keys, st, apdu)
				if err != nil || !bytes.Equal(plain, pt) || u.Tag != TagGloGetRequest || u.Kind != Global {
					t.Fatalf("Unwrap = %X %+v %v", plain, u, err)
				}
			}
		})
	}
	for _, v := range vf.HLSGMAC {
		t.Run("hls_gmac/"+v.Name, func(t *testing.T) {
			st := unhex(t, v.SystemTitle)
			icb := unhex(t, v.InvocationCounter)
			ch := unhex(t, v.Challenge)
			want := append(append(unhex(t, v.SecurityControl), icb...), unhex(t, v.Tag)...)
			got, err := GMACResponse(Suite0, keys, st, u32(icb), ch)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("GMACResponse = %X, want %X", got, want)
			}
			ic, err := VerifyGMACResponse(keys, st, ch, got)
			if err != nil || ic != u32(icb) {
				t.Fatalf("VerifyGMACResponse = %d, %v", ic, err)
			}
		})
	}
	for _, v := range vf.KeyWrap {
		t.Run("key_wrap/"+v.Name, func(t *testing.T) {
			kek := MustKey(unhex(t, v.KEK))
			kd := unhex(t, v.KeyData)
			want := unhex(t, v.Wrapped)
			got, err := WrapKey(kek, kd)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("WrapKey = %X, want %X", got, want)
			}
			back, err := UnwrapKey(kek, want)
			if err != nil || !bytes.Equal(back, kd) {
				t.Fatalf("UnwrapKey = %X, %v", back, err)
			}
		})
	}
}
