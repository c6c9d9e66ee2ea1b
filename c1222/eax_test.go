package c1222

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

type eaxVector struct {
	key, cleartext, plaintext, ciphertext, mac []byte
}

// readVectors parses testdata/eaxprime-vectors.txt.
func readVectors(t testing.TB) []eaxVector {
	t.Helper()
	f, err := os.Open("testdata/eaxprime-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []eaxVector
	var cur eaxVector
	flush := func() {
		if cur.key != nil {
			out = append(out, cur)
		}
		cur = eaxVector{}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" {
			flush()
			continue
		}
		name, val, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(val)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		switch name {
		case "key":
			cur.key = b
		case "cleartext":
			cur.cleartext = b
		case "plaintext":
			cur.plaintext = b
		case "ciphertext":
			cur.ciphertext = b
		case "mac":
			cur.mac = b
		default:
			t.Fatalf("unknown field %q", name)
		}
	}
	flush()
	if len(out) != 4 {
		t.Fatalf("%d vectors, want 4", len(out))
	}
	return out
}

func TestEAXPrimeVectors(t *testing.T) {
	for i, v := range readVectors(t) {
		e, err := NewEAX(v.key)
		if err != nil {
			t.Fatal(err)
		}
		c, tag, err := e.Seal(v.cleartext, v.plaintext)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c, v.ciphertext) || !bytes.Equal(tag[:], v.mac) {
			t.Errorf("vector %d: sealed %x mac %x, want %x mac %x", i+1, c, tag, v.ciphertext, v.mac)
		}
		p, err := e.Open(v.cleartext, v.ciphertext, [TagSize]byte(v.mac))
		if err != nil || !bytes.Equal(p, v.plaintext) {
			t.Errorf("vector %d: opened %x, %v; want %x", i+1, p, err, v.plaintext)
		}
		bad := bytes.Clone(v.ciphertext)
		bad[len(bad)-1] ^= 1
		if _, err := e.Open(v.cleartext, bad, [TagSize]byte(v.mac)); !errors.Is(err, ErrAuth) {
			t.Errorf("vector %d: tampered ciphertext opened: %v", i+1, err)
		}
		badClear := bytes.Clone(v.cleartext)
		badClear[3] ^= 0x40
		if _, err := e.Open(badClear, v.ciphertext, [TagSize]byte(v.mac)); !errors.Is(err, ErrAuth) {
			t.Errorf("vector %d: tampered cleartext opened: %v", i+1, err)
		}
	}
}

func TestEAXAuthenticateMode1(t *testing.T) {
	v := readVectors(t)[0]
	e, _ := NewEAX(v.key)
	tag, err := e.Authenticate(v.cleartext, v.plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Verify(v.cleartext, v.plaintext, tag); err != nil {
		t.Fatal(err)
	}
	p := bytes.Clone(v.plaintext)
	p[0] ^= 1
	if err := e.Verify(v.cleartext, p, tag); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered EPSEM verified: %v", err)
	}
	// Mode 1 is EAX' with the EPSEM moved into the cleartext and no
	// plaintext: the tag is N' alone.
	whole := append(bytes.Clone(v.cleartext), v.plaintext...)
	c, t2, _ := e.Seal(whole, nil)
	if len(c) != 0 || t2 != tag {
		t.Fatalf("mode 1 tag %x, EAX' with empty plaintext %x", tag, t2)
	}
}

// TestEAXOneBlockForgery builds the forgeries of Minematsu, Lucks, Morita
// and Iwata on one-block inputs, shows the bare mode accepts them, and
// that the guarded Open refuses them.
//
// With a one-block cleartext N and ciphertext C, N' = E(N^D^D) = E(N) when
// N is a whole block and C' = E(pad(C)^Q^Q) = E(pad(C)) when C is short,
// so the D and Q masks that separate the two CMACs cancel out.
func TestEAXOneBlockForgery(t *testing.T) {
	key, _ := hex.DecodeString("102030405060708090a0b0c0d0e0f000")
	e, _ := NewEAX(key)

	// 1. With no query at all: any short C under the cleartext pad(C)
	// has N' = C', so the tag is zero.
	c0 := []byte("forged!")
	n0 := pad(c0)
	if _, err := e.open(n0, c0, [TagSize]byte{}); err != nil {
		t.Fatalf("the bare mode refused the query-free forgery: %v", err)
	}
	if _, err := e.Open(n0, c0, [TagSize]byte{}); !errors.Is(err, ErrShortCleartext) {
		t.Fatalf("guarded Open: %v, want ErrShortCleartext", err)
	}

	// 2. From a valid message: ask for the encryption of a chosen
	// one-block cleartext N1 = pad(X) and a short plaintext. The reply
	// (C1, T1) gives T1 = E(N1) ^ E(pad(C1)) in its low bits. Swapping
	// roles, the cleartext pad(C1) with the ciphertext X carries the same
	// tag: E(pad(C1)) ^ E(pad(X)) = T1. A new message the key holder
	// never sent, accepted.
	x := []byte{0x60, 0x01, 0x02, 0x03, 0x04}
	n1 := pad(x)
	c1, t1 := e.seal(n1, []byte{0x01, 0x30, 0x00, 0x01})
	forgedN, forgedC := pad(c1), x
	if bytes.Equal(forgedN, n1) {
		t.Fatal("the forgery repeats the valid message")
	}
	if _, err := e.open(forgedN, forgedC, t1); err != nil {
		t.Fatalf("the bare mode refused the forgery from a valid message: %v", err)
	}
	if _, err := e.Open(forgedN, forgedC, t1); !errors.Is(err, ErrShortCleartext) {
		t.Fatalf("guarded Open: %v, want ErrShortCleartext", err)
	}
	if _, _, err := e.Seal(n1, []byte{1}); !errors.Is(err, ErrShortCleartext) {
		t.Fatalf("guarded Seal of a one-block cleartext: %v", err)
	}
	if _, err := e.Authenticate(n1, nil); !errors.Is(err, ErrShortCleartext) {
		t.Fatalf("guarded Authenticate of a one-block cleartext: %v", err)
	}
}

// pad is the 10* padding to one block.
func pad(b []byte) []byte {
	out := make([]byte, 16)
	copy(out, b)
	out[len(b)] = 0x80
	return out
}

func FuzzEAXOpen(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add(v.cleartext, v.ciphertext, v.mac)
	}
	key, _ := hex.DecodeString("01020304050607080102030405060708")
	e, _ := NewEAX(key)
	f.Fuzz(func(t *testing.T, clear, ct, mac []byte) {
		var tag [TagSize]byte
		copy(tag[:], mac)
		p, err := e.Open(clear, ct, tag)
		if err != nil {
			return
		}
		// Whatever opens must seal back to itself.
		c2, t2, err := e.Seal(clear, p)
		if err != nil || !bytes.Equal(c2, ct) || t2 != tag {
			t.Fatalf("opened %x does not seal back: %x %x %v", p, c2, t2, err)
		}
	})
}
