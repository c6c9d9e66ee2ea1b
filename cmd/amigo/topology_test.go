package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTopologyCommands: `amigo topology` stores versions on a running
// server and reads them back at their dates; a bad file is refused naming
// its line.
func TestTopologyCommands(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(cfgFile, []byte("headend:\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	tok := authorize(t, dir, base)
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	const head = "usage_point,transformer,feeder,substation,region\n"
	march := write("march.csv", head+"UP1,TR-1,FD-1,SS-1,north\nUP2,TR-1,FD-1,SS-1,north\nUP3,TR-2,FD-2,SS-1,north\n")
	april := write("april.csv", head+"UP1,TR-1,FD-2,SS-1,north\nUP2,TR-1,FD-2,SS-1,north\nUP3,TR-2,FD-2,SS-1,north\n")
	bad := write("bad.csv", head+"UP1,TR-1,FD-1,SS-1,north\nUP1,TR-2,FD-1,SS-1,north\n")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(amigoBin, append([]string{"topology"}, append(args, "--server", base)...)...)
		cmd.Env = append(os.Environ(), "AMIGO_TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", march, "--effective", "2026-03-01"}, "version 1: 8 nodes, 3 services, effective from 2026-03-01"},
		{[]string{"import", april, "--effective", "2026-04-01"}, "version 2: 7 nodes, 3 services, effective from 2026-04-01"},
		{[]string{"show", "--at", "2026-03-15"}, "version 1, effective from 2026-03-01T00:00:00Z: 1 substations, 2 feeders, 2 transformers, 3 services"},
		{[]string{"show", "UP1", "--at", "2026-03-15"}, "path: substation SS-1 > feeder FD-1 > transformer TR-1 > service UP1"},
		{[]string{"show", "UP1", "--at", "2026-04-01"}, "path: substation SS-1 > feeder FD-2 > transformer TR-1 > service UP1"},
		{[]string{"show", "FD-2", "--at", "2026-04-01"}, "customers: 3"},
		{[]string{"versions"}, "2        2026-04-01T00:00:00Z  7"},
		{[]string{"export", "--at", "2026-03-02"}, "UP1,TR-1,FD-1,SS-1,north"},
	} {
		out, err := run(c.args...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("amigo topology %s: %v\n%s\nwant %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	if out, err := run("import", bad); err == nil || !strings.Contains(out, "line 3, column usage_point") {
		t.Fatalf("bad file: %v\n%s", err, out)
	}
	if out, err := run("show", "TR-404"); err == nil || !strings.Contains(out, "TR-404") {
		t.Fatalf("unknown node: %v\n%s", err, out)
	}
}

// TestManifestImportPlacesMeters: a manifest with the network columns,
// imported through the real head-end, makes a version of the grid that
// places its usage points.
func TestManifestImportPlacesMeters(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "amigo.yaml")
	if err := os.WriteFile(cfgFile, []byte("headend:\n  daily_at: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serve(t, "--data", dir, "--config", cfgFile)
	base := "http://" + p.addr
	tok := authorize(t, dir, base)
	// The shipment's rows, with each meter's place added.
	b, err := os.ReadFile(writeShipment(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines[0] += ",substation,feeder,transformer,phase"
	for i := 1; i < len(lines); i++ {
		lines[i] += fmt.Sprintf(",SS-1,FD-%d,TR-%d,%d", (i-1)/10, (i-1)/5, 1+(i-1)%3)
	}
	file := filepath.Join(dir, "placed.csv")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	amigo := func(args ...string) (string, error) {
		cmd := exec.Command(amigoBin, append(args, "--server", base)...)
		cmd.Env = append(os.Environ(), "AMIGO_TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := amigo("import", file); err != nil || !strings.Contains(out, "20 created") || !strings.Contains(out, "made version 1 of the grid") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err := amigo("topology", "show", "UPK0000000007")
	if err != nil || !strings.Contains(out, "path: substation SS-1 > feeder FD-0 > transformer TR-1 > service UPK0000000007") ||
		!strings.Contains(out, "meters: KIL00000000007") || !strings.Contains(out, "phase: 1") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if out, err := amigo("topology", "show", "FD-1"); err != nil || !strings.Contains(out, "customers: 10") {
		t.Fatalf("show FD-1: %v\n%s", err, out)
	}
}
