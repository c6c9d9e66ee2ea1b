package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStoreRetentionMonths(t *testing.T) {
	if c := Default(); c.Store.RetentionMonths != 0 {
		t.Fatalf("default retention %d months, want 0 (keep every reading)", c.Store.RetentionMonths)
	}
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(p, []byte("data: /data\nstore:\n  retention_months: 25\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.RetentionMonths != 25 {
		t.Fatalf("retention %d months, want 25", c.Store.RetentionMonths)
	}
	for _, bad := range []int{-1, 1201} {
		c := Default()
		c.Store.RetentionMonths = bad
		if err := c.Validate(); err == nil {
			t.Errorf("retention of %d months accepted", bad)
		}
	}
}
