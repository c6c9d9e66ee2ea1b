package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm/vee"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreLoopbackAndValid(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:8080" {
		t.Fatalf("default http addr %q exposes more than loopback", c.HTTP.Addr)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if k, _ := c.StoreKind(); k != "sqlite" {
		t.Fatalf("default store %q, want sqlite", k)
	}
}

// TestStoreURL: the URL store.Open gets names the file SQLitePath names,
// or is the PostgreSQL URL as configured.
func TestStoreURL(t *testing.T) {
	pg := "postgres://amigo@db:5432/amigo?sslmode=disable"
	for url, want := range map[string]string{
		"":                       "sqlite:///data/amigo.db",
		"sqlite":                 "sqlite:///data/amigo.db",
		"sqlite://":              "sqlite:///data/amigo.db",
		"sqlite:///srv/amigo.db": "sqlite:///srv/amigo.db",
		"sqlite://rel.db":        "sqlite://rel.db",
		pg:                       pg,
		"postgresql://db/amigo":  "postgresql://db/amigo",
	} {
		c := Default()
		c.Data, c.Store.URL = "/data", url
		if got := c.StoreURL(); got != want {
			t.Errorf("store url %q: StoreURL %q, want %q", url, got, want)
		}
	}
}

func TestFileThenEnvOverride(t *testing.T) {
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	os.WriteFile(p, []byte("data: /var/lib/amigo\nhttp:\n  addr: 127.0.0.1:9000\n  read_timeout: 7s\nlog:\n  format: json\n"), 0o600)
	c, err := Load(p, env(map[string]string{"AMIGO_HTTP": "127.0.0.1:9100"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/var/lib/amigo" || c.HTTP.Addr != "127.0.0.1:9100" || c.HTTP.ReadTimeout != 7*time.Second || c.Log.Format != "json" {
		t.Fatalf("got %+v", c)
	}
	// Settings the file left alone keep their defaults.
	if c.HTTP.WriteTimeout != Default().HTTP.WriteTimeout {
		t.Fatalf("write timeout %v lost its default", c.HTTP.WriteTimeout)
	}
}

func TestBadFilesGiveOneLine(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key": "htp:\n  addr: x\n",
		"bad type":    "http:\n  read_timeout: soon\n",
		"not yaml":    "http: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "amigo.yaml")
			os.WriteFile(p, []byte(body), 0o600)
			_, err := Load(p, env(nil))
			if err == nil {
				t.Fatal("loaded a bad file")
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), p) {
				t.Fatalf("error is not one line naming the file: %q", err)
			}
		})
	}
	if _, err := Load("/nonexistent/amigo.yaml", env(nil)); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"store scheme": func(c *Config) { c.Store.URL = "mysql://x" },
		"http addr":    func(c *Config) { c.HTTP.Addr = "8080" },
		"log format":   func(c *Config) { c.Log.Format = "xml" },
		"bus url":      func(c *Config) { c.Bus.URL = "::::" },
	} {
		c := Default()
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := Secret("hunter2")
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "key", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, s), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	if got := RedactURL("postgres://amigo:hunter2@db:5432/amigo?sslmode=disable"); strings.Contains(got, "hunter2") {
		t.Fatalf("password leaked: %s", got)
	}
	c := Default()
	c.Store.URL = "mysql://u:hunter2@x"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("validate error leaks or is missing: %v", err)
	}
}

func TestValidationGroupsFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	os.WriteFile(p, []byte(`mdm:
  validation:
    default: {demand_limit: 6000}
    groups:
      - name: commercial
        match: {tags: {class: commercial}, region: north}
        rules: {demand_limit: 60000, zero_run: 0}
`), 0o600)
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.MDM.Validation.RuleSets()
	if err != nil {
		t.Fatal(err)
	}
	// The configured group comes first; the built-in ones follow, but for
	// one of the same name, which it replaces.
	groups := 1
	for _, g := range vee.DefaultRuleSets().Groups {
		if g.Name != "commercial" {
			groups++
		}
	}
	if rs.Default.DemandLimit != 6000 || len(rs.Groups) != groups || rs.Groups[0].Rules.DemandLimit != 60000 ||
		rs.Groups[0].Rules.ZeroRun != 0 || rs.Groups[0].Rules.SpikeRatio != rs.Default.SpikeRatio ||
		rs.Groups[0].Match.Tags["class"] != "commercial" || rs.Groups[0].Match.Region != "north" {
		t.Fatalf("rule sets %+v", rs)
	}
	os.WriteFile(p, []byte("mdm:\n  validation:\n    groups:\n      - name: x\n        rules: {spike_ration: 3}\n"), 0o600)
	c, err = Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `unknown rule parameter "spike_ration"`) {
		t.Fatalf("misspelt rule parameter: %v", err)
	}
}

