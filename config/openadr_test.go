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
	body := "openadr:\n  vtn:\n    enabled: true\n    insecure: true\n    programs: [peak]\n    vens:\n      ven-a: [up-1, up-2]\n" +
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
		"no programs":              {func(o *OpenADR) { o.VTN.Programs = nil }, "openadr.vtn.programs"},
		"fast poll":                {func(o *OpenADR) { o.VTN.Poll = time.Millisecond }, "openadr.vtn.poll"},
		"usage point twice":        {func(o *OpenADR) { o.VTN.VENs["ven-b"] = []string{"up-2"} }, `usage point "up-2"`},
		"bad url":                  {func(o *OpenADR) { o.VEN.VTNURL = "vtn.example:80" }, "openadr.ven.vtn_url"},
		"no program":               {func(o *OpenADR) { o.VEN.Program = "" }, "openadr.ven.program"},
		"no timeout":               {func(o *OpenADR) { o.VEN.Timeout = 0 }, "openadr.ven.timeout"},
		"neither tls nor insecure": {func(o *OpenADR) { o.VTN.Insecure = false }, "openadr.vtn.insecure: true"},
		"tls and insecure":         {func(o *OpenADR) { o.VTN.Addr, o.VTN.CertFile = ":8443", "vtn.pem" }, "choose TLS"},
		"tls in part": {func(o *OpenADR) {
			o.VTN.Insecure, o.VTN.Addr, o.VTN.CertFile, o.VTN.KeyFile = false, ":8443", "vtn.pem", "vtn.key"
		}, "client_ca_file together"},
		"bad fingerprint":  {func(o *OpenADR) { o.VTN.Fingerprints = map[string]string{"ven-a": "AB:CD"} }, "openadr.vtn.fingerprints"},
		"cert without key": {func(o *OpenADR) { o.VEN.CertFile = "ven.pem" }, "cert_file and key_file"},
		"cert over http": {func(o *OpenADR) {
			o.VEN.CertFile, o.VEN.KeyFile, o.VEN.VTNURL = "ven.pem", "ven.key", "http://vtn.example/OpenADR2/Simple/2.0b"
		}, "needs https"},
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

// TestOpenADRTLSSettings: the VTN's TLS listener and the VEN's
// certificate read from the file, and are valid together.
func TestOpenADRTLSSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "amigo.yaml")
	body := `openadr:
  vtn:
    enabled: true
    programs: [peak]
    addr: 127.0.0.1:8443
    cert_file: vtn.pem
    key_file: vtn.key
    client_ca_file: vens-ca.pem
    vens:
      7A:9C:B4:10:FF:61:F2:00:15:AD: [up-1]
      ven-home-1: [up-2]
    fingerprints:
      ven-home-1: 7a:9c:b4:10:ff:61:f2:00:15:ae
  ven:
    vtn_url: https://vtn.example/OpenADR2/Simple/2.0b
    program: grid
    cert_file: ven.pem
    key_file: ven.key
    ca_file: vtn-ca.pem
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	v, n := c.OpenADR.VTN, c.OpenADR.VEN
	if !v.TLS() || v.Insecure || v.Addr != "127.0.0.1:8443" || v.CertFile != "vtn.pem" || v.KeyFile != "vtn.key" || v.ClientCAFile != "vens-ca.pem" ||
		v.Fingerprints["ven-home-1"] != "7a:9c:b4:10:ff:61:f2:00:15:ae" || len(v.VENs["7A:9C:B4:10:FF:61:F2:00:15:AD"]) != 1 {
		t.Fatalf("vtn %+v", v)
	}
	if n.CertFile != "ven.pem" || n.KeyFile != "ven.key" || n.CAFile != "vtn-ca.pem" {
		t.Fatalf("ven %+v", n)
	}
	if d := DefaultOpenADR(); d.VTN.TLS() || d.VTN.Insecure || d.VEN.CertFile != "" {
		t.Fatalf("defaults %+v", d)
	}
}
