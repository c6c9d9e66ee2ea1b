package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustNew(t testing.TB, id string, k []byte) *Vault {
	t.Helper()
	v, err := New(id, k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpen(t *testing.T) {
	v := mustNew(t, "k1", key(1))
	plain := []byte(`{"ek":"000102030405060708090a0b0c0d0e0f"}`)
	s1, err := v.Seal(plain, []byte("meter-1"))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := v.Seal(plain, []byte("meter-1"))
	if bytes.Equal(s1, s2) {
		t.Fatal("two seals of the same record are equal: data keys or nonces repeat")
	}
	if bytes.Contains(s1, plain) || bytes.Contains(s1, key(1)) {
		t.Fatal("sealed record shows its payload or the key")
	}
	got, err := v.Open(s1, []byte("meter-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := v.Open(s1, []byte("meter-2")); !errors.Is(err, ErrOpen) {
		t.Fatalf("opened for another meter: %v", err)
	}
	if _, err := mustNew(t, "k1", key(2)).Open(s1, []byte("meter-1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("opened with another master key: %v", err)
	}
	// Every single-byte change is caught, none panics.
	for i := range s1 {
		bad := append([]byte(nil), s1...)
		bad[i] ^= 0x40
		if _, err := v.Open(bad, []byte("meter-1")); err == nil {
			t.Fatalf("byte %d changed and the record still opens", i)
		}
	}
	for n := range len(s1) {
		if _, err := v.Open(s1[:n], []byte("meter-1")); err == nil {
			t.Fatalf("truncated to %d bytes and still opens", n)
		}
	}
	if s := v.String(); strings.Contains(s, "0101") {
		t.Fatalf("String shows key bytes: %s", s)
	}
}

func TestRotation(t *testing.T) {
	old := mustNew(t, "2025", key(1))
	cur := mustNew(t, "2026", key(2))
	s, _ := old.Seal([]byte("secret"), []byte("m"))
	ring := NewKeyring(cur, old)
	if got, err := ring.Open(s, []byte("m")); err != nil || string(got) != "secret" {
		t.Fatalf("ring open: %q %v", got, err)
	}
	re, changed, err := ring.Rewrap(s, []byte("m"))
	if err != nil || !changed {
		t.Fatalf("rewrap: %v %v", changed, err)
	}
	if _, err := old.Open(re, []byte("m")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old key opens the rewrapped record: %v", err)
	}
	if got, err := NewKeyring(cur).Open(re, []byte("m")); err != nil || string(got) != "secret" {
		t.Fatalf("current key alone: %q %v", got, err)
	}
	if _, changed, _ := ring.Rewrap(re, []byte("m")); changed {
		t.Fatal("rewrapped twice")
	}
	if _, err := NewKeyring(cur).Open(s, []byte("m")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key missing: %v", err)
	}
}

func TestLoad(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	v, _, err := Load(env(map[string]string{"AMIGO_MASTER_KEY": hexKey}), "", false)
	if err != nil || v.ID() != "env" {
		t.Fatalf("env key: %v", err)
	}
	if _, _, err := Load(env(map[string]string{"AMIGO_MASTER_KEY": "hunter2"}), "", false); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad env key: %v", err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "master.key")
	if _, _, err := Load(env(nil), f, false); err == nil {
		t.Fatal("missing file accepted without create")
	}
	v1, created, err := Load(env(nil), f, true)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
		t.Fatalf("created with mode %o", st.Mode().Perm())
	}
	s, _ := v1.Seal([]byte("x"), nil)
	v2, created, err := Load(env(nil), f, true)
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if got, err := v2.Open(s, nil); err != nil || string(got) != "x" {
		t.Fatal("reloaded key differs")
	}
	os.Chmod(f, 0o644)
	if _, _, err := Load(env(nil), f, false); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable key file: %v", err)
	}
	if _, _, err := Load(env(map[string]string{"AMIGO_MASTER_KEY_FILE": filepath.Join(dir, "none")}), f, false); err == nil {
		t.Fatal("env file name ignored")
	}
	if _, err := New("", key(1)); err == nil {
		t.Fatal("empty id accepted")
	}
	if _, err := New("x", key(1)[:16]); err == nil {
		t.Fatal("short key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	v := mustNew(f, "fuzz", key(7))
	s, _ := v.Seal([]byte("payload"), []byte("m"))
	f.Add(s)
	f.Add([]byte("AMV\x01\x04fuzz"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ring := NewKeyring(v)
		got, err := ring.Open(b, []byte("m"))
		if err == nil && !bytes.Equal(got, []byte("payload")) {
			t.Fatalf("forged record opened: %q", got)
		}
	})
}
