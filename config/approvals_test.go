package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestApprovalsSettings(t *testing.T) {
	c := Default()
	if got := strings.Join(c.Approvals.Types, ","); got != "disconnect,set-relay-mode,key-change,firmware-activate" ||
		c.Approvals.CalendarMeters != 100 || c.Approvals.TTL != 4*time.Hour {
		t.Fatalf("defaults: %+v", c.Approvals)
	}
	load := func(yaml string) (Config, error) {
		t.Helper()
		f := filepath.Join(t.TempDir(), "amigo.yaml")
		if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(f, func(string) string { return "" })
		if err == nil {
			err = c.Validate()
		}
		return c, err
	}
	c, err := load("approvals:\n  types: [disconnect]\n  calendar_meters: 5\n  ttl: 30m\n")
	if err != nil || len(c.Approvals.Types) != 1 || c.Approvals.CalendarMeters != 5 || c.Approvals.TTL != 30*time.Minute {
		t.Fatalf("file: %+v %v", c.Approvals, err)
	}
	// An empty list holds nothing by type, rather than the head-end's
	// default.
	c, err = load("approvals:\n  types: []\n")
	if err != nil || len(c.Approvals.Types) != 0 || c.Approvals.ControlTypes() == nil {
		t.Fatalf("no types: %+v %v", c.Approvals, err)
	}
	for yaml, want := range map[string]string{
		"approvals:\n  ttl: 0s\n":            "ttl must be positive",
		"approvals:\n  calendar_meters: 0\n": "calendar_meters 0",
		"approvals:\n  types: ['']\n":        "an empty command type",
		"approvals:\n  four_eyes: true\n":    "four_eyes",
	} {
		if _, err := load(yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
}
