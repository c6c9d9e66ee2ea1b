package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenADRSettings(t *testing.T) {
	c := Default()
	if c.OpenADR.VTN.Enabled || c.OpenADR.VEN.Enabled() {
		t.Fatalf("openadr on by default: %+v", c.OpenADR)
	}
	path := filepath.Join(t.TempDir(), "amigo.yaml")
	body := "openadr:\n  vtn:\n    enabled: true\n    programs: [peak]\n    vens:\n      ven-a: [up-1, up-2]\n" +
		"  ven:\n    name: amigo-north\n    program: grid\n    poll: 30s\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(k string) string {
		if k == "AMIGO_OPENADR_VTN_URL" {
			return "https://vtn.example/OpenADR2/Simple/2.0b"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	o := c.OpenADR
	if !o.VTN.Enabled || o.VTN.ID != "AMIGO-VTN" || o.VTN.Poll != 10*time.Second || len(o.VTN.Programs) != 1 || len(o.VTN.VENs["ven-a"]) != 2 {
		t.Fatalf("vtn %+v", o.VTN)
	}
	if !o.VEN.Enabled() || o.VEN.VTNURL != "https://vtn.example/OpenADR2/Simple/2.0b" || o.VEN.Name != "amigo-north" || o.VEN.Program != "grid" ||
		o.VEN.Poll != 30*time.Second || o.VEN.Timeout != 30*time.Second {
		t.Fatalf("ven %+v", o.VEN)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		mod  func(*OpenADR)
		want string
	}{
		"no programs":       {func(o *OpenADR) { o.VTN.Programs = nil }, "openadr.vtn.programs"},
		"fast poll":         {func(o *OpenADR) { o.VTN.Poll = time.Millisecond }, "openadr.vtn.poll"},
		"usage point twice": {func(o *OpenADR) { o.VTN.VENs["ven-b"] = []string{"up-2"} }, `usage point "up-2"`},
		"bad url":           {func(o *OpenADR) { o.VEN.VTNURL = "vtn.example:80" }, "openadr.ven.vtn_url"},
		"no program":        {func(o *OpenADR) { o.VEN.Program = "" }, "openadr.ven.program"},
		"no timeout":        {func(o *OpenADR) { o.VEN.Timeout = 0 }, "openadr.ven.timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			c := c
			c.OpenADR = DefaultOpenADR()
			c.OpenADR.VTN = o.VTN
			c.OpenADR.VTN.VENs = map[string][]string{"ven-a": {"up-1", "up-2"}}
			c.OpenADR.VEN = o.VEN
			tc.mod(&c.OpenADR)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
