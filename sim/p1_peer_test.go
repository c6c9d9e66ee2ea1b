package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dsmr"
	"github.com/amigo-ami/amigo/testenv"
)

// TestP1PeerSmartmeterObis has the independent smartmeter-obis (npm) read
// a simulated meter's P1 port over its TCP transport: the energy, power,
// voltage and gas values it parses equal the meter model's.
func TestP1PeerSmartmeterObis(t *testing.T) {
	dir, node := testenv.Peer(t, "smartmeter-obis")
	f, _ := p1Fleet(t)
	i := -1
	for k := range f.Len() {
		if _, enc := f.P1Key(k); f.P1Version(k) == dsmr.V50 && !enc {
			i = k
			break
		}
	}
	if i < 0 {
		t.Fatal("no plain P1 port in the fleet")
	}
	addr := f.P1Addr(i)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/p1peer.js", dir, addr.Addr().String(), strconv.Itoa(int(addr.Port())))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("smartmeter-obis: %v\n%s", err, stderr.String())
	}
	var got map[string][]struct {
		Value any    `json:"value"`
		Unit  string `json:"unit"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("peer output %q: %v", out, err)
	}
	r, powered, err := f.P1Reading(i)
	if err != nil || !powered {
		t.Fatalf("model reading: %v (powered %v)", err, powered)
	}
	m, _ := f.Meter(i)
	regs := m.RegistersAt(f.Now())
	if r.ImportWh[0] != regs.ImportRate[0]+regs.ImportRate[2] || r.ExportWh[1] != regs.ExportRate[1]+regs.ExportRate[3] {
		t.Fatalf("P1 reading %+v does not fold the model's rates %+v", r, regs)
	}
	want := map[string]struct {
		v     int64 // in units of 10^exp
		exp   int
		unit  string
		index int
	}{
		"1-0:1.8.1":  {r.ImportWh[0], -3, "kWh", 0},
		"1-0:1.8.2":  {r.ImportWh[1], -3, "kWh", 0},
		"1-0:2.8.1":  {r.ExportWh[0], -3, "kWh", 0},
		"1-0:2.8.2":  {r.ExportWh[1], -3, "kWh", 0},
		"1-0:1.7.0":  {r.ImportW, -3, "kW", 0},
		"1-0:32.7.0": {int64(r.VoltageDV[0]), -1, "V", 0},
		"0-1:24.2.1": {r.MBus[0].Litres, -3, "m3", 1},
	}
	for code, w := range want {
		vs, ok := got[code]
		if !ok {
			t.Errorf("%s: not parsed by the peer (it parsed %d objects)", code, len(got))
			continue
		}
		if len(vs) <= w.index {
			t.Errorf("%s: %d values", code, len(vs))
			continue
		}
		f, ok := vs[w.index].Value.(float64)
		if !ok || int64(math.Round(f*math.Pow10(-w.exp))) != w.v || !strings.EqualFold(vs[w.index].Unit, w.unit) {
			t.Errorf("%s = %v %s, model %d×10^%d %s", code, vs[w.index].Value, vs[w.index].Unit, w.v, w.exp, w.unit)
		}
	}
}
