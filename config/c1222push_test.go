package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestC1222PushAddr: the C12.22 push listener has its own setting, by
// default 127.0.0.1:1154, replaced or emptied (no listener) by
// AMIGO_C1222_PUSH_ADDR or the file, and never the DLMS listener's
// address.
func TestC1222PushAddr(t *testing.T) {
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unset", nil, "127.0.0.1:1154"},
		{"empty", map[string]string{"AMIGO_C1222_PUSH_ADDR": ""}, ""},
		{"set", map[string]string{"AMIGO_C1222_PUSH_ADDR": "127.0.0.1:4998"}, "127.0.0.1:4998"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadEnv("", lookup(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.HeadEnd.C1222PushAddr != tc.want {
				t.Fatalf("C12.22 push address %q, want %q", c.HeadEnd.C1222PushAddr, tc.want)
			}
			if c.HeadEnd.PushAddr != "127.0.0.1:4060" {
				t.Fatalf("the DLMS push address moved to %q", c.HeadEnd.PushAddr)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(p, []byte("headend:\n  c1222_push_addr: 127.0.0.1:4997\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadEnv(p, lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadEnd.C1222PushAddr != "127.0.0.1:4997" {
		t.Fatalf("from the file: %q", c.HeadEnd.C1222PushAddr)
	}
	for _, bad := range []string{"nowhere", "127.0.0.1:4060"} {
		c := Default()
		c.HeadEnd.C1222PushAddr = bad
		if err := c.Validate(); err == nil {
			t.Errorf("C12.22 push address %q accepted", bad)
		}
	}
	c = Default()
	c.HeadEnd.PushAddr, c.HeadEnd.C1222PushAddr = "127.0.0.1:0", "127.0.0.1:0"
	if err := c.Validate(); err != nil {
		t.Errorf("two free ports: %v", err)
	}
}
