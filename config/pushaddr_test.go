package config

import "testing"

// TestEmptyPushAddrMeansNone: AMIGO_PUSH_ADDR set to the empty string
// turns the push listener off, as its description says; unset keeps the
// default, and a value replaces it.
func TestEmptyPushAddrMeansNone(t *testing.T) {
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unset", nil, "127.0.0.1:4060"},
		{"empty", map[string]string{"AMIGO_PUSH_ADDR": ""}, ""},
		{"set", map[string]string{"AMIGO_PUSH_ADDR": "127.0.0.1:4999"}, "127.0.0.1:4999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadEnv("", lookup(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.HeadEnd.PushAddr != tc.want {
				t.Fatalf("push address %q, want %q", c.HeadEnd.PushAddr, tc.want)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Load, which cannot tell empty from unset, keeps the default.
	c, err := Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadEnd.PushAddr != "127.0.0.1:4060" {
		t.Fatalf("Load: push address %q", c.HeadEnd.PushAddr)
	}
}
