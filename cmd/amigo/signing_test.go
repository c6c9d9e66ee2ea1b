package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/amigo-ami/amigo/sim"
)

// TestSigningKeyProvisionsTheFleet: amigo signing-key creates the key
// once and prints its public half, which --trust-signing-key reads.
func TestSigningKeyProvisionsTheFleet(t *testing.T) {
	t.Setenv("AMIGO_SIGNING_KEY", "")
	t.Setenv("AMIGO_SIGNING_KEY_FILE", "")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := cmdSigningKey([]string{"--data", dir}, &out, &errb); err == nil {
		t.Fatal("a missing key was printed without --create")
	}
	out.Reset()
	if err := cmdSigningKey([]string{"--data", dir, "--create"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(out.Bytes())
	out.Reset()
	if err := cmdSigningKey([]string{"--data", dir, "--create"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, out.Bytes()) {
		t.Fatal("a second run printed another key")
	}
	pub := filepath.Join(dir, "signing.pub")
	if err := os.WriteFile(pub, first, 0o644); err != nil {
		t.Fatal(err)
	}
	trust, err := simTrust(pub)
	if err != nil || len(trust.Keys()) != 1 {
		t.Fatalf("--trust-signing-key: %v", err)
	}
	if tr, err := simTrust(""); tr != nil || err != nil {
		t.Fatalf("no file: %v %v, want an unprovisioned fleet", tr, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a key"), 0o644)
	if _, err := simTrust(bad); err == nil {
		t.Fatal("a file without keys was trusted")
	}
	if keys, err := sim.ParsePublicKeys(first); err != nil || !keys[0].Equal(trust.Keys()[0]) {
		t.Fatalf("printed key: %v", err)
	}
}
