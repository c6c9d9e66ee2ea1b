package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOutageSettings(t *testing.T) {
	if o := Default().Outage; !o.Enabled || o.Momentary != 5*time.Minute || o.Window != 30*time.Second {
		t.Fatalf("defaults %+v", o)
	}
	path := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(path, []byte("outage:\n  enabled: false\n  momentary: 3m\n  window: 45s\n  ping_sample: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Outage; o.Enabled || o.Momentary != 3*time.Minute || o.Window != 45*time.Second || o.PingSample != 3 || o.MaxPings != 8 {
		t.Fatalf("loaded %+v", o)
	}
	for name, tc := range map[string]struct {
		f    func(*Outage)
		want string
	}{
		"momentary":    {func(o *Outage) { o.Momentary = 0 }, "outage.momentary"},
		"long window":  {func(o *Outage) { o.Window = time.Hour }, "outage.window"},
		"no sample":    {func(o *Outage) { o.PingSample = 0 }, "outage.ping_sample"},
		"no pings":     {func(o *Outage) { o.MaxPings = 0 }, "outage.max_pings"},
		"ping timeout": {func(o *Outage) { o.PingTimeout = time.Millisecond }, "outage.ping_timeout"},
		"verify":       {func(o *Outage) { o.VerifyAfter = -time.Second }, "outage.verify_after"},
		"reping":       {func(o *Outage) { o.Reping = time.Second }, "outage.reping"},
	} {
		c := Default()
		tc.f(&c.Outage)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