func TestUnknownKeysAreNamedWithLineAndKnownKeys(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"top level": {"htp:\n  addr: x\n",
			`line 1: unknown key "htp" (known: anomaly, approvals, bus, data, han, headend, http, log, mdm, node, openadr, outage, safeguards, store)`},
		"nested": {"http:\n  addr: 127.0.0.1:9000\n  read_timout: 5s\n",
			`line 3: unknown key "read_timout" under http (known: addr, idle_timeout, max_body_bytes, read_header_timeout, read_timeout, shutdown_timeout, write_timeout)`},
		"in a list": {"mdm:\n  validation:\n    groups:\n      - name: c\n        mach: {}\n",
			`line 5: unknown key "mach" under mdm.validation.groups[0] (known: match, name, rules)`},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "amigo.yaml")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p, env(nil))
			if err == nil {
				t.Fatal("loaded a misspelt key")
			}
			if want := "config file " + p + ": " + tc.want; err.Error() != want {
				t.Fatalf("error\n %q\nwant\n %q", err, want)
			}
		})
	}
	// Free-form maps take any key: rule names and tags are checked
	// elsewhere, by what they mean.
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	os.WriteFile(p, []byte("mdm:\n  validation:\n    groups:\n      - name: c\n        match: {tags: {anything: x}}\n"), 0o600)
	if _, err := Load(p, env(nil)); err != nil {
		t.Fatal(err)
	}
}

// The push listener's per-source cap and first-frame deadline are
// settings: a utility whose meters sit behind one carrier NAT address
// raises the cap.
func TestPushLimitsFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(p, []byte("headend:\n  push_per_source: 500\n  push_first_frame: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadEnd.PushPerSource != 500 || c.HeadEnd.PushFirstFrame != 2*time.Second {
		t.Fatalf("push limits %d, %s", c.HeadEnd.PushPerSource, c.HeadEnd.PushFirstFrame)
	}
	if d := Default(); d.HeadEnd.PushPerSource != 8 || d.HeadEnd.PushFirstFrame != 5*time.Second {
		t.Fatalf("default push limits %d, %s", d.HeadEnd.PushPerSource, d.HeadEnd.PushFirstFrame)
	}
	if err := os.WriteFile(p, []byte("headend:\n  push_per_source: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(p, env(nil))
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "push_per_source") {
		t.Fatalf("a zero cap: %v", err)
	}
}

func TestAnomalyLimitsFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(path, []byte("anomaly:\n  disconnect: {ceiling_hour_fleet: 300, floor_hour_user: 5}\n  firmware-activate: {margin: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.AnomalyPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if d := p[cim.ControlDisconnect]; d.CeilingHourFleet != 300 || d.FloorHourUser != 5 || d.CeilingHourUser != anomaly.Default()[cim.ControlDisconnect].CeilingHourUser {
		t.Errorf("disconnect limits %+v", d)
	}
	if p[cim.ControlFirmwareActivate].Margin != 2 {
		t.Errorf("firmware margin %v", p[cim.ControlFirmwareActivate].Margin)
	}
	os.WriteFile(path, []byte("anomaly:\n  disconnect: {ceiling_hour_flet: 300}\n"), 0o600)
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "ceiling_hour_flet") {
		t.Errorf("a misspelt limit: %v", err)
	}
	os.WriteFile(path, []byte("anomaly:\n  disconnect: {margin: -1}\n"), 0o600)
	if c, err := Load(path, env(nil)); err == nil && c.Validate() == nil {
		t.Error("a negative margin passed")
	}
}

func TestHANSettings(t *testing.T) {
	c := Default()
	if c.HAN.Enabled() || c.HAN.MQTT.DiscoveryPrefix != "homeassistant" {
		t.Fatalf("default han %+v", c.HAN)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(path, []byte("han:\n  mqtt:\n    broker: tcp://broker.home:1883\n    username: amigo\n    topic_prefix: utility\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(k string) string {
		if k == "AMIGO_HAN_MQTT_PASSWORD" {
			return "s3cret"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.HAN.MQTT
	if !c.HAN.Enabled() || m.Broker != "tcp://broker.home:1883" || m.Username != "amigo" || m.TopicPrefix != "utility" || m.DiscoveryPrefix != "homeassistant" || m.Password.Reveal() != "s3cret" {
		t.Fatalf("loaded %+v", m)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []MQTT{{Broker: "broker:1883", Timeout: time.Second, DiscoveryPrefix: "ha", TopicPrefix: "a"},
		{Broker: "http://b:1", Timeout: time.Second, DiscoveryPrefix: "ha", TopicPrefix: "a"},
		{Broker: "tcp://b:1", Timeout: time.Second, DiscoveryPrefix: "ha/#", TopicPrefix: "a"},
		{Broker: "tcp://b:1", DiscoveryPrefix: "ha", TopicPrefix: "a"}} {
		c.HAN.MQTT = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "han.mqtt") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
