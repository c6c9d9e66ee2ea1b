package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	amanifest "github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/sim"
)

// TestSimC12ManifestFamilies: amigo sim with C12.18, C12.22 and OSGP
// meters writes a manifest whose rows carry each family's protocol, port
// and credentials, a fifth of the meters each, and the rest DLMS.
func TestSimC12ManifestFamilies(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "fleet.csv")
	_, errs, code := amigo(t, "sim", "--meters", "200", "--c1218", "0.2", "--c1222", "0.2", "--osgp", "0.2", "--osgp-legacy", "0.5",
		"--models", "idis=1,thirdparty=1",
		"--gas", "0", "--water", "0", "--manifest", manifest, "--manifest-only")
	if code != 0 {
		t.Fatalf("sim: exit %d %s", code, errs)
	}
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := amanifest.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	security := map[string]int{}
	for _, r := range rows {
		count[r.Protocol]++
		hexOf := func(col string, n int) {
			t.Helper()
			if b, err := hex.DecodeString(r.Fields[col]); err != nil || len(b) != n {
				t.Errorf("meter %d (%s): %s %q, want %d octets in hex", r.MeterID, r.Protocol, col, r.Fields[col], n)
			}
		}
		port := r.Address.Port()
		switch r.Protocol {
		case "c12.18":
			if port != sim.DefaultC1218Port || r.Fields["c12_user"] == "" || len(r.Fields["c12_user"]) > 10 {
				t.Errorf("c12.18 row %+v", r)
			}
			if _, err := strconv.ParseUint(r.Fields["c12_user_id"], 10, 16); err != nil {
				t.Errorf("meter %d: c12_user_id %q", r.MeterID, r.Fields["c12_user_id"])
			}
			hexOf("c12_password", 20)
		case "c12.22":
			if port != sim.DefaultC1222Port || r.Fields["c1222_aptitle"] != sim.C1222ApTitleBase+"."+strconv.FormatUint(r.MeterID, 10) {
				t.Errorf("c12.22 row %+v", r)
			}
			if _, err := strconv.ParseUint(r.Fields["c1222_key_id"], 10, 8); err != nil {
				t.Errorf("meter %d: c1222_key_id %q", r.MeterID, r.Fields["c1222_key_id"])
			}
			if _, err := strconv.ParseUint(r.Fields["c1222_user_id"], 10, 16); err != nil {
				t.Errorf("meter %d: c1222_user_id %q", r.MeterID, r.Fields["c1222_user_id"])
			}
			hexOf("c1222_key", 16)
		case "osgp":
			security[r.Fields["osgp_security"]]++
			if port != sim.DefaultOSGPPort {
				t.Errorf("osgp row %+v", r)
			}
			switch r.Fields["osgp_security"] {
			case "legacy":
				hexOf("osgp_key", 12)
			case "aes":
				hexOf("osgp_key", 16)
			default:
				t.Errorf("meter %d: osgp_security %q", r.MeterID, r.Fields["osgp_security"])
			}
		case "dlms":
			if r.Fields["c12_password"] != "" || r.Fields["c1222_key"] != "" || r.Fields["osgp_key"] != "" {
				t.Errorf("DLMS meter %d with C12 credentials: %v", r.MeterID, r.Fields)
			}
		default:
			t.Errorf("meter %d: protocol %q", r.MeterID, r.Protocol)
		}
		if r.Protocol != "dlms" && (r.Manufacturer != sim.Manufacturer || !strings.HasPrefix(r.Serial, sim.Manufacturer)) {
			t.Errorf("meter %d: make %q serial %q", r.MeterID, r.Manufacturer, r.Serial)
		}
		if r.Protocol != "dlms" && r.Model[len(r.Model)-1:]+"p" != strings.TrimPrefix(r.Kind, "electricity-") {
			t.Errorf("meter %d: a %s meter of model %q", r.MeterID, r.Kind, r.Model)
		}
	}
	for _, p := range []string{"c12.18", "c12.22", "osgp"} {
		if n := count[p]; n < 20 || n > 60 {
			t.Errorf("%d %s meters of 200 at a fraction of 0.2", n, p)
		}
	}
	if count["dlms"] < 50 {
		t.Errorf("%d DLMS meters of 200 at a fraction of 0.4", count["dlms"])
	}
	if security["legacy"] == 0 || security["aes"] == 0 {
		t.Errorf("OSGP security %v at --osgp-legacy 0.5", security)
	}
	for _, bad := range [][]string{{"--c1218", "0.6", "--c1222", "0.6"}, {"--osgp", "1.5"}, {"--c1222", "0.1", "--c1222-port", "4059"}} {
		if _, errs, code := amigo(t, append([]string{"sim", "--manifest-only", "--manifest", manifest}, bad...)...); code != 2 || !strings.Contains(errs, "--") {
			t.Errorf("sim %v: exit %d %s", bad, code, errs)
		}
	}
}

// TestSimC12MetersAnswerTheTool: amigo sim serves its C12.18, C12.22 and
// OSGP meters, and amigo c12 tables and amigo osgp tables, with the
// manifest's credentials, read each family's identification.
func TestSimC12MetersAnswerTheTool(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "fleet.csv")
	c1218Port := strconv.Itoa(freePort(t))
	startModelSim(t, "--meters", "20", "--manifest", manifest, "--port", strconv.Itoa(freePort(t)), "--c1218", "0.5", "--c1218-port", c1218Port,
		"--c1222", "0.2", "--c1222-port", strconv.Itoa(freePort(t)), "--osgp", "0.2", "--osgp-port", strconv.Itoa(freePort(t)),
		"--offline", "0", "--intermittent", "0", "--outages", "0", "--speed", "0", "--log-format", "json")
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := amanifest.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, r := range rows {
		if read[r.Protocol] {
			continue
		}
		var args []string
		switch r.Protocol {
		case "c12.18":
			args = []string{"c12", "tables", r.Address.String(), "--user", r.Fields["c12_user"], "--user-id", r.Fields["c12_user_id"],
				"--password", r.Fields["c12_password"]}
		case "c12.22":
			args = []string{"c12", "tables", r.Address.String(), "--link", "c12.22", "--aptitle", r.Fields["c1222_aptitle"],
				"--key-id", r.Fields["c1222_key_id"], "--key", r.Fields["c1222_key"], "--user-id", r.Fields["c1222_user_id"]}
		case "osgp":
			args = []string{"osgp", "tables", r.Address.String(), "--security", r.Fields["osgp_security"], "--key", r.Fields["osgp_key"],
				"--domain", r.Fields["osgp_domain"], "--subnet", r.Fields["osgp_subnet"], "--node", r.Fields["osgp_node"]}
		default:
			continue
		}
		read[r.Protocol] = true
		out, errs, code := amigo(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, errs)
		}
		if !strings.Contains(out, r.Serial) || !strings.Contains(out, r.Model) {
			t.Fatalf("%s tables of meter %d (%s %s):\n%s", r.Protocol, r.MeterID, r.Model, r.Serial, out)
		}
	}
	if len(read) != 3 {
		t.Fatalf("read the meters of %v, want c12.18, c12.22 and osgp", read)
	}
}
