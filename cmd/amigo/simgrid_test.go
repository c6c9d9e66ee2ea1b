package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/amigo-ami/amigo/manifest"
)

// amigo sim --grid --topology writes the network's topology file, and the
// manifest names each meter's substation, feeder and transformer as it
// does.
func TestSimGridTopology(t *testing.T) {
	dir := t.TempDir()
	mf, tf := filepath.Join(dir, "fleet.csv"), filepath.Join(dir, "topology.csv")
	if _, errs, code := amigo(t, "sim", "--manifest-only", "--manifest", mf, "--meters", "300", "--gas", "0", "--water", "0",
		"--grid", "--grid-rural", "0.5", "--topology", tf); code != 0 {
		t.Fatalf("sim: %d %s", code, errs)
	}
	fh, err := os.Open(tf)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil || len(recs) != 301 || recs[0][0] != "usage_point" || recs[0][9] != "transformer_distance_m" {
		t.Fatalf("topology: %d records, err %v", len(recs), err)
	}
	byUP := map[string][]string{}
	for _, r := range recs[1:] {
		byUP[r[0]] = r
	}
	mh, err := os.Open(mf)
	if err != nil {
		t.Fatal(err)
	}
	defer mh.Close()
	rows, bad, err := manifest.Read(mh)
	if err != nil || len(bad) != 0 || len(rows) != 300 {
		t.Fatalf("manifest: %d rows, %v %v", len(rows), bad, err)
	}
	for _, r := range rows {
		tr := byUP[r.UsagePointID]
		if tr == nil || r.Fields["transformer"] != tr[1] || r.Fields["feeder"] != tr[2] || r.Fields["substation"] != tr[3] {
			t.Fatalf("meter %d: manifest %v, topology %v", r.MeterID, r.Fields, tr)
		}
	}
	if _, _, code := amigo(t, "sim", "--manifest-only", "--manifest", mf, "--topology", tf); code != 2 {
		t.Errorf("--topology without --grid: exit %d, want 2", code)
	}
	if _, _, code := amigo(t, "sim", "--manifest-only", "--manifest", mf, "--grid", "--grid-rural", "2"); code != 2 {
		t.Errorf("--grid-rural 2: exit %d, want 2", code)
	}
}
