package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/testenv"
)

// TestSmartmeterObisReadsReadoutMeters has an independent reader,
// smartmeter-obis (npm) with its D0 protocol over a serial device, read
// our readout meters in modes A, B and C through a socat pty; every
// register it prints equals the model's.
func TestSmartmeterObisReadsReadoutMeters(t *testing.T) {
	dir, node := testenv.Peer(t, "smartmeter-obis")
	socat, err := exec.LookPath("socat")
	if err != nil {
		testenv.Service(t, "socat", err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "iec62056-read.js"))
	if err != nil {
		t.Fatal(err)
	}
	// The standard's reaction time: the reader counts on it (see
	// readoutReaction).
	f := startReadoutFleetReacting(t, 40, 1, 0)
	for _, mode := range []iec62056.Mode{iec62056.ModeA, iec62056.ModeB, iec62056.ModeC} {
		t.Run(mode.String(), func(t *testing.T) {
			i := firstWithMode(t, f, mode)
			r, _ := f.Row(i)
			tty := filepath.Join(t.TempDir(), "ttyIEC0")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			br := exec.CommandContext(ctx, socat, "pty,raw,echo=0,link="+tty, "tcp:"+r.Address.String())
			if err := br.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { br.Process.Kill(); br.Wait() }()
			waitFor(t, func() bool { _, err := os.Stat(tty); return err == nil })
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, node, script, dir, tty, r.Fields["iec_address"])
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("smartmeter-obis: %v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			got := peerSets(t, stdout.Bytes())
			checkRegisters(t, f, i, got)
			if got["0.0.0"].Values[0].Value != r.Serial {
				t.Errorf("0.0.0 %v, want %s", got["0.0.0"], r.Serial)
			}
		})
	}
}

// peerSets turns the script's JSON lines into data sets keyed by the
// reader's own rendering of the address, checking its numeric parse of
// every kWh value against the raw text on the way.
func peerSets(t *testing.T, out []byte) map[string]iec62056.DataSet {
	t.Helper()
	sets := map[string]iec62056.DataSet{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var rec struct {
			ID     string `json:"id"`
			Raw    string `json:"raw"`
			Values []struct {
				Value any    `json:"value"`
				Unit  string `json:"unit"`
			} `json:"values"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		var d iec62056.DataSet
		d.Address = rec.ID
		for _, part := range strings.Split(rec.Raw, ", ") {
			v, u, _ := strings.Cut(part, "*")
			d.Values = append(d.Values, iec62056.Value{Value: v, Unit: u})
		}
		if len(rec.Values) > 0 && (rec.Values[0].Unit == "kWh" || rec.Values[0].Unit == "kvarh") {
			n, ok := rec.Values[0].Value.(float64)
			if !ok || int64(math.Round(n*1000)) != wh(t, d.Values[0]) {
				t.Errorf("%s: the reader parsed %v from %q", rec.ID, rec.Values[0].Value, rec.Raw)
			}
		}
		sets[rec.ID] = d
	}
	if len(sets) == 0 {
		t.Fatalf("the reader printed no data set: %q", out)
	}
	return sets
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		<-tick.C
	}
}
