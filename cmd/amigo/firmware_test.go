package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/store"
)

// TestFirmwareSignInspectImport: keygen, sign, inspect and import round
// trip; an image signed by another key is refused at inspect and import,
// and not stored.
func TestFirmwareSignInspectImport(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	fw := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := cmdFirmware(args, &out, &errb)
		return out.String() + errb.String(), err
	}
	for _, k := range []string{"vendor.key", "rogue.key"} {
		if out, err := fw("keygen", "--out", at(k)); err != nil {
			t.Fatalf("keygen: %v %s", err, out)
		}
	}
	if fi, err := os.Stat(at("vendor.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi, err)
	}
	if err := os.WriteFile(at("fw.bin"), bytes.Repeat([]byte{0xEA}, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := fw("sign", "--key", at("vendor.key"), "--in", at("fw.bin"), "--version", "AMG-IDIS-2.5.0", "--out", at("good.amfw")); err != nil {
		t.Fatalf("sign: %v %s", err, out)
	}
	if out, err := fw("sign", "--key", at("rogue.key"), "--in", at("fw.bin"), "--version", "AMG-IDIS-2.5.1", "--out", at("rogue.amfw")); err != nil {
		t.Fatalf("sign: %v %s", err, out)
	}
	out, err := fw("inspect", "--trust", at("vendor.key.pub"), at("good.amfw"))
	if err != nil || !strings.Contains(out, "AMG-IDIS-2.5.0") || !strings.Contains(out, "signature  good") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	if _, err := fw("inspect", "--trust", at("vendor.key.pub"), at("rogue.amfw")); !errors.Is(err, firmware.ErrSignature) {
		t.Fatalf("inspect of the rogue image: %v, want a bad signature", err)
	}
	data := t.TempDir()
	if out, err := fw("import", "--trust", at("vendor.key.pub"), "--by", "alice", "--data", data, at("good.amfw")); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	if _, err := fw("import", "--trust", at("vendor.key.pub"), "--data", data, at("rogue.amfw")); !errors.Is(err, firmware.ErrSignature) {
		t.Fatalf("import of the rogue image: %v, want a bad signature", err)
	}
	if _, err := fw("import", "--data", data, at("good.amfw")); err == nil {
		t.Fatal("import without --trust accepted")
	}
	st, err := openStore("", data, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	list, err := st.FirmwareImageList(context.Background())
	if err != nil || len(list) != 1 || list[0].ID != "AMG-IDIS-2.5.0" || list[0].AddedBy != "alice" {
		t.Fatalf("stored images %+v %v", list, err)
	}
	if _, err := st.FirmwareImage(context.Background(), "AMG-IDIS-2.5.1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rogue image stored: %v", err)
	}
}
