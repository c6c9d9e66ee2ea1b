package security

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

var (
	clientST = []byte("Gurux123")
	serverST = []byte{0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48}
	getReq   = []byte{0xC0, 0x01, 0xC1, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x02, 0x00}
)

func TestWrongKeyAndTamper(t *testing.T) {
	keys := testKeys()
	other := Keys{Unicast: MustKey(bytes.Repeat([]byte{0x11}, 16)), Authentication: testAK}
	otherAK := Keys{Unicast: testEK, Authentication: MustKey(bytes.Repeat([]byte{0x22}, 16))}
	for _, sc := range []SecurityControl{Authentication, AuthenticatedEncryption} {
		t.Run(sc.String(), func(t *testing.T) {
			apdu, err := Wrap(nil, Global, sc, keys, clientST, 42, getReq)
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				keys  Keys
				title []byte
				apdu  func() []byte
			}{
				{"wrong EK", other, clientST, func() []byte { return apdu }},
				{"wrong AK", otherAK, clientST, func() []byte { return apdu }},
				{"wrong system title", keys, serverST, func() []byte { return apdu }},
				{"flipped ciphertext bit", keys, clientST, func() []byte { b := bytes.Clone(apdu); b[9] ^= 1; return b }},
				{"flipped tag bit", keys, clientST, func() []byte { b := bytes.Clone(apdu); b[len(b)-1] ^= 0x80; return b }},
				{"changed IC", keys, clientST, func() []byte { b := bytes.Clone(apdu); b[6]++; return b }},
			}
			for _, c := range cases {
				plain, _, err := Unwrap(nil, c.keys, c.title, c.apdu())
				if !errors.Is(err, ErrAuthentication) {
					t.Errorf("%s: err = %v, want ErrAuthentication", c.name, err)
				}
				if len(plain) != 0 {
					t.Errorf("%s: returned plaintext %X", c.name, plain)
				}
			}
		})
	}
}

