package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// fuzzSigningKey is a fixed P-256 key, so that the fuzzer's corpus keeps
// reaching past the signature check.
func fuzzSigningKey(t testing.TB) *ecdsa.PrivateKey {
	d := new(big.Int).SetBytes(mustHex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedFrame wraps req in general-signing for serverTitle under counter n.
func signedFrame(t testing.TB, k *ecdsa.PrivateKey, n uint64, req []byte) []byte {
	g := security.GeneralSigning{TransactionID: binary.BigEndian.AppendUint64(nil, n), Originator: clientTitle,
		Recipient: serverTitle, Content: req}
	if err := g.Sign(k); err != nil {
		t.Fatal(err)
	}
	return g.Append(nil)
}

func signingDevice(t testing.TB, k *ecdsa.PrivateKey, signed *[]cosem.Caller) *Device {
	d := fuzzDevice(t)
	var last uint64
	d.Signing = &Signing{
		Keys: func() []*ecdsa.PublicKey { return []*ecdsa.PublicKey{&k.PublicKey} },
		Accept: func(n uint64) error {
			if n <= last {
				return ErrSignedReplay
			}
			last = n
			return nil
		},
		Required: func(uint16, obis.Code, bool, int8) bool { return true },
	}
	return d
}

// TestSignedRequestOnPlainAssociation: a signed SET reaches the object
// check with its signature; the same SET unsigned, replayed or forged is
// refused with the event.
func TestSignedRequestOnPlainAssociation(t *testing.T) {
	k := fuzzSigningKey(t)
	d := signingDevice(t, k, nil)
	var events []SecurityEvent
	d.OnSecurityEvent = func(e SecurityEvent, _ uint16) { events = append(events, e) }
	if err := d.init(); err != nil {
		t.Fatal(err)
	}
	s := d.newSession(ClientInfo{ClientSAP: 16})
	ctx := context.Background()
	if _, err := s.handle(ctx, mustHex("601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF")); err != nil || s.st != stAssociated {
		t.Fatalf("association: %v", err)
	}
	// SET of the clock's time zone: the public client may not write, but
	// only after the signature is judged.
	set := mustHex("C101C100080000010000FF0300100000")
	kindOf := func(b []byte) string {
		a, err := apdu.Decode(b)
		if err != nil {
			return err.Error()
		}
		return a.Kind()
	}
	out, err := s.handle(ctx, signedFrame(t, k, 1, set))
	if err != nil || kindOf(out) != "set-response-normal" || len(events) != 0 {
		t.Fatalf("signed set: %s %v, events %v", kindOf(out), err, events)
	}
	for name, tc := range map[string]struct {
		in   []byte
		want SecurityEvent
	}{
		"replayed": {signedFrame(t, k, 1, set), EventSignedReplay},
		"forged":   {func() []byte { b := signedFrame(t, k, 5, set); b[len(b)-3] ^= 1; return b }(), EventSignatureInvalid},
		"unsigned": {set, EventUnsigned},
	} {
		events = events[:0]
		out, err := s.handle(ctx, tc.in)
		if err != nil || len(events) != 1 || events[0] != tc.want {
			t.Errorf("%s: %s %v, events %v, want %s", name, kindOf(out), err, events, tc.want)
		}
	}
}

// FuzzSignedRequest feeds arbitrary general-signing APDUs to a device that
// trusts one key, on a plain association.
func FuzzSignedRequest(f *testing.F) {
	k := fuzzSigningKey(f)
	f.Add(signedFrame(f, k, 1, mustHex("C001C100080000010000FF0200")))
	f.Add(signedFrame(f, k, 2, mustHex("C101C100080000010000FF0300100000")))
	f.Add(signedFrame(f, k, 3, []byte{security.TagGeneralSigning}))
	f.Add([]byte{security.TagGeneralSigning, 8, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := signingDevice(t, k, nil)
		if err := d.init(); err != nil {
			t.Fatal(err)
		}
		s := d.newSession(ClientInfo{ClientSAP: 16})
		ctx := context.Background()
		if _, err := s.handle(ctx, mustHex("601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF")); err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			data[0] = security.TagGeneralSigning
		}
		_, _ = s.handle(ctx, data) // a panic fails the fuzzer; handleSafe would hide it
	})
}
