package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
)

// TestFirmwareKindNeedsAKey: the firmware campaign kind exists only when
// the head-end trusts a firmware key, and a key file that is not one stops
// the start with its name.
func TestFirmwareKindNeedsAKey(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	if slices.Contains(s.Campaigns.Kinds(), headend.FirmwareKind) {
		t.Fatal("firmware campaigns without a trusted firmware key")
	}
	s.Shutdown(context.Background())

	dir := t.TempDir()
	k, err := firmware.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := firmware.MarshalPublicKey(&k.PublicKey)
	keyFile := filepath.Join(dir, "fw.pub")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	c := testConfig(t.TempDir())
	c.HeadEnd.FirmwareKeyFile = keyFile
	s = start(t, c)
	if !slices.Contains(s.Campaigns.Kinds(), headend.FirmwareKind) {
		t.Fatalf("kinds %v with a firmware key", s.Campaigns.Kinds())
	}
	s.Shutdown(context.Background())

	bad := filepath.Join(dir, "not-a-key")
	if err := os.WriteFile(bad, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = testConfig(t.TempDir())
	c.HeadEnd.FirmwareKeyFile = bad
	if _, err := Start(context.Background(), c, slog.New(slog.DiscardHandler), "test"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("start with a bad firmware key: %v", err)
	}
}