func TestDecryptErrors(t *testing.T) {
	keys := testKeys()
	cases := []struct {
		name string
		keys Keys
		in   []byte
		want error
	}{
		{"empty", keys, nil, ErrTruncated},
		{"header only partial", keys, []byte{0x30, 0, 0, 0}, ErrTruncated},
		{"tag too short", keys, []byte{0x30, 0, 0, 0, 1, 1, 2, 3}, ErrTruncated},
		{"unknown suite", keys, []byte{0x33, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrUnknownSuite},
		{"compression", keys, []byte{0xB0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrUnsupported},
		{"no EK", Keys{Authentication: testAK}, []byte{0x30, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrMissingKey},
		{"no AK", Keys{Unicast: testEK}, []byte{0x10, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrMissingKey},
		{"suite 2 with 128-bit key", keys, []byte{0x32, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrKeySize},
		{"no broadcast key", keys, []byte{0x70, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrMissingKey},
	}
	for _, c := range cases {
		_, _, err := Decrypt(c.keys, clientST, c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Encrypt(AuthenticatedEncryption, keys, clientST[:7], 1, getReq); !errors.Is(err, ErrSystemTitle) {
		t.Errorf("7-byte system title: err = %v", err)
	}
}

func TestPolicies(t *testing.T) {
	k256 := Keys{
		Unicast:        MustKey(bytes.Repeat([]byte{1}, 32)),
		Broadcast:      MustKey(bytes.Repeat([]byte{2}, 32)),
		Authentication: MustKey(bytes.Repeat([]byte{3}, 32)),
	}
	k128 := testKeys()
	k128.Broadcast = MustKey(bytes.Repeat([]byte{4}, 16))
	k128.Dedicated = MustKey(bytes.Repeat([]byte{5}, 16))
	for _, c := range []struct {
		suite Suite
		keys  Keys
	}{{Suite0, k128}, {Suite1, k128}, {Suite2, k256}} {
		for _, p := range []SecurityControl{0, Authentication, Encryption, AuthenticatedEncryption, AuthenticatedEncryption | BroadcastKey} {
			sc := NewSecurityControl(c.suite, p)
			ct, err := Encrypt(sc, c.keys, serverST, 7, getReq)
			if err != nil {
				t.Fatalf("%v: %v", sc, err)
			}
			if p.Encrypted() && bytes.Contains(ct, getReq) {
				t.Errorf("%v: plaintext visible", sc)
			}
			pt, h, err := Decrypt(c.keys, serverST, ct)
			if err != nil || !bytes.Equal(pt, getReq) || h != (Header{sc, 7}) {
				t.Errorf("%v: round trip = %X %+v %v", sc, pt, h, err)
			}
		}
	}
	// ded- and general-ded- use the dedicated key.
	for _, general := range []bool{false, true} {
		var apdu []byte
		var err error
		if general {
			apdu, err = WrapGeneral(nil, Dedicated, AuthenticatedEncryption, k128, serverST, 9, getReq)
		} else {
			apdu, err = Wrap(nil, Dedicated, AuthenticatedEncryption, k128, serverST, 9, getReq)
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]byte{false: TagDedGetRequest, true: TagGeneralDedCiphering}[general]; apdu[0] != want {
			t.Errorf("tag 0x%02X, want 0x%02X", apdu[0], want)
		}
		pt, u, err := Unwrap(nil, k128, serverST, apdu)
		if err != nil || !bytes.Equal(pt, getReq) || u.Kind != Dedicated {
			t.Errorf("dedicated round trip: %X %+v %v", pt, u, err)
		}
		if _, _, err := Unwrap(nil, Keys{Unicast: k128.Unicast, Authentication: k128.Authentication, Dedicated: k128.Broadcast}, serverST, apdu); !errors.Is(err, ErrAuthentication) {
			t.Errorf("wrong dedicated key: %v", err)
		}
	}
}

func TestLongAPDULengths(t *testing.T) {
	keys := testKeys()
	for _, n := range []int{0x6E, 0x6F, 0xEE, 0xEF, 0xFFEE, 0xFFEF} { // around the 1/2/3-byte length boundaries
		plain := bytes.Repeat([]byte{0xC4}, n)
		apdu, err := WrapGeneral(nil, Global, AuthenticatedEncryption, keys, serverST, 1, plain)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Unwrap(nil, keys, nil, apdu)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}

func TestUnwrapMalformed(t *testing.T) {
	keys := testKeys()
	good, _ := Wrap(nil, Global, AuthenticatedEncryption, keys, clientST, 5, getReq)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"plain get-request", getReq, ErrUnknownTag},
		{"no length", []byte{0xC8}, ErrTruncated},
		{"length beyond input", []byte{0xC8, 0x20, 0x30}, ErrTruncated},
		{"huge long-form length", []byte{0xC8, 0x84, 0xFF, 0xFF, 0xFF, 0xFF}, ErrLength},
		{"indefinite length", []byte{0xC8, 0x80}, ErrLength},
		{"trailing byte", append(bytes.Clone(good), 0), ErrTrailing},
		{"general-glo without title", []byte{0xDB}, ErrTruncated},
		{"general-glo short title", []byte{0xDB, 0x07, 1, 2, 3, 4, 5, 6, 7, 0x11, 0x30, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, ErrSystemTitle},
	}
	for _, c := range cases {
		_, _, err := Unwrap(nil, keys, clientST, c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("%s: error %T is not *Error", c.name, err)
		}
	}
}

func TestTagMapping(t *testing.T) {
	cases := []struct{ plain, glo, ded byte }{
		{0x01, 0x21, 0x41}, {0x08, 0x28, 0x48}, {0x0E, 0x2E, 0x4E},
		{0xC0, 0xC8, 0xD0}, {0xC1, 0xC9, 0xD1}, {0xC2, 0xCA, 0xD2}, {0xC3, 0xCB, 0xD3},
		{0xC4, 0xCC, 0xD4}, {0xC5, 0xCD, 0xD5}, {0xC7, 0xCF, 0xD7},
	}
	for _, c := range cases {
		if g, ok := GloTag(c.plain); !ok || g != c.glo {
			t.Errorf("GloTag(%02X) = %02X %v", c.plain, g, ok)
		}
		if d, ok := DedTag(c.plain); !ok || d != c.ded {
			t.Errorf("DedTag(%02X) = %02X %v", c.plain, d, ok)
		}
		if p, k, ok := PlainTag(c.glo); !ok || p != c.plain || k != Global {
			t.Errorf("PlainTag(%02X) = %02X %v %v", c.glo, p, k, ok)
		}
		if p, k, ok := PlainTag(c.ded); !ok || p != c.plain || k != Dedicated {
			t.Errorf("PlainTag(%02X) = %02X %v %v", c.ded, p, k, ok)
		}
	}
	for _, tag := range []byte{0xC6, 0xD8, 0x60, 0x00} {
		if _, ok := GloTag(tag); ok {
			t.Errorf("GloTag(%02X) should not exist", tag)
		}
	}
	if !IsCiphered(0xDB) || !IsCiphered(0xDF) || IsCiphered(0xC0) {
		t.Error("IsCiphered")
	}
}

func TestReplayGuard(t *testing.T) {
	keys := testKeys()
	frame := func(ic uint32) []byte {
		b, err := WrapGeneral(nil, Global, AuthenticatedEncryption, keys, serverST, ic, getReq)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	g := &ReplayGuard{}
	steps := []struct {
		ic   uint32
		want error
	}{{5, nil}, {5, ErrReplay}, {4, ErrReplay}, {6, nil}, {1000, nil}, {999, ErrReplay}}
	for _, s := range steps {
		_, _, err := g.Unwrap(nil, keys, nil, frame(s.ic))
		if !errors.Is(err, s.want) && !(s.want == nil && err == nil) {
			t.Fatalf("ic %d: err = %v, want %v", s.ic, err, s.want)
		}
	}
	// A forged frame (bad tag) with a high IC must not advance the guard.
	forged := frame(5000)
	forged[len(forged)-1] ^= 1
	if _, _, err := g.Unwrap(nil, keys, nil, forged); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("forged: %v", err)
	}
	if last, _ := g.Last(); last != 1000 {
		t.Fatalf("forged frame moved the guard to %d", last)
	}
	if _, _, err := g.Unwrap(nil, keys, nil, frame(1001)); err != nil {
		t.Fatalf("genuine frame after forgery: %v", err)
	}
	// Encryption-only frames cannot be authenticated.
	encOnly, _ := WrapGeneral(nil, Global, Encryption, keys, serverST, 2000, getReq)
	if _, _, err := g.Unwrap(nil, keys, nil, encOnly); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("encryption-only: %v", err)
	}
	lenient := &ReplayGuard{AllowUnauthenticated: true}
	if _, _, err := lenient.Unwrap(nil, keys, nil, encOnly); err != nil {
		t.Fatalf("lenient guard: %v", err)
	}
	// Decrypt variant.
	g2 := NewReplayGuard(10)
	c10, _ := Encrypt(AuthenticatedEncryption, keys, serverST, 10, getReq)
	c11, _ := Encrypt(AuthenticatedEncryption, keys, serverST, 11, getReq)
	if _, _, err := g2.Decrypt(nil, keys, serverST, c10); !errors.Is(err, ErrReplay) {
		t.Fatalf("Decrypt ic 10: %v", err)
	}
	if _, _, err := g2.Decrypt(nil, keys, serverST, c11); err != nil {
		t.Fatalf("Decrypt ic 11: %v", err)
	}
}

func TestCounter(t *testing.T) {
	var persisted []uint32
	c := NewCounter(7, func(next uint32) error { persisted = append(persisted, next); return nil })
	for want := uint32(7); want < 10; want++ {
		v, err := c.Next()
		if err != nil || v != want {
			t.Fatalf("Next = %d, %v; want %d", v, err, want)
		}
	}
	if fmt.Sprint(persisted) != "[8 9 10]" {
		t.Fatalf("persisted %v, want each next value before use", persisted)
	}
	// Persist failure: nothing is issued, the counter does not move.
	fail := errors.New("disk full")
	c.Persist = func(uint32) error { return fail }
	if _, err := c.Next(); !errors.Is(err, fail) {
		t.Fatalf("persist failure: %v", err)
	}
	if c.Peek() != 10 {
		t.Fatalf("counter moved after persist failure: %d", c.Peek())
	}
	// Window: one Persist per Window values.
	persisted = nil
	w := &Counter{Window: 100, Persist: func(n uint32) error { persisted = append(persisted, n); return nil }}
	for range 250 {
		if _, err := w.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(persisted) != "[100 200 300]" {
		t.Fatalf("window persisted %v", persisted)
	}
	// Exhaustion.
	e := NewCounter(0xFFFFFFFE, nil)
	if v, err := e.Next(); err != nil || v != 0xFFFFFFFE {
		t.Fatalf("last value: %d %v", v, err)
	}
	if _, err := e.Next(); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
}

func TestMechanismNames(t *testing.T) {
	if got := MechanismHLSGMAC.Name(); !bytes.Equal(got, []byte{0x60, 0x85, 0x74, 0x05, 0x08, 0x02, 0x05}) {
		t.Fatalf("HLS-GMAC name %X", got)
	}
	if got := ContextLNCiphering.Name(); !bytes.Equal(got, []byte{0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x03}) {
		t.Fatalf("LN ciphering name %X", got)
	}
	for m := MechanismNone; m <= MechanismHLSECDSA; m++ {
		got, err := ParseMechanismName(m.Name())
		if err != nil || got != m {
			t.Errorf("mechanism %v: %v %v", m, got, err)
		}
	}
	for c := ContextLN; c <= ContextSNCiphering; c++ {
		got, err := ParseApplicationContextName(c.Name())
		if err != nil || got != c {
			t.Errorf("context %v: %v %v", c, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x60, 0x85, 0x74, 0x05, 0x08, 0x02}, {0x60, 0x85, 0x74, 0x05, 0x08, 0x02, 0x08}, {0x60, 0x85, 0x74, 0x05, 0x09, 0x02, 0x05}, {0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x05}} {
		if _, err := ParseMechanismName(bad); !errors.Is(err, ErrMechanism) {
			t.Errorf("ParseMechanismName(%X) = %v", bad, err)
		}
	}
	ch, err := NewChallenge(16)
	if err != nil || len(ch) != 16 {
		t.Fatal(err)
	}
	ch2, _ := NewChallenge(16)
	if bytes.Equal(ch, ch2) {
		t.Fatal("two challenges are equal")
	}
	for _, n := range []int{0, 7, 65} {
		if _, err := NewChallenge(n); !errors.Is(err, ErrChallenge) {
			t.Errorf("NewChallenge(%d) = %v", n, err)
		}
	}
}

func TestHLSExchange(t *testing.T) {
	ex := Exchange{ClientSystemTitle: clientST, ServerSystemTitle: serverST, CtoS: []byte("K56iVagY"), StoC: []byte("P6wRJ21Fabcdefgh")}
	secret := []byte("secret")
	for _, p := range []Party{Client, Server} {
		r, err := ex.SHA256Response(p, secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.VerifySHA256Response(p, secret, r); err != nil {
			t.Errorf("%v SHA-256: %v", p, err)
		}
		other := Server
		if p == Server {
			other = Client
		}
		if err := ex.VerifySHA256Response(other, secret, r); !errors.Is(err, ErrResponse) {
			t.Errorf("%v SHA-256 accepted as %v's: %v", p, other, err)
		}
	}
	// The ordering of the hashed inputs, spelled out.
	cr, _ := ex.SHA256Response(Client, secret)
	manual := sha256Of(secret, clientST, serverST, ex.StoC, ex.CtoS)
	if !bytes.Equal(cr, manual) {
		t.Fatal("client SHA-256 ordering")
	}
	sr, _ := ex.SHA256Response(Server, secret)
	if !bytes.Equal(sr, sha256Of(secret, serverST, clientST, ex.CtoS, ex.StoC)) {
		t.Fatal("server SHA-256 ordering")
	}
	d, _ := ex.ECDSASignedData(Server)
	if !bytes.Equal(d, bytes.Join([][]byte{serverST, clientST, ex.CtoS, ex.StoC}, nil)) {
		t.Fatal("server ECDSA data ordering")
	}
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig, err := ex.ECDSAResponse(Client, ck)
	if err != nil || len(sig) != SignatureSize {
		t.Fatal(err)
	}
	if err := ex.VerifyECDSAResponse(Client, &ck.PublicKey, sig); err != nil {
		t.Fatal(err)
	}
	if err := ex.VerifyECDSAResponse(Client, &sk.PublicKey, sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := ex.VerifyECDSAResponse(Server, &ck.PublicKey, sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong party: %v", err)
	}
	// GMAC through the exchange with a wrong key.
	r, err := ex.GMACResponse(Server, Suite0, testKeys(), 3)
	if err != nil {
		t.Fatal(err)
	}
	bad := Keys{Unicast: testEK, Authentication: MustKey(make([]byte, 16))}
	if _, err := ex.VerifyGMACResponse(Server, bad, r); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("GMAC wrong AK: %v", err)
	}
	if m, _ := ex.MD5Response(Client, secret); len(m) != 16 {
		t.Fatal("MD5")
	}
	if s, _ := ex.SHA1Response(Client, secret); len(s) != 20 {
		t.Fatal("SHA-1")
	}
	if !VerifyLLS([]byte("Gurux"), []byte("Gurux")) || VerifyLLS([]byte("Gurux"), []byte("gurux")) {
		t.Fatal("VerifyLLS")
	}
}

func TestECDSA(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	msg := []byte("general-signing content")
	sig, err := Sign(k, msg)
	if err != nil || len(sig) != 64 {
		t.Fatal(err)
	}
	if err := Verify(&k.PublicKey, msg, sig); err != nil {
		t.Fatal(err)
	}
	for i, mut := range []func([]byte) []byte{
		func(s []byte) []byte { s[0] ^= 1; return s },
		func(s []byte) []byte { s[63] ^= 1; return s },
		func(s []byte) []byte { return s[:63] },
		func(s []byte) []byte { return make([]byte, 64) },
	} {
		if err := Verify(&k.PublicKey, msg, mut(bytes.Clone(sig))); !errors.Is(err, ErrSignature) {
			t.Errorf("mutation %d: %v", i, err)
		}
	}
	if err := Verify(&k.PublicKey, []byte("other"), sig); !errors.Is(err, ErrSignature) {
		t.Error("other message accepted")
	}
	raw, err := MarshalPublicKey(&k.PublicKey)
	if err != nil || len(raw) != 64 {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(raw)
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatal(err)
	}
	raw[10] ^= 1
	if _, err := ParsePublicKey(raw); !errors.Is(err, ErrPublicKey) {
		t.Fatalf("off-curve point: %v", err)
	}
	// general-signing round trip.
	gs := GeneralSigning{TransactionID: []byte{0, 0, 0, 0, 0, 0, 0, 1}, Originator: clientST, Recipient: serverST, Content: getReq}
	if err := gs.Sign(k); err != nil {
		t.Fatal(err)
	}
	enc := gs.Append(nil)
	back, err := ParseGeneralSigning(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(&k.PublicKey); err != nil {
		t.Fatal(err)
	}
	enc[len(enc)-70] ^= 1 // inside the content
	back, err = ParseGeneralSigning(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(&k.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered general-signing: %v", err)
	}
}

func TestKeyAgreement(t *testing.T) {
	clientSign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clientAgree, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serverAgree, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	z1, err := SharedSecret(clientAgree, &serverAgree.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	z2, _ := SharedSecret(serverAgree, &clientAgree.PublicKey)
	if !bytes.Equal(z1, z2) || len(z1) != 32 {
		t.Fatal("ECDH secrets differ")
	}

	// One-pass DH: the client (U) sends to the server (V).
	ku, kcd, err := OnePassDH(clientSign, &serverAgree.PublicKey, clientST, serverST)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := OnePassDHReceive(serverAgree, &clientSign.PublicKey, kcd, clientST, serverST)
	if err != nil {
		t.Fatal(err)
	}
	if !ku.Equal(kv) || ku.Len() != 16 {
		t.Fatal("one-pass DH keys differ")
	}
	tampered := bytes.Clone(kcd)
	tampered[5] ^= 1
	if _, err := OnePassDHReceive(serverAgree, &clientSign.PublicKey, tampered, clientST, serverST); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered ephemeral key: %v", err)
	}
	if k, _ := OnePassDHReceive(serverAgree, &clientSign.PublicKey, kcd, serverST, clientST); k.Equal(ku) {
		t.Fatal("swapped titles gave the same key")
	}

	// Static unified: both sides from their static keys.
	tid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	a, err := StaticUnified(clientAgree, &serverAgree.PublicKey, tid, clientST, serverST)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := StaticUnified(serverAgree, &clientAgree.PublicKey, tid, clientST, serverST)
	if !a.Equal(b) {
		t.Fatal("static unified keys differ")
	}
	c, _ := StaticUnified(serverAgree, &clientAgree.PublicKey, []byte{9, 9, 9, 9, 9, 9, 9, 9}, clientST, serverST)
	if a.Equal(c) {
		t.Fatal("transaction-id not bound into the key")
	}

	// The agreed key ciphers a general-ciphering APDU.
	g := GeneralCiphering{
		TransactionID: tid, Originator: clientST, Recipient: serverST,
		KeyInfo: &KeyInfo{Kind: KeyInfoAgreed, KeyParameters: []byte{KeyParamsOnePassDH}, KeyCipheredData: kcd},
	}
	sc := NewSecurityControl(Suite1, AuthenticatedEncryption)
	if err := g.Seal(sc, Keys{Unicast: ku, Authentication: ku}, 1, getReq); err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseGeneralCiphering(g.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.KeyInfo == nil || !bytes.Equal(parsed.KeyInfo.KeyCipheredData, kcd) {
		t.Fatalf("key-info lost: %v", parsed.String())
	}
	rk, err := OnePassDHReceive(serverAgree, &clientSign.PublicKey, parsed.KeyInfo.KeyCipheredData, parsed.Originator, parsed.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	pt, h, err := parsed.Open(nil, Keys{Unicast: rk, Authentication: rk})
	if err != nil || !bytes.Equal(pt, getReq) || h.IC != 1 {
		t.Fatalf("general-ciphering open: %X %v", pt, err)
	}
	// Suite 1 binds the header fields: changing the recipient breaks the tag.
	parsed.Recipient = clientST
	if _, _, err := parsed.Open(nil, Keys{Unicast: rk, Authentication: rk}); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("header not authenticated: %v", err)
	}
}

func TestGeneralCipheringEncoding(t *testing.T) {
	for _, ki := range []*KeyInfo{
		nil,
		{Kind: KeyInfoIdentified, KeyID: KeyGlobalBroadcast},
		{Kind: KeyInfoWrapped, KEKID: 0, KeyCipheredData: bytes.Repeat([]byte{0xAA}, 24)},
		{Kind: KeyInfoAgreed, KeyParameters: []byte{KeyParamsStaticUnified}, KeyCipheredData: []byte{}},
	} {
		g := GeneralCiphering{TransactionID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Originator: clientST, Recipient: serverST, DateTime: []byte{}, OtherInformation: []byte{}, KeyInfo: ki}
		if err := g.Seal(AuthenticatedEncryption, testKeys(), 77, getReq); err != nil {
			t.Fatal(err)
		}
		enc := g.Append(nil)
		p, err := ParseGeneralCiphering(enc)
		if err != nil {
			t.Fatalf("%+v: %v", ki, err)
		}
		if !bytes.Equal(p.Append(nil), enc) {
			t.Fatalf("re-encode differs")
		}
		pt, _, err := p.Open(nil, testKeys())
		if err != nil || !bytes.Equal(pt, getReq) {
			t.Fatalf("open: %v", err)
		}
		for cut := 1; cut < len(enc); cut++ {
			if _, err := ParseGeneralCiphering(enc[:cut]); err == nil {
				t.Fatalf("truncated at %d parsed", cut)
			}
		}
	}
}

func TestKeyWrapAndTransfer(t *testing.T) {
	kek := MustKey(bytes.Repeat([]byte{0x0F}, 16))
	for _, n := range []int{16, 24, 32} {
		kd := bytes.Repeat([]byte{byte(n)}, n)
		w, err := WrapKey(kek, kd)
		if err != nil || len(w) != n+8 {
			t.Fatal(err)
		}
		got, err := UnwrapKey(kek, w)
		if err != nil || !bytes.Equal(got, kd) {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i := range w {
			bad := bytes.Clone(w)
			bad[i] ^= 0x01
			if k, err := UnwrapKey(kek, bad); !errors.Is(err, ErrKeyUnwrap) || k != nil {
				t.Fatalf("n=%d byte %d tampered: %v", n, i, err)
			}
		}
		if _, err := UnwrapKey(MustKey(bytes.Repeat([]byte{1}, 16)), w); !errors.Is(err, ErrKeyUnwrap) {
			t.Fatalf("wrong KEK: %v", err)
		}
	}
	for _, n := range []int{0, 8, 17, 25} {
		if _, err := UnwrapKey(kek, make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Errorf("UnwrapKey(%d bytes) = %v", n, err)
		}
	}
	// key_transfer parameter.
	ek := MustKey(bytes.Repeat([]byte{0x33}, 16))
	ak := MustKey(bytes.Repeat([]byte{0x44}, 16))
	param, err := TransferKeys(kek, map[KeyID]Key{KeyGlobalUnicast: ek, KeyAuthentication: ak})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(param, []byte{0x01, 0x02, 0x02, 0x02, 0x16, 0x00, 0x09, 0x18}) {
		t.Fatalf("key_transfer encoding %X", param)
	}
	ws, err := ParseKeyTransfer(param)
	if err != nil || len(ws) != 2 || ws[1].ID != KeyAuthentication {
		t.Fatalf("ParseKeyTransfer: %+v %v", ws, err)
	}
	got, err := UnwrapKey(kek, ws[1].Wrapped)
	if err != nil || !bytes.Equal(got, ak.Bytes()) {
		t.Fatal("transferred AK does not unwrap")
	}
	for cut := range len(param) {
		if _, err := ParseKeyTransfer(param[:cut]); err == nil {
			t.Fatalf("truncated key_transfer at %d parsed", cut)
		}
	}
	if _, err := ParseKeyTransfer([]byte{0x01, 0x82, 0xFF, 0xFF}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("oversized count: %v", err)
	}
}

func TestKeyRedaction(t *testing.T) {
	secret := []byte{0xDE, 0xAD, 0xBE, 0xEF, 0xCA, 0xFE, 0xBA, 0xBE, 0xDE, 0xAD, 0xBE, 0xEF, 0xCA, 0xFE, 0xBA, 0xBE}
	k := MustKey(secret)
	type holder struct {
		Exported Key
		hidden   Key
		keys     Keys
	}
	h := holder{Exported: k, hidden: k, keys: Keys{Unicast: k, Authentication: k}}
	var logbuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logbuf, nil)).Info("key", "k", k, "keys", h.keys)
	slog.New(slog.NewJSONHandler(&logbuf, nil)).Info("key", "k", k)
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %X %q %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", h, h, h), fmt.Sprintf("%+v", &h),
		logbuf.String(), k.String(),
	}
	for _, o := range outs {
		low := strings.ToLower(o)
		if strings.Contains(low, "deadbeef") || strings.Contains(o, "222 173") || strings.Contains(low, "de ad") || strings.Contains(low, "0xde") {
			t.Fatalf("key material leaked: %s", o)
		}
	}
	if !strings.Contains(k.String(), "redacted") || !strings.Contains(logbuf.String(), "redacted") {
		t.Fatalf("no redaction marker: %q / %q", k.String(), logbuf.String())
	}
	if _, err := NewKey(make([]byte, 15)); !errors.Is(err, ErrKeySize) {
		t.Fatal("15-byte key accepted")
	}
}

// A resynchronisation jumps the counter in one persisted step, never back.
func TestCounterAdvanceTo(t *testing.T) {
	var persisted []uint32
	c := &Counter{Window: 64, Persist: func(n uint32) error { persisted = append(persisted, n); return nil }}
	if v, err := c.Next(); err != nil || v != 0 {
		t.Fatalf("first: %d %v", v, err)
	}
	if err := c.AdvanceTo(1000); err != nil {
		t.Fatal(err)
	}
	for want := uint32(1000); want < 1010; want++ {
		if v, err := c.Next(); err != nil || v != want {
			t.Fatalf("after the jump: %d %v, want %d", v, err, want)
		}
	}
	if len(persisted) != 2 || persisted[0] != 64 || persisted[1] != 1064 {
		t.Errorf("persisted %v, want [64 1064]: one write for the jump", persisted)
	}
	if err := c.AdvanceTo(5); err != nil || c.Peek() != 1010 {
		t.Errorf("moved back: peek %d, %v", c.Peek(), err)
	}
	if err := c.AdvanceTo(0xFFFFFFFF); !errors.Is(err, ErrCounterExhausted) {
		t.Errorf("exhausting jump: %v", err)
	}
}
